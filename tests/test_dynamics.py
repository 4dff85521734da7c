"""Learning stakeholders under each mediator, through the engine (Section 5's simulations)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import envs
from agents.no_regret import make_learner
from envs.catalog import make_game
from envs.engine import Engine
from envs.intervention import Intervention
from envs.simulate import simulate, summarise
from mediator.analytic import correlation_mediator, payments_mediator, restriction_mediator, vouchers_mediator

ROOT = Path(__file__).resolve().parents[1]


def long_run(game, intervention, spec, rounds, seeds=4, contextual=False, **defaults):
    factory = lambda i, k, b, bounds: make_learner(spec, k, b, contextual=contextual, bounds=bounds, **defaults)  # noqa: E731
    return summarise(game, simulate(game, intervention, factory, rounds, seeds, seed=1))


# Example 1's payoff gaps are small (P2's (C2,T) beats (C2,none) by 0.05 when P1 plays C1), so the
# anytime rates need these horizons: regret matching reacts to the sign of the gap, Hedge needs
# ~2e4 rounds and bandit EXP3 ~1e5.
HORIZON = {"regret-matching": 3000, "hedge": 20000, "exp3": 100000}


@pytest.mark.parametrize("spec", sorted(HORIZON))
def test_without_mediation_learners_reach_the_bad_equilibrium(spec):
    game = make_game("example1")
    out = long_run(game, Intervention(), spec, HORIZON[spec])
    assert abs(out["welfare"] - 7.80) < 0.02
    assert out["final_strategies"]["P1"]["C1"] > 0.95 and out["final_strategies"]["P2"]["(C2,T)"] > 0.95


@pytest.mark.parametrize("spec", sorted(HORIZON))
def test_under_the_restriction_mediator_learners_reach_example2(spec):
    game = make_game("example1")
    out = long_run(game, restriction_mediator(game).intervention, spec, min(HORIZON[spec], 20000))
    assert abs(out["welfare"] - 8.47) < 0.02


@pytest.mark.parametrize("spec, margin, rounds", [("regret-matching", None, 3000), ("hedge", 0.1, 20000)])
def test_under_payments_the_target_is_reached_and_transfers_tend_to_the_realised_cost(spec, margin, rounds):
    game = make_game("example1")
    mediator = payments_mediator(game, margin=margin, target=game.profile_index(["C1", "(C2,none)"]))
    out = long_run(game, mediator.intervention, spec, rounds)
    assert out["final_strategies"]["P1"]["C1"] > 0.99 and out["final_strategies"]["P2"]["(C2,none)"] > 0.99
    assert out["transfers_per_round"] == pytest.approx(mediator.transfers, rel=0.02)
    curve = out["curve"]["transfers"]
    assert abs(curve[-1] - mediator.transfers) < abs(curve[0] - mediator.transfers)   # paid per round settles


def test_a_voucher_margin_makes_obedience_learnable():
    game = make_game("example1")
    exact, strict = vouchers_mediator(game), vouchers_mediator(game, margin=0.05)
    assert strict.transfers == pytest.approx(exact.transfers + 0.05, abs=1e-6)   # the margin is paid on path
    runs = {name: long_run(game, m.intervention, "hedge", 20000, contextual=True, trust=0.5)
            for name, m in (("exact", exact), ("strict", strict))}
    assert runs["strict"]["obedience_rate"] > 0.95 > runs["exact"]["obedience_rate"]
    assert abs(runs["strict"]["welfare"] - 8.47) < 0.02


def test_contextual_hedge_learns_to_obey_the_fair_correlation_device():
    game = make_game("bos")
    device = correlation_mediator(game, "fairness").intervention
    out = long_run(game, device, "hedge", 3000, seeds=8, contextual=True, trust=0.5)
    assert out["obedience_rate"] > 0.95
    assert abs(out["welfare"] - 8) < 0.1
    np.testing.assert_allclose(out["payoffs"], [4, 4], atol=0.2)


def test_regret_matching_on_shapley_approaches_the_coarse_correlated_set():
    game = make_game("shapley")
    engine = Engine(game, None, batch=16, seed=3)
    engine.learners = [make_learner("regret-matching", k, 16, bounds=engine.payoff_bounds) for k in game.shape]
    u1, u2 = game.payoffs[0], game.payoffs[1]
    cum_vec = [np.zeros((16, 3)), np.zeros((16, 3))]
    cum_got = np.zeros((16, 2))
    regret = {}
    for t in range(1, 8001):
        r = engine.step()
        a1, a2 = r.profile[:, 0], r.profile[:, 1]
        cum_vec[0] += u1[:, a2].T
        cum_vec[1] += u2[a1, :]
        cum_got += r.utilities
        if t in (500, 8000):
            # Max average external regret = distance of the empirical play from the CCE constraints.
            regret[t] = max((cum_vec[i].max(axis=1) - cum_got[:, i]).max() / t for i in range(2))
    assert regret[8000] < regret[500]
    assert regret[8000] < 0.05


def test_engine_and_parallel_env_give_identical_trajectories():
    game = make_game("bos")
    device = correlation_mediator(game, "fairness").intervention
    engine = Engine(game, None, batch=1, seed=11)
    engine.set_intervention(device)
    engine.learners = [make_learner("hedge", k, 1, contextual=True, bounds=engine.payoff_bounds) for k in game.shape]
    played = [engine.step() for _ in range(60)]
    env = envs.parallel_env(game=game, rounds=60, intervention=device)
    obs, _ = env.reset(seed=11)
    for r in played:
        assert [obs[p]["recommendation"] for p in game.players] == r.recommendation[0].tolist()
        obs, rewards, *_ = env.step({p: int(a) for p, a in zip(game.players, r.profile[0])})
        assert [rewards[p] for p in game.players] == r.rewards[0].tolist()
        assert rewards["mediator"] == r.net[0]


def test_evaluate_writes_dynamic_values_for_every_mediator_and_a_plot(tmp_path):
    out, png = tmp_path / "out.json", tmp_path / "out.png"
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--game", "example1", "--rounds", "2000",
                           "--seeds", "5", "--json", str(out), "--plot", str(png)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    mediators = json.loads(out.read_text())["mediators"]
    assert set(mediators) == {"none", "restriction", "payments", "correlation", "vouchers"}
    for m in mediators.values():
        d = m["dynamic"]
        assert d["rounds"] == 2000 and d["seeds"] == 5
        assert d["net_ci95"][0] <= d["net"] <= d["net_ci95"][1]
        assert {"welfare", "transfers_per_round", "cumulative_transfers", "convergence_round", "final_strategies",
                "curve"} <= set(d)
    assert "obedience_rate" in mediators["vouchers"]["dynamic"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_dynamics():
    game = make_game("random:n=3,k=3,seed=4")
    a, b = (long_run(game, Intervention(), "exp3", 300, seeds=3) for _ in range(2))
    assert a == b
