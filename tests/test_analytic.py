"""The paper's analytic mediators: each result reproduces the paper and carries a certificate."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.catalog import make_game, random_game
from mediator.analytic import (
    check_dominant, check_vouchers, correlation_mediator, executable_vouchers, implementation_costs,
    k_implementation, payments_mediator, voucher_lp, vouchers_mediator,
)
from mediator.equilibria import CertificateError, correlated_equilibrium, pure_nash, welfare_optimum


# ------------------------------------------------------------------ payments
def test_example3_k_implementation_of_LL_is_free_and_makes_L_dominant():
    game, margin = make_game("bos"), 0.01
    t = k_implementation(game, (0, 0), margin)
    assert t[0][0, 1] >= 5 + margin - 1e-12           # P1 at (L, S)
    assert t[1][1, 0] >= 5 + margin - 1e-12           # P2 at (S, L)
    transformed = game.with_transfers(t).payoffs
    assert (transformed[0][0] > transformed[0][1]).all()      # L strictly dominant for P1
    assert (transformed[1][:, 0] > transformed[1][:, 1]).all()  # and for P2
    assert pure_nash(game.with_transfers(t)) == [(0, 0)]
    result = payments_mediator(game, margin=margin, target=(0, 0))
    assert result.transfers == 0.0 and result.details["realised_cost"] == 0.0


def test_example1_implementing_the_no_tool_profile_costs_five_cents():
    game, margin = make_game("example1"), 1e-4
    c1, no_tool = game.profile_index(["C1", "(C2,none)"])
    u = game.payoffs
    # k-implementation pays each player, at the target z, its best deviation's gain plus the margin:
    # P1's E1 earns less than C1 against (C2,none); P2's best deviation against C1 is (C2,T).
    p1 = max(0.0, u[0][1 - c1, no_tool] - u[0][c1, no_tool] + margin)
    p2 = max(0.0, max(u[1][c1, d] for d in range(4) if d != no_tool) - u[1][c1, no_tool] + margin)
    assert p1 == 0.0 and p2 == pytest.approx(3.90 - 3.85 + margin, abs=0.01)   # the paper's table, 2 decimals
    result = payments_mediator(game, margin=margin, target=(c1, no_tool))
    assert result.transfers == pytest.approx(p1 + p2, abs=1e-12)
    best = payments_mediator(game, margin=margin)
    net = game.welfare() - implementation_costs(game, margin).sum(axis=0)
    assert best.net == pytest.approx(net.max())
    assert best.details["target"] == ["C1", "(C2,none)"]


def test_realised_cost_is_zero_exactly_at_strict_nash_equilibria():
    game = random_game(n=3, k=3, seed=4)
    costs = implementation_costs(game, 1e-9).sum(axis=0)
    nash = set(pure_nash(game))
    for a in np.ndindex(*game.shape):
        assert (costs[a] < 1e-6) == (a in nash)


def test_dominance_certificate_rejects_a_short_schedule():
    game = make_game("bos")
    t = k_implementation(game, (0, 0), 0.01)
    t[0][0, 1] -= 1.0
    with pytest.raises(CertificateError):
        check_dominant(game.with_transfers(t), (0, 0), 0.01)


# ------------------------------------------------------------------ correlation device
def test_example4_fair_correlation_device_on_bos():
    result = correlation_mediator(make_game("bos"), "fairness")
    support = {tuple(s["profile"]): s["probability"] for s in result.details["support"]}
    assert support == pytest.approx({("L", "L"): 0.5, ("S", "S"): 0.5}, abs=1e-7)
    np.testing.assert_allclose(result.payoffs, [4, 4], atol=1e-7)
    assert result.welfare == pytest.approx(8, abs=1e-7)


def test_nash_welfare_correlation_device_is_a_fair_ce_on_bos():
    result = correlation_mediator(make_game("bos"), "nash")
    np.testing.assert_allclose(result.payoffs, [4, 4], atol=1e-4)   # interior-point accuracy


def test_fairness_with_a_weight_trades_welfare_for_equality():
    game = random_game(n=2, k=4, seed=11)
    strict = correlation_mediator(game, "fairness")
    loose = correlation_mediator(game, "fairness", fairness_weight=100.0)
    gap = lambda r: abs(r.payoffs[0] - r.payoffs[1])  # noqa: E731
    assert gap(loose) <= gap(strict) + 1e-7
    assert loose.welfare <= strict.welfare + 1e-7


# ------------------------------------------------------------------ vouchers
@settings(max_examples=15, deadline=None)
@given(st.integers(2, 3), st.integers(0, 10**6))
def test_voucher_lp_lies_between_best_ce_and_optimum_and_is_obeyed(n, seed):
    game = random_game(n=n, k=3 if n == 2 else 2, seed=seed)
    result = vouchers_mediator(game, lam=1.0)
    assert correlated_equilibrium(game).welfare - 1e-7 <= result.net <= welfare_optimum(game)[1] + 1e-7
    p, v = result.intervention.recommendation, result.intervention.vouchers
    check_vouchers(game, p, v)
    # Executing the scheme pays, on average over recommended-and-followed profiles, the LP's cost.
    _, t = voucher_lp(game, 1.0)
    assert (p * v).sum() == pytest.approx(t.sum(), abs=1e-7)
    rng = np.random.default_rng(seed)
    draws = rng.choice(p.size, size=200_000, p=p.ravel())
    paid = v.reshape(n, -1)[:, draws].sum(axis=0)
    assert paid.mean() == pytest.approx(t.sum(), abs=5 * paid.std() / np.sqrt(len(draws)) + 1e-9)


def test_voucher_lambda_limits():
    game = random_game(n=2, k=3, seed=7)
    assert vouchers_mediator(game, lam=0.0).welfare == pytest.approx(welfare_optimum(game)[1], abs=1e-7)
    assert vouchers_mediator(game, lam=1e4).welfare == pytest.approx(correlated_equilibrium(game).welfare, abs=1e-6)


def test_a_recommendations_transfer_is_paid_on_its_most_likely_profile():
    game = make_game("bos")
    p = np.array([[0.3, 0.2], [0.0, 0.5]])
    t = np.array([[0.3, 0.1], [0.2, 0.0]])           # T_i(d): expected transfer to i when told d
    v = executable_vouchers(game, p, t)
    assert v[0][0, 0] == pytest.approx(0.3 / 0.3) and v[0][1, 1] == pytest.approx(0.1 / 0.5)
    assert v[1][0, 0] == pytest.approx(0.2 / 0.3)
    assert np.count_nonzero(v) == 3
    for i in range(2):                                # sum_{a_-i} p(d, a_-i) v_i(d, a_-i) = T_i(d)
        np.testing.assert_allclose(np.moveaxis(p * v[i], i, 0).sum(axis=1), t[i])
    # A design never recommended to P2 (S, column 1, has p = 0 here) gets no voucher: its constraints are vacuous.
    p = np.array([[0.5, 0.0], [0.5, 0.0]])
    v = executable_vouchers(game, p, np.array([[0.0, 0.0], [0.0, 0.4]]))
    assert not v.any()


def test_voucher_certificate_rejects_a_disobeyed_scheme():
    game = make_game("prisoners_dilemma")
    with pytest.raises(CertificateError):
        check_vouchers(game, np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros((2, 2, 2)))


def test_voucher_margin_is_certified_and_an_exact_scheme_fails_a_strict_check():
    game = make_game("example1")
    exact = vouchers_mediator(game)
    strict = vouchers_mediator(game, margin=0.05)
    check_vouchers(game, strict.intervention.recommendation, strict.intervention.vouchers, margin=0.05)
    with pytest.raises(CertificateError):
        check_vouchers(game, exact.intervention.recommendation, exact.intervention.vouchers, margin=0.05)
    assert strict.net == pytest.approx(exact.net - 0.05, abs=1e-6)
