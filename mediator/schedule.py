"""A payment schedule given by the user (not computed by the payments mediator), evaluated.

A schedule t_i(a) >= 0 pays player i whenever profile a is played: an `Intervention`'s ``transfers``,
shaped like the game's payoffs. `evaluate_schedule` says what it does: the design it makes strictly
dominant for each player (if any), the Nash equilibria of the game with the payments added, and at
each equilibrium the payments actually made (the realised cost). The paper's Example 3 promises +8
off the equilibrium path and, once L is dominant for both players, pays nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from envs.game import DesignGame, GameError
from envs.intervention import Intervention
from mediator.equilibria import MixedMode, NashEquilibrium, nash_equilibria


@dataclass(frozen=True, eq=False)
class ScheduleEquilibrium:
    """A Nash equilibrium of the game with payments, judged without and with them."""

    equilibrium: NashEquilibrium   # of the game with payments: its payoffs include them
    payoffs: np.ndarray            # expected u_i, payments excluded
    welfare: float                 # expected utilitarian welfare, payments excluded
    cost: float                    # expected payments made at the equilibrium (all players)


@dataclass(frozen=True, eq=False)
class ScheduleOutcome:
    """What a payment schedule does to a game."""

    intervention: Intervention
    game: DesignGame                                # u_i + t_i
    dominant: tuple[int | None, ...]                # each player's strictly dominant design, or None
    equilibria: tuple[ScheduleEquilibrium, ...]     # pure ones first (as `nash_equilibria` orders them)

    @property
    def promised(self) -> float:
        """Total payments on offer, summed over players and profiles."""
        return float(self.intervention.transfers.sum())

    @property
    def explanation(self) -> str:
        """One sentence: what the schedule makes dominant, where play ends up and what that costs."""
        g = self.game
        dom = [f"{g.designs[i][d]} for {g.players[i]}" for i, d in enumerate(self.dominant) if d is not None]
        said = f"makes {' and '.join(dom)} strictly dominant" if dom else "makes no design strictly dominant"
        where = "; ".join(f"{'a mixed one' if e.equilibrium.mixed else g.profile_label(e.equilibrium.profile)} "
                          f"(realised cost {e.cost:.4g})" for e in self.equilibria)
        return (f"Promising {self.promised:.4g} in all {said}; "
                f"{len(self.equilibria)} equilibrium(s) with the payments: {where}.")

def payment_schedule(game: DesignGame, payments: Iterable[tuple[str, Sequence[str], float]]) -> np.ndarray:
    """Transfers shaped like ``game.payoffs`` from (player name, profile as design names, amount)
    entries, e.g. ``[("P1", ("L", "S"), 8.0)]``; amounts at the same place add up."""
    t = np.zeros_like(game.payoffs)
    for player, profile, amount in payments:
        if player not in game.players:
            raise GameError(f"no player {player!r}; players: {', '.join(game.players)}")
        t[(game.players.index(player), *game.profile_index(profile))] += float(amount)
    Intervention(transfers=t).validate(game)
    return t


def strictly_dominant(game: DesignGame, i: int) -> int | None:
    """Player i's design that beats every other design against every profile of the others, or None."""
    u = np.moveaxis(game.payoffs[i], i, 0).reshape(game.shape[i], -1)
    for d in range(game.shape[i]):
        if (u[d] > np.delete(u, d, axis=0)).all():
            return d
    return None


def evaluate_schedule(game: DesignGame, transfers: np.ndarray, mixed: MixedMode = "all") -> ScheduleOutcome:
    """The game with ``transfers`` added, its strictly dominant designs and its Nash equilibria
    (``mixed`` as in `nash_equilibria`; "all": every extreme one of a two-player game), each with its
    gross welfare and realised cost."""
    intervention = Intervention(transfers=transfers).validate(game)
    t = intervention.transfers
    paid = game.with_transfers(t)
    out = []
    for eq in nash_equilibria(paid, mixed=mixed):
        p = eq.distribution()
        u = np.array([(p * game.payoffs[i]).sum() for i in range(game.n_players)])
        out.append(ScheduleEquilibrium(eq, u, float(u.sum()), float((p * t).sum())))
    dominant = tuple(strictly_dominant(paid, i) for i in range(game.n_players))
    return ScheduleOutcome(intervention, paid, dominant, tuple(out))
