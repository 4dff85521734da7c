"""Cross-check and timing of our equilibrium LPs against an independent cvxpy formulation.

Run from the repository root:

    python bench/bench_lp_cvxpy.py            # full run
    python bench/bench_lp_cvxpy.py --quick    # small sizes only (< 30 s)

Two LPs, on seeded random uniform games:
  * CE: the max-welfare correlated equilibrium, ours = `correlated_equilibrium(g, "ce", "max")`
    (scipy HiGHS on the sparse `obedience_matrix`);
  * vouchers: Appendix B's LP with lambda = 1, ours = `voucher_lp(g, 1.0)`.
The reference is written the way OpenSpiel writes its CE LP: a cvxpy Variable p over the
flattened joint distribution, a deviation-gain matrix A built here from the payoff tensor
(one row per (player, recommended, deviation) pair, not by calling our code), constraints
A @ p >= 0, sum(p) == 1, p >= 0, objective Maximize(welfare @ p); for vouchers a variable
t (n x K, nonneg) enters each row and the objective. cvxpy solves with HiGHS (CLARABEL if
HiGHS fails). A is stored as a scipy.sparse matrix (dense, 2 players x 100 designs would be
19800 x 10000 floats = 1.6 GB).

Timings are wall-clock medians (time.perf_counter) over up to REPEATS runs (one run once a
call takes more than a second), after a warm-up solve of each path. "cvxpy total" includes
building A and the Problem; "compile" / "solve" are cvxpy's `problem.compilation_time` and
`problem.solver_stats.solve_time`. Exit code 1 if any row disagrees.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cvxpy as cp  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from envs.catalog import random_game  # noqa: E402
from mediator.analytic import voucher_lp  # noqa: E402
from mediator.equilibria import correlated_equilibrium  # noqa: E402

SIZES_FULL = [(2, 5), (2, 10), (2, 25), (2, 50), (2, 100), (3, 5), (3, 8), (4, 5), (4, 8)]
SIZES_QUICK = [(2, 5), (2, 10), (2, 25), (3, 5), (4, 5)]
SEED = 0
LAM = 1.0
AGREE_TOL = 1e-6          # on |ours - cvxpy| / max(1, |ours|)
CVXPY_LIMIT = 120.0       # a size whose single cvxpy solve takes longer is dropped
REPEATS = 5
SOLVERS = (cp.HIGHS, cp.CLARABEL)


# --------------------------------------------------------------------------- timing
def timed(fn: Callable[[], Any], repeats: int = REPEATS, single_above: float = 1.0) -> tuple[list[float], list[Any]]:
    """Wall times and results of up to ``repeats`` runs of fn(); stop after the first run if it
    took longer than ``single_above`` seconds."""
    times, results = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - start)
        if times[0] > single_above:
            break
    return times, results


# --------------------------------------------------------------------------- our LPs
def ours_ce(game) -> float:
    return correlated_equilibrium(game, "ce", "max").welfare


def ours_vouchers(game) -> float:
    p, t = voucher_lp(game, LAM)
    return float((p * game.welfare()).sum() - LAM * t.sum())


# --------------------------------------------------------------------------- cvxpy reference
def deviation_gain_matrices(payoffs: np.ndarray, with_transfers: bool) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    """A (rows x K) and, for vouchers, T (rows x n*K), one row per (player i, recommended d,
    deviation d' != d), profiles flattened in C order.

    Row (i, d, d') of A holds u_i(d, a_-i) - u_i(d', a_-i) in the column of profile (d, a_-i);
    row (i, d, d') of T holds 1 in the column of t_i(d, a_-i) (t flattened as t[i, profile]).
    """
    n, shape = payoffs.shape[0], payoffs.shape[1:]
    n_profiles = int(np.prod(shape))
    profile_index = np.arange(n_profiles).reshape(shape)
    a_rows, a_cols, a_vals, t_rows, t_cols = [], [], [], [], []
    row = 0
    for i in range(n):
        for d in range(shape[i]):
            columns = np.take(profile_index, d, axis=i).ravel()       # profiles (d, a_-i)
            u_follow = np.take(payoffs[i], d, axis=i).ravel()         # u_i(d, a_-i)
            for d_dev in range(shape[i]):
                if d_dev == d:
                    continue
                u_deviate = np.take(payoffs[i], d_dev, axis=i).ravel()  # u_i(d', a_-i)
                a_rows.append(np.full(columns.size, row))
                a_cols.append(columns)
                a_vals.append(u_follow - u_deviate)
                if with_transfers:
                    t_rows.append(np.full(columns.size, row))
                    t_cols.append(i * n_profiles + columns)
                row += 1
    a = sp.csr_matrix((np.concatenate(a_vals), (np.concatenate(a_rows), np.concatenate(a_cols))),
                      shape=(row, n_profiles))
    if not with_transfers:
        return a, None
    t_rows_all = np.concatenate(t_rows)
    t = sp.csr_matrix((np.ones(t_rows_all.size), (t_rows_all, np.concatenate(t_cols))),
                      shape=(row, n * n_profiles))
    return a, t


@dataclass
class CvxpyRun:
    value: float
    solver: str
    compile_time: float
    solve_time: float | None
    rows: int
    variables: int


def solve_with_fallback(problem: cp.Problem) -> str:
    """Solve with HiGHS; fall back to CLARABEL if HiGHS errors or is not optimal."""
    for solver in SOLVERS:
        try:
            problem.solve(solver=solver)
        except cp.SolverError:
            continue
        if problem.status == cp.OPTIMAL:
            return solver
    raise RuntimeError(f"cvxpy: no solver reached optimality (last status {problem.status})")


def _run(problem: cp.Problem, rows: int) -> CvxpyRun:
    solver = solve_with_fallback(problem)
    return CvxpyRun(float(problem.value), solver, problem.compilation_time,
                    problem.solver_stats.solve_time, rows, problem.size_metrics.num_scalar_variables)


def cvxpy_ce(payoffs: np.ndarray) -> CvxpyRun:
    """max welfare @ p  s.t.  A @ p >= 0, sum(p) == 1, p >= 0."""
    welfare = payoffs.sum(axis=0).ravel()
    a, _ = deviation_gain_matrices(payoffs, with_transfers=False)
    p = cp.Variable(welfare.size)
    problem = cp.Problem(cp.Maximize(welfare @ p), [a @ p >= 0, cp.sum(p) == 1, p >= 0])
    return _run(problem, a.shape[0])


def cvxpy_vouchers(payoffs: np.ndarray) -> CvxpyRun:
    """max welfare @ p - lam * sum(t)  s.t.  A @ p + T @ vec(t) >= 0, sum(p) == 1, p >= 0, t >= 0."""
    n = payoffs.shape[0]
    welfare = payoffs.sum(axis=0).ravel()
    a, t_matrix = deviation_gain_matrices(payoffs, with_transfers=True)
    p = cp.Variable(welfare.size)
    t = cp.Variable((n, welfare.size), nonneg=True)
    problem = cp.Problem(cp.Maximize(welfare @ p - LAM * cp.sum(t)),
                         [a @ p + t_matrix @ cp.vec(t, order="C") >= 0, cp.sum(p) == 1, p >= 0])
    return _run(problem, a.shape[0])


# --------------------------------------------------------------------------- benchmark
LPS = {"CE": (ours_ce, cvxpy_ce), "vouchers": (ours_vouchers, cvxpy_vouchers)}


@dataclass
class Row:
    game: str
    lp: str
    rows: int
    variables: int
    ours: float
    cvx_total: float
    cvx_compile: float
    cvx_solve: float | None
    solver: str
    ours_value: float
    cvx_value: float

    @property
    def diff(self) -> float:
        return abs(self.ours_value - self.cvx_value)

    @property
    def agree(self) -> bool:
        return self.diff <= AGREE_TOL * max(1.0, abs(self.ours_value))

    @property
    def ratio(self) -> float:
        return self.cvx_total / self.ours


def measure(n: int, k: int, lp: str) -> Row | str:
    """One table row, or the reason the size was dropped."""
    game = random_game(n, k, kind="uniform", seed=SEED)
    ours_fn, cvx_fn = LPS[lp]
    # cvxpy first: a single over-long solve drops the size before we spend more time on it
    cvx_times, cvx_runs = timed(lambda: cvx_fn(game.payoffs), repeats=1)
    if cvx_times[0] > CVXPY_LIMIT:
        return f"dropped {n}p x {k} {lp}: one cvxpy solve took {cvx_times[0]:.1f} s > {CVXPY_LIMIT:.0f} s"
    if cvx_times[0] <= 1.0:
        more_times, more_runs = timed(lambda: cvx_fn(game.payoffs), repeats=REPEATS - 1)
        cvx_times, cvx_runs = cvx_times + more_times, cvx_runs + more_runs
    our_times, our_values = timed(lambda: ours_fn(game))
    last = cvx_runs[-1]
    solve_times = [r.solve_time for r in cvx_runs if r.solve_time is not None]
    return Row(f"{n}p x {k} (K={game.n_profiles})", lp, last.rows, last.variables,
               statistics.median(our_times), statistics.median(cvx_times),
               statistics.median(r.compile_time for r in cvx_runs),
               statistics.median(solve_times) if solve_times else None,
               "/".join(sorted({r.solver for r in cvx_runs})), our_values[-1], last.value)


def warm_up() -> None:
    game = random_game(2, 3, seed=SEED)
    for ours_fn, cvx_fn in LPS.values():
        ours_fn(game)
        cvx_fn(game.payoffs)


def fmt_time(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def print_table(rows: list[Row]) -> None:
    header = ["game", "LP", "rows", "vars", "ours [s]", "cvxpy total [s]", "compile [s]", "solve [s]",
              "cvxpy/ours", "solver", "ours value", "cvxpy value", "|diff|", "check"]
    body = [[r.game, r.lp, str(r.rows), str(r.variables), fmt_time(r.ours), fmt_time(r.cvx_total),
             fmt_time(r.cvx_compile), fmt_time(r.cvx_solve), f"{r.ratio:.1f}x", r.solver,
             f"{r.ours_value:.9f}", f"{r.cvx_value:.9f}", f"{r.diff:.2e}", "AGREE" if r.agree else "DISAGREE"]
            for r in rows]
    widths = [max(len(c) for c in col) for col in zip(header, *body)]
    left = {0, 1, 9, 13}
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if j in left else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for cells in body:
        print(line(cells))


def summary(rows: list[Row]) -> str:
    parts = []
    for lp in LPS:
        ratios = [r.ratio for r in rows if r.lp == lp]
        if ratios:
            parts.append(f"{lp}: median {statistics.median(ratios):.1f}x (range {min(ratios):.1f}x-{max(ratios):.1f}x)")
    agree = sum(r.agree for r in rows)
    return f"cvxpy/ours time ratio -- {'; '.join(parts)}; {agree}/{len(rows)} rows AGREE"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (< 30 s)")
    args = parser.parse_args()
    sizes = SIZES_QUICK if args.quick else SIZES_FULL

    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"cvxpy {cp.__version__}; {platform.platform()}")
    print(f"games: random_game(n, k, kind='uniform', seed={SEED}); vouchers lambda = {LAM}; "
          f"cvxpy solver: HIGHS (CLARABEL fallback); agreement tol {AGREE_TOL:g} x max(1, |value|)")
    print(f"ours: scipy.optimize.linprog(method='highs'); times are medians of up to {REPEATS} runs"
          f"{' (--quick)' if args.quick else ''}\n")
    warm_up()
    start = time.perf_counter()
    rows: list[Row] = []
    dropped: list[str] = []
    too_slow: set[tuple[int, str]] = set()       # (players, LP) whose cvxpy solve hit the limit
    for n, k in sizes:
        for lp in LPS:
            if (n, lp) in too_slow:
                dropped.append(f"dropped {n}p x {k} {lp}: a smaller {n}-player size already exceeded the limit")
                continue
            result = measure(n, k, lp)
            if isinstance(result, str):
                too_slow.add((n, lp))
            (dropped if isinstance(result, str) else rows).append(result)
    print_table(rows)
    print()
    for reason in dropped:
        print(reason)
    if not dropped:
        print(f"no size dropped (every single cvxpy solve took <= {CVXPY_LIMIT:.0f} s)")
    print(summary(rows))
    print(f"total benchmark time {time.perf_counter() - start:.1f} s")
    if not all(r.agree for r in rows):
        print("DISAGREEMENT: see rows marked DISAGREE")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
