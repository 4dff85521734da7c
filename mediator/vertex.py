"""All extreme Nash equilibria of a two-player game, by vertex enumeration of both best-response polytopes.

With the payoffs (A, B) shifted positive, P = {x >= 0 : B^T x <= 1} and Q = {y >= 0 : A y <= 1}.
A vertex's labels are its tight constraints, numbered over the m rows M then the n columns N:
label i in M is x_i = 0 on P and (A y)_i = 1 on Q, label m + j in N is (B^T x)_j = 1 on P and
y_j = 0 on Q. The extreme equilibria are the completely labelled vertex pairs (x, y) != (0, 0)
(labels(x) | labels(y) = M | N), normalised to distributions.

The vertices of a large polytope come from lrslib's reverse search (the ``lrs`` binary, where installed:
output-sensitive, so 16 x 16 games take seconds where a double description takes minutes) on the shifted
payoffs rounded to integers (`LRS_SCALE`), each vertex then recomputed in floating point from its cobasis;
those of a smaller one (`use_lrs`) from cddlib's double description method (pycddlib) in floating point. Either is used only when its answer carries a
certificate on the true payoffs (`_certified_simple`); otherwise, and so on every degenerate game, cddlib
enumerates in exact rational arithmetic (cdd.gmp) on the payoffs exactly as stored. When the polytope of lower
dimension is certified simple, only it is enumerated: each of its vertices z has exactly as many labels
as dimensions, so its partner is the one point with the complementary labels, a square linear system
solved for all vertices at once (`partners`, what lrsnash does by pivoting); where a system is singular
or a partner's slack is too close to 0 to tell, both polytopes are enumerated and joined instead.
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
from fractions import Fraction
from itertools import chain

import cdd
import cdd.gmp
import numpy as np

from envs.game import DesignGame
from envs.limits import check_vertex, polytope_vertices
from mediator.equilibria import CertificateError, check_nash

#: Floating-point vertices: a constraint with slack <= TIGHT is a label; every other slack must
#: exceed GAP (payoffs scaled to [1, 2]), or the exact enumeration is used instead.
TIGHT, GAP = 1e-9, 1e-7

#: Vertex pairs per block of the general (degenerate) complementarity join.
JOIN_BLOCK = 1 << 22

#: lrs reads the shifted payoffs in [1, 2] as integers in [LRS_SCALE, 2 LRS_SCALE]; the certificate is then
#: checked on the true payoffs, so the rounding can only cost a fall-back to cddlib, never a wrong answer.
LRS_SCALE = 10**6
LRS = shutil.which("lrs")
#: lrs enumerates a polytope whose upper-bound-theorem vertex count is at least this; below, cddlib is faster
#: (its call costs no process and no text: random 13x13, bound 54,264: cdd 0.34 s, lrs 0.45 s; 14x14, bound
#: 155,040: cdd 4.0 s, lrs 1.6 s).
LRS_MIN_VERTICES = 100_000


def use_lrs(dim: int, facets: int) -> bool:
    """Whether lrs (installed) enumerates a polytope of dimension ``dim`` with ``facets`` facets."""
    return LRS is not None and polytope_vertices(dim, facets) >= LRS_MIN_VERTICES


def _rows(form: np.ndarray) -> list:
    """cdd's H-representation [b | -M ; 0 | I] (rows read b + row . z >= 0) of {z >= 0 : M z <= b},
    given ``form`` = [b | M]."""
    k = form.shape[1] - 1
    return np.vstack([np.hstack([form[:, :1], -form[:, 1:]]),
                      np.hstack([np.zeros((k, 1), form.dtype), np.eye(k, dtype=form.dtype)])]).tolist()


def _float_form(m: np.ndarray) -> np.ndarray:
    """[1 | M'] with M' = (M - min M) / range + 1 in [1, 2]: the same equilibria, well conditioned."""
    span = float(np.ptp(m)) or 1.0
    return np.hstack([np.ones((m.shape[0], 1)), (m - m.min()) / span + 1.0])


def _exact_form(m: np.ndarray) -> np.ndarray:
    """[D | D (M - min M + 1)] in integers, D the common denominator of the stored floats: exact."""
    f = np.vectorize(Fraction, otypes=[object])(m)
    f = f - f.min() + 1
    d = math.lcm(*(x.denominator for x in f.flat))
    return np.hstack([np.full((m.shape[0], 1), d, object), np.vectorize(lambda x: int(x * d), otypes=[object])(f)])


def _enumerate(rows: list, lib) -> tuple[np.ndarray | None, object]:
    """Vertices (V, k) of the polytope with H-representation ``rows`` and cdd's polyhedron; None in place
    of the vertices unless cdd returned vertices only (a best-response polytope is bounded and nonempty)."""
    poly = lib.polyhedron_from_matrix(lib.matrix_from_array(rows, rep_type=lib.RepType.INEQUALITY))
    gen = np.array(lib.copy_generators(poly).array, dtype=float)
    return (gen[:, 1:] if gen.size and (gen[:, 0] == 1).all() else None), poly


def _lrs_vertices(rows: np.ndarray) -> np.ndarray | None:
    """Vertices (V, k) of the polytope {z : b + H z >= 0} of ``rows`` [b | H] (cdd's layout, b = 1 or 0) from
    lrs's cobases: lrs enumerates [b | H] rounded at 1 / LRS_SCALE, and each vertex is the solution of its k
    cobasis rows of the unrounded [b | H]; None where lrs fails or a cobasis system is singular."""
    scaled = np.rint(rows * LRS_SCALE).astype(np.int64)
    text = "\n".join(["H-representation", "begin", f"{len(rows)} {rows.shape[1]} integer",
                      *(" ".join(map(str, row)) for row in scaled), "end", "printcobasis 1", ""])
    try:
        out = subprocess.run([LRS], input=text, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    found = re.findall(r"^V#(\d+) .*?facets ([\d ]+)", out, flags=re.MULTILINE)
    if not found:
        return None
    numbers = np.array([int(v) for v, _ in found])
    _, first = np.unique(numbers, return_index=True)            # a vertex may be listed once per basis
    cobases = np.array([found[i][1].split() for i in first], dtype=np.int64) - 1
    if cobases.shape[1] != rows.shape[1] - 1:
        return None
    try:
        return np.linalg.solve(rows[cobases, 1:], -rows[cobases, 0][..., None])[..., 0]
    except np.linalg.LinAlgError:
        return None


def _row_ids(bits: np.ndarray) -> np.ndarray:
    """An integer per row of the boolean matrix ``bits``, equal for equal rows (0, 1, ... in sorted order)."""
    packed = np.packbits(bits, axis=1)
    words = np.pad(packed, ((0, 0), (0, -packed.shape[1] % 8))).view(np.uint64)
    order = np.lexsort(words.T[::-1])
    ordered = words[order]
    ids = np.empty(len(bits), np.int64)
    ids[order] = np.cumsum(np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)]) - 1
    return ids


def _certified_simple(slack: np.ndarray, dim: int) -> np.ndarray | None:
    """Labels (V, rows) of floating-point vertices, or None unless certified: each vertex has exactly
    ``dim`` slacks <= TIGHT and the rest > GAP (a simple polytope, labels unambiguous), and each of its
    ``dim`` edges (its labels but one) ends at exactly one other listed vertex, so that the list is
    closed under adjacency and, a polytope's graph being connected (Balinski), complete."""
    tight = np.abs(slack) <= TIGHT
    if not (tight.sum(axis=1) == dim).all() or (slack[~tight] <= GAP).any():
        return None
    edges = np.repeat(tight, dim, axis=0)
    edges[np.arange(len(edges)), np.nonzero(tight)[1]] = False
    return tight if (np.bincount(_row_ids(edges)) == 2).all() else None


def _float_labels(m: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices and labels in floating point, from lrs where `use_lrs`, else (or where lrs's answer is not
    certified) from cdd; None where neither's answer passes `_certified_simple`."""
    rows = _rows(_float_form(m))
    h = np.asarray(rows)

    def certified(z: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        labels = None if z is None else _certified_simple(h[:, 0] + z @ h[:, 1:].T, m.shape[1])
        return None if labels is None else (z, labels)

    found = certified(_lrs_vertices(h)) if use_lrs(m.shape[1], sum(m.shape)) else None
    if found is None:
        try:
            found = certified(_enumerate(rows, cdd)[0])
        except RuntimeError:                               # cddlib's numerical-inconsistency errors
            return None
    return found


def _exact_labels(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and labels from cdd.gmp: exact rational arithmetic, exact incidences."""
    z, poly = _enumerate(_rows(_exact_form(m)), cdd.gmp)
    if z is None:
        raise CertificateError("cddlib returned no vertex or an unbounded direction of a best-response polytope")
    incidence = cdd.gmp.copy_incidence(poly)
    sizes = np.fromiter(map(len, incidence), np.int64, len(incidence))
    labels = np.zeros((len(z), sum(m.shape)), bool)
    labels[np.repeat(np.arange(len(z)), sizes), np.fromiter(chain.from_iterable(incidence), np.int64)] = True
    return z, labels


def polytope_labels(m: np.ndarray, exact: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices (V, k) of {z >= 0 : M' z <= 1}, M' the matrix M (r, k) shifted positive, and their labels
    (V, r + k): the tight rows of M' z <= 1, then the tight z_j >= 0 (where z_j is set to exactly 0). In exact
    arithmetic where no float answer is certified, or, without ``exact``, None there."""
    found = _float_labels(m) or (_exact_labels(m) if exact else None)
    if found is None:
        return None
    z, labels = found
    z[labels[:, m.shape[0]:]] = 0.0
    return z, labels


def partners(labels: np.ndarray, other: np.ndarray) -> np.ndarray | None:
    """The completely labelled partners w (V, r) of the vertices z of {z >= 0 : M z <= 1}, M (r, k), whose
    ``labels`` (V, r + k) are as `polytope_labels` gives them (tight rows of M, then z_j = 0), in the other
    polytope {w >= 0 : M' w <= 1}, M' = ``other`` (k, r) shifted as `_float_form` does; a row of NaN where the
    partner is infeasible (or z = 0). A partner has every label z lacks: w_i = 0 where row i of M is slack,
    (M' w)_j = 1 where z_j > 0, r equations in r unknowns when z has exactly k labels. None when a system is
    singular or a partner's slack lies within GAP of 0."""
    k, r = other.shape
    shifted = _float_form(other)[:, 1:]
    system = np.vstack([shifted, np.eye(r)])                             # rows: M' w <= 1, then w_i >= 0
    chosen = ~np.hstack([labels[:, r:], labels[:, :r]])                  # (V, k + r): the equations of each w
    real = chosen[:, :k].any(axis=1)                                     # z != 0 (0 pairs only with 0)
    if not (chosen[real].sum(axis=1) == r).all():
        return None
    rows = np.nonzero(chosen[real])[1].reshape(-1, r)
    try:
        w = np.linalg.solve(system[rows], (rows < k).astype(float)[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return None
    slack = np.hstack([1.0 - w @ shifted.T, w])                          # every constraint's, tight ones ~ 0
    slack[np.arange(len(rows))[:, None], rows] = np.inf
    if (np.abs(slack) <= GAP).any():
        return None
    out = np.full((len(labels), r), np.nan)
    out[np.flatnonzero(real)] = np.where((slack > 0).all(axis=1)[:, None], np.maximum(w, 0.0), np.nan)
    return out


def _one_sided(a_pay: np.ndarray, b_pay: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(x, y) vertex pairs of every extreme equilibrium from the polytope of lower dimension alone (Q, from A,
    on ties) and `partners`, or None where its float enumeration or a partner is not certified."""
    m, n = a_pay.shape
    own, other = (a_pay, b_pay.T) if n <= m else (b_pay.T, a_pay)
    found = polytope_labels(own, exact=False)
    if found is None:
        return None
    z, labels = found
    w = partners(labels, other)
    if w is None:
        return None
    keep = ~np.isnan(w).any(axis=1)
    z, w = z[keep], w[keep]
    return (w, z) if n <= m else (z, w)


def _two_sided(a_pay: np.ndarray, b_pay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) vertex pairs of every extreme equilibrium from both polytopes and `complementary_pairs`."""
    m = a_pay.shape[0]
    x, lp = polytope_labels(b_pay.T)               # labels: N (B^T x <= 1), then M (x >= 0)
    lx = np.roll(lp, m, axis=1)                    # ... as M | N
    y, ly = polytope_labels(a_pay)                 # labels: M (A y <= 1), then N (y >= 0)
    a, b = complementary_pairs(lx, ly, m)
    keep = ~lx[a, :m].all(axis=1)                  # x = 0 pairs only with y = 0: not an equilibrium
    return x[a[keep]], y[b[keep]]


def complementary_pairs(lx: np.ndarray, ly: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a, b) with lx[a] | ly[b] all true, for label matrices over M | N (|M| = m).

    When every vertex of P has exactly m labels and every vertex of Q exactly n (simple polytopes,
    distinct label sets), a pair is complete iff ly[b] is the complement of lx[a]: a sorted join of the
    packed label sets. Otherwise a pair is complete iff no label is missing from both, ~lx @ ~ly.T == 0.
    """
    n = lx.shape[1] - m
    if (lx.sum(axis=1) == m).all() and (ly.sum(axis=1) == n).all():
        ids = _row_ids(np.vstack([~lx, ly]))
        _, a, b = np.intersect1d(ids[:len(lx)], ids[len(lx):], assume_unique=True, return_indices=True)
        return a, b
    nx, ny = (~lx).astype(np.float32), (~ly).astype(np.float32)
    starts = range(0, len(nx), max(1, JOIN_BLOCK // len(ny)))
    hits = [np.nonzero(nx[s:s + starts.step] @ ny.T == 0) for s in starts]
    return np.concatenate([a + s for (a, _), s in zip(hits, starts)]), np.concatenate([b for _, b in hits])


def extreme_equilibria(game: DesignGame) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every extreme Nash equilibrium (x, y) of the two-player ``game``, each certified by `check_nash`,
    in lexicographic order of (x, y)."""
    check_vertex(game.shape, lrs=use_lrs(min(game.shape), sum(game.shape)))
    a_pay, b_pay = game.payoffs
    m = a_pay.shape[0]
    x, y = _one_sided(a_pay, b_pay) or _two_sided(a_pay, b_pay)
    pairs = np.hstack([x / x.sum(axis=1, keepdims=True), y / y.sum(axis=1, keepdims=True)])
    _, first = np.unique(np.round(pairs, 12), axis=0, return_index=True)
    out = [(p[:m], p[m:]) for p in pairs[first]]
    for s in out:
        check_nash(game, s)
    return out
