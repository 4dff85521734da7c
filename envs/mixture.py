"""The versioned training distribution of meta-games a general learned mediator trains on and is judged on.

A *mixture* is a named, frozen distribution over meta-games: a weighted set of *generators*, each a
function ``(rng, shape) -> payoffs`` of shape ``(n, k_1, ..., k_n)`` with its own distribution of
shapes. ``mix:v1`` (`MIX_V1`) is version 1; it never changes. Changing a generator, a weight or a
shape distribution makes a new version (``mix:v2``), so that a model trained and scored on
``mix:v1`` stays comparable with every other model trained and scored on ``mix:v1``
(tests/test_mixture.py pins a few draws).

Generators (all payoffs finite; none is normalised: the environments divide by ``game.scale``)
------------------------------------------------------------------------------------------------
``uniform``            iid U[0, 1] payoffs (noise: mediation mostly does not matter).
``conflict``           zero-sum-ish: z ~ U[0, 1] per player, u = z - mean over players of z, plus
                       N(0, 0.05) noise (for two players u_2 = -u_1 + noise).
``common_interest``    one shared U[0, 1] payoff plus N(0, 0.05) private noise per player.
``coordination_trap``  stag hunt generalised to k designs and n players: a *stag* design paying
                       H = 1 only if every player plays stag (L in [0, 0.2] otherwise), a *trap*
                       (hare) paying T in [0.55, 0.85] whatever the others do (risk-dominant for
                       two players when T > (H + L) / 2, the basin learners fall into), extra
                       designs that are either further coordination designs (c in [T + 0.05,
                       0.95] if everyone plays them) or safe-but-worse designs; all-stag and
                       all-trap are strict pure equilibria of different welfare.
``dilemma_exploit``    prisoner's dilemma generalised: u_i(a) = g(a_i) + mean_{j != i} w(a_j), with a
                       cooperative design (g = 0, w = 1), a strictly dominant defect / exploit design
                       (g in [0.35, 0.6], w in [-0.3, 0.1]: exploiting harms the others) and other
                       designs in between (smaller g); the unique pure equilibrium (everyone
                       defects) is Pareto-dominated by everyone cooperating.
``bargaining``         Appendix A's `BargainingModel` (envs.catalog) with every parameter multiplied
                       by an independent lognormal factor exp(0.2 Z); shape 2x4 (with the tool, w.p.
                       3/4) or 2x2 (Example 2, without it). Designs keep the paper's order
                       (E1, C1) and ((E2,none), (C2,none), (E2,T), (C2,T)), renamed d0, d1, ...
``three_player``       three-player threshold public good: each design contributes x (a free ride:
                       x = 0; a full contribution: x = 1; the others in [0.25, 0.75]) at cost c x; the
                       good returns r sum(x) / 3 to each with r / 3 < c (free riding pays
                       locally) and a bonus Q > c to each once sum(x) >= theta in [1.2, 2.8] (so
                       one contributor never reaches it): all free riding is a strict equilibrium
                       far below the optimum (everyone contributing).
The structured generators (conflict, common_interest: noise only; coordination_trap,
dilemma_exploit, three_player) add bounded noise that keeps the stated equilibria strict, multiply
by a lognormal scale exp(0.5 Z) (coordination_trap, dilemma_exploit, three_player), and shuffle
every player's design labels independently (coordination_trap, dilemma_exploit, three_player).

Weights and shapes of mix:v1
----------------------------
``uniform 0.10, conflict 0.10, common_interest 0.10, coordination_trap 0.20, dilemma_exploit 0.20,
bargaining 0.15, three_player 0.15``. The first five draw two-player shapes: each k_i in 2..8 with
probabilities (0.30, 0.25, 0.20, 0.13, 0.05, 0.04, 0.03) for k = 2, ..., 8, the same k for both
players w.p. 1/2 and independent k_i otherwise; they also accept any n-player shape.
``bargaining`` draws 2x4 or 2x2 and accepts only those; ``three_player`` draws three players with
k_i in 2..4 (probabilities 0.45, 0.35, 0.20; equal w.p. 1/2) and accepts only three players.

draw(seed)
----------
``rng = numpy.random.default_rng(seed)``; the generator is ``rng.choice`` of the names by weight,
then its shape is drawn from the same ``rng``, then its payoffs. The game is named
``mix:v1:seed=123:coordination_trap:3x3``, its players P1, P2, ..., its designs d0, d1, ...;
`Mixture.describe` gives (generator, shape) without building the game.

draw_batch(first, count): one shape per batch
---------------------------------------------
The training VecEnv (envs.views.MediatorVecEnv's ``batches``) needs one shape per batch. The batch's
shape is the shape of ``draw(first)``; game b (b = 0, ..., count - 1) uses seed ``first + b``:
its rng picks a generator and draws that generator's own shape exactly as ``draw(first + b)``
does; if the generator does not accept the batch's shape, the same rng re-picks among the
generators that do (weights renormalised), and the payoffs are drawn at the batch's shape. So
game 0 is ``draw(first)``, and within a batch the generator frequencies are the weights
conditioned on accepting its shape (a 3-player batch: every generator but bargaining).

Reserved seeds
--------------
Seeds ``>= EVAL_SEED = 10**9`` are the evaluation split, never drawn in training: ``draw`` and
``draw_batch`` take ``split="train"`` (seeds in [0, EVAL_SEED), the default) or ``split="eval"``
(seeds >= EVAL_SEED) and raise `MixtureError` on a seed outside their split. The catalog
(``load_game("mix:v1:seed=S")``, ``game_family("mix:v1")``) names games, so it takes a seed's
split from the seed; ``game_batches("mix:v1")``, what training draws from, is the training split.
comparison.dynamics' ``UNSEEN_SEED`` (the first game of ``--generalize``) is this EVAL_SEED.

numpy only, on the ground floor (imports envs/ modules only).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable, Literal, Mapping

import numpy as np

from envs.catalog import BargainingModel, CatalogError
from envs.game import DesignGame

#: Seeds >= EVAL_SEED are reserved for evaluation and never drawn in training.
EVAL_SEED = 10**9

Split = Literal["train", "eval"]
Shape = tuple[int, ...]


class MixtureError(CatalogError):
    """A bad mixture spec, an unknown generator, or a seed outside the requested split."""


# --------------------------------------------------------------------------- shapes
K2 = (2, 3, 4, 5, 6, 7, 8)
K2_P = (0.30, 0.25, 0.20, 0.13, 0.05, 0.04, 0.03)
K3 = (2, 3, 4)
K3_P = (0.45, 0.35, 0.20)


def _ks(rng: np.random.Generator, n: int, ks: tuple[int, ...], p: tuple[float, ...]) -> Shape:
    """n design counts: the same for everyone w.p. 1/2, else independent draws."""
    if rng.random() < 0.5:
        return (int(rng.choice(ks, p=p)),) * n
    return tuple(int(x) for x in rng.choice(ks, size=n, p=p))


def two_player_shape(rng: np.random.Generator) -> Shape:
    return _ks(rng, 2, K2, K2_P)


def three_player_shape(rng: np.random.Generator) -> Shape:
    return _ks(rng, 3, K3, K3_P)


def bargaining_shape(rng: np.random.Generator) -> Shape:
    return (2, 4) if rng.random() < 0.75 else (2, 2)


def _any_shape(shape: Shape) -> bool:
    return len(shape) >= 2 and min(shape) >= 2


# --------------------------------------------------------------------------- helpers
def _scale(rng: np.random.Generator) -> float:
    return float(np.exp(0.5 * rng.standard_normal()))


def _shuffle(rng: np.random.Generator, u: np.ndarray) -> np.ndarray:
    """Every player's design labels permuted independently (the same permutation in every payoff slice)."""
    for i, k in enumerate(u.shape[1:]):
        u = np.take(u, rng.permutation(k), axis=i + 1)
    return u


def _others_mean(v: list[np.ndarray], i: int, shape: Shape) -> np.ndarray:
    """mean_{j != i} v_j(a_j) as a tensor over profiles (v_j indexed by player j's design)."""
    n = len(shape)
    total = np.zeros(shape)
    for j in range(n):
        if j != i:
            total = total + v[j].reshape([-1 if axis == j else 1 for axis in range(n)])
    return total / (n - 1)


# --------------------------------------------------------------------------- generators
def uniform(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.random((len(shape), *shape))


def conflict(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    z = rng.random((len(shape), *shape))
    return z - z.mean(axis=0) + 0.05 * rng.standard_normal(z.shape)


def common_interest(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    n = len(shape)
    return rng.random(shape)[None] + 0.05 * rng.standard_normal((n, *shape))


def coordination_trap(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Stag hunt with k designs: design 0 = stag, design 1 = trap, the rest coordination or safe (then shuffled)."""
    n, m = len(shape), min(shape)
    # extra design j >= 2 is a coordination design (available to everyone) w.p. 1/2, else safe-but-worse
    coord = {j for j in range(2, m) if rng.random() < 0.5}
    u = np.empty((n, *shape))
    for i in range(n):
        low, trap = rng.uniform(0.0, 0.2), rng.uniform(0.55, 0.85)
        ui = np.empty(shape)
        before = (slice(None),) * i                        # ui[(*before, j)]: player i plays j, any a_-i
        ui[(*before, 0)] = low
        ui[(0,) * n] = 1.0
        ui[(*before, 1)] = trap
        for j in range(2, shape[i]):
            if j in coord:
                ui[(*before, j)] = rng.uniform(0.0, 0.2)
                ui[(j,) * n] = rng.uniform(trap + 0.05, 0.95)
            else:
                ui[(*before, j)] = rng.uniform(low, trap - 0.1)
        u[i] = ui
    u += rng.uniform(-0.02, 0.02, u.shape)
    return _shuffle(rng, _scale(rng) * u)


def dilemma_exploit(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """u_i(a) = g(a_i) + mean_{j != i} w(a_j): design 0 cooperates, design 1 defects / exploits (then shuffled)."""
    n = len(shape)
    g, w = [], []
    for k in shape:
        gd = rng.uniform(0.35, 0.6)
        wd = rng.uniform(-0.3, 0.1)                         # < 0: the dominant design exploits the others
        gi = np.concatenate([[0.0, gd], rng.uniform(0.05, gd - 0.1, k - 2)])
        wi = np.concatenate([[1.0, wd], [rng.uniform(-0.3, 0.9 - x) for x in gi[2:]]])
        g.append(gi)
        w.append(wi)
    u = np.stack([g[i].reshape([-1 if a == i else 1 for a in range(n)]) + _others_mean(w, i, shape)
                  for i in range(n)])
    u = u + rng.uniform(-0.02, 0.02, u.shape)
    return _shuffle(rng, _scale(rng) * u)


BARGAINING_SPREAD = 0.2


def bargaining_model(rng: np.random.Generator, spread: float = BARGAINING_SPREAD) -> BargainingModel:
    """Appendix A's model with every parameter times exp(spread Z), Z standard normal (spread 0: the paper's)."""
    paper = BargainingModel()
    factors = np.exp(spread * rng.standard_normal(len(fields(BargainingModel))))
    return replace(paper, **{f.name: getattr(paper, f.name) * float(x)
                             for f, x in zip(fields(BargainingModel), factors)})


def bargaining(rng: np.random.Generator, shape: Shape, spread: float = BARGAINING_SPREAD) -> np.ndarray:
    if tuple(shape) not in ((2, 4), (2, 2)):
        raise MixtureError(f"bargaining games are 2x4 or 2x2, not {'x'.join(map(str, shape))}")
    return bargaining_model(rng, spread).game(allow_tool=tuple(shape) == (2, 4)).payoffs.copy()


def three_player(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Threshold public good: design 0 free rides, design 1 contributes fully (then shuffled)."""
    n = len(shape)
    if n != 3:
        raise MixtureError(f"three_player games have 3 players, not {n}")
    x = [np.concatenate([[0.0, 1.0], rng.uniform(0.25, 0.75, k - 2)]) for k in shape]
    c = rng.uniform(0.4, 0.8)
    r = 3 * c * rng.uniform(0.35, 0.75)                    # r / 3 < c: contributing costs more than it returns
    theta, bonus = rng.uniform(1.2, 2.8), c * rng.uniform(1.0, 2.0)
    total = sum(xi.reshape([-1 if a == i else 1 for a in range(n)]) for i, xi in enumerate(x))
    shared = r * total / n + bonus * (total >= theta)
    u = np.stack([shared - c * x[i].reshape([-1 if a == i else 1 for a in range(n)]) for i in range(n)])
    u = u + rng.uniform(-0.005, 0.005, u.shape)
    return _shuffle(rng, _scale(rng) * u)


@dataclass(frozen=True)
class Generator:
    """A named generator: payoffs at a shape, its own shape distribution and the shapes it accepts."""

    name: str
    payoffs: Callable[[np.random.Generator, Shape], np.ndarray]
    sample_shape: Callable[[np.random.Generator], Shape]
    accepts: Callable[[Shape], bool]
    description: str


GENERATORS: dict[str, Generator] = {g.name: g for g in (
    Generator("uniform", uniform, two_player_shape, _any_shape, "iid U[0,1] payoffs"),
    Generator("conflict", conflict, two_player_shape, _any_shape,
              "zero-sum-ish: payoffs minus their mean over players, plus small noise"),
    Generator("common_interest", common_interest, two_player_shape, _any_shape,
              "a shared U[0,1] payoff plus small private noise"),
    Generator("coordination_trap", coordination_trap, two_player_shape, _any_shape,
              "stag hunt with k designs: a payoff-dominant profile and a safe trap design (labels shuffled)"),
    Generator("dilemma_exploit", dilemma_exploit, two_player_shape, _any_shape,
              "prisoner's dilemma with k designs: a cooperative profile and a dominant defect/exploit "
              "design (labels shuffled)"),
    Generator("bargaining", bargaining, bargaining_shape, lambda s: tuple(s) in ((2, 4), (2, 2)),
              "Appendix A's bargaining model with lognormally perturbed parameters; designs in the paper's "
              "order: P1 (E1, C1), P2 ((E2,none), (C2,none)[, (E2,T), (C2,T)])"),
    Generator("three_player", three_player, three_player_shape, lambda s: len(s) == 3 and min(s) >= 2,
              "three-player threshold public good: free riding is an equilibrium far below everyone "
              "contributing (labels shuffled)"),
)}


def shape_label(shape: Shape) -> str:
    return "x".join(str(k) for k in shape)


# --------------------------------------------------------------------------- the mixture
@dataclass(frozen=True, eq=False)
class Mixture:
    """A named, versioned distribution of meta-games: generator name -> weight (see the module docstring)."""

    name: str
    weights: Mapping[str, float]

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(GENERATORS)
        if unknown:
            raise MixtureError(f"unknown generator(s) {', '.join(sorted(unknown))}; known: {', '.join(GENERATORS)}")
        if not self.weights or any(not w > 0 for w in self.weights.values()):
            raise MixtureError("a mixture needs positive weights")
        total = sum(self.weights.values())
        object.__setattr__(self, "weights", {k: w / total for k, w in self.weights.items()})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.weights)

    @property
    def probabilities(self) -> np.ndarray:
        return np.array([self.weights[k] for k in self.names])

    # ----------------------------------------------------------------- seeds
    @staticmethod
    def split_of(seed: int) -> Split:
        return "eval" if seed >= EVAL_SEED else "train"

    def _check(self, seed: int, split: Split, count: int = 1) -> int:
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise MixtureError(f"{self.name}: a seed is an integer >= 0, got {seed!r}")
        seed, last = int(seed), int(seed) + count - 1
        if split == "train" and last >= EVAL_SEED:
            raise MixtureError(f"{self.name}: seeds >= {EVAL_SEED} are reserved for evaluation; "
                               f"a training draw asked for seed {last}")
        if split == "eval" and seed < EVAL_SEED:
            raise MixtureError(f"{self.name}: evaluation seeds start at {EVAL_SEED}, got {seed}")
        if split not in ("train", "eval"):
            raise MixtureError(f"split is 'train' or 'eval', got {split!r}")
        return seed

    # ----------------------------------------------------------------- drawing
    def _pick(self, rng: np.random.Generator, shape: Shape | None) -> tuple[str, Shape]:
        """The generator and shape of one draw: draw()'s stream; with a batch shape, re-picked if needed."""
        name = self.names[int(rng.choice(len(self.names), p=self.probabilities))]
        own = GENERATORS[name].sample_shape(rng)
        if shape is None:
            return name, own
        if not GENERATORS[name].accepts(shape):
            ok = [k for k in self.names if GENERATORS[k].accepts(shape)]
            if not ok:
                raise MixtureError(f"{self.name}: no generator accepts shape {shape_label(shape)}")
            p = np.array([self.weights[k] for k in ok])
            name = ok[int(rng.choice(len(ok), p=p / p.sum()))]
        return name, tuple(shape)

    def _game(self, seed: int, shape: Shape | None) -> DesignGame:
        rng = np.random.default_rng(seed)
        name, shape = self._pick(rng, shape)
        gen = GENERATORS[name]
        payoffs = np.asarray(gen.payoffs(rng, shape), dtype=float)
        if payoffs.shape != (len(shape), *shape) or not np.isfinite(payoffs).all():
            raise MixtureError(f"generator {name} returned payoffs of shape {payoffs.shape} at {shape}")
        return DesignGame(tuple(f"P{i + 1}" for i in range(len(shape))),
                          tuple(tuple(f"d{j}" for j in range(k)) for k in shape), payoffs,
                          name=f"{self.name}:seed={seed}:{name}:{shape_label(shape)}",
                          description=f"{self.name} draw, seed {seed}: {name} ({gen.description})")

    def describe(self, seed: int, split: Split = "train") -> tuple[str, Shape]:
        """(generator name, shape) of ``draw(seed)``, without building the game."""
        return self._pick(np.random.default_rng(self._check(seed, split)), None)

    def draw(self, seed: int, split: Split = "train") -> DesignGame:
        """The game of ``seed`` (deterministic); ``split`` says which seeds are allowed (module docstring)."""
        return self._game(self._check(seed, split), None)

    def draw_batch(self, first: int, count: int, split: Split = "train") -> list[DesignGame]:
        """``count`` games of one shape, seeds first, ..., first + count - 1 (the rule of the module docstring)."""
        if count < 1:
            raise MixtureError(f"a batch holds at least one game, got {count}")
        first = self._check(first, split, count)
        _, shape = self._pick(np.random.default_rng(first), None)
        return [self._game(first + b, shape) for b in range(count)]

    def game(self, seed: int) -> DesignGame:
        """``draw(seed)`` in the split the seed belongs to (the catalog names games of both splits)."""
        return self.draw(seed, self.split_of(seed))


MIX_V1 = Mixture(name="mix:v1", weights={
    "uniform": 0.10, "conflict": 0.10, "common_interest": 0.10, "coordination_trap": 0.20,
    "dilemma_exploit": 0.20, "bargaining": 0.15, "three_player": 0.15,
})

MIXTURES: dict[str, Mixture] = {MIX_V1.name: MIX_V1}


def draw(seed: int, split: Split = "train") -> DesignGame:
    """``MIX_V1.draw``."""
    return MIX_V1.draw(seed, split)


def draw_batch(first: int, count: int, split: Split = "train") -> list[DesignGame]:
    """``MIX_V1.draw_batch``."""
    return MIX_V1.draw_batch(first, count, split)


def describe(seed: int, split: Split = "train") -> tuple[str, Shape]:
    """``MIX_V1.describe``."""
    return MIX_V1.describe(seed, split)


def is_mixture_spec(spec: str) -> bool:
    return spec.strip().startswith("mix:")


def parse_mixture_spec(spec: str) -> tuple[Mixture, int | None]:
    """``mix:v1`` -> (MIX_V1, None); ``mix:v1:seed=7`` -> (MIX_V1, 7)."""
    head, _, rest = spec.strip().partition(":")
    version, _, params = rest.partition(":")
    name = f"{head}:{version.strip()}"
    if name not in MIXTURES:
        raise MixtureError(f"unknown mixture {name!r}; known: {', '.join(MIXTURES)}")
    seed = None
    for item in filter(None, (s.strip() for s in params.split(","))):
        key, eq, value = item.partition("=")
        if key.strip() != "seed" or not eq or seed is not None:
            raise MixtureError(f"bad parameter {item!r} in {spec!r}: a mixture takes one seed=N")
        try:
            seed = int(value.strip())
        except ValueError:
            raise MixtureError(f"seed must be an integer >= 0, got {value.strip()!r}") from None
        if seed < 0:
            raise MixtureError(f"seed must be an integer >= 0, got {seed}")
    return MIXTURES[name], seed
