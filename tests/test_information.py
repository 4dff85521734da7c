"""Information design: Example 5's Gaussian scheme (closed forms vs simulation) and the BCE LP."""
from dataclasses import replace

import numpy as np
import pytest

from envs.bayes import BayesGame
from envs.game import DesignGame, GameError
from mediator.equilibria import CertificateError, correlated_equilibrium
from mediator.information import (
    bayes_correlated_equilibrium, check_bce, check_gaussian_obedience, expected_objective,
    full_disclosure_objective, gaussian_prediction_scheme, no_disclosure_objective, persuasion,
    simulate_gaussian,
)

SAMPLES = 200_000
CASES = [(n, rho) for n in (2, 5) for rho in (0.3, 1.0, 3.0)]


@pytest.fixture(scope="module")
def sims():
    return {(n, rho): simulate_gaussian(gaussian_prediction_scheme(n, rho), SAMPLES, np.random.default_rng(17))
            for n, rho in CASES}


# --------------------------------------------------------------------------- Example 5
@pytest.mark.parametrize("n, rho", CASES)
def test_gaussian_scheme_is_obedient_and_matches_closed_form(sims, n, rho):
    scheme, sim = gaussian_prediction_scheme(n, rho), sims[(n, rho)]
    assert sim["recommendations"].shape == (SAMPLES, n)
    check_gaussian_obedience(scheme, sim, z=5)
    assert np.all(np.abs(sim["slopes"] - 1) <= 5 * sim["slope_se"] + 1e-9)
    assert np.all(np.abs(sim["intercepts"]) <= 5 * sim["intercept_se"] + 1e-9)
    # best affine deviation: in-sample gain ~ Var(theta | a_i) / m under obedience
    assert np.all(sim["deviation_gain"] >= -1e-12)
    assert np.all(sim["deviation_gain"] <= 20 * (1 - scheme.c) / SAMPLES + 1e-12)
    assert abs(sim["objective_mean"] - scheme.expected_objective) <= 4 * sim["objective_se"] + 1e-12
    # the noise terms cancel: sum_i a_i = N c theta
    np.testing.assert_allclose(sim["recommendations"].sum(axis=1), n * scheme.c * sim["theta"], atol=1e-9)


@pytest.mark.parametrize("n, rho", CASES)
def test_regimes_and_benchmarks(sims, n, rho):
    scheme, sim = gaussian_prediction_scheme(n, rho), sims[(n, rho)]
    c_star = 1 / (2 * rho) + 1 / (2 * n)
    full, none = full_disclosure_objective(n, rho), no_disclosure_objective(n, rho)
    assert full == pytest.approx(expected_objective(n, rho, 1.0)) and none == expected_objective(n, rho, 0.0) == 0
    if c_star < 1:
        assert scheme.regime == "interior" and scheme.c == pytest.approx(c_star)
        assert scheme.sigma2 == pytest.approx(c_star * (1 - c_star) * (n - 1) / n) and scheme.sigma2 > 0
        assert scheme.expected_objective == pytest.approx(rho * c_star**2)
        assert scheme.expected_objective > max(full, none) + 1e-9
        # the simulation agrees: full / no disclosure lie many standard errors below the simulated value
        assert sim["objective_mean"] - max(full, none) > 5 * sim["objective_se"]
    else:
        assert scheme.regime == "full_disclosure_corner"
        assert scheme.c == 1.0 and scheme.sigma2 == 0.0
        assert scheme.expected_objective == pytest.approx(full)
        np.testing.assert_allclose(sim["recommendations"], np.repeat(sim["theta"][:, None], n, axis=1))
    grid = np.linspace(0, 1, 201)
    assert scheme.expected_objective >= max(expected_objective(n, rho, c) for c in grid) - 1e-12


def test_both_regimes_are_covered():
    regimes = {gaussian_prediction_scheme(n, rho).regime for n, rho in CASES}
    assert regimes == {"interior", "full_disclosure_corner"}


def test_non_obedient_noise_is_caught():
    scheme = gaussian_prediction_scheme(3, 2.0)
    for sigma2 in (0.0, 4 * scheme.sigma2):        # too little noise: slope < 1; too much: slope > 1
        sim = simulate_gaussian(replace(scheme, sigma2=sigma2), 50_000, 3)
        with pytest.raises(CertificateError, match="slope"):
            check_gaussian_obedience(replace(scheme, sigma2=sigma2), sim)


@pytest.mark.parametrize("n, rho", [(1, 1.0), (2.5, 1.0), (True, 1.0), (2, 0.0), (2, -1.0), (2, float("inf")),
                                    (2, float("nan"))])
def test_invalid_parameters(n, rho):
    with pytest.raises(ValueError):
        gaussian_prediction_scheme(n, rho)


def test_expected_objective_rejects_infeasible_slope():
    with pytest.raises(ValueError, match="0 <= c <= 1"):
        expected_objective(2, 1.0, 1.2)


# --------------------------------------------------------------------------- BCE LP
def kg_example():
    prior = [0.7, 0.3]                                # states (low, high)
    receiver = np.eye(2)                              # 1 for matching the state: threshold posterior 0.5
    sender = np.array([[0.0, 1.0], [0.0, 1.0]])       # 1 whenever the high action is taken
    return prior, receiver, sender


def test_persuasion_kamenica_gentzkow():
    res = persuasion(*kg_example())
    assert res.policy.shape == (2, 2, 1)
    assert res.objective == pytest.approx(0.6, abs=1e-9)
    assert res.recommendation_probability(0, 1) == pytest.approx(0.6, abs=1e-9)
    np.testing.assert_allclose(res.posterior(0, 1), [0.5, 0.5], atol=1e-9)
    np.testing.assert_allclose(res.posterior(0, 0), [1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(res.policy[:, :, 0], [[4 / 7, 3 / 7], [0.0, 1.0]], atol=1e-9)
    np.testing.assert_allclose(res.payoffs, [0.7, 0.6], atol=1e-9)   # receiver's, sender's


def _random_game(rng, shape):
    n = len(shape)
    return DesignGame(tuple(f"P{i}" for i in range(n)), tuple(tuple(f"d{j}" for j in range(k)) for k in shape),
                      rng.normal(size=(n, *shape)))


@pytest.mark.parametrize("shape, seed", [((3, 4), 0), ((4, 4), 1), ((2, 3, 2), 2), ((3, 3, 3), 3)])
def test_one_state_bce_is_max_welfare_ce(shape, seed):
    game = _random_game(np.random.default_rng(seed), shape)
    bg = BayesGame([1.0], game.payoffs[None], game.payoffs.sum(axis=0)[None])
    res = bayes_correlated_equilibrium(bg)
    ce = correlated_equilibrium(game)
    assert res.objective == pytest.approx(ce.welfare, abs=1e-7)
    assert res.payoffs.sum() == pytest.approx(res.objective, abs=1e-9)
    check_bce(bg, ce.distribution[None])             # the CE is a one-state BCE too


def test_multi_state_bce_certified_and_informative():
    rng = np.random.default_rng(5)
    S, shape = 3, (3, 2)
    u = rng.normal(size=(S, 2, *shape))
    bg = BayesGame([0.5, 0.3, 0.2], u, u.sum(axis=1))
    best, worst = bayes_correlated_equilibrium(bg), bayes_correlated_equilibrium(bg, sense="min")
    assert best.objective >= worst.objective - 1e-9
    np.testing.assert_allclose(best.policy.reshape(S, -1).sum(axis=1), 1.0)
    # full information (state-by-state CE) is a BCE, so the optimum is at least as good
    full = np.stack([correlated_equilibrium(bg.state_game(s)).distribution for s in range(S)])
    check_bce(bg, full)
    assert best.objective >= float((bg.prior[:, None, None] * full * bg.objective).sum()) - 1e-7


def test_tampered_policy_fails_certificate():
    prior, receiver, sender = kg_example()
    res = persuasion(prior, receiver, sender)
    bg = BayesGame(prior, np.stack([receiver, sender], axis=1)[..., None], sender[..., None])
    check_bce(bg, res.policy)
    tampered = res.policy.copy()
    tampered[0, :, 0] = [0.2, 0.8]                    # recommend "high" too often in the low state
    with pytest.raises(CertificateError, match="obedience"):
        check_bce(bg, tampered)
    with pytest.raises(CertificateError, match="distribution"):
        check_bce(bg, res.policy * 1.1)


def test_bayes_game_validation():
    u = np.zeros((2, 2, 2, 2))
    with pytest.raises(GameError, match="prior"):
        BayesGame([0.5, 0.6], u, np.zeros((2, 2, 2)))
    with pytest.raises(GameError, match="objective"):
        BayesGame([0.5, 0.5], u, np.zeros((2, 2, 3)))
    with pytest.raises(GameError, match="payoffs"):
        BayesGame([0.5, 0.5], np.zeros((2, 3, 2, 2)), np.zeros((2, 2, 2)))
