"""Appendix B's voucher LP: the aggregated formulation (`voucher_lp`, sum_i k_i transfer variables T_i(d))
against the old full one (one transfer t_i(a) per player and profile, n K variables) and the CE LP of the
same game (`correlated_equilibrium`).

Run from the repository root:

    python bench/bench_vouchers.py

On seeded random uniform 2-player games of 13x13, 30x30 and 100x100 designs, lambda = 1, margin 0. Times are
wall-clock medians (time.perf_counter) over up to REPEATS runs (one run once a call takes more than a
second), each path after a warm-up solve of the smallest game; every time includes building the LP.
"old full" is the old formulation with the options it had (HiGHS defaults); "old full, new options" is the
same formulation with `voucher_lp`'s options (no presolve, feasibility tolerances 1e-10), which separates
the aggregation's share of the speed-up from the options'. The aggregated optimum must agree with the old
formulation's under the same options to AGREE_TOL (exit code 1 otherwise); its difference from the old
run at HiGHS' default 1e-7 tolerances is printed too.
"""
from __future__ import annotations

import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

from envs.catalog import random_game  # noqa: E402
from mediator.analytic import voucher_lp  # noqa: E402
from mediator.equilibria import correlated_equilibrium, obedience_matrix  # noqa: E402

SIZES = (13, 30, 100)
SEED = 0
LAM = 1.0
AGREE_TOL = 1e-9
REPEATS = 5
NEW_OPTIONS = {"presolve": False, "primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def old_full_voucher_lp(game, lam: float = 1.0, margin: float = 0.0, options: dict | None = None) -> float:
    """OLD REFERENCE, for comparison only: the voucher LP as `voucher_lp` built it before aggregation,
    variables p(a) and t_i(a) for every player and profile, each row (i, d, d') holding t_i(d, a_-i) for
    every a_-i; HiGHS defaults unless ``options``. Returns the optimum."""
    n, K = game.n_players, game.n_profiles
    rows, cols, players, offset = [], [], [], 0
    for i, k in enumerate(game.shape):
        flat = np.moveaxis(np.arange(K).reshape(game.shape), i, 0).reshape(k, -1)
        d, _ = np.nonzero(~np.eye(k, dtype=bool))
        rows.append(np.repeat(offset + np.arange(len(d)), flat.shape[1]))
        cols.append(flat[d].ravel())
        players.append(np.full(len(d) * flat.shape[1], i))
        offset += len(d)
    rows, cols, players = np.concatenate(rows), np.concatenate(cols), np.concatenate(players)
    g = obedience_matrix(game) - sp.csr_matrix((np.full(len(rows), margin), (rows, cols)), shape=(offset, K))
    t_part = sp.csr_matrix((np.ones(len(rows)), (rows, players * K + cols)), shape=(offset, n * K))
    a_ub = -sp.hstack([g, t_part]).tocsr()
    c = np.r_[-game.welfare().ravel(), np.full(n * K, lam)]
    a_eq = np.r_[np.ones(K), np.zeros(n * K)][None, :]
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(a_ub.shape[0]), A_eq=a_eq, b_eq=[1.0], bounds=(0, None), method="highs",
                  options=options or {})
    assert res.status == 0, res.message
    return -res.fun


def aggregated(game) -> float:
    p, t = voucher_lp(game, LAM)
    return float((p * game.welfare()).sum() - LAM * t.sum())


def old(game) -> float:
    return old_full_voucher_lp(game, LAM)


def old_new_options(game) -> float:
    return old_full_voucher_lp(game, LAM, options=NEW_OPTIONS)


def ce(game) -> float:
    return correlated_equilibrium(game, "ce", "max").welfare


def timed(fn, game) -> tuple[float, float]:
    """Median wall time of up to REPEATS calls fn(game) (one if the first takes over a second), and its value."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        value = fn(game)
        times.append(time.perf_counter() - start)
        if times[0] > 1.0:
            break
    return statistics.median(times), value


def main() -> int:
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"{platform.machine()}; games random_game(2, k, seed={SEED}), lambda = {LAM}")
    paths = {"aggregated": aggregated, "old full": old, "old full, new options": old_new_options, "CE LP": ce}
    warm = random_game(2, SIZES[0], seed=SEED)
    for fn in paths.values():
        fn(warm)
    print(f"{'game':<8}" + "".join(f"{name + ' s':>24}" for name in paths)
          + f"{'old/aggr':>10}{'old new opt/aggr':>18}{'aggr/CE':>9}{'|diff| same opt':>17}{'|diff| old':>12}")
    bad = 0
    for k in SIZES:
        game = random_game(2, k, seed=SEED)
        (t_new, v_new), (t_old, v_old), (t_same, v_same), (t_ce, _) = (timed(fn, game) for fn in paths.values())
        same, today = abs(v_new - v_same), abs(v_new - v_old)
        bad += same > AGREE_TOL
        print(f"{f'{k}x{k}':<8}" + "".join(f"{t:>24.4f}" for t in (t_new, t_old, t_same, t_ce))
              + f"{t_old / t_new:>9.2f}x{t_same / t_new:>17.2f}x{t_new / t_ce:>8.2f}x{same:>17.1e}{today:>12.1e}"
              + ("  DISAGREE" if same > AGREE_TOL else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
