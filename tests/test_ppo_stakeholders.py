"""MaskablePPO stakeholders: the single-stakeholder view, dominant designs, restrictions, determinism."""
import functools

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from agents.ppo import PPOOutcome, PPOPolicy, StakeholderView, encode, train_ppo_stakeholders
from envs.catalog import make_game
from envs.design_env import DesignEnv
from envs.intervention import Intervention
from mediator.analytic import payments_mediator

ONLY_L_FOR_P1 = Intervention(allowed=(np.array([True, False]), np.array([True, True])))


def view(game, player, intervention=None, opponents=None):
    return StakeholderView(functools.partial(DesignEnv, game, rounds=5, intervention=intervention), player, opponents)


def played(outcome, i, design):
    """How often player i played ``design`` over the evaluation rounds."""
    return sum(f for label, f in outcome.profiles.items() if label.strip("()").split(", ")[i] == design)


@pytest.mark.parametrize("game", ["bos", "example1"])
@pytest.mark.parametrize("player", ["P1", "P2"])
def test_view_passes_env_checker(game, player):
    env = view(game, player)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    g = make_game(game)
    assert env.action_space.n == g.shape[g.players.index(player)]


def test_view_with_payments_and_restriction():
    game = make_game("bos")
    env = view(game, "P1", payments_mediator(game).intervention)
    check_env(env, skip_render_check=True)
    restricted = view(game, "P1", ONLY_L_FOR_P1, opponents={"P2": lambda obs: 1})
    obs, _ = restricted.reset(seed=0)
    assert restricted.action_masks().tolist() == [True, False]
    obs, reward, _, _, info = restricted.step(0)
    assert reward == pytest.approx(-2 / game.scale) and not info["illegal_action"]
    assert obs.tolist() == encode(game, 0, restricted.obs["P1"]).tolist()


def test_prisoners_dilemma_learns_dominant_design():
    out = train_ppo_stakeholders("prisoners_dilemma", total_steps=6000, seed=0)
    assert played(out, 0, "D") > 0.8 and played(out, 1, "D") > 0.8
    assert out.welfare == pytest.approx(sum(out.payoffs.values()))


def test_restriction_is_respected_and_p2_follows():
    out = train_ppo_stakeholders("bos", ONLY_L_FOR_P1, total_steps=4000, seed=0)
    assert played(out, 0, "S") == 0.0 and played(out, 1, "L") > 0.8
    game, env = make_game("bos"), view("bos", "P1", ONLY_L_FOR_P1)
    obs, _ = env.reset(seed=1)
    for _ in range(50):
        action, _ = out.models["P1"].predict(obs, action_masks=env.action_masks())
        assert action == 0
        obs, _, _, truncated, info = env.step(action)
        assert not info["illegal_action"]
        if truncated:
            obs, _ = env.reset()
    policy = PPOPolicy(out.models["P1"], game, "P1", np.random.default_rng(0))
    assert policy.probabilities(obs)[1] == 0.0


def test_example1_heterogeneous_designs_end_to_end():
    game = make_game("example1")
    out = train_ppo_stakeholders(game, total_steps=800, eval_rounds=200, seed=0)
    assert isinstance(out, PPOOutcome) and set(out.models) == {"P1", "P2"}
    assert [out.models[p].action_space.n for p in game.players] == [2, 4]
    assert len(out.profiles) == 8 and sum(out.profiles.values()) == pytest.approx(1.0)
    assert out.transfers == 0.0 and out.net == pytest.approx(out.welfare)
    assert out.steps == 800


def test_same_seed_same_outcome():
    a, b = (train_ppo_stakeholders("bos", total_steps=1600, eval_rounds=300, seed=3) for _ in range(2))
    assert a.profiles == b.profiles and a.payoffs == b.payoffs and a.steps == b.steps


def test_budget_too_small_is_refused():
    with pytest.raises(ValueError, match="total_steps"):
        train_ppo_stakeholders("bos", total_steps=10)
