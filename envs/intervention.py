"""The one value every mediator returns and the engine applies.

An `Intervention` sets any of four fields (a mediator family sets only its own):

* ``allowed``: per player, a boolean mask of permitted designs (restriction; >= 1 left each);
* ``transfers``: t_i(a) >= 0 paid to player i whenever profile a is played (payments);
* ``recommendation``: a joint distribution p over profiles; each player privately sees its part;
* ``vouchers``: v_i(a) >= 0 paid to player i when a was recommended and everyone followed it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.game import DesignGame, GameError


def _frozen(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=float)
    x.setflags(write=False)
    return x


@dataclass(frozen=True, eq=False)
class Intervention:
    """Allowed designs, transfers, a private recommendation and conditional vouchers (all optional)."""

    allowed: tuple[np.ndarray, ...] | None = None
    transfers: np.ndarray | None = None
    recommendation: np.ndarray | None = None
    vouchers: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.allowed is not None:
            masks = tuple(np.array(m, dtype=bool) for m in self.allowed)
            for m in masks:
                m.setflags(write=False)
            object.__setattr__(self, "allowed", masks)
        for name in ("transfers", "recommendation", "vouchers"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _frozen(getattr(self, name)))

    def validate(self, game: DesignGame) -> "Intervention":
        """Check every set field against ``game``'s shapes and signs; return self."""
        if self.allowed is not None:
            if len(self.allowed) != game.n_players or any(m.shape != (k,) for m, k in zip(self.allowed, game.shape)):
                raise GameError("allowed needs one boolean per design of every player")
            if not all(m.any() for m in self.allowed):
                raise GameError("a restriction must leave every player at least one design")
        for name, shape in (("transfers", game.payoffs.shape), ("vouchers", game.payoffs.shape),
                            ("recommendation", game.shape)):
            x = getattr(self, name)
            if x is None:
                continue
            if x.shape != shape:
                raise GameError(f"{name} has shape {x.shape}, expected {shape}")
            if not np.isfinite(x).all() or (x < 0).any():
                raise GameError(f"{name} must be finite and nonnegative")
        if self.recommendation is not None and abs(self.recommendation.sum() - 1) > 1e-9:
            raise GameError("a recommendation must be a probability distribution over profiles")
        if self.vouchers is not None and self.recommendation is None:
            raise GameError("vouchers need a recommendation to be conditional on")
        return self

    def masks(self, game: DesignGame) -> tuple[np.ndarray, ...]:
        """The allowed masks, all-true where no restriction is set."""
        return self.allowed if self.allowed is not None else tuple(np.ones(k, bool) for k in game.shape)

    def to_json(self, game: DesignGame) -> dict:
        """The set fields as JSON (masks as design names, tensors as nested lists)."""
        out: dict = {}
        if self.allowed is not None:
            out["allowed"] = [[d for d, keep in zip(ds, m) if keep] for ds, m in zip(game.designs, self.allowed)]
        for name in ("transfers", "recommendation", "vouchers"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name).tolist()
        return out
