"""Games with a state (Section 3.4): the finite Bayesian game and the signals an information designer sends.

A `BayesGame` is the paper's Bayesian game: a state s in Omega = {0, ..., S-1} is drawn from the prior
mu_0, player i picks a design a_i and receives u_i(s, a). Payoffs are one float64 tensor of shape
``(S, n, k_1, ..., k_n)`` with ``payoffs[s, i][a] = u_i(s, a)``; the mediator's objective v(s, a) is the
chosen welfare of u(s, a) unless the game carries its own (``objective``, shape ``(S, k_1, ..., k_n)``;
the persuasion example's is the sender's utility).

A `Signals` value is an information structure pi: in state s the signal profile m = (m_1, ..., m_n) is
drawn with probability ``scheme[s][m]`` and stakeholder i sees only m_i. No information, full disclosure
and a recommendation scheme (signals are designs, m_i = the design recommended to i) are its three
forms here. The engine (`envs.engine`) draws the state and the signals every round.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.game import DesignGame, GameError, PayoffTable, welfare_of


def _names(kind: str, given, default: tuple[str, ...]) -> tuple[str, ...]:
    """Names as strings (``default`` when none are given), nonempty and distinct."""
    names = default if given is None else tuple(map(str, given))
    if any(not x.strip() for x in names) or len(set(names)) != len(names):
        raise GameError(f"{kind} names must be nonempty and distinct: {list(names)}")
    return names


@dataclass(frozen=True, eq=False)
class BayesGame(PayoffTable):
    """A finite Bayesian game: prior mu (S,), payoffs u (S, n, k_1..k_n) with u[s, i][a] = u_i(s, a) and,
    optionally, the mediator's own objective v (S, k_1..k_n). A player may have a single design (a dummy,
    such as the sender of Bayesian persuasion)."""

    prior: np.ndarray
    payoffs: np.ndarray
    objective: np.ndarray | None = None
    players: tuple[str, ...] | None = None
    designs: tuple[tuple[str, ...], ...] | None = None
    states: tuple[str, ...] | None = None
    name: str = "state game"
    description: str = ""

    def __post_init__(self) -> None:
        mu = np.array(self.prior, dtype=np.float64)
        u = np.array(self.payoffs, dtype=np.float64)
        if mu.ndim != 1 or mu.size == 0:
            raise GameError(f"prior must be a nonempty vector, got shape {mu.shape}")
        if not np.isfinite(mu).all() or (mu < 0).any() or abs(mu.sum() - 1.0) > 1e-9:
            raise GameError(f"prior must be nonnegative and sum to 1, got {mu.tolist()}")
        if u.ndim < 4 or u.shape[0] != mu.size or u.shape[1] != u.ndim - 2:
            raise GameError(f"payoffs must have shape (S={mu.size}, n, k_1, ..., k_n) with n >= 2, got {u.shape}")
        if not np.isfinite(u).all():
            raise GameError(f"payoff at index {np.argwhere(~np.isfinite(u))[0].tolist()} is not finite")
        arrays = {"prior": mu / mu.sum(), "payoffs": u}
        if self.objective is not None:
            v = np.array(self.objective, dtype=np.float64)
            if v.shape != (mu.size, *u.shape[2:]):
                raise GameError(f"objective has shape {v.shape}, expected {(mu.size, *u.shape[2:])}")
            if not np.isfinite(v).all():
                raise GameError("objective must be finite")
            arrays["objective"] = v
        n, shape = u.shape[1], u.shape[2:]
        players = _names("player", self.players, tuple(f"P{i + 1}" for i in range(n)))
        designs = (tuple(tuple(f"d{j}" for j in range(k)) for k in shape) if self.designs is None
                   else tuple(_names("design", ds, ()) for ds in self.designs))
        states = _names("state", self.states, tuple(f"s{s}" for s in range(mu.size)))
        if len(players) != n or tuple(map(len, designs)) != shape or len(states) != mu.size:
            raise GameError(f"names must give {n} players, {list(shape)} designs per player and {mu.size} states")
        for name, arr in arrays.items():
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "players", players)
        object.__setattr__(self, "designs", designs)
        object.__setattr__(self, "states", states)

    @property
    def n_states(self) -> int:
        return self.prior.size

    @property
    def n_players(self) -> int:
        return self.payoffs.shape[1]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.payoffs.shape[2:]

    def state_game(self, s: int) -> DesignGame:
        """The complete-information game u(s, .) of state s (what full disclosure plays)."""
        return DesignGame(self.players, self.designs, self.payoffs[s], name=f"{self.name}[{self.states[s]}]")

    def averaged(self) -> DesignGame:
        """The prior-averaged game sum_s mu(s) u(s, .): what stakeholders play without information."""
        u = np.tensordot(self.prior, self.payoffs, axes=1)
        return DesignGame(self.players, self.designs, u, name=f"{self.name}[prior]", description=self.description)

    def values(self, objective: str = "utilitarian") -> np.ndarray:
        """The mediator's objective v(s, a), shape (S, k_1..k_n): the game's own when it has one (then only
        the default name applies), else the named welfare of u(s, a) in every state."""
        if self.objective is not None:
            if objective != "utilitarian":
                raise GameError(f"game {self.name!r} defines the mediator's own objective v(s, a); "
                                f"objective {objective!r} does not apply")
            return self.objective
        return np.stack([welfare_of(u, objective) for u in self.payoffs])

    def to_dict(self) -> dict:
        """The Bayesian game-file contract (envs/io.py): name, players, designs, states, prior, payoffs."""
        d = {"name": self.name, "players": list(self.players), "designs": [list(ds) for ds in self.designs],
             "states": list(self.states), "prior": self.prior.tolist(), "payoffs": self.payoffs.tolist()}
        if self.objective is not None:
            d["objective"] = self.objective.tolist()
        if self.description:
            d["description"] = self.description
        return d


# =========================================================================== signals
@dataclass(frozen=True, eq=False)
class Signals:
    """An information structure: in state s the signal profile m is drawn from ``scheme[s]`` (shape
    (S, M_1, ..., M_n)) and stakeholder i sees m_i. ``kind`` is "none", "state" (full disclosure) or
    "recommendation" (M_i = k_i: m_i is the design recommended to i, so obedience can be measured)."""

    scheme: np.ndarray
    kind: str

    def __post_init__(self) -> None:
        p = np.array(self.scheme, dtype=np.float64)
        if self.kind not in ("none", "state", "recommendation"):
            raise GameError(f"signal kind must be none, state or recommendation, got {self.kind!r}")
        if (p.ndim < 3 or not np.isfinite(p).all() or (p < 0).any()
                or (np.abs(p.reshape(p.shape[0], -1).sum(axis=1) - 1) > 1e-9).any()):
            raise GameError("a signal scheme is one distribution over signal profiles per state, shape (S, M_1, ..., M_n)")
        p.setflags(write=False)
        object.__setattr__(self, "scheme", p)

    @property
    def recommends(self) -> bool:
        return self.kind == "recommendation"

    @property
    def sizes(self) -> tuple[int, ...]:
        """(M_1, ..., M_n): how many signal values each stakeholder can receive."""
        return self.scheme.shape[1:]

    def validate(self, game: BayesGame) -> "Signals":
        """Check the scheme against ``game``'s states and players (and designs, for recommendations)."""
        if self.scheme.shape[0] != game.n_states or len(self.sizes) != game.n_players:
            raise GameError(f"signals have shape {self.scheme.shape}, expected (S={game.n_states}, M_1..M_{game.n_players})")
        if self.recommends and self.sizes != game.shape:
            raise GameError(f"recommendation signals need one value per design {game.shape}, got {self.sizes}")
        return self


def no_information(game: BayesGame) -> Signals:
    """One uninformative signal value for everyone: stakeholders act on the prior."""
    return Signals(np.ones((game.n_states, *[1] * game.n_players)), "none")


def full_disclosure(game: BayesGame) -> Signals:
    """Everyone is told the state: m_i = s."""
    scheme = np.zeros((game.n_states, *[game.n_states] * game.n_players))
    s = np.arange(game.n_states)
    scheme[(s, *[s] * game.n_players)] = 1.0
    return Signals(scheme, "state")


def recommendations(game: BayesGame, policy: np.ndarray) -> Signals:
    """The scheme pi(a | s) (shape (S, k_1..k_n)) sent as private recommendations: m_i = a_i."""
    return Signals(policy, "recommendation").validate(game)


def signal_play(game: BayesGame, signals: Signals, strategies: list[np.ndarray]) -> np.ndarray:
    """q(s, a) = mu(s) sum_m pi(m | s) prod_i sigma_i(a_i | m_i) for B batches of per-signal strategies
    sigma_i (B, M_i, k_i): the joint law of state and play, shape (B, S, k_1, ..., k_n)."""
    B = strategies[0].shape[0]
    q = np.broadcast_to(game.prior.reshape(-1, *[1] * game.n_players) * signals.scheme, (B, *signals.scheme.shape))
    for i, sigma in enumerate(strategies):
        moved = np.moveaxis(q, 2 + i, -1)                                    # (B, S, ..., M_i)
        played = moved.reshape(B, -1, moved.shape[-1]) @ sigma               # (B, rest, k_i)
        q = np.moveaxis(played.reshape(*moved.shape[:-1], sigma.shape[-1]), -1, 2 + i)
    return q


def expected_outcome(game: BayesGame, signals: Signals, strategies: list[np.ndarray],
                     values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact E[v] (B,) and E[u_i] (B, n) when stakeholder i plays sigma_i(. | m_i) (`signal_play`)."""
    q = signal_play(game, signals, strategies).reshape(strategies[0].shape[0], game.n_states, -1)
    payoffs = np.einsum("bsa,sia->bi", q, game.payoffs.reshape(game.n_states, game.n_players, -1))
    return np.einsum("bsa,sa->b", q, np.asarray(values, float).reshape(game.n_states, -1)), payoffs
