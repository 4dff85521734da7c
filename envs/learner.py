"""The small protocol through which the engine drives stakeholder learners (it imports none).

A learner object holds B independent copies (one per game in the batch) of one stakeholder's
learning rule over its k designs. Contextual learners keep one state per *context* (the private
recommendation the stakeholder received, or "none"), so that they can learn whether obeying pays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

#: Context index meaning "no recommendation this round" is k (designs are 0..k-1).


@dataclass(frozen=True)
class Feedback:
    """What one stakeholder observes after a round, for each of the B games.

    ``payoff_vector[b, d]``: what it would have received with design d, the others' realised
    designs fixed (utility + transfers + vouchers; the full-information feedback of Hedge).
    ``reward[b]``: what it did receive. ``action[b]``: its design. ``probability[b]``: the probability
    with which that design was drawn (for bandit estimators such as EXP3). ``context[b]``: its
    recommendation (k when it received none). ``mask[b, d]``: the designs allowed this round.
    """

    action: np.ndarray          # (B,) int
    reward: np.ndarray          # (B,) float
    payoff_vector: np.ndarray   # (B, k) float
    probability: np.ndarray     # (B,) float
    context: np.ndarray         # (B,) int in [0, k]
    mask: np.ndarray            # (B, k) bool


class Learner(Protocol):
    """B copies of one stakeholder's learning rule."""

    def strategy(self, context: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mixed strategies (B, k) given each game's context (B,) and allowed designs (B, k)."""

    def update(self, feedback: Feedback) -> None:
        """Learn from one round."""


#: learner_factory(player index, k designs, batch, payoff bounds (low, high)) -> Learner
LearnerFactory = Callable[[int, int, int, tuple[float, float]], Learner]
