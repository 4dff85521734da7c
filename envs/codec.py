"""Decoding a mediator's continuous action (a Box in [-1, 1]) into an `Intervention`.

The enabled families each own a slice of the action vector:
``restrict`` (sum_i k_i entries: design d of player i is allowed when its entry is >= 0, and the
player's highest entry is always allowed), ``subsidize`` (with ``subsidy="profile"``, n K entries:
t_i(a) = budget * max(x, 0); with ``subsidy="incentive"``, sum_i k_i entries: player i is paid on
design d's row a multiple 2 max(x_id, 0) of the k-implementation amount that makes d beat every
alternative by the payments mediator's margin, capped at the budget), ``recommend`` (K entries: a
softmax recommendation over profiles; with vouchers, n K more entries, paid to i when everyone follows
the recommendation a: with ``subsidy="profile"`` v_i(a) = budget * max(x, 0), with ``"incentive"`` the
multiple 2 max(x, 0) of the amount c_i(a) that makes obeying a_i beat every deviation, capped: x = 0.5
pays exactly what obedience needs, so one threshold serves every game and profile).
The zero action means "no restriction, no payment". A learned policy starts instead from
`ActionCodec.initial_mean`: the zero action, except that incentive vouchers start at x = `VOUCHER_START`,
what obedience needs, so that exploration begins from a device that is obeyed and learns what to stop paying.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable

import numpy as np

from envs.game import DesignGame, default_margin, implementation_costs
from envs.intervention import Intervention

FAMILIES = ("restrict", "subsidize", "recommend")
SUBSIDIES = ("profile", "incentive")
INCENTIVE_MULTIPLE = 2.0      # the largest multiple of the k-implementation amount an incentive subsidy pays
#: a learned policy's initial mean voucher entry (incentive form): 2 max(x, 0) = 1 times what obedience needs
VOUCHER_START = 0.5


@dataclass(frozen=True)
class ActionCodec:
    """Maps a flat action in [-1, 1]^dim to an Intervention of ``game``."""

    game: DesignGame
    families: tuple[str, ...] = FAMILIES
    budget: float | None = None      # largest payment per player and profile; default: payoff scale
    vouchers: bool = False
    temperature: float = 4.0         # softmax sharpness of recommendations
    subsidy: str = "profile"         # parameterisation of ``subsidize``: "profile" or "incentive"

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(FAMILIES)
        if unknown or not self.families:
            raise ValueError(f"mediator families must be among {', '.join(FAMILIES)}, got {list(self.families)}")
        if self.subsidy not in SUBSIDIES:
            raise ValueError(f"subsidy must be one of {', '.join(SUBSIDIES)}, got {self.subsidy!r}")

    @cached_property
    def sizes(self) -> dict[str, int]:
        g = self.game
        size = {"restrict": sum(g.shape),
                "subsidize": sum(g.shape) if self.subsidy == "incentive" else g.n_players * g.n_profiles,
                "recommend": g.n_profiles * (1 + (g.n_players if self.vouchers else 0))}
        return {f: size[f] for f in FAMILIES if f in self.families}

    @cached_property
    def dim(self) -> int:
        return sum(self.sizes.values())

    @cached_property
    def cap(self) -> float:
        """The largest payment per player and profile: the budget (default: the payoff scale)."""
        return self.game.scale if self.budget is None else self.budget

    @cached_property
    def incentive_amounts(self) -> np.ndarray:
        """(n, k_1, ..., k_n): the most an incentive subsidy pays player i at profile a for design a_i."""
        return np.minimum(INCENTIVE_MULTIPLE * implementation_costs(self.game, default_margin(self.game)), self.cap)

    def initial_mean(self) -> np.ndarray:
        """(dim,) the mean action a learned policy starts from: zero (no restriction, no payment, a uniform
        recommendation) but for incentive vouchers at `VOUCHER_START`. Under Gaussian noise, vouchers around 0
        pay what obedience needs on a recommended profile in a few percent of the decisions and never for long,
        so Hedge learners never learn to obey and PPO never sees a voucher pay (the dilemma closed 2% of its gap
        so); started obeyed, PPO learns which vouchers it can drop."""
        mean = np.zeros(self.dim)
        if self.vouchers and self.subsidy == "incentive":
            start = sum(self.sizes[f] for f in FAMILIES[:FAMILIES.index("recommend")] if f in self.sizes)
            start += self.game.n_profiles
            mean[start:start + self.game.n_players * self.game.n_profiles] = VOUCHER_START
        return mean

    def learner_bounds(self) -> tuple[float, float]:
        """Payoff range stakeholders normalise by: the game's, widened by the largest payment on offer."""
        subsidy = 0.0
        if "subsidize" in self.families:
            subsidy = float(self.incentive_amounts.max()) if self.subsidy == "incentive" else self.cap
        voucher = float(self.incentive_amounts.max()) if self.subsidy == "incentive" else self.cap
        extra = max(subsidy, voucher if self.vouchers else 0.0)
        return float(self.game.payoffs.min()), float(self.game.payoffs.max()) + max(extra, 1e-12)

    def profile_payments(self, x: np.ndarray) -> np.ndarray:
        """Per (player, profile) entries x -> payments (n, k_1..k_n): the budget times max(x, 0)
        (``subsidy="profile"``), else the incentive amounts times max(x, 0)."""
        w = np.maximum(x, 0).reshape(self.game.payoffs.shape)
        return self.incentive_amounts * w if self.subsidy == "incentive" else self.cap * w

    def decode(self, action: np.ndarray) -> Intervention:
        """The Intervention encoded by ``action`` (clipped to [-1, 1])."""
        x = np.clip(np.asarray(action, float).ravel(), -1.0, 1.0)
        if x.shape != (self.dim,):
            raise ValueError(f"mediator action has {x.size} entries, expected {self.dim}")
        g = self.game
        parts, start = {}, 0
        for family, size in self.sizes.items():
            parts[family], start = x[start:start + size], start + size
        fields: dict = {}
        if "restrict" in parts:
            splits = np.split(parts["restrict"], np.cumsum(g.shape)[:-1])
            fields["allowed"] = tuple((s >= 0) | (np.arange(len(s)) == np.argmax(s)) for s in splits)
        if "subsidize" in parts and self.subsidy == "incentive":
            weights = np.split(np.maximum(parts["subsidize"], 0), np.cumsum(g.shape)[:-1])
            fields["transfers"] = np.stack([self.incentive_amounts[i] * w.reshape((-1,) + (1,) * (g.n_players - 1 - i))
                                            for i, w in enumerate(weights)])
        elif "subsidize" in parts:
            fields["transfers"] = self.profile_payments(parts["subsidize"])
        if "recommend" in parts:
            logits = self.temperature * parts["recommend"][:g.n_profiles]
            p = np.exp(logits - logits.max())
            fields["recommendation"] = (p / p.sum()).reshape(g.shape)
            if self.vouchers:
                fields["vouchers"] = self.profile_payments(parts["recommend"][g.n_profiles:])
        return Intervention(**fields)


def joint_bounds(codecs: Iterable[ActionCodec]) -> tuple[float, float]:
    """One payoff range covering every codec's learner bounds (learners of a batch of different games)."""
    lows, highs = zip(*(codec.learner_bounds() for codec in codecs))
    return min(lows), max(highs)
