"""Benchmark of the equilibrium solvers in `mediator.equilibria` on seeded random games.

Run from the repository root:

    python bench/bench_equilibria.py            # full run (about a minute, half of it Gambit at 13x13)
    python bench/bench_equilibria.py --quick    # smaller sizes, no 13x13 game, a smoke test (< 30 s)

Tables printed:
  1. pure-NE enumeration (`pure_nash`) and the max-welfare CE linear program
     (`correlated_equilibrium(g, "ce")`) against game size;
  2. two-player mixed-equilibrium enumeration: `nash_equilibria(g, mixed="all")` (vertex
     enumeration, `mediator.vertex`, underneath) versus nashpy's support enumeration;
  3. all extreme equilibria of a random 13x13 game and of seeded degenerate 6x6 / 8x8 / 13x13 games:
     `mediator.vertex` versus Gambit's enummixed and, where installed, the lrsnash binary (lrslib)
     and OpenSpiel's lrs_solve, with whether each finds the same set;
  4. a one-line summary of the headline ratios.
Every time is the median of a few `time.perf_counter` runs, after a warm-up that imports the solvers.
"""
from __future__ import annotations

import argparse
import importlib.util
import platform
import shutil
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from fractions import Fraction
from typing import Any, Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from tables import print_table  # noqa: E402

from envs.catalog import random_game  # noqa: E402
from envs.game import DesignGame  # noqa: E402
from mediator.equilibria import (correlated_equilibrium, equilibrium_constraints,  # noqa: E402
                                 nash_equilibria, pure_nash)
from mediator.vertex import extreme_equilibria  # noqa: E402

#: Game sizes (players, designs each) of table 1; OPTIONAL ones are kept only if one CE LP
#: finishes within LP_BUDGET seconds.
SIZES_FULL = [(2, 13), (2, 50), (2, 100), (3, 8), (3, 10), (4, 8)]
OPTIONAL_FULL = [(4, 10)]
SIZES_QUICK = [(2, 13), (2, 50), (3, 8), (4, 8)]
OPTIONAL_QUICK: list[tuple[int, int]] = []
LP_BUDGET = 60.0

#: Designs per player in table 2, and the per-call time after which nashpy is not run on larger games.
KS_FULL = [3, 4, 5, 6, 7, 8]
KS_QUICK = [3, 4, 5, 6]
NASHPY_LIMIT = 20.0
MATCH_TOL = 1e-6

#: Table 3's games: (label, game spec) with the degenerate ones' designs; Gambit's exact (rational)
#: enumeration is run on degenerate games up to GAMBIT_DEGENERATE_MAX designs (minutes beyond).
PEERS_FULL = [("random", 13), ("random", 16), ("degenerate", 6), ("degenerate", 8), ("degenerate", 13)]
PEERS_QUICK = [("random", 10), ("degenerate", 6), ("degenerate", 8)]
GAMBIT_DEGENERATE_MAX = 8
GAMBIT_RANDOM_MAX = 13          # Gambit's enummixed takes ~30 s at 13x13 and many minutes at 16x16
PEERS = ("Gambit", "lrsnash", "OpenSpiel")


# --------------------------------------------------------------------------- helpers
def timeit(fn: Callable[[], Any], repeat: int, budget: float = float("inf")) -> tuple[float, Any, int]:
    """Median wall time of up to ``repeat`` calls of ``fn`` (stopping early once ``budget`` s are spent).

    Returns (median seconds, result of the last call, number of calls made).
    """
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        if sum(times) >= budget:
            break
    return statistics.median(times), result, len(times)


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1e-6:
        return f"{s * 1e9:.1f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def guarded(label: str, fn: Callable[[], Any], errors: list[str]) -> Any:
    """Run ``fn``; on an exception record its traceback (printed after the table) and return None."""
    try:
        return fn()
    except Exception:  # noqa: BLE001 - reported in full, not hidden
        errors.append(f"--- {label} raised:\n{traceback.format_exc()}")
        return None


def warm_up() -> None:
    """Import Gambit / nashpy and initialise HiGHS so that no timed call pays for it."""
    import nashpy
    g = random_game(2, 3, seed=12345)
    nash_equilibria(g, mixed="all")
    _gambit(g, rational=False)
    correlated_equilibrium(g, "ce")
    pure_nash(g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        list(nashpy.Game(*g.payoffs).support_enumeration())


def degenerate_game(k: int | tuple[int, int], seed: int) -> DesignGame:
    """The seeded two-player random game with payoffs floored to {0, 1, 2, 3}: ties everywhere (degenerate)."""
    g = random_game(2, k, kind="uniform", seed=seed)
    return DesignGame(g.players, g.designs, np.floor(4 * g.payoffs), name=f"degenerate:k={k},seed={seed}")


def lrsnash_equilibria(game: DesignGame) -> list[tuple[np.ndarray, np.ndarray]]:
    """All extreme equilibria from the lrsnash binary (lrslib, exact reverse search) on the stored payoffs
    as exact rationals. Each block of its output lists vertices of both players, every combination an
    equilibrium."""
    m, n = game.shape
    text = f"{m} {n}\n\n" + "\n\n".join("\n".join(" ".join(str(Fraction(float(v))) for v in row) for row in u)
                                         for u in game.payoffs) + "\n"
    out = subprocess.run([shutil.which("lrsnash"), "/dev/stdin"], input=text, capture_output=True, text=True,
                         check=True).stdout
    pairs = []
    for block in "\n".join(ln for ln in out.splitlines() if not ln.startswith("*")).strip().split("\n\n"):
        sides: dict[str, list[np.ndarray]] = {"1": [], "2": []}
        for line in block.strip().splitlines():
            sides[line[0]].append(np.array([float(Fraction(v)) for v in line[1:].split()[:-1]]))
        pairs += [(x, y) for x in sides["1"] for y in sides["2"]]
    return pairs


def same_set(ours: list, theirs: list) -> bool:
    """Whether two lists of equilibria (x, y) hold the same points within MATCH_TOL (duplicates ignored)."""
    a, b = (np.array([np.concatenate(e) for e in eqs]) for eqs in (ours, theirs))
    if not len(a) or not len(b):
        return len(a) == len(b)
    dist = np.abs(a[:, None, :] - b[None, :, :]).max(axis=2)
    return bool((dist.min(axis=1) <= MATCH_TOL).all() and (dist.min(axis=0) <= MATCH_TOL).all())


# --------------------------------------------------------------------------- table 1
def bench_scaling(sizes: list[tuple[int, int]], optional: list[tuple[int, int]], seed: int,
                  pure_repeat: int = 5, lp_repeat: int = 3) -> list[dict]:
    """Pure-NE enumeration and the max-welfare CE LP against game size."""
    rows, results, notes, errors = [], [], [], []
    for n, k in [*sizes, *optional]:
        g = random_game(n, k, kind="uniform", seed=seed)
        label = f"{n} x {k}"
        n_rows = equilibrium_constraints(g, "ce").shape[0]
        if (n, k) in optional:  # measure one LP first; keep the size only if it is fast enough
            t0 = time.perf_counter()
            ok = guarded(f"correlated_equilibrium({label})", lambda: correlated_equilibrium(g, "ce"), errors)
            first = time.perf_counter() - t0
            if ok is not None and first > LP_BUDGET:
                notes.append(f"{label} left out: one CE LP took {first:.1f} s (> {LP_BUDGET:.0f} s budget)")
                continue
        t_pure, ne, _ = guarded(f"pure_nash({label})", lambda: timeit(lambda: pure_nash(g), pure_repeat),
                                errors) or (None, None, 0)
        t_lp, ce, lp_runs = guarded(f"correlated_equilibrium({label})",
                                    lambda: timeit(lambda: correlated_equilibrium(g, "ce"), lp_repeat, budget=10.0),
                                    errors) or (None, None, 0)
        results.append(dict(n=n, k=k, profiles=g.n_profiles, rows=n_rows, t_pure=t_pure, t_lp=t_lp))
        rows.append([
            label, f"{g.n_profiles:,}", f"{n_rows:,}",
            "ERROR" if ne is None else len(ne),
            fmt_time(t_pure), fmt_time(t_pure / g.n_profiles if t_pure else None),
            fmt_time(t_lp), lp_runs,
            "ERROR" if ce is None else f"{ce.welfare:.4f}",
            f"{t_lp / t_pure:,.0f}x" if t_lp and t_pure else "-",
        ])
    print_table(f"Table 1. Pure-NE enumeration vs max-welfare CE LP (random uniform games, seed={seed}; "
                f"pure NE: median of {pure_repeat}, CE LP: median of the runs shown)",
                ["players x designs", "profiles", "CE constraints", "pure NE", "pure_nash",
                 "per profile", "CE LP", "LP runs", "CE welfare", "LP/pure"], rows)
    for note in notes:
        print("Note:", note)
    if optional and not notes:
        print(f"Note: {', '.join(f'{n} x {k}' for n, k in optional)} included: its CE LP finished "
              f"well within the {LP_BUDGET:.0f} s budget.")
    for e in errors:
        print(e)
    print()
    return results


# --------------------------------------------------------------------------- table 2
def _run_nashpy(A: np.ndarray, B: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """nashpy's support enumeration, with its RuntimeWarnings (degenerate games) counted, not shown."""
    import nashpy
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eqs = [(np.asarray(s1, float), np.asarray(s2, float))
               for s1, s2 in nashpy.Game(A, B).support_enumeration()]
    n_runtime = sum(issubclass(w.category, RuntimeWarning) for w in caught)
    for w in caught:  # anything other than a RuntimeWarning is shown as usual
        if not issubclass(w.category, RuntimeWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return eqs, n_runtime


def _n_distinct(vectors: list[np.ndarray], decimals: int = 7) -> int:
    return len({tuple(np.round(v, decimals).tolist()) for v in vectors})


def bench_mixed(ks: list[int], seed: int, ours_repeat: int = 5, nashpy_repeat: int = 3) -> list[dict]:
    """All mixed equilibria of 2-player games: ours (Gambit enummixed) vs nashpy support enumeration."""
    rows, results, notes, errors = [], [], [], []
    nashpy_stopped = False
    for k in ks:
        g = random_game(2, k, kind="uniform", seed=seed)
        label = f"{k} x {k}"
        t_ours, ours, _ = guarded(f"nash_equilibria({label})",
                                  lambda: timeit(lambda: nash_equilibria(g, mixed="all"), ours_repeat, budget=10.0),
                                  errors) or (None, None, 0)
        t_np = np_eqs = n_warn = None
        if not nashpy_stopped:
            out = guarded(f"nashpy support_enumeration({label})",
                          lambda: timeit(lambda: _run_nashpy(*g.payoffs), nashpy_repeat, budget=NASHPY_LIMIT),
                          errors)
            if out is not None:
                t_np, (np_eqs, n_warn), _ = out
                if t_np > NASHPY_LIMIT:
                    nashpy_stopped = True
                    notes.append(f"nashpy took {t_np:.1f} s on {label} (> {NASHPY_LIMIT:.0f} s): "
                                 "not run on larger games")
        ours_vecs = [] if ours is None else [np.concatenate(e.strategies) for e in ours]
        np_vecs = [] if np_eqs is None else [np.concatenate(e) for e in np_eqs]
        matched = sum(any(np.abs(v - w).max() <= MATCH_TOL for w in np_vecs) for v in ours_vecs)
        ratio = t_np / t_ours if t_np and t_ours else None
        results.append(dict(k=k, t_ours=t_ours, t_np=t_np, ratio=ratio,
                            n_ours=len(ours_vecs), matched=matched if np_eqs is not None else None))
        rows.append([
            label, fmt_time(t_ours), fmt_time(t_np), f"{ratio:,.1f}x" if ratio else "-",
            "ERROR" if ours is None else len(ours),
            sum(e.mixed for e in ours) if ours is not None else "-",
            "-" if np_eqs is None else len(np_eqs),
            "-" if np_eqs is None else _n_distinct(np_vecs),
            "-" if np_eqs is None else f"{matched}/{len(ours_vecs)}",
            "-" if n_warn is None else n_warn,
        ])
    print_table(f"Table 2. Two-player mixed equilibria: nash_equilibria(mixed='all') [mediator.vertex] vs "
                f"nashpy support_enumeration (random uniform games, seed={seed})",
                ["designs", "ours", "nashpy", "nashpy/ours", "ours: eqs", "(mixed)",
                 "nashpy: eqs", "distinct", "ours matched", "nashpy warnings"], rows)
    print(f"Note: 'ours matched' counts our equilibria that some nashpy equilibrium equals within {MATCH_TOL:g} "
          "(max abs difference of the strategy vectors); 'nashpy warnings' counts the RuntimeWarnings "
          "(degenerate game) of one call, suppressed from the output.")
    for note in notes:
        print("Note:", note)
    for e in errors:
        print(e)
    print()
    return results


# --------------------------------------------------------------------------- table 3
def _gambit(game: DesignGame, rational: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    import pygambit as gbt
    g = gbt.Game.from_arrays(*game.payoffs)
    return [tuple(np.array([float(eq[s]) for s in p.strategies]) for p in g.players)
            for eq in gbt.nash.enummixed_solve(g, rational=rational).equilibria]


def _openspiel(game: DesignGame) -> list[tuple[np.ndarray, np.ndarray]]:
    """OpenSpiel's lrsnash wrapper, which writes the payoffs with denominators <= 1000 (its default)."""
    from open_spiel.python.algorithms import matrix_nash
    return [(np.asarray(x, float), np.asarray(y, float))
            for x, y in matrix_nash.lrs_solve(*game.payoffs, lrsnash_max_denom=1000, lrsnash_path=None)]


def bench_peers(games: list[tuple[str, int]], seed: int) -> list[dict]:
    """All extreme equilibria: mediator.vertex vs Gambit enummixed, lrsnash and OpenSpiel, one timed call each."""
    has_lrsnash = shutil.which("lrsnash") is not None
    has_openspiel = importlib.util.find_spec("open_spiel") is not None
    rows, results, errors = [], [], []
    for kind, k in games:
        g = random_game(2, k, kind="uniform", seed=seed) if kind == "random" else degenerate_game(k, seed + k)
        label = f"{kind} {k}x{k}"
        timed = guarded(f"extreme_equilibria({label})", lambda: timeit(lambda: extreme_equilibria(g), 3, budget=10.0),
                        errors)
        t_ours, ours, _ = timed or (None, None, 0)
        runs = {"Gambit": None if k > (GAMBIT_DEGENERATE_MAX if kind == "degenerate" else GAMBIT_RANDOM_MAX)
                else (lambda: _gambit(g, rational=kind == "degenerate")),
                "lrsnash": (lambda: lrsnash_equilibria(g)) if has_lrsnash else None,
                "OpenSpiel": (lambda: _openspiel(g)) if has_openspiel else None}
        row = dict(game=label, t_ours=t_ours, n_ours=None if ours is None else len(ours))
        cells = [label, fmt_time(t_ours), "ERROR" if ours is None else len(ours)]
        for name in PEERS:
            fn = runs[name]
            out = None if fn is None else guarded(f"{name}({label})", lambda: timeit(fn, 1), errors)
            t, theirs = (out[0], out[1]) if out else (None, None)
            row[name] = (t, None if theirs is None or ours is None else same_set(ours, theirs))
            cells += [fmt_time(t), f"{t / t_ours:,.1f}x" if t and t_ours else "-",
                      "-" if row[name][1] is None else ("yes" if row[name][1] else "NO")]
        results.append(row)
        rows.append(cells)
    headers = ["game", "ours", "eqs"]
    for name in PEERS:
        headers += [name, f"{name}/ours", "same set"]
    print_table(f"Table 3. All extreme equilibria: mediator.vertex (lrs where installed, else pycddlib) vs peers (one call each; ours: "
                f"median of up to 3; random: uniform seed={seed}; degenerate k x k: payoffs floor(4 u), "
                f"seed={seed}+k)",
                headers, rows)
    print(f"Note: Gambit is enummixed_solve(rational=False) on the random game (as this project used it), "
          f"rational=True on the degenerate ones, which it runs only up to {GAMBIT_DEGENERATE_MAX}x"
          f"{GAMBIT_DEGENERATE_MAX} and the random ones up to {GAMBIT_RANDOM_MAX}x{GAMBIT_RANDOM_MAX}. lrsnash is the lrslib binary on the exact payoffs "
          + ("(on PATH)." if has_lrsnash else "(not installed: apt-get install lrslib).")
          + (" OpenSpiel's lrs_solve rounds payoffs to denominators <= 1000." if has_openspiel
             else " OpenSpiel is not installed."))
    for e in errors:
        print(e)
    print()
    return results


# --------------------------------------------------------------------------- summary
def summary(scaling: list[dict], mixed: list[dict], peers: list[dict]) -> str:
    parts = []
    lp = [r for r in scaling if r["t_lp"]]
    if lp:
        big = max(lp, key=lambda r: r["rows"] * r["profiles"])
        parts.append(f"largest CE LP {big['n']}x{big['k']} ({big['profiles']:,} profiles, {big['rows']:,} "
                     f"constraints) in {fmt_time(big['t_lp'])}")
    pure = [r["t_pure"] / r["profiles"] for r in scaling if r["t_pure"]]
    if pure:
        parts.append(f"pure NE {fmt_time(min(pure))}-{fmt_time(max(pure))} per profile")
    cmp_ = [r for r in mixed if r["ratio"]]
    if cmp_:
        lo, hi = cmp_[0], cmp_[-1]
        parts.append(f"nashpy/ours {lo['ratio']:,.1f}x at k={lo['k']} -> {hi['ratio']:,.0f}x at k={hi['k']}")
        missed = sum(r["n_ours"] - r["matched"] for r in cmp_)
        parts.append(f"nashpy missed {missed} of our {sum(r['n_ours'] for r in cmp_)} equilibria")
    for r in peers:
        ratios = [f"{name} {r[name][0] / r['t_ours']:,.1f}x" + ("" if r[name][1] else " (NOT the same set)")
                  for name in PEERS if r[name][0] and r["t_ours"]]
        if ratios:
            parts.append(f"{r['game']}: {fmt_time(r['t_ours'])} ours, peer/ours " + ", ".join(ratios))
    return "Summary: " + "; ".join(parts) + "."


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (finishes in < 30 s), for smoke testing")
    ap.add_argument("--seed", type=int, default=0, help="seed of every random game (default 0)")
    args = ap.parse_args(argv)

    from importlib.metadata import version

    import nashpy
    import pygambit
    import scipy
    print(f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"pygambit {pygambit.__version__}, nashpy {nashpy.__version__}, pycddlib {version('pycddlib')}; "
          f"{platform.machine()}, "
          f"{__import__('os').cpu_count()} CPUs; {'quick' if args.quick else 'full'} run, seed {args.seed}")
    print()
    t0 = time.perf_counter()
    warm_up()
    scaling = bench_scaling(SIZES_QUICK if args.quick else SIZES_FULL,
                            OPTIONAL_QUICK if args.quick else OPTIONAL_FULL, args.seed)
    mixed = bench_mixed(KS_QUICK if args.quick else KS_FULL, args.seed)
    peers = bench_peers(PEERS_QUICK if args.quick else PEERS_FULL, args.seed)
    print(summary(scaling, mixed, peers))
    print(f"(total benchmark time {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
