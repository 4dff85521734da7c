"""Solver certificates and the ordering of welfare benchmarks, on random games of 2-4 players."""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.catalog import make_game, random_game
from envs.game import DesignGame
from mediator.equilibria import (
    CertificateError, check_correlated, check_nash, coarse_matrix, correlated_equilibrium,
    nash_equilibria, nash_regrets, obedience_matrix, pure_nash, welfare_optimum,
)

TOL = 1e-6


@st.composite
def games(draw, integer_payoffs=False):
    n = draw(st.integers(2, 4))
    kmax = {2: 4, 3: 3, 4: 2}[n]
    shape = tuple(draw(st.integers(1 if n > 2 else 2, kmax)) for _ in range(n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    u = rng.integers(-3, 4, (n, *shape)).astype(float) if integer_payoffs else rng.normal(size=(n, *shape))
    return DesignGame(tuple(f"P{i}" for i in range(n)), tuple(tuple(f"d{j}" for j in range(k)) for k in shape), u)


def brute_force_pure_nash(game):
    out = []
    for a in itertools.product(*map(range, game.shape)):
        if all(game.payoffs[i][a] >= max(game.payoffs[i][a[:i] + (d,) + a[i + 1:]] for d in range(game.shape[i])) - 1e-12
               for i in range(game.n_players)):
            out.append(a)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games())
def test_solvers_return_certified_equilibria_in_welfare_order(game):
    eqs = nash_equilibria(game, mixed="all")
    assert eqs, "every finite game has a Nash equilibrium"
    for e in eqs:
        assert (nash_regrets(game, e.strategies) <= TOL).all()
        assert np.isclose(e.welfare, float((e.distribution() * game.welfare()).sum()))
    best_ce, worst_ce = (correlated_equilibrium(game, "ce", s) for s in ("max", "min"))
    best_cce, worst_cce = (correlated_equilibrium(game, "cce", s) for s in ("max", "min"))
    for out, g in ((best_ce, obedience_matrix(game)), (worst_ce, obedience_matrix(game)),
                   (best_cce, coarse_matrix(game)), (worst_cce, coarse_matrix(game))):
        assert out.distribution.min() >= 0 and out.distribution.sum() == pytest.approx(1)
        assert (g @ out.distribution.ravel()).min(initial=0.0) >= -TOL
    best_ne, worst_ne = max(e.welfare for e in eqs), min(e.welfare for e in eqs)
    assert welfare_optimum(game)[1] >= best_cce.welfare - TOL
    assert best_cce.welfare >= best_ce.welfare - TOL
    assert best_ce.welfare >= best_ne - TOL
    assert best_ne >= worst_ne
    assert worst_ne >= worst_ce.welfare - TOL
    assert worst_ce.welfare >= worst_cce.welfare - TOL


@settings(max_examples=60, deadline=None)
@given(games(integer_payoffs=True))
def test_pure_nash_matches_brute_force_including_ties(game):
    assert pure_nash(game) == brute_force_pure_nash(game)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games(integer_payoffs=True))
def test_degenerate_games_still_give_certified_equilibria(game):
    # Integer payoffs make ties (degenerate games) common: the equilibria form convex sets and
    # the solver returns their vertices, every one of them certified.
    for e in nash_equilibria(game, mixed="all"):
        check_nash(game, e.strategies)


def test_every_nash_equilibrium_is_a_correlated_one():
    game = make_game("bos")
    for e in nash_equilibria(game):
        check_correlated(game, e.distribution(), "ce")


def test_certificate_checks_reject_non_equilibria():
    game = make_game("bos")
    with pytest.raises(CertificateError, match="gains"):
        check_nash(game, (np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    with pytest.raises(CertificateError, match="CE constraint"):
        check_correlated(game, np.array([[0.0, 0.5], [0.5, 0.0]]), "ce")
    with pytest.raises(CertificateError, match="distribution"):
        check_correlated(game, np.array([[0.5, 0.0], [0.0, 0.6]]), "ce")


def test_mixed_one_mode_finds_an_equilibrium_without_pure_ones():
    game = make_game("matching_pennies")
    (eq,) = nash_equilibria(game, mixed="one")
    np.testing.assert_allclose(eq.strategies[0], [0.5, 0.5], atol=1e-8)
    assert nash_equilibria(game, mixed="none") == []


def test_three_player_game_gets_a_certified_mixed_equilibrium():
    game = random_game(n=3, k=3, seed=2)
    assert not pure_nash(game)
    eqs = nash_equilibria(game, mixed="one")
    assert len(eqs) >= 1 and all(e.mixed for e in eqs)
    for e in eqs:
        check_nash(game, e.strategies)


def test_solvers_are_deterministic():
    game = random_game(n=3, k=3, seed=5)
    a = [np.concatenate(e.strategies) for e in nash_equilibria(game)]
    b = [np.concatenate(e.strategies) for e in nash_equilibria(game)]
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_players_with_one_design_are_fixed_and_the_core_game_is_solved_exactly():
    # Four players, two of them with a single design (found by the property test above): Gambit's logit path
    # on the whole game ended off equilibrium (P3 gained 0.103); the 2x2 core between P1 and P3 has the pure
    # equilibria ((d1, d0), (d0, d1)) and the mixed one with P1 and P3 both at (1/3, 2/3).
    u = np.array([[[[[-2., -2.]], [[-1., 3.]]]], [[[[1., -2.]], [[3., -3.]]]],
                  [[[[1., -3.]], [[1., -2.]]]], [[[[-3., -1.]], [[2., 1.]]]]])
    game = DesignGame(("P0", "P1", "P2", "P3"), (("d0",), ("d0", "d1"), ("d0",), ("d0", "d1")), u)
    eqs = nash_equilibria(game, mixed="all")
    assert len(eqs) == 3 and sum(e.mixed for e in eqs) == 1
    mixed = next(e for e in eqs if e.mixed).strategies
    assert np.allclose(mixed[1], [1 / 3, 2 / 3]) and np.allclose(mixed[3], [1 / 3, 2 / 3])
    assert [len(s) for s in mixed] == [1, 2, 1, 2]
