"""The agent-design meta-game: players, named designs, payoff tensor, welfare objectives.

A `DesignGame` is the normal-form game of the paper's Section 2: player i picks an agent
design a_i in A_i and receives u_i(a). Payoffs are stored as one float64 tensor
``payoffs`` of shape ``(n, k_1, ..., k_n)`` with ``payoffs[i][a] = u_i(a)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


class GameError(ValueError):
    """A game that violates the model's invariants (shapes, names, finiteness)."""


def _utilitarian(u: np.ndarray) -> np.ndarray:
    return u.sum(axis=0)


def _nash_welfare(u: np.ndarray) -> np.ndarray:
    # Product of utilities; meaningful when payoffs are shifted to be positive (Remark 2, fn. 6).
    return np.prod(u, axis=0)


def _fairness(u: np.ndarray) -> np.ndarray:
    # -sum_{i<j} (u_i - u_j)^2: equals Remark 2's -(u_A - u_B)^2 for two players.
    n = u.shape[0]
    return -(n * (u**2).sum(axis=0) - u.sum(axis=0) ** 2)


def _egalitarian(u: np.ndarray) -> np.ndarray:
    return u.min(axis=0)


#: Welfare objectives: map a payoff array of shape (n, ...) to a welfare array of shape (...).
OBJECTIVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "utilitarian": _utilitarian,
    "nash": _nash_welfare,
    "fairness": _fairness,
    "egalitarian": _egalitarian,
}


def payoff_scale(payoffs: np.ndarray) -> float:
    """Payoff scale max|u| (at least 1e-12), for relative tolerances and normalisation."""
    return max(float(np.abs(payoffs).max()), 1e-12)


def welfare_of(payoffs: np.ndarray, objective: str = "utilitarian") -> np.ndarray:
    """Welfare of payoff vectors stacked on axis 0 (players), under a named objective."""
    try:
        fn = OBJECTIVES[objective]
    except KeyError:
        raise GameError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}") from None
    return fn(np.asarray(payoffs, dtype=float))


class PayoffTable:
    """What a game with a payoff tensor ``payoffs`` over profiles of ``shape`` has: its number of
    profiles and its payoff scale (shared by DesignGame and the Bayesian games of information design)."""

    payoffs: np.ndarray
    shape: tuple[int, ...]

    @property
    def n_profiles(self) -> int:
        return int(np.prod(self.shape))

    @property
    def scale(self) -> float:
        return payoff_scale(self.payoffs)


@dataclass(frozen=True, eq=False)
class DesignGame(PayoffTable):
    """An n-player agent-design meta-game with named players and designs.

    ``players[i]`` names stakeholder i, ``designs[i][j]`` names its j-th agent design and
    ``payoffs[i][a]`` is u_i(a). ``tags[i][j]`` optionally labels a design (e.g. its model
    family or tool) so that restrictions can be stated by tag.
    """

    players: tuple[str, ...]
    designs: tuple[tuple[str, ...], ...]
    payoffs: np.ndarray
    name: str = "game"
    description: str = ""
    tags: tuple[tuple[tuple[str, ...], ...], ...] | None = None
    payoff_stderr: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        players = tuple(str(p) for p in self.players)
        designs = tuple(tuple(str(d) for d in ds) for ds in self.designs)
        payoffs = np.array(self.payoffs, dtype=np.float64)
        object.__setattr__(self, "players", players)
        object.__setattr__(self, "designs", designs)
        object.__setattr__(self, "payoffs", payoffs)
        self._validate()
        payoffs.setflags(write=False)
        if self.tags is not None:
            tags = tuple(tuple(tuple(str(t) for t in ts) for ts in per) for per in self.tags)
            if tuple(len(t) for t in tags) != self.shape:
                raise GameError("tags must give one tag list per design of every player")
            object.__setattr__(self, "tags", tags)
        if self.payoff_stderr is not None:
            se = np.array(self.payoff_stderr, dtype=np.float64)
            if se.shape != payoffs.shape:
                raise GameError(f"payoff_stderr has shape {se.shape}, payoffs {payoffs.shape}")
            se.setflags(write=False)
            object.__setattr__(self, "payoff_stderr", se)

    def _validate(self) -> None:
        n = len(self.players)
        if n < 2:
            raise GameError(f"a meta-game needs at least 2 players, got {n}")
        if len(set(self.players)) != n or any(not p.strip() for p in self.players):
            raise GameError(f"player names must be nonempty and distinct: {list(self.players)}")
        if len(self.designs) != n:
            raise GameError(f"{n} players but design lists for {len(self.designs)}")
        for p, ds in zip(self.players, self.designs):
            if not ds:
                raise GameError(f"player {p!r} has no design")
            if any(not d.strip() for d in ds):
                raise GameError(f"player {p!r} has an empty design name")
            if len(set(ds)) != len(ds):
                raise GameError(f"player {p!r} has duplicate design names: {list(ds)}")
        expected = (n, *self.shape)
        if self.payoffs.shape != expected:
            raise GameError(f"payoffs have shape {self.payoffs.shape}, expected {expected}")
        if not np.isfinite(self.payoffs).all():
            bad = tuple(int(x) for x in np.argwhere(~np.isfinite(self.payoffs))[0])
            raise GameError(f"payoff at index {list(bad)} is not finite")

    # ----------------------------------------------------------------- shape & naming
    @property
    def n_players(self) -> int:
        return len(self.players)

    @property
    def shape(self) -> tuple[int, ...]:
        """(k_1, ..., k_n): number of designs per player."""
        return tuple(len(ds) for ds in self.designs)

    def profile_names(self, profile: Sequence[int]) -> list[str]:
        return [self.designs[i][a] for i, a in enumerate(profile)]

    def profile_label(self, profile: Sequence[int]) -> str:
        """Readable profile, e.g. ``(C1, (C2,T))``."""
        return "(" + ", ".join(self.profile_names(profile)) + ")"

    def profile_index(self, names: Sequence[str]) -> tuple[int, ...]:
        """Indices of a profile given by design names, one per player."""
        if len(names) != self.n_players:
            raise GameError(f"a profile names {self.n_players} designs, got {len(names)}")
        out = []
        for i, name in enumerate(names):
            if name not in self.designs[i]:
                raise GameError(f"player {self.players[i]!r} has no design {name!r}")
            out.append(self.designs[i].index(name))
        return tuple(out)

    # ----------------------------------------------------------------- payoffs & welfare
    def welfare(self, objective: str = "utilitarian") -> np.ndarray:
        """Welfare tensor of shape (k_1, ..., k_n) under the named objective."""
        return welfare_of(self.payoffs, objective)

    def payoffs_at(self, profile: Sequence[int]) -> np.ndarray:
        return self.payoffs[(slice(None), *profile)]

    def expected_payoffs(self, strategies: Sequence[np.ndarray]) -> np.ndarray:
        """Expected payoffs u_i(sigma) of a mixed profile (one probability vector per player)."""
        out = self.payoffs
        for s in reversed(strategies):  # contract the last player axis each time
            out = out @ np.asarray(s, dtype=float)
        return out

    def deviation_payoffs(self, strategies: Sequence[np.ndarray]) -> list[np.ndarray]:
        """u_i(d, sigma_-i) for every player i and design d: player i's payoff vector."""
        out = []
        for i in range(self.n_players):
            t = np.moveaxis(self.payoffs[i], i, 0)
            for j in reversed(range(self.n_players)):
                if j != i:
                    t = t @ np.asarray(strategies[j], dtype=float)
            out.append(t)
        return out

    def expected_welfare(self, distribution: np.ndarray, objective: str = "utilitarian") -> float:
        """Expected welfare E_{a~p}[W(a)] of a joint distribution p over profiles."""
        return float((np.asarray(distribution) * self.welfare(objective)).sum())

    # ----------------------------------------------------------------- interventions
    def restrict(self, allowed: Sequence[Sequence[bool]]) -> "DesignGame":
        """The sub-game where player i may only use designs with ``allowed[i][j]`` true."""
        masks = [np.asarray(m, dtype=bool) for m in allowed]
        if len(masks) != self.n_players or any(m.shape != (k,) for m, k in zip(masks, self.shape)):
            raise GameError("an allowed mask needs one boolean per design of every player")
        for p, m in zip(self.players, masks):
            if not m.any():
                raise GameError(f"a restriction must leave player {p!r} at least one design")
        sub = self.payoffs[np.ix_(np.ones(self.n_players, bool), *masks)]
        pick = lambda seq, m: tuple(x for x, keep in zip(seq, m) if keep)  # noqa: E731
        return DesignGame(
            players=self.players,
            designs=tuple(pick(ds, m) for ds, m in zip(self.designs, masks)),
            payoffs=sub,
            name=f"{self.name}[restricted]",
            description=self.description,
            tags=None if self.tags is None else tuple(pick(t, m) for t, m in zip(self.tags, masks)),
            payoff_stderr=None if self.payoff_stderr is None
            else self.payoff_stderr[np.ix_(np.ones(self.n_players, bool), *masks)],
        )

    def with_transfers(self, transfers: np.ndarray) -> "DesignGame":
        """The game with u_i(a) + t_i(a): transfers shaped like ``payoffs``, nonnegative."""
        t = np.asarray(transfers, dtype=float)
        if t.shape != self.payoffs.shape:
            raise GameError(f"transfers have shape {t.shape}, payoffs {self.payoffs.shape}")
        if (t < 0).any() or not np.isfinite(t).all():
            raise GameError("transfers must be finite and nonnegative")
        return DesignGame(self.players, self.designs, self.payoffs + t,
                          name=f"{self.name}[+transfers]", description=self.description, tags=self.tags)

    def to_dict(self) -> dict:
        """The JSON game-file contract: name, players, designs, payoffs (+ description, tags)."""
        d = {"name": self.name, "players": list(self.players),
             "designs": [list(ds) for ds in self.designs], "payoffs": self.payoffs.tolist()}
        if self.description:
            d["description"] = self.description
        if self.tags is not None:
            d["tags"] = [[list(t) for t in per] for per in self.tags]
        if self.payoff_stderr is not None:
            d["payoff_stderr"] = self.payoff_stderr.tolist()
        return d


# --------------------------------------------------------------------------- incentives
def _best_other(u: np.ndarray, axis: int) -> np.ndarray:
    """max_{d' != a_i} u(d', a_-i) at every profile a (-inf when player i has one design)."""
    u = np.moveaxis(u, axis, 0)
    if u.shape[0] == 1:
        return np.moveaxis(np.full(u.shape, -np.inf), 0, axis)
    order = np.sort(u, axis=0)
    top, second = order[-1], order[-2]
    is_top = u == top                                  # ties: the other maximiser is as good
    out = np.where(is_top & (second < top), second, top)
    return np.moveaxis(out, 0, axis)


def implementation_costs(game: DesignGame, margin: float) -> np.ndarray:
    """Per-player payment needed at each profile a to make a_i beat every d' by ``margin``:
    c_i(a) = max(0, max_{d' != a_i} u_i(d', a_-i) - u_i(a) + margin), shape (n, k_1, ..., k_n)."""
    return np.stack([np.maximum(0.0, _best_other(game.payoffs[i], i) - game.payoffs[i] + margin)
                     for i in range(game.n_players)])


def default_margin(game: DesignGame) -> float:
    """1% of the payoff scale: strict enough for learning stakeholders to tell the target apart."""
    return 1e-2 * game.scale
