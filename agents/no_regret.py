"""Learning rules for one stakeholder with k designs, held as B independent copies (`envs.learner`).

Every rule keeps its state as an array of shape (B, C, k): one row per *context* c, the design
the mediator privately recommended (c = k: no recommendation). A contextual learner (C = k + 1)
learns separately what to play when told each d, so it minimises regret conditional on each
recommendation (the regret that a correlated equilibrium's obedience constraints bound); a plain
learner (C = 1) maps every context to row 0 and minimises external regret. In a game with a state,
a learner given ``contexts`` = M keeps one row per value of its private signal (full disclosure: the
state), which are not designs, so the trust in recommendations does not apply.

Rules see payoffs mapped to [0, 1] by x -> (x - low) / (high - low), where ``bounds = (low, high)``
is the payoff range (the engine passes min u and max u + the largest payment on offer; arrays (B,) give
each copy its own, as when copies under different mediators share a batch), clipped to [0, 1] should a
reward leave it. Normalising by the range rather than by max |u| keeps small
payoff gaps (Example 1's 0.05) as large as possible for the learner.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from envs.learner import Feedback, design_sum, designs_first


def softmax(eta: np.ndarray, s: np.ndarray) -> np.ndarray:
    """exp(eta s) / sum exp(eta s) over the designs of s (k, B), shifted by max s so it cannot overflow."""
    z = s - np.maximum.reduce(s, axis=0)
    z *= eta
    np.exp(z, out=z)
    z /= design_sum(z)
    return z


def uniform_argmax(s: np.ndarray) -> np.ndarray:
    """Uniform distribution over the maximisers of s (k, B) (exact ties)."""
    best = s == s.max(axis=0)
    return best / best.sum(axis=0)


class ContextualRule(ABC):
    """B copies of a rule with state (B, C, k) and per-context update counts (B, C).

    The rules are deterministic functions of their feedback (the engine draws the designs).
    """

    def __init__(self, k: int, batch: int, contextual: bool = False, bounds: tuple[float, float] = (-1.0, 1.0),
                 trust: float = 0.0, trust_rounds: float = 100.0, contexts: int | None = None):
        if not 0 <= trust <= 1 or not trust_rounds > 0:
            raise ValueError(f"trust must lie in [0, 1] and trust_rounds be > 0, got {trust}, {trust_rounds}")
        if contexts is not None and (not contextual or trust > 0 or contexts < 1):
            raise ValueError(f"signal contexts ({contexts}) need a contextual rule without trust")
        self.trust, self.trust_rounds = trust, trust_rounds
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        low, high = (np.asarray(x, dtype=float) for x in bounds)
        if low.shape != high.shape or low.shape not in ((), (batch,)):
            raise ValueError(f"bounds must be two numbers or two arrays of the batch's length {batch}")
        if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
            raise ValueError(f"bounds must be finite with low < high, got {bounds}")
        self.k, self.batch, self.contextual = k, batch, contextual
        self.low, self.width = (float(low), float(high - low)) if low.ndim == 0 else (low, high - low)
        rows = (k + 1 if contexts is None else int(contexts)) if contextual else 1
        self.state = np.zeros((batch, rows, k))
        self.count = np.zeros(self.state.shape[:2], dtype=np.int64)
        # scratch, rewritten every round: the state rows designs first (k, B) while a strategy is computed,
        # then the unit payoff vectors (B, k) of an update
        self._scratch = np.empty(k * batch)
        self._first_rows = np.arange(batch) * rows                 # each copy's first row in the flat state
        self._designs = np.arange(k)[:, None]

    def _rows(self, context: np.ndarray) -> np.ndarray | None:
        """Each game's row of the state flattened to (B C, k): its context's if contextual, else None (row 0)."""
        if not self.contextual:
            return None
        context = np.asarray(context, dtype=np.int64)
        if context.view(np.uint64).max() >= self.state.shape[1]:              # a negative context wraps around
            raise ValueError(f"contexts must lie in 0..{self.state.shape[1] - 1}")
        return self._first_rows + context

    def unit(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Payoffs (B, k) or rewards (B,) mapped from [low, high] to [0, 1] (clipped), into ``out`` if given."""
        low, width = self.low, self.width
        if np.ndim(low) and np.ndim(x) == 2:                  # per-copy bounds over each copy's payoff vector
            low, width = low[:, None], width[:, None]
        y = np.subtract(x, low, out=np.empty(np.shape(x)) if out is None else out)
        y /= width
        return y.clip(0.0, 1.0, out=y)

    def strategy(self, context: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Mixed strategies (B, k) from each game's state row for its context; forbidden designs
        (``mask`` false) are left out of the rule itself, so a restriction changes what it learns over.
        Computed designs first (`envs.learner.designs_first`); the result is the transpose of a (k, B) array."""
        rows = self._rows(context)
        if rows is None:
            s, n = self.state[:, 0], self.count[:, 0]
        else:
            s, n = self.state.reshape(-1, self.k)[rows], self.count.reshape(-1)[rows]
        s = designs_first(s, self._scratch.reshape(self.k, self.batch))
        restricted = mask is not None and not mask.all()
        p = self._policy(np.where(mask.T, s, -np.inf) if restricted else s, n)
        if self.contextual and self.trust > 0:
            p = self._with_trust(p, np.asarray(context), n)
        if mask is not None:
            if restricted:
                p = p * mask.T
            p /= design_sum(p)
        return p.T

    def _with_trust(self, p: np.ndarray, context: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Follow a recommendation with extra weight trust * m / (m + n) that fades with the n rounds of
        experience in that context (m = trust_rounds): stakeholders start by taking the platform's
        default and keep doing so only if it pays."""
        w = np.where(context < self.k, self.trust * self.trust_rounds / (self.trust_rounds + n), 0.0)
        return (1 - w) * p + w * (self._designs == context)

    def update(self, feedback: Feedback) -> None:
        """Update the state row of each game's context (only those rows) and its count."""
        rows = self._rows(feedback.context)
        if rows is None:
            self.state[:, 0] = self._step(self.state[:, 0], feedback)
            self.count[:, 0] += 1
        else:
            state = self.state.reshape(-1, self.k)
            state[rows] = self._step(state[rows], feedback)
            self.count.reshape(-1)[rows] += 1

    @abstractmethod
    def _policy(self, s: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Strategies (k, B), a new array, from the state rows s, designs first (k, B), after n (B,) updates."""

    @abstractmethod
    def _step(self, s: np.ndarray, feedback: Feedback) -> np.ndarray:
        """New state rows (B, k) from the old ones and one round's feedback (``update`` copies them into the
        state, so they may live in a buffer of the rule's own)."""


class Hedge(ContextualRule):
    """Multiplicative weights on full-information payoffs: p ∝ exp(eta_t S), S = sum of unit payoff vectors.

    Default eta_t = sqrt(8 ln k / t), t = 1 + updates of the context (Cesa-Bianchi & Lugosi 2006,
    Thm 2.3: external regret <= sqrt(2 t ln k) + sqrt(ln k / 8) for payoffs in [0, 1]), or a fixed ``eta``.
    """

    def __init__(self, k: int, batch: int, contextual: bool = False, bounds: tuple[float, float] = (-1.0, 1.0),
                 eta: float | None = None, **trust):
        super().__init__(k, batch, contextual, bounds, **trust)
        if eta is not None and not 0 < eta < np.inf:
            raise ValueError(f"eta must be positive and finite, got {eta}")
        self.eta, self._rate = eta, 8 * np.log(k)

    def _policy(self, s: np.ndarray, n: np.ndarray) -> np.ndarray:
        eta = np.sqrt(self._rate / (n + 1)) if self.eta is None else np.full(n.shape, self.eta)
        return softmax(eta, s)

    def _step(self, s: np.ndarray, feedback: Feedback) -> np.ndarray:
        total = self.unit(feedback.payoff_vector, self._scratch.reshape(self.batch, self.k))
        total += s
        return total


class EXP3(ContextualRule):
    """Bandit Hedge: p = (1 - gamma) softmax(eta_t S) + gamma / k, S_a -= (1 - x_a) / P(a).

    x_a is the unit reward of the played design a and P(a) the probability the engine drew it with
    (after masking): S is the loss-based importance-weighted estimate of the cumulative reward, shifted
    by t (Lattimore & Szepesvari 2020, eq. 11.6; unbiased, and of low variance when x is near 1).
    Default eta_t = sqrt(2 ln k / (k t)), t = 1 + updates of the context (their Thm 11.2, regret
    <= sqrt(2 n k ln k), with the horizon n replaced by t), or a fixed ``eta``; this estimator needs
    no explicit exploration, so the mixing ``gamma`` defaults to 0.
    """

    def __init__(self, k: int, batch: int, contextual: bool = False, bounds: tuple[float, float] = (-1.0, 1.0),
                 eta: float | None = None, gamma: float = 0.0, **trust):
        super().__init__(k, batch, contextual, bounds, **trust)
        if eta is not None and not 0 < eta < np.inf:
            raise ValueError(f"eta must be positive and finite, got {eta}")
        if not 0 <= gamma <= 1:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
        self.eta, self.gamma = eta, gamma

    def _policy(self, s: np.ndarray, n: np.ndarray) -> np.ndarray:
        eta = np.sqrt(2 * np.log(max(self.k, 2)) / (self.k * (n + 1))) if self.eta is None else np.full(n.shape, self.eta)
        return (1 - self.gamma) * softmax(eta, s) + self.gamma / self.k

    def _step(self, s: np.ndarray, feedback: Feedback) -> np.ndarray:
        loss = (1 - self.unit(feedback.reward)) / np.asarray(feedback.probability, dtype=float)
        return s - (np.arange(self.k) == np.asarray(feedback.action)[:, None]) * loss[:, None]


class RegretMatching(ContextualRule):
    """Regret matching (Hart & Mas-Colell 2000): R += u(., a_-i) - u(a), p ∝ max(R, 0), uniform if R <= 0."""

    def _policy(self, s: np.ndarray, n: np.ndarray) -> np.ndarray:
        positive = np.maximum(s, 0.0)
        positive = np.where((positive > 0).any(axis=0), positive, 1.0)
        return positive / design_sum(positive)

    def _step(self, s: np.ndarray, feedback: Feedback) -> np.ndarray:
        return s + self.unit(feedback.payoff_vector) - self.unit(feedback.reward)[:, None]


class RegretMatchingPlus(RegretMatching):
    """Regret matching+ (Tammelin 2014): R <- max(R + u(., a_-i) - u(a), 0); plays the current strategy."""

    def _step(self, s: np.ndarray, feedback: Feedback) -> np.ndarray:
        return np.maximum(super()._step(s, feedback), 0.0)


class FictitiousPlay(ContextualRule):
    """Best response to the average past payoff vector: uniform over argmax S, S = sum of payoff vectors.

    With two players this is Brown's (1951) best response to the opponent's empirical frequency.
    """

    def _policy(self, s: np.ndarray, n: np.ndarray) -> np.ndarray:
        return uniform_argmax(s)

    def _step(self, s: np.ndarray, feedback: Feedback) -> np.ndarray:
        return s + self.unit(feedback.payoff_vector)


class BestResponse(FictitiousPlay):
    """Myopic best response to the last round's payoff vector (uniform before any update)."""

    def _step(self, s: np.ndarray, feedback: Feedback) -> np.ndarray:
        return self.unit(feedback.payoff_vector)


LEARNERS: dict[str, type[ContextualRule]] = {
    "hedge": Hedge,
    "exp3": EXP3,
    "regret-matching": RegretMatching,
    "regret-matching+": RegretMatchingPlus,
    "fictitious-play": FictitiousPlay,
    "best-response": BestResponse,
}


#: Every stakeholder rule by name: the no-regret rules and ``ppo`` (agents/ppo_learner.py, torch only when used).
RULES = (*LEARNERS, "ppo")
_OPTIONS = ("eta", "gamma", "trust", "trust_rounds")


def make_learner(spec: str, k: int, batch: int, contextual: bool = False,
                 bounds: tuple[float, float] = (-1.0, 1.0), **defaults: float):
    """The rule named by ``spec``: a RULES name, optionally with options, e.g. ``hedge:eta=0.5``,
    ``exp3:eta=0.01,gamma=0.02``, ``hedge:trust=0.5`` or ``ppo:lr=0.001`` (defaults: the theory-backed
    anytime schedules, no trust; PPO_DEFAULTS); options in ``spec`` override ``defaults``. A PPO
    stakeholder learns whether to obey from experience: the no-regret rules' prior ``trust`` does not
    apply to it and is dropped from ``defaults``."""
    name, _, rest = spec.partition(":")
    if name not in RULES:
        raise ValueError(f"unknown learner {name!r}; known: {', '.join(RULES)}")
    if name == "ppo":
        from agents.ppo_learner import PPO_DEFAULTS, PPOLearner

        allowed, rule = tuple(PPO_DEFAULTS), PPOLearner
        defaults = {key: v for key, v in defaults.items() if key not in ("trust", "trust_rounds")}
    else:
        allowed, rule = _OPTIONS, LEARNERS[name]
    options = dict(defaults)
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in allowed:
            raise ValueError(f"bad learner option {item!r} in {spec!r}: expected {', '.join(allowed)}")
        try:
            options[key] = float(value)
        except ValueError:
            raise ValueError(f"learner option {key} must be a number, got {value!r}") from None
    try:
        return rule(k, batch, contextual, bounds, **options)
    except TypeError:
        raise ValueError(f"learner {name!r} takes no option(s) {', '.join(options)}") from None


def population(spec: str, n_players: int | None = None) -> list[str]:
    """One rule per player from ``hedge,ppo`` (player 1 Hedge, player 2 PPO), or one rule for every
    player (``hedge``, ``exp3:eta=0.01,gamma=0.02``: a comma followed by ``key=value`` continues the
    options of the rule before it). Each rule is checked, and their count against ``n_players``."""
    rules: list[str] = []
    for token in spec.split(","):
        if rules and "=" in token and ":" not in token:
            rules[-1] += "," + token
        else:
            rules.append(token.strip())
    for rule in rules:
        make_learner(rule, 2, 1)
    if n_players is not None and len(rules) not in (1, n_players):
        raise ValueError(f"{spec!r} names {len(rules)} rules: give one for every player or one per player "
                         f"({n_players})")
    return rules
