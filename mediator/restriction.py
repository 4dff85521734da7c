"""The restriction mediator (Section 3, Example 2): allowed design sets maximising the worst equilibrium.

One search serves the analytic restriction here and the robust (bootstrap) restriction of
`mediator.robust`: given a score over restrictions, it evaluates every restriction when there are at
most EXHAUSTIVE_LIMIT, else the full game, the welfare optimum forced, symmetric restrictions and tag
bans, and climbs from the best of them and from seeded random starts over single design toggles.
The restriction frontier is the best worst-equilibrium welfare reachable with at most b bans.

This module also defines `MediatorResult`, the value every analytic mediator returns, so that
`mediator.analytic` (which names every family) builds on it without an import cycle.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Literal, Sequence

import numpy as np

from envs.game import DesignGame, welfare_of
from envs.intervention import Intervention
from envs.limits import check_restriction
from mediator.equilibria import (
    CertificateError, CorrelatedOutcome, NashEquilibrium, check_correlated, check_nash,
    correlated_equilibrium, nash_equilibria, pure_nash, tolerance, welfare_optimum,
)

Masks = tuple[np.ndarray, ...]

#: Up to this many restrictions the search evaluates every one.
EXHAUSTIVE_LIMIT = 4096
#: Up to this many restrictions with at most b bans the frontier's entry b is exact.
FRONTIER_EXACT_LIMIT = 512

#: The two solution concepts a restriction (and the unmediated game) is judged by.
NASH = "every extreme Nash equilibrium, pure and mixed"
PURE_OR_CE = "pure Nash equilibria, or the worst correlated equilibrium where there is none"
LOCAL = "hill climbing from the full game, the optimum forced, symmetric restrictions, tag bans and random starts"


@dataclass(frozen=True, eq=False)
class MediatorResult:
    """What a mediator does (``intervention``), what it achieves (``outcome``) and why (``explanation``)."""

    name: str
    intervention: Intervention
    payoffs: np.ndarray          # expected stakeholder payoffs, transfers excluded
    welfare: float               # gross welfare under the objective
    transfers: float             # expected transfers actually paid
    net: float                   # welfare - lambda * transfers
    explanation: str
    details: dict = field(default_factory=dict)
    objective: str = "utilitarian"

    @property
    def objective_value(self) -> float:
        """The chosen objective of the expected payoff vector (ex ante, as Remark 2 states it)."""
        return float(welfare_of(np.asarray(self.payoffs, float), self.objective))

    def to_json(self, game: DesignGame) -> dict:
        static = {"payoffs": np.asarray(self.payoffs, float).tolist(), "welfare": self.welfare,
                  "transfers": self.transfers, "net": self.net,
                  "objective": {"name": self.objective, "value": self.objective_value}, **self.details,
                  "intervention": self.intervention.to_json(game), "explanation": self.explanation}
        return {"welfare": self.welfare, "transfers": self.transfers, "net": self.net,
                "payoffs": static["payoffs"], "explanation": self.explanation, "static": static}


def relative_change(new: float, base: float) -> str:
    """'+8.6%' relative to a positive baseline, else the absolute change."""
    if base > 0:
        return f"{100 * (new - base) / base:+.1f}%"
    return f"{new - base:+.4g}"


def _profiles(game: DesignGame, profiles: Iterable[tuple[int, ...]]) -> str:
    return ", ".join(game.profile_label(a) for a in profiles)


# =========================================================================== judging a restriction
#: The search enumerates every extreme equilibrium of each candidate restriction of a two-player game up to
#: this many profiles (a search judges hundreds of candidates, so below `ALL_MIXED_MAX_PROFILES`).
NASH_MAX_PROFILES = 144


def solution_concept(game: DesignGame) -> str:
    """NASH where every extreme equilibrium of every candidate is cheap to enumerate (two players, at most
    NASH_MAX_PROFILES profiles), else PURE_OR_CE; the same for every restriction of ``game``."""
    return NASH if game.n_players == 2 and game.n_profiles <= NASH_MAX_PROFILES else PURE_OR_CE


@dataclass(frozen=True, eq=False)
class RestrictedOutcome:
    """The worst equilibrium of the game restricted to ``masks``, in full-game design indices."""

    masks: Masks
    equilibria: list[NashEquilibrium]      # strategies over the full design sets
    worst: float                           # welfare (objective) the restriction is judged by
    payoffs: np.ndarray                    # expected payoffs of that worst equilibrium
    concept: str                           # NASH or PURE_OR_CE
    correlated: CorrelatedOutcome | None   # the worst CE (full-game shape) when there is no pure equilibrium


def unrestricted(game: DesignGame) -> Masks:
    """Every design allowed (no mediation)."""
    return tuple(np.ones(k, bool) for k in game.shape)


def _kept(masks: Masks) -> int:
    return int(sum(m.sum() for m in masks))


def _bans(masks: Masks) -> int:
    return int(sum((~m).sum() for m in masks))


def _embed(strategies: Sequence[np.ndarray], masks: Masks) -> tuple[np.ndarray, ...]:
    out = []
    for s, m in zip(strategies, masks):
        full = np.zeros(m.shape)
        full[m] = s
        out.append(full)
    return tuple(out)


def restricted_outcome(game: DesignGame, masks: Masks, objective: str = "utilitarian") -> RestrictedOutcome:
    """Judge a restriction by its worst equilibrium under ``solution_concept(game)``: every extreme
    equilibrium (as `none` is judged), or the pure equilibria and, where there is none, the worst
    correlated equilibrium (a certified lower bound on every Nash equilibrium); never undefined."""
    sub, concept = game.restrict(masks), solution_concept(game)
    if concept == NASH:
        eqs = [NashEquilibrium(_embed(e.strategies, masks), e.payoffs, e.welfare)
               for e in nash_equilibria(sub, "all", objective)]
    else:
        welfare = sub.welfare(objective)
        eqs = [NashEquilibrium(_embed([np.eye(k)[j] for k, j in zip(sub.shape, a)], masks),
                               sub.payoffs_at(a), float(welfare[a])) for a in pure_nash(sub)]
    if eqs:
        worst = min(eqs, key=lambda e: e.welfare)
        return RestrictedOutcome(masks, eqs, worst.welfare, worst.payoffs, concept, None)
    ce = correlated_equilibrium(sub, "ce", "min", objective)
    p = np.zeros(game.shape)
    p[np.ix_(*masks)] = ce.distribution
    return RestrictedOutcome(masks, [], ce.welfare, ce.payoffs, concept, CorrelatedOutcome(p, ce.payoffs, ce.welfare))


# =========================================================================== the restrictions searched
def _subsets(k: int) -> list[np.ndarray]:
    """Every nonempty subset of k designs as a boolean mask, largest first."""
    masks = [np.array(bits, bool) for bits in itertools.product([True, False], repeat=k) if any(bits)]
    return sorted(masks, key=lambda m: -m.sum())


def ban_counts(shape: Sequence[int]) -> list[int]:
    """c[j] = number of restrictions banning exactly j designs in total (everyone keeps one)."""
    counts = [1]
    for k in shape:
        per = [math.comb(k, j) for j in range(k)]
        counts = [sum(counts[a] * per[j - a] for a in range(len(counts)) if 0 <= j - a < k)
                  for j in range(len(counts) + k - 1)]
    return counts


def exhaustive_restrictions(game: DesignGame, max_bans: int | None = None) -> Iterator[Masks]:
    """Every restriction banning at most ``max_bans`` designs in total, fewest bans first."""
    slots = [(i, j) for i, k in enumerate(game.shape) for j in range(k)]
    top = len(slots) - game.n_players if max_bans is None else min(max_bans, len(slots) - game.n_players)
    for r in range(top + 1):
        for banned in itertools.combinations(slots, r):
            masks = unrestricted(game)
            for i, j in banned:
                masks[i][j] = False
            if all(m.any() for m in masks):
                yield masks


def symmetric_restrictions(game: DesignGame) -> Iterable[Masks]:
    """The same allowed catalog for every player (needs identical design lists)."""
    if len(set(game.designs)) != 1:
        raise ValueError("symmetric restrictions need every player to have the same designs")
    return ((m,) * game.n_players for m in _subsets(game.shape[0]))


def tag_restrictions(game: DesignGame) -> Iterable[tuple[Masks, tuple[str, ...]]]:
    """Forbid a set of design tags (e.g. ``tool:T``) for everyone, as a platform forbids a feature."""
    if game.tags is None:
        return
    tags = sorted({t for per in game.tags for ts in per for t in ts})
    for r in range(1, len(tags) + 1):
        for banned in itertools.combinations(tags, r):
            masks = tuple(np.array([not set(ts) & set(banned) for ts in per]) for per in game.tags)
            if all(m.any() for m in masks):
                yield masks, banned


def forced(game: DesignGame, profile: Sequence[int]) -> Masks:
    """Allow each player only its design in ``profile``: the profile is the only outcome left."""
    return tuple(np.arange(k) == a for k, a in zip(game.shape, profile))


# =========================================================================== one search, any score
def _better(a: tuple, b: tuple | None, tol: float) -> bool:
    """Lexicographically larger key (score..., designs kept), entries within tol counting as equal:
    a higher score wins; on ties, the less intrusive restriction (more designs kept)."""
    if b is None:
        return True
    for x, y in zip(a, b):
        if x > y + tol:
            return True
        if x < y - tol:
            return False
    return False


def _ident(masks: Masks) -> bytes:
    return np.concatenate(masks).tobytes()


class Explored:
    """The restrictions evaluated so far, in order, each with its outcome and key (score..., designs kept)."""

    def __init__(self, game: DesignGame, evaluate: Callable[[Masks], object],
                 score: Callable[[object], tuple[float, ...]], tol: float):
        self.game, self.evaluate, self.score, self.tol = game, evaluate, score, tol
        self.seen: dict[bytes, tuple[Masks, object, tuple]] = {}

    def _entry(self, masks: Masks) -> tuple[Masks, object, tuple]:
        ident = _ident(masks)
        if ident not in self.seen:
            out = self.evaluate(masks)
            self.seen[ident] = (masks, out, (*self.score(out), _kept(masks)))
        return self.seen[ident]

    def key(self, masks: Masks) -> tuple:
        return self._entry(masks)[2]

    def outcome(self, masks: Masks) -> object:
        return self._entry(masks)[1]

    def running_best(self) -> Iterator[tuple[int, Masks]]:
        """(b, the best restriction evaluated with at most b bans) for every b with an evaluation,
        scanning by ban count, so a later winner has strictly higher score and the last is `best()`."""
        best = None
        for masks, _, key in sorted(self.seen.values(), key=lambda e: _bans(e[0])):
            if _better(key, None if best is None else self.key(best), self.tol):
                best = masks
            yield _bans(masks), best

    def best(self, max_bans: int | None = None) -> Masks:
        """The best restriction evaluated with at most ``max_bans`` bans."""
        return [m for b, m in self.running_best() if max_bans is None or b <= max_bans][-1]

    def exact(self, bans: int) -> bool:
        """Whether every restriction with at most ``bans`` bans has been evaluated."""
        done = np.bincount([_bans(m) for m, _, _ in self.seen.values()], minlength=bans + 1)
        return all(done[j] == c for j, c in enumerate(ban_counts(self.game.shape)[:bans + 1]))


def _neighbours(masks: Masks, max_bans: int | None) -> Iterator[Masks]:
    """The restrictions one design toggle away that leave everyone a design (and at most max_bans bans)."""
    for i, m in enumerate(masks):
        for j in range(len(m)):
            flipped = m.copy()
            flipped[j] = not flipped[j]
            out = masks[:i] + (flipped,) + masks[i + 1:]
            if flipped.any() and (max_bans is None or _bans(out) <= max_bans):
                yield out


def hill_climb(explored: Explored, masks: Masks, max_bans: int | None = None) -> Masks:
    """Best-improvement hill climbing over single design toggles (ties broken towards fewer bans),
    never back to a restriction it visited (near-ties within the tolerance cannot cycle)."""
    visited = {_ident(masks)}
    while True:
        step = masks
        for cand in _neighbours(masks, max_bans):
            if _ident(cand) not in visited and _better(explored.key(cand), explored.key(step), explored.tol):
                step = cand
        if step is masks:
            return masks
        masks = step
        visited.add(_ident(masks))


def _random_start(shape: Sequence[int], rng: np.random.Generator, max_bans: int | None) -> Masks:
    """Ban a seeded random number of random designs (at most max_bans), everyone keeping one."""
    masks = tuple(np.ones(k, bool) for k in shape)
    slots = [(i, j) for i, k in enumerate(shape) for j in range(k)]
    top = len(slots) - len(shape) if max_bans is None else min(max_bans, len(slots) - len(shape))
    for s in rng.permutation(len(slots))[:rng.integers(0, top + 1)]:
        i, j = slots[s]
        if masks[i].sum() > 1:
            masks[i][j] = False
    return masks


def search(explored: Explored, space: Literal["auto", "exhaustive", "symmetric", "local"] = "auto",
           max_bans: int | None = None, limit: int = EXHAUSTIVE_LIMIT, restarts: int = 4, seed: int = 0,
           objective: str = "utilitarian") -> str:
    """Evaluate restrictions with at most ``max_bans`` bans into ``explored`` and say how: all of them
    when there are at most ``limit`` (``auto``); else the full game, the ``objective``'s optimum forced,
    symmetric restrictions and tag bans, then hill climbing from the best so far and ``restarts``
    seeded random starts. ``symmetric`` stops before climbing."""
    game = explored.game
    counts = ban_counts(game.shape)
    if space == "auto":
        space = "exhaustive" if sum(counts[:None if max_bans is None else max_bans + 1]) <= limit else "local"
    if space == "exhaustive":
        for masks in exhaustive_restrictions(game, max_bans):
            explored.key(masks)
        return "exhaustive"
    seeds = [unrestricted(game)] + [m for m, _ in tag_restrictions(game)]
    if len(set(game.designs)) == 1 and (space == "symmetric" or 2 ** game.shape[0] - 1 <= limit):
        seeds += list(symmetric_restrictions(game))
    if space == "local":
        seeds.append(forced(game, welfare_optimum(game, objective)[0]))
    for masks in seeds:
        if max_bans is None or _bans(masks) <= max_bans:
            explored.key(masks)
    if space == "symmetric":
        return "symmetric"
    rng = np.random.default_rng(seed)
    for start in [explored.best(max_bans)] + [_random_start(game.shape, rng, max_bans) for _ in range(restarts)]:
        hill_climb(explored, start, max_bans)
    return LOCAL


# =========================================================================== the frontier
def extend_frontier(explored: Explored, objective: str = "utilitarian") -> None:
    """For b = 1, 2, ... up to the bans of the best restriction: every restriction with at most b bans
    while there are at most FRONTIER_EXACT_LIMIT, beyond that the search restricted to b bans."""
    b = 1
    while b <= _bans(explored.best()):
        search(explored, max_bans=b, limit=FRONTIER_EXACT_LIMIT, restarts=0, objective=objective)
        b += 1


def frontier(explored: Explored) -> list[dict]:
    """For b = 1 .. bans of `best()`: the best score reachable with at most b bans, its restriction
    and whether every restriction with at most b bans was evaluated (non-decreasing in b)."""
    game = explored.game
    best_by = dict(explored.running_best())
    out, best = [], best_by.get(0)
    for b in range(1, _bans(explored.best()) + 1):
        best = best_by.get(b, best)
        out.append({"bans": b, "worst_welfare": explored.key(best)[0],
                    "allowed": [[d for d, keep in zip(ds, m) if keep] for ds, m in zip(game.designs, best)],
                    "exact": explored.exact(b)})
    return out


# =========================================================================== the mediator
def restriction_mediator(game: DesignGame, objective: str = "utilitarian",
                         space: Literal["auto", "exhaustive", "symmetric", "local"] = "auto",
                         allowed: Masks | None = None) -> MediatorResult:
    """Choose nonempty allowed design sets maximising the welfare of the worst equilibrium.

    ``auto`` searches exhaustively while there are at most EXHAUSTIVE_LIMIT restrictions and locally
    beyond (see `search`), then computes the frontier. ``allowed`` evaluates a user-given
    restriction instead of searching (no frontier).
    """
    if allowed is None:
        total = sum(ban_counts(game.shape))
        exhaustive = space == "exhaustive" or (space == "auto" and total <= EXHAUSTIVE_LIMIT)
        check_restriction(game.shape, total if exhaustive else None)
    explored = Explored(game, lambda m: restricted_outcome(game, m, objective), lambda out: (out.worst,),
                        tolerance(game))
    base = explored.outcome(unrestricted(game))
    if allowed is not None:
        chosen, how = tuple(np.asarray(m, bool) for m in allowed), "given"
    else:
        how = search(explored, space, objective=objective)
        if how == LOCAL:
            extend_frontier(explored, objective)
        chosen = explored.best()
    best = explored.outcome(chosen)
    _check_restriction(game, best)
    return _restriction_result(game, explored, base, best, how, objective)


def _check_restriction(game: DesignGame, out: RestrictedOutcome) -> None:
    """Certificate: every reported equilibrium (or the worst CE) is one of the restricted game and
    puts no weight on a forbidden design."""
    sub = game.restrict(out.masks)
    for e in out.equilibria:
        if any((s[~m] > 0).any() for s, m in zip(e.strategies, out.masks)):
            raise CertificateError("an equilibrium of the restricted game uses a forbidden design")
        check_nash(sub, [s[m] for s, m in zip(e.strategies, out.masks)])
    if out.correlated is not None:
        p = out.correlated.distribution
        if p.sum() - p[np.ix_(*out.masks)].sum() > 1e-9:
            raise CertificateError("the worst correlated equilibrium recommends a forbidden design")
        check_correlated(sub, p[np.ix_(*out.masks)], "ce")
    if not out.equilibria and out.correlated is None:
        raise CertificateError("a restriction without any equilibrium to judge it by")


def _forbidden(game: DesignGame, masks: Masks) -> list[tuple[str, list[str]]]:
    """(player, designs forbidden to it) for every player with a forbidden design."""
    out = [(game.players[i], [d for d, keep in zip(game.designs[i], m) if not keep]) for i, m in enumerate(masks)]
    return [(p, ds) for p, ds in out if ds]


def _restriction_result(game: DesignGame, explored: Explored, base: RestrictedOutcome, best: RestrictedOutcome,
                        how: str, objective: str) -> MediatorResult:
    forbidden = _forbidden(game, best.masks)
    pure_of = lambda out: {e.profile for e in out.equilibria if not e.mixed}  # noqa: E731
    removed, created = pure_of(base) - pure_of(best), pure_of(best) - pure_of(base)
    if not forbidden:
        text = f"No restriction improves the worst equilibrium (welfare {base.worst:.4g}); allow every design"
    else:
        head = "Forbidding " + " and ".join(f"{', '.join(ds)} for {p}" for p, ds in forbidden)
        if removed:
            head += f" removes the equilibri{'um' if len(removed) == 1 else 'a'} {_profiles(game, sorted(removed))}"
        parts = [head]
        left = pure_of(best)
        if best.correlated is not None:
            parts.append("no pure equilibrium is left")
        elif len(best.equilibria) == 1 and left:
            parts.append(f"the only equilibrium left is {_profiles(game, left)}")
        elif created:
            parts.append(f"the equilibria left are {_profiles(game, sorted(left))}")
        parts.append(f"worst-equilibrium welfare {base.worst:.4g} -> {best.worst:.4g} "
                     f"({relative_change(best.worst, base.worst)})")
        text = "; ".join(parts)
    equivalent = [banned for masks, banned in tag_restrictions(game)
                  if abs(explored.outcome(masks).worst - best.worst) <= explored.tol]
    if forbidden and equivalent:
        text += f"; forbidding the feature {' and '.join(min(equivalent, key=len))} for everyone does as well"
    text += f" (judged by {best.concept})."
    welfare = float(np.sum(best.payoffs))
    details = {"allowed": [[d for d, keep in zip(ds, m) if keep] for ds, m in zip(game.designs, best.masks)],
               "search": how, "solution_concept": best.concept,
               "equilibria": [{"profile": game.profile_names(e.profile) if not e.mixed
                               else [s.tolist() for s in e.strategies],
                               "welfare": e.welfare, "mixed": e.mixed} for e in best.equilibria],
               "created_equilibria": [game.profile_names(a) for a in sorted(created)],
               "removed_equilibria": [game.profile_names(a) for a in sorted(removed)],
               "frontier": frontier(explored) if how != "given" else []}
    if best.correlated is not None:
        details["worst_correlated"] = {"welfare": best.worst, "support": [
            {"profile": game.profile_names(a), "probability": q} for a, q in best.correlated.support()]}
    return MediatorResult("restriction", Intervention(allowed=best.masks).validate(game), best.payoffs,
                          welfare, 0.0, welfare, text, details, objective)
