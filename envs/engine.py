"""The batched engine: B independent copies of a meta-game stepped at once, in numpy.

One round (DESIGN.md, "Dynamics"): the intervention in force is applied (allowed designs,
transfers, a private recommendation, vouchers), every stakeholder draws a design from its
learner's masked strategy, payoffs and payments are computed, learners update. The engine is
the single source of truth for a round; the PettingZoo env and the mediator's VecEnv are views
of it. Randomness comes from one `numpy.random.Generator`, drawn in a fixed order each round
(recommendations, then one uniform per stakeholder), so the same seed gives the same trajectory
whether the designs are drawn here or chosen by outside agents. A batch may instead be R repeats of a
block of copies whose numbers come from several streams (`BlockStreams`: each (seed, width) stream draws
for its own copies): every copy then meets exactly the numbers it meets in an engine of that stream
alone, so many mediators (one per repeat) and many seeds run as one batch with unchanged trajectories.

A game with a state (`envs.bayes.BayesGame`, set by `set_signals`) opens a round by drawing the state s
from the prior on a second generator of its own (spawned from the same seed), so that every way of
informing the stakeholders meets the same states, and then the signal profile from the information
structure's scheme[s] with the uniform an ordinary round spends on its recommendation; each
stakeholder's learner sees its own signal as its context, and payoffs are those of state s. The main
stream is thus spent exactly as in an ordinary round: a state game with one state and no information
replays the ordinary game's trajectory, and an ordinary game's trajectories are untouched.

For speed the round works on strategies designs first (`envs.learner`: (k_i, B) arrays, with the bits of
the (B, k_i) formulas) and gathers each stakeholder's payoff vectors as whole rows of a per-player table;
tests/test_engine_fixture.py holds it to the trajectories of the plain formulas, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Sequence

import numpy as np

from envs.bayes import BayesGame, Signals
from envs.game import DesignGame, GameError
from envs.intervention import Intervention
from envs.learner import Feedback, Learner, design_cumsum, design_sum
from envs.limits import check_engine


@dataclass(frozen=True)
class RoundResult:
    """What happened in one round of each of the B games."""

    profile: np.ndarray          # (B, n) designs played
    recommendation: np.ndarray   # (B, n) recommended designs; k_i where none was given
    utilities: np.ndarray        # (B, n) u_i(a)
    payments: np.ndarray         # (B, n) transfers + vouchers received
    probabilities: np.ndarray    # (B, n) probability of each played design (1 for outside agents)
    lam: float
    illegal: np.ndarray          # (B, n) outside agents' masked / out-of-range designs, replaced
    state: np.ndarray | None = None       # (B,) the state drawn (games with a state)
    signal: np.ndarray | None = None      # (B, n) each stakeholder's private signal
    objective: np.ndarray | None = None   # (B,) the mediator's objective v(s, a) of the round

    # computed once per round result (the engine and the recording both read them)
    @cached_property
    def rewards(self) -> np.ndarray:
        """What each stakeholder receives: utility plus payments."""
        return self.utilities + self.payments

    @cached_property
    def gross(self) -> np.ndarray:
        return self.utilities.sum(axis=1)

    @cached_property
    def paid(self) -> np.ndarray:
        return self.payments.sum(axis=1)

    @cached_property
    def net(self) -> np.ndarray:
        """Gross welfare minus lambda times the transfers paid."""
        return self.gross - self.lam * self.paid

    @property
    def obeyed(self) -> np.ndarray:
        """(B, n) whether each stakeholder played its recommendation (False when it had none)."""
        return self.profile == self.recommendation


#: (seed, width): a random stream and how many consecutive copies of a block it draws for
Stream = tuple[int | None, int]


class BlockStreams:
    """The random numbers of a batch of ``repeats`` repeats of a block of copies: each stream (seed, width)
    draws for its own ``width`` copies of the block (as an engine of that stream and batch would), the
    blocks' draws are concatenated and the block is repeated. Draws like ``Generator.random`` with the
    batch first, the only call the engine makes."""

    def __init__(self, generators: Sequence[np.random.Generator], widths: Sequence[int], repeats: int):
        self.generators, self.widths, self.repeats = list(generators), [int(w) for w in widths], int(repeats)
        self.batch = sum(self.widths) * self.repeats

    def random(self, size: int | tuple[int, ...]) -> np.ndarray:
        size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        if size[0] != self.batch:
            raise ValueError(f"the streams draw for a batch of {self.batch}, not {size[0]}")
        return np.concatenate([g.random((w, *size[1:])) for g, w in zip(self.generators, self.widths)] * self.repeats)

    def spawn(self) -> "BlockStreams":
        """The streams of each generator's first spawned child (a state game's states), same layout."""
        return BlockStreams([_child(g) for g in self.generators], self.widths, self.repeats)


def _child(rng: np.random.Generator) -> np.random.Generator:
    """The generator of ``rng``'s first spawned child seed sequence (a state game's stream)."""
    return np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])


class Engine:
    """B copies of ``game`` with one learner object (holding B copies) per stakeholder. ``seed`` is one
    stream for the batch, or a list of (seed, width) streams for a block of copies repeated ``repeats``
    times (`BlockStreams`; one stream of the whole batch is the same as its seed alone)."""

    def __init__(self, game: DesignGame, learners: Sequence[Learner] | None, batch: int = 1,
                 lam: float = 1.0, seed: int | None | Sequence[Stream] = None, repeats: int = 1):
        if learners is not None and len(learners) != game.n_players:
            raise ValueError(f"{game.n_players} stakeholders need {game.n_players} learners, got {len(learners)}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        check_engine(game.shape, batch)
        self.game, self.learners, self.batch, self.lam = game, learners, batch, lam
        self.bayes: BayesGame | None = None
        self.signal: np.ndarray | None = None
        self.n, self.shape, self.K = game.n_players, game.shape, game.n_profiles
        self.strides = _strides(self.shape)
        # column i: the strides of the others' profile a_-i (player i left out), so profile @ it indexes a_-i
        self._other_strides = np.zeros((self.n, self.n), np.int64)
        for i in range(self.n):
            self._other_strides[np.arange(self.n) != i, i] = _strides(self.shape[:i] + self.shape[i + 1:])
        self._others = self.K // np.array(self.shape)                       # K_-i
        self._games = np.arange(batch)
        # fixed index arithmetic of a round: the flat index of a profile and of each a_-i in one product,
        # each player's offset in a (n, K) table, each copy's offset in the (B, K_-i, k_i) transfer vectors
        self._all_strides = np.concatenate([self.strides[:, None], self._other_strides], axis=1)
        self._players = np.arange(self.n) * self.K
        self._own, self._own_others = self._games * self.n * self.K, [self._games * m for m in self._others]
        self._sizes = np.array(self.shape)
        self._top, self._designs = self._sizes - 1, [np.arange(k)[None, :] for k in self.shape]
        self._legal = np.zeros((batch, self.n), bool)
        self._legal.setflags(write=False)
        # a stakeholder's strategies and their cumulative sums in a round, designs first (rewritten by each)
        self._probs, self._cdfs = np.empty((max(self.shape), batch)), np.empty((max(self.shape), batch))
        self._no_rec = np.tile(np.array(self.shape), (batch, 1))
        self._no_rec.setflags(write=False)
        self.set_payoffs(np.broadcast_to(game.payoffs, (batch, *game.payoffs.shape)))
        self.reseed(seed, repeats)
        self.set_intervention(Intervention())
        self.clear_recommendations()

    def reseed(self, seed: int | None | Sequence[Stream], repeats: int = 1) -> None:
        """Restart the random streams: ``rng`` for the rounds and ``state_rng`` (its first spawned child)
        for a state game's states; ``seed`` and ``repeats`` as in the constructor."""
        streams = [(seed, self.batch)] if seed is None or isinstance(seed, (int, np.integer)) else list(seed)
        widths = [w for _, w in streams]
        if repeats < 1 or any(w < 1 for w in widths) or sum(widths) * repeats != self.batch:
            raise ValueError(f"{repeats} repeats of streams of widths {widths} do not make a batch of {self.batch}")
        if len(streams) == 1 and repeats == 1:
            self.rng = np.random.default_rng(streams[0][0])
            self.state_rng = _child(self.rng)
        else:
            self.rng = BlockStreams([np.random.default_rng(s) for s, _ in streams], widths, repeats)
            self.state_rng = self.rng.spawn()

    def set_payoffs(self, payoffs: np.ndarray) -> None:
        """One payoff tensor per game, (B, n, k_1, ..., k_n): each game of the batch may be a different
        game of ``game``'s shape (``game`` then only fixes the shape and names)."""
        payoffs = np.asarray(payoffs, dtype=float)
        if payoffs.shape != (self.batch, *self.game.payoffs.shape):
            raise ValueError(f"payoffs need shape {(self.batch, *self.game.payoffs.shape)}, got {payoffs.shape}")
        shared = payoffs.strides[0] == 0                                      # one game broadcast to the batch
        self._tables = np.ascontiguousarray((payoffs[:1] if shared else payoffs).reshape(-1, self.n, self.K))
        self._vectors = self._vector_tables(self._tables)
        self._select(np.zeros(self.batch, np.int64) if shared else self._games)

    def _select(self, table_of: np.ndarray) -> None:
        """Each copy plays the table ``table_of`` (B,) this round: its offsets in the tables and vector tables."""
        self._table_of, self._table_rows = table_of, table_of * (self.n * self.K)
        self._vector_rows = [table_of * m for m in self._others]

    def _vector_tables(self, tables: np.ndarray) -> list[np.ndarray]:
        """Per player i, the vectors x_i(., a_-i) of the tables x (G, n, K): row g K_-i + (index of a_-i) of
        a (G K_-i, k_i) array, so that a round's payoff vectors are one gather of whole rows."""
        full = tables.reshape(len(tables), self.n, *self.shape)
        return [np.ascontiguousarray(np.moveaxis(full[:, i], 1 + i, -1).reshape(-1, k))
                for i, k in enumerate(self.shape)]

    @property
    def flat_payoffs(self) -> np.ndarray:
        """(B, n, K) each game's payoff table this round (state s's in a game with a state)."""
        if len(self._tables) == 1:
            return np.broadcast_to(self._tables, (self.batch, self.n, self.K))
        return self._tables[self._table_of]

    def set_signals(self, game: BayesGame, signals: Signals, objective: np.ndarray | None = None) -> None:
        """Make every game of the batch the state game ``game`` (of this engine's shape) informed by
        ``signals``; ``objective`` is the v(s, a) the rounds report (default ``game.values()``)."""
        signals.validate(game)
        if game.shape != self.shape or game.n_players != self.n:
            raise GameError(f"the state game has shape {game.shape}, the engine {self.shape}")
        if self.has_rec.any():
            raise GameError("a state game's recommendations are its signals; the intervention in force recommends")
        v = game.values() if objective is None else np.asarray(objective, float)
        self.bayes, self.signals = game, signals
        self.state_payoffs = game.payoffs.reshape(game.n_states, self.n, self.K)        # (S, n, K)
        self.state_objective = v.reshape(game.n_states, self.K)                         # (S, K)
        self.state_vectors = self._vector_tables(self.state_payoffs)
        self.prior_cdf = np.cumsum(game.prior)
        self.signal_cdf = np.cumsum(signals.scheme.reshape(game.n_states, -1), axis=1)  # (S, M)
        self.state, self.signal = None, np.zeros((self.batch, self.n), np.int64)

    @property
    def context(self) -> np.ndarray:
        """(B, n) what each learner conditions on: its signal in a state game, else its recommendation."""
        return self.recommendation if self.bayes is None else self.signal

    # ----------------------------------------------------------------- intervention
    def set_intervention(self, intervention: Intervention, games: slice | np.ndarray = slice(None)) -> None:
        """Put ``intervention`` in force for the selected games (all by default) from the next round on."""
        self._write(intervention, games)
        self._refresh()

    def set_interventions(self, interventions: Sequence[Intervention]) -> None:
        """Put one intervention per game in force (a mediator policy's decisions for the batch)."""
        if len(interventions) != self.batch:
            raise ValueError(f"{self.batch} games need {self.batch} interventions, got {len(interventions)}")
        for b, intervention in enumerate(interventions):
            self._write(intervention, b)
        self._refresh()

    def _write(self, intervention: Intervention, games: slice | np.ndarray | int) -> None:
        intervention.validate(self.game)
        B, n, K = self.batch, self.n, self.K
        if not hasattr(self, "masks"):
            self.masks = [np.ones((B, k), bool) for k in self.shape]
            self.transfers = np.zeros((B, n, K))
            self.rec_cdf = np.zeros((B, K))
            self.has_rec = np.zeros(B, bool)
            self.vouchers = np.zeros((B, n, K))
        for mask, m in zip(self.masks, intervention.masks(self.game)):
            mask[games] = m
        self.transfers[games] = 0.0 if intervention.transfers is None else intervention.transfers.reshape(n, K)
        self.vouchers[games] = 0.0 if intervention.vouchers is None else intervention.vouchers.reshape(n, K)
        rec = intervention.recommendation
        if rec is not None and self.bayes is not None:
            raise GameError("a state game's recommendations are its signals; an intervention cannot recommend")
        self.has_rec[games] = rec is not None
        self.rec_cdf[games] = 0.0 if rec is None else np.cumsum(rec.ravel())

    def _refresh(self) -> None:
        """Which payments, recommendations and restrictions exist in the batch (the round skips what does not)."""
        self.any_transfers, self.any_vouchers = bool(self.transfers.any()), bool(self.vouchers.any())
        self.any_rec = bool(self.has_rec.any())
        self._rec_shared = bool((self.rec_cdf == self.rec_cdf[0]).all())
        self._restricted = [not mask.all() for mask in self.masks]
        self._transfer_vectors = self._vector_tables(self.transfers) if self.any_transfers else None

    @property
    def payoff_bounds(self) -> tuple[float, float]:
        """(min u, max u + the largest payment on offer): the range learners normalise rewards by."""
        low, high = self._bounds(self.transfers.max(initial=0.0), self.vouchers.max(initial=0.0))
        return float(low), float(high)

    @property
    def copy_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(B,) each copy's `payoff_bounds` with only its own payments on offer: a block under one intervention
        gets the bounds an engine under that intervention alone gives."""
        largest = [x.reshape(self.batch, -1).max(axis=1, initial=0.0) for x in (self.transfers, self.vouchers)]
        low, high = self._bounds(*largest)
        return np.broadcast_to(low, high.shape), high

    def _bounds(self, transfer: np.ndarray, voucher: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """min u and max u + (largest transfer + largest voucher, at least 1e-12) of the payoff tables."""
        table = self._tables if self.bayes is None else self.state_payoffs
        return table.min(), table.max() + np.maximum(transfer + voucher, 1e-12)

    # ----------------------------------------------------------------- one round
    def draw_recommendations(self) -> np.ndarray:
        """Draw the private recommendations for the coming round; (B, n), k_i where none is given.
        In a state game: draw the state and the signals instead (`draw_signals`)."""
        if self.bayes is not None:
            return self.draw_signals()
        u = self.rng.random(self.batch)                  # drawn even when unused: one stream order
        if not self.any_rec:
            self.recommendation = self._no_rec
            return self.recommendation
        if self._rec_shared:                             # one distribution: a binary search per game
            flat = np.minimum(np.searchsorted(self.rec_cdf[0], u), self.K - 1)
        else:
            flat = _inverse_cdf(self.rec_cdf.T, u)
        rec = flat[:, None] // self.strides % self._sizes               # the profile of each flat index
        self.recommendation = np.where(self.has_rec[:, None], rec, self._no_rec)
        return self.recommendation

    def draw_signals(self) -> np.ndarray:
        """A state game's round opening: s ~ prior, the signal profile ~ scheme[s], payoffs of state s;
        the recommendation is the signal when the signals recommend designs, else none (k_i)."""
        self.state = _inverse_cdf(self.prior_cdf[:, None], self.state_rng.random(self.batch))
        flat = _inverse_cdf(self.signal_cdf[self.state].T, self.rng.random(self.batch))
        self.signal = np.stack(np.unravel_index(flat, self.signals.sizes), axis=1)
        self._tables, self._vectors = self.state_payoffs, self.state_vectors
        self._select(self.state)
        self.recommendation = self.signal.copy() if self.signals.recommends else self._no_rec
        return self.recommendation

    def clear_recommendations(self) -> None:
        """No recommendation in force (a fresh episode), without drawing from the random stream."""
        self.recommendation = self._no_rec

    def strategies(self) -> list[np.ndarray]:
        """Each stakeholder's masked mixed strategy (B, k_i) for the coming round."""
        context = self.context
        self._show_offers()
        return [_masked(learner, context[:, i], mask, restricted)
                for i, (learner, mask, restricted) in enumerate(zip(self.learners, self.masks, self._restricted))]

    def signal_strategies(self) -> list[np.ndarray]:
        """A state game's learners' masked strategies for every signal value: (B, M_i, k_i) per stakeholder."""
        return [np.stack([_masked(learner, np.full(self.batch, m), mask, restricted) for m in range(size)], axis=1)
                for learner, mask, restricted, size in zip(self.learners, self.masks, self._restricted,
                                                           self.signals.sizes)]

    def offered(self, i: int) -> np.ndarray:
        """(B, k_i, K_-i): u_i + t_i of each of stakeholder i's designs against each profile of the others,
        the payoffs on offer this round (what the PettingZoo env shows stakeholder i)."""
        u = self._tables[self._table_of, i] + self.transfers[:, i]                  # (B, K)
        return np.moveaxis(u.reshape(self.batch, *self.shape), i + 1, 1).reshape(self.batch, self.shape[i], -1)

    def _show_offers(self) -> None:
        """Learners that read the offer (`see_payoffs`: PPO stakeholders) are shown it before they choose."""
        for i, learner in enumerate(self.learners):
            if hasattr(learner, "see_payoffs"):
                learner.see_payoffs(self.offered(i))

    def play(self, actions: np.ndarray | None = None, strategies: Sequence[np.ndarray] | None = None) -> RoundResult:
        """Play the round: draw designs from the learners (or take ``actions``, shape (B, n), or draw them from
        outside agents' ``strategies``, one (B, k_i) per stakeholder, exactly as from learners), pay, update."""
        if self.bayes is not None and self.state is None:
            raise RuntimeError("a state game's round starts with draw_signals (or step)")
        u = self.rng.random((self.batch, self.n))
        illegal = self._legal
        if actions is None:
            profile, chosen = np.empty((self.batch, self.n), np.int64), np.empty((self.batch, self.n))
            context = self.context
            if strategies is None:
                self._show_offers()
                learners = self.learners
            elif len(strategies) != self.n:
                raise ValueError(f"{self.n} stakeholders need {self.n} strategies, got {len(strategies)}")
            else:
                learners = [_Given(p, k, self.batch) for p, k in zip(strategies, self.shape)]
            for i, (learner, mask, restricted, k) in enumerate(zip(learners, self.masks, self._restricted,
                                                                   self.shape)):
                p = _masked(learner, context[:, i], mask, restricted, self._probs[:k]).T      # (k, B)
                profile[:, i] = _draw(p, u[:, i], self._cdfs[:k])
                chosen[:, i] = p[profile[:, i], self._games]
        else:
            profile, illegal = self._legalise(np.asarray(actions, dtype=np.int64).reshape(self.batch, self.n), u)
            chosen = np.ones((self.batch, self.n))
        result, vectors = self._pay(profile, chosen, illegal)
        if self.learners is not None and actions is None and strategies is None:
            rewards, context = result.rewards, self.context
            for i, learner in enumerate(self.learners):
                learner.update(Feedback(action=profile[:, i], reward=rewards[:, i],
                                        payoff_vector=vectors[i], probability=chosen[:, i],
                                        context=context[:, i], mask=self.masks[i]))
        return result

    def step(self) -> RoundResult:
        """A whole round with embedded learners: recommendations, then play."""
        self.draw_recommendations()
        return self.play()

    def _legalise(self, actions: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Replace a masked or out-of-range design by one drawn uniformly from the allowed designs
        (with the round's own uniform draw, so the random stream is the same either way)."""
        profile, illegal = actions.copy(), np.zeros(actions.shape, bool)
        for i, mask in enumerate(self.masks):
            a = actions[:, i]
            inside = (a >= 0) & (a < mask.shape[1])
            bad = ~inside | ~mask[np.arange(self.batch), np.where(inside, a, 0)]
            uniform = mask / mask.sum(axis=1, keepdims=True)
            profile[:, i] = np.where(bad, _draw(uniform.T, u[:, i]), a)
            illegal[:, i] = bad
        return profile, illegal

    def _pay(self, profile: np.ndarray, chosen: np.ndarray,
             illegal: np.ndarray) -> tuple[RoundResult, list[np.ndarray]]:
        """Utilities and payments of the played profiles, and every stakeholder's payoff vector
        u_i(d, a_-i) + t_i(d, a_-i) + v_i (the voucher only if d and a_-i follow the recommendation)."""
        index = profile @ self._all_strides                                   # (B, 1 + n)
        flat, others = index[:, 0], index[:, 1:]                              # the profile's, and each a_-i's
        utilities = self._tables.reshape(-1)[(self._table_rows + flat)[:, None] + self._players]   # (B, n)
        vectors = [table.take(rows + others[:, i], axis=0)
                   for i, (table, rows) in enumerate(zip(self._vectors, self._vector_rows))]
        if self.any_vouchers:
            rec_flat = np.minimum(self.recommendation, self._top) @ self.strides
            follows = self.has_rec[:, None] & (profile == self.recommendation)            # (B, n)
            voucher = self.vouchers.reshape(-1)[(self._own + rec_flat)[:, None] + self._players]   # (B, n) on offer
            payments = voucher * np.logical_and.reduce(follows, axis=1)[:, None]
        else:
            payments = np.zeros((self.batch, self.n))
        if self.any_transfers:
            payments = payments + self.transfers.reshape(-1)[(self._own + flat)[:, None] + self._players]
            vectors = [vector + table.take(rows + others[:, i], axis=0)
                       for i, (vector, table, rows) in enumerate(zip(vectors, self._transfer_vectors, self._own_others))]
        if self.any_vouchers:
            strays = ~follows
            others_follow = np.add.reduce(strays, axis=1)[:, None] == strays              # (B, n) all others follow
            for i, designs in enumerate(self._designs):
                gets_voucher = others_follow[:, i:i + 1] & (designs == self.recommendation[:, i:i + 1])
                vectors[i] = vectors[i] + voucher[:, i:i + 1] * gets_voucher
        result = RoundResult(profile, self.recommendation.copy(), utilities, payments, chosen, self.lam, illegal)
        if self.bayes is not None:
            result = replace(result, state=self.state.copy(), signal=self.signal.copy(),
                             objective=self.state_objective[self.state, flat])
        return result, vectors


class _Given:
    """An outside agent's strategy (B, k) behind the learners' `strategy` call."""

    def __init__(self, strategy: np.ndarray, k: int, batch: int):
        self.p = np.asarray(strategy, dtype=float)
        if self.p.shape != (batch, k) or not (np.isfinite(self.p).all() and (self.p >= 0).all()):
            raise ValueError(f"a strategy over {k} designs must be a ({batch}, {k}) array of nonnegative weights")

    def strategy(self, context: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.p


def _masked(learner: Learner, context: np.ndarray, mask: np.ndarray, restricted: bool = True,
            out: np.ndarray | None = None) -> np.ndarray:
    """The learner's strategy (B, k) in ``context`` restricted to ``mask`` (uniform on it if nothing is left);
    ``restricted`` False says the mask allows everything (multiplying by it would change nothing). Computed
    designs first (`envs.learner`), on the transpose of the learner's strategy, into ``out`` (k, B) if given."""
    p = learner.strategy(context, mask).T
    if restricted:
        p = p * mask.T
    total = design_sum(p)
    if np.minimum.reduce(total) > 0:                     # (total > 0).all(), NaN included, in one pass
        return np.divide(p, total, out=out).T
    uniform = mask.T / mask.sum(axis=1)
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), uniform).T


def _strides(shape: tuple[int, ...]) -> np.ndarray:
    """Row-major strides of a profile of ``shape``: profile @ strides is its flat index."""
    return np.array([int(np.prod(shape[i + 1:])) for i in range(len(shape))], dtype=np.int64)


def _inverse_cdf(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One index per column of the cumulative distributions ``cdf``, designs first (M, B or 1), from uniforms
    ``u`` (B,): the number of entries below u (counted in the smallest integers that hold M), at most M - 1."""
    below = np.add.reduce(cdf < u, axis=0, dtype=np.min_scalar_type(len(cdf)))
    return np.minimum(below, len(cdf) - 1).astype(np.int64)


def _draw(probs: np.ndarray, u: np.ndarray, cdf: np.ndarray | None = None) -> np.ndarray:
    """Inverse-CDF draws: one design per game from the strategies ``probs``, designs first (k, B), and
    uniforms ``u`` (B,); ``cdf`` (k, B) may hold the cumulative sums."""
    return _inverse_cdf(design_cumsum(probs, cdf), u)
