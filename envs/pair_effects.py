"""GLEE's pair-effects table, the construction behind the paper's Section 4 matrix (its Figure 1).

GLEE's analysis regresses each side's self-gain u_i by OLS on one-hot market settings (complete
information, messages allowed, max rounds with more than 20 treated as unbounded, delta_1, delta_2, money
to divide) plus one indicator per (Alice model, Bob model) pair, pivots the pair coefficients theta_i[a, b]
Alice x Bob and subtracts their grand mean (the mean of the column means of the observed cells). The
payoff of the meta-game is that demeaned pair effect, u_i(a, b) = theta_i[a, b] - mean theta_i, which is
why Figure 1's entries are around 0.05 rather than raw utilities around 0.5. This module holds the parts
of the construction that are GLEE's choices (model list, setting factors, demeaning weights); the
regression and its standard errors are `envs.logs`'s least squares (``adjust=pair-effects``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: GLEE's model list (its interface's default models), the order of the meta-game's designs.
GLEE_MODELS = (
    "xai/grok-2-1212", "gpt-4o", "o3-mini", "gpt-4o-mini", "vertex_ai/mistral-large-2411",
    "vertex_ai/meta/llama-3.3-70b-instruct-maas", "vertex_ai/meta/llama-3.1-405b-instruct-maas",
    "vertex_ai/gemini-1.5-pro", "vertex_ai/gemini-1.5-flash", "vertex_ai/gemini-2.0-flash",
    "vertex_ai/gemini-2.0-flash-lite", "vertex_ai/claude-3-7-sonnet@20250219",
    "vertex_ai/claude-3-5-sonnet-v2@20241022",
)
#: A round limit above this is one level, "unbounded" (GLEE only tells the players limits up to 20).
MAX_BOUNDED_ROUNDS = 20


def model_key(name: str) -> str:
    """A model name without its litellm provider prefix (``vertex_ai/gemini-1.5-pro`` -> ``gemini-1.5-pro``),
    as GLEE's analysis strips it, so prefixed and bare names match."""
    return name.split("/", 1)[1] if "/" in name else name


def glee_order(names: Sequence[str]) -> list[str]:
    """``names`` in the order of GLEE's model list; models not in it follow, sorted by name."""
    rank = {model_key(m): i for i, m in enumerate(GLEE_MODELS)}
    return sorted(names, key=lambda n: (rank.get(model_key(n), len(rank)), n))


def _level(factor: str, value: float):
    """A factor level as reported: true / false, a round limit or "unbounded", the money, a delta."""
    if factor in ("complete_information", "messages_allowed"):
        return bool(value)
    if factor == "max_rounds":
        return "unbounded" if value > MAX_BOUNDED_ROUNDS else int(value)
    if factor == "money_to_divide":
        return float(f"{10 ** value:.12g}")
    return float(value)


def setting_factors(covariates: np.ndarray, names: Sequence[str]) -> list[tuple[str, np.ndarray, list]]:
    """(factor, level code of every game, levels) of each GLEE setting (the covariates of
    `envs.logs.GLEE_COVARIATES`, log10_money reported as money_to_divide), levels in increasing order;
    round limits above `MAX_BOUNDED_ROUNDS` share the level "unbounded"."""
    out = []
    for j, name in enumerate(names):
        factor = "money_to_divide" if name == "log10_money" else name
        x = covariates[:, j]
        if factor == "max_rounds":
            x = np.where(x > MAX_BOUNDED_ROUNDS, np.inf, x)
        values, codes = np.unique(x, return_inverse=True)
        out.append((factor, codes, [_level(factor, v) for v in values]))
    return out


def setting_dummies(covariates: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(N, q) one-hot settings: an indicator for every level but the first of each setting with two or
    more levels (a constant setting is dropped, as GLEE drops constant columns)."""
    blocks = [codes[:, None] == np.arange(1, len(levels))[None, :]
              for _, codes, levels in setting_factors(covariates, names)]
    return np.hstack([np.zeros((len(covariates), 0)), *blocks]).astype(float)


def demeaning_weights(observed: np.ndarray) -> np.ndarray:
    """(k1, k2) weights w with sum(w * theta) = GLEE's grand mean of the pivoted table, the mean over
    columns of each column's mean over its observed cells (the plain mean when nothing is missing)."""
    observed = np.asarray(observed, bool)
    per_column = observed.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = observed / (per_column * (per_column > 0).sum())[None, :]
    return np.where(observed, w, 0.0)
