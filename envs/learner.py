"""The small protocol through which the engine drives stakeholder learners (it imports none).

A learner object holds B independent copies (one per game in the batch) of one stakeholder's
learning rule over its k designs. Contextual learners keep one state per *context* (the private
recommendation the stakeholder received, or "none"), so that they can learn whether obeying pays.
Below the protocol: the designs-first arithmetic that the engine and the rules share.
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


# ----------------------------------------------------------------- designs-first arithmetic
# The engine and the rules compute strategies designs first, as (k, B) arrays: numpy loops once per row
# when it reduces, accumulates or broadcasts along a short last axis, so B rows of k designs cost B loops,
# while k rows of B games cost k. The results keep the bits of the (B, k) formulas they replace.

#: a batch at least this many times longer than its k designs is computed on a (k, B) copy
LONG_BATCH = 16


def designs_first(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(k, B) of x (B, k): a contiguous copy (into ``out`` if given) when the batch is long and k <= 128,
    else the view x.T."""
    batch, k = x.shape
    if batch < LONG_BATCH * k or k > 128:
        return x.T
    out = np.empty((k, batch)) if out is None else out
    np.copyto(out, x.T)
    return out


def design_sum(x: np.ndarray) -> np.ndarray:
    """x.sum(axis=0) of x (k, B), with the bits numpy gives each C-ordered row of x.T (B, k): numpy adds a row
    pairwise from 0 (eight running sums combined as a tree, then the rest; sequentially below eight), an order
    that depends on the memory layout, so unless x.T is such rows it is rebuilt here from k additions of rows."""
    k = x.shape[0]
    if x.T.flags.c_contiguous or k > 128:
        return np.ascontiguousarray(x.T).sum(axis=1)
    if k < 8:
        total = x[0] + 0.0                       # numpy starts from 0: a sum of -0.0 is 0.0
        for row in x[1:]:
            total += row
        return total
    lanes = x[:8] if k < 16 else x[:8] + x[8:16]
    for start in range(16, k - k % 8, 8):
        lanes += x[start:start + 8]
    total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    for row in x[k - k % 8:]:
        total += row
    total += 0.0
    return total


def design_cumsum(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """np.cumsum(x, axis=0) of x (k, B), the same sequential sums; row by row (into ``out`` if given) unless
    x.T is C-ordered rows (numpy's accumulate loops over the B columns)."""
    if x.T.flags.c_contiguous:
        return np.cumsum(x.T, axis=1).T
    out = np.empty_like(x) if out is None else out
    out[0] = x[0]
    for j in range(1, len(x)):
        np.add(out[j - 1], x[j], out=out[j])
    return out
