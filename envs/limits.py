"""Size guards: the memory and time class of each step, estimated from the game's shape before it runs.

Every step that grows with the game (the payoff tensor, equilibrium enumeration, the CE / CCE / voucher
LPs, the restriction search, the engine's dynamics) calls its guard here first. A guard compares its
estimate with what this machine can hold (`memory_budget`) or with TIME_LIMIT and raises `TooLarge`,
a `GameError`, so every command line reports it in one line with exit code 2 and says what to do,
instead of a MemoryError (or hours of work) reaching the user. Estimates are upper-bound-minded
orders of magnitude (constants measured on a 2-core machine), not predictions to the byte or second.
"""
from __future__ import annotations

import math
import os
from typing import Sequence

from envs.game import GameError

#: Bytes of a float64.
FLOAT = 8
#: A step may use this fraction of the memory available when it starts.
MEMORY_FRACTION = 0.8
#: Budget when the available memory cannot be read (no /proc/meminfo, no sysconf).
FALLBACK_MEMORY = 4 << 30
#: A step estimated to take longer than this (seconds) is refused.
TIME_LIMIT = 3600.0

#: Peak bytes per constraint-matrix nonzero of a HiGHS LP (the built matrix, its negation, scipy's stacked
#: CSC copy, HiGHS' own copies and factors: 155-205 B measured on CE / CCE / voucher LPs), and per variable.
LP_BYTES_PER_NONZERO = 200
LP_BYTES_PER_VARIABLE = 400
#: Gambit's logit path: bytes per payoff entry (n K) of its game table (1.9-4.8 kB measured at 24k-40k
#: entries), and seconds per profile x (sum_i k_i)^2 (random 3x10 .. 5x6 games: 0.8e-6 to 2.2e-6; the path
#: length varies: a random 6x5 game took 5x the estimate).
LOGIT_BYTES = 2000
LOGIT_SECONDS = 3e-6
#: Vertex enumeration (two players): seconds = VERTEX_SECONDS * V ** VERTEX_POWER, V the upper-bound-theorem
#: vertex count of both best-response polytopes (fits random k x k games, k = 10..15, within 2x), and bytes
#: per coordinate of a bound vertex (random games reach ~1/10 of the bound, at ~48 B per coordinate).
VERTEX_SECONDS, VERTEX_POWER = 6.3e-8, 1.4
VERTEX_BYTES = 5
#: ... with lrs, which enumerates only the polytope of lower dimension and in time linear in its vertices:
#: seconds per upper-bound vertex of that polytope (random 13x13 and 16x16 games: 0.3-0.5 s and 8-13 s here,
#: bounds 54,264 and 980,628), and bytes of lrs's text per bound vertex and coordinate (128 MB at 16x16).
LRS_SECONDS, LRS_BYTES = 1e-5, 8
#: The restriction search: seconds per evaluated restriction and per payoff entry of it.
RESTRICTION_SECONDS = (1e-2, 3e-6)
#: Characters of JSON text -> bytes of the parsed Python lists (a float object and a pointer per ~5 chars).
JSON_BYTES_PER_CHAR = 8


class TooLarge(GameError):
    """A step that this machine cannot hold (memory) or finish in TIME_LIMIT; the message says what to do."""


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _address_space_left() -> int | None:
    """What RLIMIT_AS (``ulimit -v``) still allows this process to map, None without a limit."""
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        return max(soft - mapped, 0)
    except (ImportError, OSError, ValueError, IndexError):
        return None


def available_memory() -> int:
    """Bytes this process can still allocate: MemAvailable (else the free pages), capped by ``ulimit -v``."""
    free = _meminfo_available()
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            free = FALLBACK_MEMORY
    left = _address_space_left()
    return free if left is None else min(free, left)


def memory_budget() -> int:
    """Bytes one step may use: MEMORY_FRACTION of `available_memory`."""
    return int(MEMORY_FRACTION * available_memory())


def gib(nbytes: float) -> str:
    """Bytes in readable units (``5.3 GiB``, ``870 MiB``)."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit}"
    return f"{nbytes / 1024:.3g} KiB"


def duration(seconds: float) -> str:
    """Seconds in readable units (``40 min``, ``3.7 h``, ``95 days``)."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.2g} {unit}"
    return f"{seconds:.2g} s"


def require_memory(step: str, nbytes: float, advice: str) -> None:
    """Raise TooLarge unless ``nbytes`` fit in `memory_budget`."""
    budget = memory_budget()
    if nbytes > budget:
        raise TooLarge(f"{step} needs about {gib(nbytes)}, more than the {gib(budget)} a step may use here "
                       f"({MEMORY_FRACTION:.0%} of the memory free now); {advice}")


def require_time(step: str, seconds: float, advice: str) -> None:
    """Raise TooLarge if ``seconds`` exceed TIME_LIMIT."""
    if seconds > TIME_LIMIT:
        raise TooLarge(f"{step} would take about {duration(seconds)} (limit {duration(TIME_LIMIT)}); {advice}")


def _profiles(shape: Sequence[int]) -> int:
    return math.prod(int(k) for k in shape)


def _describe(shape: Sequence[int]) -> str:
    return f"a {' x '.join(map(str, shape))} game ({_profiles(shape):,} profiles)"


SUB_GAME = "analyse a sub-game with fewer players or designs"


# --------------------------------------------------------------------------- payoff tensors
def check_payoffs(shape: Sequence[int], copies: int = 3) -> None:
    """The payoff tensor (n, k_1, ..., k_n) of floats, ``copies`` of it alive at once (generation, the
    game's own copy, the pure-equilibrium scan's working arrays)."""
    require_memory(f"the payoff tensor of {_describe(shape)}", copies * FLOAT * len(shape) * _profiles(shape),
                   SUB_GAME)


def check_json_text(path: object, chars: int) -> None:
    """A JSON file of ``chars`` characters parsed into Python lists before any shape is known."""
    require_memory(f"reading {path} ({gib(chars)} of JSON)", JSON_BYTES_PER_CHAR * chars,
                   "write a smaller game file (a sub-game)")


# --------------------------------------------------------------------------- equilibria
def check_logit(shape: Sequence[int]) -> None:
    """Gambit's logit path (one mixed equilibrium): its game table and its path-following work."""
    n, K = len(shape), _profiles(shape)
    step = f"the mixed equilibrium of {_describe(shape)} (Gambit's logit path)"
    advice = "use --mixed none (pure equilibria only) or " + SUB_GAME
    require_memory(step, LOGIT_BYTES * n * K, advice)
    require_time(step, LOGIT_SECONDS * K * sum(shape) ** 2, advice)


def logit_fits(shape: Sequence[int]) -> bool:
    """Whether `check_logit` passes (``--mixed auto`` falls back to pure equilibria when not)."""
    try:
        check_logit(shape)
    except TooLarge:
        return False
    return True


def polytope_vertices(dim: int, facets: int) -> int:
    """McMullen's upper bound on the vertices of a ``dim``-polytope with ``facets`` facets."""
    if facets <= dim:
        return 1
    half, up = dim // 2, (dim + 1) // 2
    return math.comb(facets - up, half) + math.comb(facets - half - 1, up - 1)


def check_vertex(shape: Sequence[int], lrs: bool = False) -> None:
    """Every extreme equilibrium of a two-player game by vertex enumeration of its two best-response
    polytopes (dimension k_1 and k_2, k_1 + k_2 facets each), or with ``lrs`` of the lower-dimensional one."""
    m, n = shape
    if lrs:
        vertices = polytope_vertices(min(m, n), m + n)
        memory, seconds = LRS_BYTES * vertices * (m + n + 1), LRS_SECONDS * vertices
    else:
        vertices = polytope_vertices(m, m + n) + polytope_vertices(n, m + n)
        memory, seconds = VERTEX_BYTES * vertices * (m + n + 1), VERTEX_SECONDS * vertices**VERTEX_POWER
    step = f"every extreme equilibrium of {_describe(shape)} (vertex enumeration, up to {vertices:,} vertices)"
    advice = "use --mixed one (one mixed equilibrium) or --mixed none, or " + SUB_GAME
    require_memory(step, memory, advice)
    require_time(step, seconds, advice)


def lp_size(shape: Sequence[int], kind: str) -> tuple[int, int, int]:
    """(rows, variables, nonzeros) of the constraint matrix of the ``ce``, ``cce`` or ``vouchers`` LP:
    CE rows (i, d, d') hold p(d, a_-i) for every a_-i; a CCE row (i, d') sums the CE rows (i, d, d');
    the voucher LP adds T_i(d), one variable per (i, d) and one entry per CE row."""
    K = _profiles(shape)
    pairs = sum(k * (k - 1) for k in shape)
    nnz = sum(k * (k - 1) * (K // k) for k in shape)
    if kind == "ce":
        return pairs, K, nnz
    if kind == "cce":
        return sum(shape), K, nnz
    if kind == "vouchers":
        return pairs, K + sum(shape), nnz + pairs
    raise ValueError(f"unknown LP kind {kind!r}")


def check_lp(shape: Sequence[int], kind: str) -> None:
    """The CE / CCE / voucher LP of a game of ``shape``: its sparse matrix and HiGHS' copies of it."""
    rows, variables, nnz = lp_size(shape, kind)
    name = {"ce": "correlated equilibrium", "cce": "coarse correlated equilibrium", "vouchers": "voucher"}[kind]
    require_memory(f"the {name} LP of {_describe(shape)} ({rows:,} constraints, {variables:,} variables, "
                   f"{nnz:,} nonzeros)", LP_BYTES_PER_NONZERO * nnz + LP_BYTES_PER_VARIABLE * variables,
                   SUB_GAME)


# --------------------------------------------------------------------------- restriction search
def check_restriction(shape: Sequence[int], evaluations: int | None = None) -> None:
    """The restriction search: ``evaluations`` restricted games (default: the local search's order of
    magnitude, (sum_i k_i)^2 design toggles), each copied and scanned for its equilibria."""
    designs = sum(shape)
    count = designs**2 if evaluations is None else evaluations
    per, per_entry = RESTRICTION_SECONDS
    require_memory(f"the restriction search of {_describe(shape)}", 2 * FLOAT * len(shape) * _profiles(shape),
                   SUB_GAME)
    require_time(f"the restriction search of {_describe(shape)} (~{count:,} restrictions)",
                 count * (per + per_entry * len(shape) * _profiles(shape)), SUB_GAME)


# --------------------------------------------------------------------------- dynamics
def engine_bytes(shape: Sequence[int], batch: int) -> int:
    """The engine's per-copy tables (transfers, vouchers and their per-player vectors: B x n x K floats
    each; the recommendation's cumulative distribution, B x K) and its shared payoff tables (n x K, twice)."""
    n, K = len(shape), _profiles(shape)
    return FLOAT * K * (batch * (3 * n + 1) + 2 * n)


def check_engine(shape: Sequence[int], batch: int) -> None:
    """Learning dynamics of ``batch`` copies of a game of ``shape`` in one engine batch."""
    require_memory(f"learning dynamics of {batch:,} copies of {_describe(shape)}", engine_bytes(shape, batch),
                   "use fewer --seeds or --rounds 0 (static analysis only), or " + SUB_GAME)
