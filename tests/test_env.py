"""The PettingZoo environment and the batched engine."""
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import envs
from envs.catalog import make_game
from envs.codec import ActionCodec
from envs.engine import Engine
from envs.intervention import Intervention

GAMES = ["example1", "bos", "random:n=3,k=3,seed=1"]


@pytest.mark.parametrize("game", GAMES)
def test_pettingzoo_parallel_api(game):
    parallel_api_test(envs.parallel_env(game=game, rounds=25), num_cycles=60)


@pytest.mark.parametrize("game", GAMES)
def test_pettingzoo_seed_test(game):
    parallel_seed_test(lambda: envs.parallel_env(game=game, rounds=25), num_cycles=40)


def test_agents_spaces_and_defaults():
    env = envs.parallel_env()
    assert env.possible_agents == ["mediator", "P1", "P2"]
    assert env.action_space("P1").n == 2 and env.action_space("P2").n == 4   # heterogeneous design sets
    obs, _ = env.reset(seed=3)
    assert obs["P2"]["payoffs"].shape == (4, 2)
    assert obs["P2"]["recommendation"] == 4                                  # none
    assert env.observation_space("P2").contains(obs["P2"])


def test_illegal_actions_are_replaced_by_a_random_allowed_design():
    game = make_game("example1")
    no_tool = Intervention(allowed=(np.ones(2, bool), np.array([1, 1, 0, 0], bool)))
    env = envs.parallel_env(game=game, rounds=200, intervention=no_tool)
    env.reset(seed=0)
    seen = set()
    for _ in range(200):
        _, rewards, _, _, infos = env.step({"P1": 7, "P2": 3})      # out of range, and a masked design
        assert infos["P1"]["illegal_action"] and infos["P2"]["illegal_action"]
        seen.add(tuple(env.last.profile[0]))
    assert {a for _, a in seen} == {0, 1}                              # only allowed designs, both drawn
    assert {a for a, _ in seen} == {0, 1}
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"P1": 1, "P2": 1})
    assert not infos["P1"]["illegal_action"] and tuple(env.last.profile[0]) == (1, 1)


def test_mediator_action_sets_the_intervention_of_the_next_round():
    env = envs.parallel_env(game="example1", rounds=5, families=("restrict",))
    env.reset(seed=0)
    forbid_tool = np.array([1, 1, 1, 1, -1, -1], np.float32)
    obs, *_ = env.step({"mediator": forbid_tool, "P1": 1, "P2": 3})
    assert tuple(env.last.profile[0]) == (1, 3)                       # round 1 was unrestricted
    assert obs["P2"]["action_mask"].tolist() == [1, 1, 0, 0]          # round 2 is restricted
    _, _, _, _, infos = env.step({"mediator": forbid_tool, "P1": 1, "P2": 3})
    assert infos["P2"]["illegal_action"]


def test_rewards_are_utility_plus_payments_and_net_welfare():
    game = make_game("bos")
    t = np.zeros(game.payoffs.shape)
    t[0][0, 1] = 6.0
    env = envs.parallel_env(game=game, rounds=3, intervention=Intervention(transfers=t), lam=0.5)
    env.reset(seed=1)
    _, rewards, *_ = env.step({"P1": 0, "P2": 1})
    assert rewards["P1"] == pytest.approx(-2 + 6) and rewards["P2"] == pytest.approx(-2)
    assert rewards["mediator"] == pytest.approx(-4 - 0.5 * 6)


def test_render_ansi_and_truncation():
    env = envs.parallel_env(game="bos", rounds=2, render_mode="ansi")
    env.reset(seed=0)
    env.step({"P1": 0, "P2": 0})
    assert env.render().startswith("round 1/2: P1=L, P2=L")
    _, _, terms, truncs, _ = env.step({"P1": 0, "P2": 0})
    assert all(truncs.values()) and not any(terms.values()) and env.agents == []


def test_codec_zero_action_is_no_intervention_and_roundtrips_shapes():
    game = make_game("random:n=3,k=2x3x2,seed=0")
    codec = ActionCodec(game, ("restrict", "subsidize", "recommend"), vouchers=True)
    iv = codec.decode(np.zeros(codec.dim)).validate(game)
    assert all(m.all() for m in iv.allowed) and not iv.transfers.any() and not iv.vouchers.any()
    assert iv.recommendation.shape == game.shape
    iv = codec.decode(-np.ones(codec.dim)).validate(game)
    assert all(m.sum() == 1 for m in iv.allowed)                      # never an empty design set
    with pytest.raises(ValueError):
        codec.decode(np.zeros(codec.dim + 1))


def test_engine_payments_and_vouchers_follow_the_definitions():
    game = make_game("bos")
    rec = np.array([[0.5, 0.0], [0.0, 0.5]])
    v = np.zeros(game.payoffs.shape)
    v[:, 0, 0] = 1.0
    engine = Engine(game, None, batch=4, seed=0)
    engine.set_intervention(Intervention(recommendation=rec, vouchers=v))
    engine.draw_recommendations()
    rec_now = engine.recommendation.copy()
    result = engine.play(rec_now)                                      # everyone obeys
    followed_ll = (rec_now == 0).all(axis=1)
    np.testing.assert_allclose(result.payments, np.repeat(followed_ll[:, None], 2, axis=1).astype(float))
    result = engine.play(1 - rec_now)                                  # everyone deviates: no voucher
    assert not result.payments.any()


def test_the_readme_s_own_stakeholders_reach_the_restriction_optimum_under_the_general_mediator(capsys):
    # The README's block: user-written multiplicative-weights stakeholders in the PettingZoo env, the shipped
    # general mediator deciding from their play; example1 without mediation settles at 7.80 (README).
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    code = readme.split("<!-- user-stakeholders -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert np.mean(scope["net"][-500:]) > 8.46
    assert scope["env"].engine.masks[1].sum() < 4                  # a design of P2's is banned
    assert "mean net welfare, last 500 rounds: 8.4669" in capsys.readouterr().out


def test_stakeholders_give_designs_or_strategies_not_a_mix_and_a_strategy_s_draw_is_reported():
    env = envs.parallel_env(game="bos", rounds=5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="every one a strategy"):
        env.step({"P1": 0, "P2": np.array([0.5, 0.5])})
    _, _, _, _, infos = env.step({"P1": np.array([1.0, 0.0]), "P2": np.array([0.25, 0.75])})
    assert env.last.profile[0, 0] == 0 and infos["P1"]["probability"] == 1.0
    assert infos["P2"]["probability"] == (0.25 if env.last.profile[0, 1] == 0 else 0.75)
