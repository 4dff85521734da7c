"""Per-game payoffs in the engine, the game-conditioned VecEnv and incentive subsidies."""
import numpy as np
import pytest

from agents.no_regret import make_learner
from envs.catalog import game_batches, game_family, make_game
from envs.codec import ActionCodec
from envs.engine import Engine
from envs.padding import PaddedLayout
from envs.views import MediatorVecEnv
from evaluate import main as evaluate_main
from mediator.analytic import k_implementation

HEDGE = lambda i, k, batch, bounds: make_learner("hedge", k, batch, bounds=bounds)  # noqa: E731


def test_engine_plays_a_different_game_in_every_copy():
    games = [make_game(f"random:n=2,k=3,seed={s}") for s in range(4)]
    engine = Engine(games[0], None, batch=4, seed=0)
    engine.set_payoffs(np.stack([g.payoffs for g in games]))
    profile = np.array([[0, 1], [2, 2], [1, 0], [2, 1]])
    result = engine.play(profile)
    expected = np.stack([g.payoffs[:, a, b] for g, (a, b) in zip(games, profile)])
    np.testing.assert_allclose(result.utilities, expected)
    assert engine.payoff_bounds[0] == pytest.approx(min(g.payoffs.min() for g in games))
    with pytest.raises(ValueError, match="payoffs need shape"):
        engine.set_payoffs(np.zeros((4, 2, 2, 2)))


def test_a_game_family_draws_fresh_games_and_shows_their_payoffs():
    family = game_family("random:n=2,k=3")
    assert game_family("random:n=2,k=3,seed=1") is None and game_family("bos") is None
    layout = PaddedLayout(3, 4, ("restrict",))
    env = MediatorVecEnv(family(0), HEDGE, num_envs=3, rounds=20, act_every=10, layout=layout,
                         batches=game_batches("random:n=2,k=3"))
    obs = env.reset()
    payoffs = layout.split(obs)["payoffs"]                  # (3, 3, 4, 4, 4): each game over its payoff scale
    for b in range(3):
        u = family(b).payoffs
        np.testing.assert_allclose(payoffs[b, :2, :3, :3, 0], u / np.abs(u).max(), atol=1e-6)
        assert not payoffs[b, 2].any() and not payoffs[b, :, 3].any()     # the dummy player and padded designs
    actions = np.zeros((3, env.action_space.shape[0]), np.float32)
    _, rewards, dones, _ = env.step(actions)
    np.testing.assert_allclose(rewards, env.metrics["net_welfare"] / [family(s).scale for s in range(3)], rtol=1e-5)
    obs, _, dones, infos = env.step(actions)
    assert dones.all() and all(info["TimeLimit.truncated"] for info in infos)     # a time limit, not an end
    u = family(4).payoffs                                    # the next episode's games are seeds 3, 4, 5
    np.testing.assert_allclose(layout.split(obs)["payoffs"][1, :2, :3, :3, 0], u / np.abs(u).max(), atol=1e-6)


def test_incentive_subsidies_scale_the_k_implementation_amounts():
    game = make_game("prisoners_dilemma")
    codec = ActionCodec(game, ("subsidize",), subsidy="incentive")
    assert codec.dim == 4 and not codec.decode(np.zeros(4)).transfers.any()
    half = codec.decode(np.array([0.5, -1.0, -1.0, -1.0])).transfers     # P1's C at the k-implementation amounts
    np.testing.assert_allclose(half[0], k_implementation(game, (0, 1))[0])
    assert not half[1].any()
    full = codec.decode(np.array([1.0, -1.0, -1.0, -1.0])).transfers
    np.testing.assert_allclose(full, 2 * half)
    assert codec.learner_bounds() == pytest.approx((0.0, 5.0 + full.max()))
    with pytest.raises(ValueError, match="subsidy"):
        ActionCodec(game, ("subsidize",), subsidy="lump")


def test_generalize_needs_exactly_one_mediator(capsys):
    assert evaluate_main(["--game", "random:n=2,k=4", "--generalize", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--generalize" in err and len(err.splitlines()) == 1
