"""A fixed-size observation and action for meta-games of any shape up to (n_max players, k_max designs each).

One game-conditioned mediator policy (`mediator.equivariant.EquivariantPolicy`) serves games of
different shapes through `PaddedLayout`: every game is embedded into the padded shape
(k_max,) * n_max, and the policy's padded action is cut back to the exact action vector that
``ActionCodec(game, layout.families, vouchers=layout.vouchers, subsidy="incentive")`` decodes.

Padding scheme
--------------
* Designs: player i's designs 0..k_i-1 are real, designs k_i..k_max-1 are padding (design mask 0).
* Players: a game with n < n_max players gets n_max - n *dummy* players appended (player mask 0).
  A dummy player has exactly one design (design 0: design mask 1, strategy [1, 0, ...]) and payoff
  0 everywhere. The padded game is then a genuine n_max-player game that is strategically the same
  game: the dummy has nothing to choose, and the profiles whose designs are all real (design mask 1
  for every player, dummies included) are exactly the real game's profiles, each once (the dummy's
  coordinate is always 0). The same contraction / pooling code therefore works for every n, and the
  player mask tells the policy which players' outputs are real (and whom to pool over as "the other
  players": dummies are left out, so a 2-player game is seen as a 2-player game).
  Why not zero-pad the dummy's designs entirely (no real design)? Then the real profiles would not
  be profiles of the padded game at all (some coordinate would have no real design), and every
  pooling over a_-i would have to special-case missing players.

Observation (float32, flat, in this order; `PaddedLayout.obs_slices` gives the slices)
---------------------------------------------------------------------------------------
``payoffs``     n_max * k_max**n_max: the payoff tensor u / max|u| (the game's payoff scale), zero-padded
                to (n_max, k_max, ..., k_max), C order;
``strategies``  n_max * k_max: every stakeholder's current (masked) mixed strategy, zero-padded
                (a dummy plays design 0 with probability 1);
``designs``     n_max * k_max: design mask (1 for real designs; a dummy's design 0 counts as real);
``players``     n_max: player mask (1 for the game's real players, 0 for dummies).
No clock: as in envs.observation, nothing in the observation saturates past a training horizon.

Action (flat, in this order, enabled families only; `PaddedLayout.action_slices`)
---------------------------------------------------------------------------------
``restrict``    n_max * k_max, per (player, design): allowed iff >= 0 (codec rule);
``subsidize``   n_max * k_max, per (player, design): the codec's ``subsidy="incentive"`` weights;
``recommend``   k_max**n_max profile logits (C order of the padded profile tensor);
``vouchers``    n_max * k_max**n_max, per (player, profile) (only with ``vouchers=True``).
This is the codec's family order (restrict, subsidize, recommend followed by its vouchers), so
`unpad` is a single gather: the codec's entry j is the padded entry ``gather_index(shape)[j]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from envs.codec import FAMILIES, ActionCodec
from envs.game import DesignGame

OBS_PARTS = ("payoffs", "strategies", "designs", "players")


@dataclass(frozen=True)
class PaddedLayout:
    """The padded observation / action of games with at most ``n_max`` players and ``k_max`` designs each."""

    n_max: int = 3
    k_max: int = 16
    families: tuple[str, ...] = FAMILIES
    vouchers: bool = False
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        families = tuple(f for f in FAMILIES if f in tuple(self.families))
        unknown = set(self.families) - set(FAMILIES)
        if unknown or not families:
            raise ValueError(f"families must be among {', '.join(FAMILIES)}, got {list(self.families)}")
        if self.vouchers and "recommend" not in families:
            raise ValueError("vouchers need the recommend family")
        if self.n_max < 2 or self.k_max < 1:
            raise ValueError(f"need n_max >= 2 and k_max >= 1, got {self.n_max}, {self.k_max}")
        object.__setattr__(self, "families", families)

    # ----------------------------------------------------------------- sizes
    @property
    def n_profiles(self) -> int:
        """k_max ** n_max: profiles of the padded game."""
        return self.k_max ** self.n_max

    @property
    def parts(self) -> tuple[str, ...]:
        """The action blocks in order: the enabled families, then ``vouchers`` if on."""
        return self.families + (("vouchers",) if self.vouchers else ())

    @property
    def obs_sizes(self) -> dict[str, int]:
        n, k = self.n_max, self.k_max
        return {"payoffs": n * self.n_profiles, "strategies": n * k, "designs": n * k, "players": n}

    @property
    def action_sizes(self) -> dict[str, int]:
        n, k = self.n_max, self.k_max
        size = {"restrict": n * k, "subsidize": n * k, "recommend": self.n_profiles, "vouchers": n * self.n_profiles}
        return {p: size[p] for p in self.parts}

    @property
    def obs_slices(self) -> dict[str, slice]:
        return _slices(self.obs_sizes)

    @property
    def action_slices(self) -> dict[str, slice]:
        return _slices(self.action_sizes)

    @property
    def obs_dim(self) -> int:
        return sum(self.obs_sizes.values())

    @property
    def action_dim(self) -> int:
        return sum(self.action_sizes.values())

    def check_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        shape = tuple(int(k) for k in shape)
        if not 2 <= len(shape) <= self.n_max or not all(1 <= k <= self.k_max for k in shape):
            raise ValueError(f"a game of shape {shape} does not fit {self.n_max} players x {self.k_max} designs")
        return shape

    # ----------------------------------------------------------------- masks
    def design_mask(self, shape: Sequence[int]) -> np.ndarray:
        """(n_max, k_max) bool: real designs (a dummy player's single design 0 included)."""
        shape = self.check_shape(shape)
        ks = np.array(shape + (1,) * (self.n_max - len(shape)))
        return np.arange(self.k_max)[None, :] < ks[:, None]

    def player_mask(self, shape: Sequence[int]) -> np.ndarray:
        """(n_max,) bool: the game's real players."""
        return np.arange(self.n_max) < len(self.check_shape(shape))

    def profile_index(self, shape: Sequence[int]) -> np.ndarray:
        """(prod k_i,) int: the padded flat index of each real profile, in the C order of ``shape``."""
        shape = self.check_shape(shape)
        key = ("profiles", shape)
        if key not in self._cache:
            strides = self.k_max ** np.arange(self.n_max - 1, -1, -1)[:len(shape)]
            grid = np.indices(shape).reshape(len(shape), -1)
            self._cache[key] = strides @ grid
        return self._cache[key]

    def gather_index(self, shape: Sequence[int]) -> np.ndarray:
        """(A_game,) int: for each entry of the codec's action of a game of ``shape``, its padded entry."""
        shape = self.check_shape(shape)
        key = ("gather", shape)
        if key not in self._cache:
            slices, k, K = self.action_slices, self.k_max, self.n_profiles
            designs = np.concatenate([i * k + np.arange(ki) for i, ki in enumerate(shape)])
            profiles = self.profile_index(shape)
            blocks = []
            for part in self.parts:
                start = slices[part].start
                if part in ("restrict", "subsidize"):
                    blocks.append(start + designs)
                elif part == "recommend":
                    blocks.append(start + profiles)
                else:
                    blocks.append(start + (np.arange(len(shape))[:, None] * K + profiles[None, :]).ravel())
            self._cache[key] = np.concatenate(blocks)
        return self._cache[key]

    def action_mask(self, shape: Sequence[int]) -> np.ndarray:
        """(A_pad,) bool: which padded action entries are real for a game of ``shape``."""
        mask = np.zeros(self.action_dim, bool)
        mask[self.gather_index(shape)] = True
        return mask

    # ----------------------------------------------------------------- actions
    def unpad(self, action: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        """(B, A_pad) -> (B, A_game): the action ``ActionCodec(game, families, vouchers, subsidy="incentive")``
        decodes for a game of ``shape`` (a 1-d action gives a 1-d result)."""
        action = np.asarray(action)
        if action.shape[-1] != self.action_dim:
            raise ValueError(f"padded action has {action.shape[-1]} entries, expected {self.action_dim}")
        return action[..., self.gather_index(shape)]

    def pad(self, action: np.ndarray, shape: Sequence[int], fill: float = 0.0) -> np.ndarray:
        """The inverse of `unpad`: a game-shaped action (B, A_game) placed in a padded one (B, A_pad)."""
        action = np.asarray(action, dtype=float)
        index = self.gather_index(shape)
        if action.shape[-1] != index.size:
            raise ValueError(f"action of a {shape} game has {index.size} entries, got {action.shape[-1]}")
        out = np.full(action.shape[:-1] + (self.action_dim,), fill)
        out[..., index] = action
        return out

    def codec(self, game: DesignGame, **kwargs) -> ActionCodec:
        """The codec whose action `unpad` produces for ``game`` (budget / temperature via kwargs)."""
        self.check_shape(game.shape)
        return ActionCodec(game, self.families, vouchers=self.vouchers, subsidy="incentive", **kwargs)

    # ----------------------------------------------------------------- observations
    def encode(self, payoffs: np.ndarray, strategies: Sequence[np.ndarray]) -> np.ndarray:
        """(B, obs_dim) float32 observations of B games of one shape: ``payoffs`` (B, n, k_1, ..., k_n),
        ``strategies`` one (B, k_i) array per player."""
        u = np.asarray(payoffs, dtype=float)
        B, n, shape = u.shape[0], u.shape[1], self.check_shape(u.shape[2:])
        if n != len(shape) or len(strategies) != n:
            raise ValueError(f"payoffs of shape {u.shape} and {len(strategies)} strategies do not describe a game")
        N, k = self.n_max, self.k_max
        scale = np.maximum(np.abs(u.reshape(B, -1)).max(axis=1), 1e-12).reshape((B,) + (1,) * (n + 1))
        padded = np.zeros((B, N) + (k,) * N, np.float32)
        padded[(slice(None), slice(0, n)) + tuple(slice(0, ki) for ki in shape) + (0,) * (N - n)] = u / scale
        x = np.zeros((B, N, k), np.float32)
        for i, s in enumerate(strategies):
            s = np.asarray(s, dtype=float)
            if s.shape != (B, shape[i]):
                raise ValueError(f"player {i}'s strategies have shape {s.shape}, expected {(B, shape[i])}")
            x[:, i, :shape[i]] = s
        x[:, n:, 0] = 1.0
        parts = {"payoffs": padded.reshape(B, -1), "strategies": x.reshape(B, -1),
                 "designs": np.broadcast_to(self.design_mask(shape).ravel(), (B, N * k)),
                 "players": np.broadcast_to(self.player_mask(shape), (B, N))}
        return np.concatenate([parts[p].astype(np.float32) for p in OBS_PARTS], axis=1)

    def encode_game(self, game: DesignGame, strategies: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """(obs_dim,) observation of one game (uniform strategies by default)."""
        strategies = strategies or [np.full(k, 1.0 / k) for k in game.shape]
        return self.encode(game.payoffs[None], [np.asarray(s, float)[None] for s in strategies])[0]

    def split(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """The parts of observations (B, obs_dim): payoffs (B, n_max, k_max, ...), strategies / designs
        (B, n_max, k_max), players (B, n_max)."""
        obs = np.asarray(obs)
        B, N, k = obs.shape[0], self.n_max, self.k_max
        shapes = {"payoffs": (B, N) + (k,) * N, "strategies": (B, N, k), "designs": (B, N, k),
                  "players": (B, N)}
        return {p: obs[:, s].reshape(shapes[p]) for p, s in self.obs_slices.items()}


def _slices(sizes: dict[str, int]) -> dict[str, slice]:
    ends = np.cumsum(list(sizes.values()))
    return {p: slice(int(e - s), int(e)) for (p, s), e in zip(sizes.items(), ends)}
