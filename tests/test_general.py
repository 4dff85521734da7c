"""The general mediator shipped with the package: loads safely, serves unseen shapes, steers a classic game."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from envs.catalog import load_game
from mediator.learned import GENERAL_MODEL, LearnedMediator

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_model_bans_the_stag_hunts_safe_design():
    """Stag hunt (never trained on): Hedge learners drift to (Hare, Hare); the welfare-best profile is
    (Stag, Stag), so a useful restriction forbids Hare for at least one player and never Stag."""
    game = load_game("stag_hunt")
    policy = LearnedMediator("general", game)
    allowed = policy.interventions(np.full((1, 4), 0.5, np.float32))[0].allowed
    stag = [list(d).index("Stag") for d in game.designs]
    assert allowed is not None and all(m[s] for m, s in zip(allowed, stag))
    assert not all(m.all() for m in allowed)


def test_one_shipped_model_serves_two_and_three_player_games_of_many_shapes():
    for spec in ("example1", "random:n=2,k=13,seed=0", "random:n=3,k=3,seed=1", "mix:v1:seed=1000000007"):
        game = load_game(spec)
        policy = LearnedMediator(GENERAL_MODEL, game)
        ivs = policy.interventions(np.concatenate([np.full((3, k), 1.0 / k, np.float32) for k in game.shape], axis=1))
        assert len(ivs) == 3 and all(iv.allowed is not None and len(iv.allowed) == game.n_players for iv in ivs)


def dilemma_report(tmp_path, model: str) -> dict:
    """The mediators of `evaluate.py --game prisoners_dilemma --mediator MODEL` (3,000 rounds, 2 seeds)."""
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--game", "prisoners_dilemma", "--mediator",
                           model, "--rounds", "3000", "--seeds", "2", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())["mediators"]


def test_evaluate_reports_the_general_model_as_learned_general(tmp_path):
    learned = dilemma_report(tmp_path, "general")["learned:general"]
    assert learned["dynamic"]["rounds"] == 3000 and learned["gap_closed"] > 0.9


def test_a_run_on_one_game_of_a_family_is_a_per_game_run():
    # `train.py --game mix:v1:seed=703` trains an MLP on that one game; its model must load as a per-game model.
    from mediator.learned import game_family_run

    assert not game_family_run({"game": "mix:v1:seed=703", "policy": "mlp"})
    assert not game_family_run({"game": "random:n=2,k=3,seed=1", "policy": "mlp"})
    assert not game_family_run({"game": "example1", "policy": "mlp"})
    assert game_family_run({"game": "mix:v1", "policy": "mlp"})
    assert game_family_run({"game": "random:n=2,k=4", "policy": "mlp"})
    assert not game_family_run({"game": "mix:v1", "policy": "equivariant"})


def test_the_shipped_payments_model_pays_on_the_dilemma_and_is_reported_by_its_name(tmp_path):
    # The prisoner's dilemma (never trained on): no mediation settles at (D, D), net 2; paying for cooperation
    # lifts the net welfare (the analytic payments mediator: 3.76 at 20,000 rounds).
    mediators = dilemma_report(tmp_path, "general-subsidize")
    learned = mediators["learned:general-subsidize"]["dynamic"]
    assert learned["transfers_per_round"] > 0.1
    assert learned["net"] > mediators["none"]["dynamic"]["net"] + 0.3
