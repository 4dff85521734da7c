"""No-regret stakeholder learners: valid strategies, convergence in self-play, contexts, determinism."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.no_regret import EXP3, LEARNERS, Hedge, make_learner
from envs.catalog import make_game
from envs.learner import Feedback

RULES = sorted(LEARNERS)


def draw(p, rng):
    """One design per row of p (B, k) by inverse CDF."""
    return np.minimum((np.cumsum(p, axis=1) < rng.random((len(p), 1))).sum(axis=1), p.shape[1] - 1)


def feedback(action, vector, p, context):
    """Feedback for designs ``action`` drawn from p, with payoff vectors ``vector`` (B, k)."""
    games = np.arange(len(action))
    return Feedback(action=action, reward=vector[games, action], payoff_vector=vector,
                    probability=p[games, action], context=context, mask=np.ones(vector.shape, bool))


def self_play(game, rule, rounds, batch=64, seed=0, **options):
    """Both players of a 2-player game learn with ``rule`` (no recommendations), B games at once.

    Yields each round's strategies and (payoff vectors u_i(., a_-i), rewards u_i(a)) per player.
    """
    rng = np.random.default_rng(seed)
    learners = [LEARNERS[rule](k, batch, bounds=(game.payoffs.min(), game.payoffs.max()), **options) for k in game.shape]
    own_first = (game.payoffs[0], game.payoffs[1].T)         # u_i[own design, other's design]
    none = [np.full(batch, k) for k in game.shape]
    for _ in range(rounds):
        p = [learner.strategy(c) for learner, c in zip(learners, none)]
        a = [draw(q, rng) for q in p]
        vectors = [u[:, a[1 - i]].T for i, u in enumerate(own_first)]
        for i, learner in enumerate(learners):
            learner.update(feedback(a[i], vectors[i], p[i], none[i]))
        yield p, [(v, v[np.arange(batch), a[i]]) for i, v in enumerate(vectors)]


def final(game, rule, rounds, **options):
    """Strategies after ``rounds`` rounds of self-play."""
    for p, _ in self_play(game, rule, rounds, **options):
        pass
    return p


def assert_distribution(p, shape):
    assert p.shape == shape
    assert np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- valid strategies
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=st.sampled_from(RULES), k=st.integers(1, 5), batch=st.integers(1, 6), contextual=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_strategies_are_distributions_under_arbitrary_rewards(rule, k, batch, contextual, seed):
    rng = np.random.default_rng(seed)
    learner = make_learner(rule, k, batch, contextual, bounds=(-(x := 10 ** rng.uniform(-3, 3)), x))
    for _ in range(40):
        context = rng.integers(0, k + 1, batch)
        p = learner.strategy(context)
        assert_distribution(p, (batch, k))
        vector = rng.standard_normal((batch, k)) * 10 ** rng.uniform(-3, 300)   # up to ~1e300
        learner.update(feedback(draw(p, rng), vector, p, context))


# --------------------------------------------------------------------------- convergence in self-play
@pytest.mark.parametrize("rule", ["hedge", "regret-matching", "regret-matching+", "fictitious-play", "best-response"])
def test_prisoners_dilemma_full_information_rules_learn_to_defect(rule):
    for p in final(make_game("prisoners_dilemma"), rule, 2000):
        assert p[:, 1].min() > 0.95


def test_prisoners_dilemma_exp3_learns_to_defect():
    for p in final(make_game("prisoners_dilemma"), "exp3", 5000):
        assert p[:, 1].mean() > 0.9 and p[:, 1].min() > 0.8


# Example 1's unique equilibrium (C1, (C2,T)) is in dominant strategies, but P2's margin of (C2,T)
# over (C2,none) when P1 plays C1 is 0.05, 1% of the payoff scale: the worst-case (anytime) rates
# need ~4e4 rounds (Hedge), and bandit feedback (EXP3) gets there more slowly.
@pytest.mark.parametrize("rule, rounds, options, threshold", [
    ("regret-matching", 2000, {}, 0.95),
    ("regret-matching+", 2000, {}, 0.95),
    ("hedge", 40_000, {}, 0.95),
    ("exp3", 40_000, {}, 0.9),
])
def test_example1_reaches_the_dominant_strategy_equilibrium(rule, rounds, options, threshold):
    game = make_game("example1")
    target = game.profile_index(["C1", "(C2,T)"])
    for p, d in zip(final(game, rule, rounds, **options), target):
        assert p[:, d].mean() > threshold


def test_regret_matching_on_matching_pennies_approaches_equilibrium_with_falling_regret():
    rounds, average, regret, cumulative = 5000, 0.0, {}, [0.0, 0.0]
    for t, (p, outcome) in enumerate(self_play(make_game("matching_pennies"), "regret-matching", rounds), 1):
        average = average + (np.stack(p) - average) / t
        cumulative = [c + v - r[:, None] for c, (v, r) in zip(cumulative, outcome)]
        if t in (500, rounds):
            regret[t] = max(c.max(axis=1).max() for c in cumulative) / t
    assert np.abs(average - 0.5).max() < 0.05
    assert regret[rounds] < regret[500]


# --------------------------------------------------------------------------- contexts
@pytest.mark.parametrize("rule", RULES)
def test_contextual_learners_keep_one_state_per_recommendation(rule):
    k, batch, rng = 3, 8, np.random.default_rng(5)
    contextual, plain = make_learner(rule, k, batch, contextual=True), make_learner(rule, k, batch)
    for _ in range(400):
        context = rng.integers(0, 2, batch)                         # told 0 or 1: obeying pays
        vector = np.where(np.arange(k) == context[:, None], 1.0, -1.0)
        for learner in (contextual, plain):
            p = learner.strategy(context)
            learner.update(feedback(draw(p, rng), vector, p, context))
    for c in (0, 1):
        p = contextual.strategy(np.full(batch, c))
        assert (p.argmax(axis=1) == c).all() and p[:, c].min() > 0.6
    np.testing.assert_allclose(contextual.strategy(np.full(batch, k)), 1 / k)   # never seen: untouched
    np.testing.assert_array_equal(plain.strategy(np.zeros(batch, int)), plain.strategy(np.ones(batch, int)))


# --------------------------------------------------------------------------- determinism and independence
@pytest.mark.parametrize("rule", RULES)
def test_same_seed_gives_the_same_strategies(rule):
    game = make_game("random:n=2,k=3,seed=4")
    runs = [[np.stack(p) for p, _ in self_play(game, rule, 200, batch=8, seed=11)] for _ in range(2)]
    np.testing.assert_array_equal(np.stack(runs[0]), np.stack(runs[1]))


@pytest.mark.parametrize("contextual", [False, True])
@pytest.mark.parametrize("rule", RULES)
def test_each_game_evolves_independently_of_the_others(rule, contextual):
    k, batch, rng = 3, 4, np.random.default_rng(9)
    together = make_learner(rule, k, batch, contextual, bounds=(-2.0, 2.0))
    alone = [make_learner(rule, k, 1, contextual, bounds=(-2.0, 2.0)) for _ in range(batch)]
    for _ in range(200):
        context = rng.integers(0, k + 1, batch)
        p = together.strategy(context)
        for b, single in enumerate(alone):
            np.testing.assert_allclose(single.strategy(context[b:b + 1]), p[b:b + 1], rtol=1e-12, atol=1e-15)
        vector, action = rng.uniform(-2, 2, (batch, k)), draw(p, rng)
        together.update(feedback(action, vector, p, context))
        for b, single in enumerate(alone):
            single.update(feedback(action[b:b + 1], vector[b:b + 1], p[b:b + 1], context[b:b + 1]))


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("make, message", [
    (lambda: make_learner("hedge", 0, 1), "k must be >= 1"),
    (lambda: make_learner("hedge", 2, 0), "batch must be >= 1"),
    (lambda: make_learner("exp3", 2, 1, bounds=(1.0, 1.0)), "bounds must be finite"),
    (lambda: Hedge(2, 1, eta=-1.0), "eta must be positive"),
    (lambda: EXP3(2, 1, gamma=-0.1), "gamma must lie in"),
    (lambda: EXP3(2, 1, gamma=1.5), "gamma must lie in"),
    (lambda: make_learner("ucb", 2, 1), "known: hedge, exp3, regret-matching"),
    (lambda: make_learner("hedge", 2, 1, contextual=True).strategy(np.array([3])), "contexts must lie in 0..2"),
])
def test_bad_arguments_raise_one_line_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_default_schedules_start_uniform_and_follow_the_documented_rates():
    hedge, exp3 = Hedge(4, 1), EXP3(4, 1)
    for learner in (hedge, exp3):
        learner.state[0, 0] = [1.0, 0.0, 0.0, 0.0]
        learner.count[0, 0] = 99                                   # strategy for round t = 100
    eta = np.sqrt(8 * np.log(4) / 100)
    np.testing.assert_allclose(hedge.strategy(np.array([4]))[0, 0], np.e**eta / (np.e**eta + 3))
    eta = np.sqrt(2 * np.log(4) / (4 * 100))
    np.testing.assert_allclose(exp3.strategy(np.array([4]))[0, 0], np.e**eta / (np.e**eta + 3))
