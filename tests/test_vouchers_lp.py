"""Appendix B's voucher LP in aggregated transfers T_i(d) has the optimum of the paper's LP with one
transfer t_i(a) per player and profile, and the scheme executed from it is obeyed and pays what the LP says."""
import numpy as np
import pytest
from scipy.optimize import linprog

import mediator.analytic as analytic
from envs.catalog import make_game, random_game
from mediator.analytic import check_vouchers, voucher_lp, vouchers_mediator
from mediator.equilibria import CertificateError


def full_voucher_lp(game, lam=1.0, margin=0.0):
    """The reference: Appendix B.1 as printed, variables p(a) and t_i(a) >= 0 for every player and profile,
    one constraint per (i, d, d') written out cell by cell (dense; small games only), solved to HiGHS'
    tightest feasibility tolerances (at its default 1e-7 optima can be off by ~1e-7). Returns the optimum."""
    n, K, shape = game.n_players, game.n_profiles, game.shape
    profiles = list(np.ndindex(*shape))
    rows = []
    for i in range(n):
        for d in range(shape[i]):
            for dev in range(shape[i]):
                if dev == d:
                    continue
                row = np.zeros(K + n * K)
                for j, a in enumerate(profiles):
                    if a[i] == d:
                        b = a[:i] + (dev,) + a[i + 1:]
                        row[j] = game.payoffs[(i, *a)] - game.payoffs[(i, *b)] - margin
                        row[K + i * K + j] = 1.0
                rows.append(row)
    welfare = np.array([game.payoffs[(slice(None), *a)].sum() for a in profiles])
    c = np.r_[-welfare, np.full(n * K, lam)]
    res = linprog(c, A_ub=-np.array(rows), b_ub=np.zeros(len(rows)), A_eq=np.r_[np.ones(K), np.zeros(n * K)][None],
                  b_eq=[1.0], bounds=(0, None), method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    assert res.status == 0
    return -res.fun


GAMES = ([("random", n, k, seed) for n, k in ((2, 3), (2, 5), (2, 8), (2, (4, 7)), (3, 3), (3, (2, 3, 4)))
          for seed in range(4)]
         + [("random", 2, 20, 0)]          # where HiGHS at default tolerances reports an optimum 2.5e-8 too high
         + [(name, None, None, None) for name in ("example1", "example2", "bos", "prisoners_dilemma", "stag_hunt",
                                                  "chicken", "matching_pennies", "shapley")])


def _game(spec):
    name, n, k, seed = spec
    return random_game(n=n, k=k, seed=seed) if name == "random" else make_game(name)


@pytest.mark.parametrize("spec", GAMES, ids=str)
@pytest.mark.parametrize("lam, margin", [(1.0, 0.0), (0.3, 0.0), (1.0, 0.05)])
def test_aggregated_lp_has_the_full_lps_optimum_and_its_scheme_reaches_it(spec, lam, margin):
    game = _game(spec)
    p, t = voucher_lp(game, lam, margin=margin)
    assert t.shape == (game.n_players, max(game.shape)) and (t >= 0).all()
    for i, k in enumerate(game.shape):
        assert not t[i, k:].any()                                         # the padding stays zero
    reference = full_voucher_lp(game, lam, margin)
    assert (p * game.welfare()).sum() - lam * t.sum() == pytest.approx(reference, abs=1e-9)
    result = vouchers_mediator(game, lam, margin=margin)
    assert result.net == pytest.approx(reference, abs=1e-9)
    q, v = result.intervention.recommendation, result.intervention.vouchers
    check_vouchers(game, q, v, margin)
    assert (v[q[None].repeat(game.n_players, 0) == 0] == 0).all()         # vouchers only where a is recommended


def test_the_dilemmas_optimum_pays_the_cooperator_off():
    """PD (C, C) = (3, 3), (C, D) = (0, 5), (D, D) = (1, 1): recommending (D, C) with a voucher of 1 to the
    cooperator (it gains 1 by defecting) nets 5 - 1 = 4, more than (C, C) with 2 to each (6 - 4) or (D, D) (2)."""
    game = make_game("prisoners_dilemma")
    np.testing.assert_array_equal(game.payoffs[0], [[3, 0], [5, 1]])
    result = vouchers_mediator(game)
    assert result.net == pytest.approx(4.0, abs=1e-9) and result.transfers == pytest.approx(1.0, abs=1e-9)


def test_the_mediator_raises_when_the_solvers_answer_does_not_hold(monkeypatch):
    """Transfers the LP reports too small (a solver bug) leave a recommendation disobeyed: certificate error."""
    game = make_game("prisoners_dilemma")
    solve = analytic.voucher_lp
    monkeypatch.setattr(analytic, "voucher_lp", lambda *a, **kw: (lambda p, t: (p, t / 2))(*solve(*a, **kw)))
    with pytest.raises(CertificateError, match="not obeyed"):
        vouchers_mediator(game)


def test_the_mediator_raises_when_the_executed_scheme_misses_the_lps_objective(monkeypatch):
    """Transfer the LP reports on a recommendation never made counts in its objective but is never paid."""
    game = make_game("prisoners_dilemma")
    solve = analytic.voucher_lp

    def padded(*a, **kw):
        p, t = solve(*a, **kw)
        dead = np.nonzero(p.sum(axis=1) == 0)[0][0]                       # a design never recommended to P1
        t = t.copy()
        t[0, dead] += 0.5
        return p, t
    monkeypatch.setattr(analytic, "voucher_lp", padded)
    with pytest.raises(CertificateError, match="objective"):
        vouchers_mediator(game)
