"""A game-conditioned mediator policy equivariant to relabelling designs and players (NES / NfgTransformer style).

`EquivariantPolicy` is a stable-baselines3 `ActorCriticPolicy` for the padded observation and action of
`envs.padding.PaddedLayout`: one set of weights serves every game of 2..n_max players and 1..k_max
designs each. It reads the padded payoff tensor, the stakeholders' current strategies and the masks,
builds one embedding h_{i,d} per (player, design), mixes them with weights shared across players and
designs, and reads every action entry off the embeddings of the designs it concerns:

* features of (i, d) (all permutation-equivariant, pooled over real profiles a_-i of the others only):
  u_i(d, x_-i) under the others' current strategies; its advantage over i's current strategy
  (u_i(d, x_-i) - u_i(x)), its gap to the best reply; mean / max / min over a_-i of i's own payoff, of
  the other real players' mean payoff and of welfare at (d, a_-i) (and their expectations under x_-i);
  the best-reply gap max_d' u_i(d', a_-i) - u_i(d, a_-i) (expected, mean, fraction of a_-i where d is a
  best reply); how far the best welfare with d, max_{a_-i} W(d, a_-i), is below the best welfare max_a W(a)
  (0 iff d is in a welfare-optimal profile); x_i(d) and x_i(d) - 1/k_i; log k_i / log k_max; n / n_max.
* mixing layers: h_{i,d} <- LayerNorm(h_{i,d} + MLP[h_{i,d}, mean_{d'} h_{i,d'}, mean_{j != i} mean_{e} h_{j,e},
  sum_{j,e} A^own_{i,d;j,e} h_{j,e}, sum_{j,e} A^oth_{i,d;j,e} h_{j,e}]), the last two weighting player j's
  designs e by the centred pairwise payoff of i (resp. of j) at (d, e) with everyone else at x
  (an NfgTransformer-like payoff-conditioned message, cheap because it is a fixed, not a learned,
  attention). Means run over real designs of real players only (design mask x player mask).
* heads: restrict / subsidize: an MLP of h_{i,d} (one entry per real design); recommend: an MLP of
  sum_i W h_{i,a_i} + V phi(a) per real profile a (evaluated on the real profiles only), where phi(a) = welfare, min / max payoff, the largest and
  mean deviation gain, log(1 + K P_x(a)), welfare minus the best welfare; vouchers: the same
  profile code plus W' h_{i,a_i} + V' phi_i(a) (phi_i = u_i(a), i's deviation gain, x_i(a_i)) per
  (player, profile); value: an MLP of the masked mean and max of h, E_x[welfare], max welfare.
* action distribution: a diagonal Gaussian (`MaskedDiagGaussian`) with one learned log-std per action
  block (restrict, subsidize, recommend, vouchers), so it stays equivariant; its log-probability and
  entropy sum over the game's real entries only (read from the observation's masks), and padded
  entries are sampled as 0 — padding adds no noise to PPO's ratio.

Restriction parameterisation. The codec allows design d iff its entry is >= 0 (and always the
player's highest entry). Under Gaussian exploration the sign of an entry is a Bernoulli draw with
ban probability Phi(-mu/sigma), so PPO effectively learns one ban probability per design through the
mean mu (and the block's sigma). The restrict head's output bias starts at ``init_mean["restrict"]``
= +0.5 with sigma = exp(log_std_init) ~ 0.5: the deterministic action bans nothing (the zero-intervention
baseline), while exploration bans each real design in ~16% of the decision windows, often enough to
give every design's ban a learning signal but rare enough that the learners' dynamics are not
scrambled (mu = 0 would ban half of a 16-design menu every window; a large mu would never try a ban).
The head sees log k_i, so it can learn to lower the ban rate of large menus.
Subsidies start at mean -0.1: the deterministic initial action pays nothing (the codec pays max(x, 0)),
while exploration (sigma ~ 0.5) still offers a payment in ~40% of the windows. Vouchers start where the
codec's `initial_mean` starts them (`envs.codec.VOUCHER_START`: what obedience needs).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import DiagGaussianDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn
from torch.distributions import Normal

from envs.codec import VOUCHER_START
from envs.padding import PaddedLayout

LETTERS = "abcdefghijklmnopqrstuvwxy"
BIG = 1e9
N_DESIGN_FEATURES = 22
N_PROFILE_FEATURES = 7
N_PLAYER_PROFILE_FEATURES = 3
DEFAULT_INIT_MEAN = {"restrict": 0.5, "subsidize": -0.1, "recommend": 0.0, "vouchers": VOUCHER_START}


def padded_spaces(layout: PaddedLayout) -> tuple[spaces.Box, spaces.Box]:
    """The observation and action spaces of ``layout`` (both Box in [-1, 1], float32)."""
    return (spaces.Box(-1.0, 1.0, (layout.obs_dim,), np.float32),
            spaces.Box(-1.0, 1.0, (layout.action_dim,), np.float32))


# --------------------------------------------------------------------------- distribution
class MaskedDiagGaussian(DiagGaussianDistribution):
    """A diagonal Gaussian over the padded action whose log-probability and entropy count only the
    real entries (``mask`` (B, A) of 0/1); padded entries are sampled (and returned as mode) as 0."""

    def __init__(self, action_dim: int):
        super().__init__(action_dim)
        self.mask: th.Tensor | None = None

    def proba_distribution(self, mean_actions: th.Tensor, log_std: th.Tensor,  # type: ignore[override]
                           mask: th.Tensor | None = None) -> "MaskedDiagGaussian":
        self.distribution = Normal(mean_actions, th.ones_like(mean_actions) * log_std.exp())
        self.mask = th.ones_like(mean_actions) if mask is None else mask.to(mean_actions.dtype)
        return self

    def log_prob(self, actions: th.Tensor) -> th.Tensor:
        return (self.distribution.log_prob(actions) * self.mask).sum(dim=-1)

    def entropy(self) -> th.Tensor:
        return (self.distribution.entropy() * self.mask).sum(dim=-1)

    def sample(self) -> th.Tensor:
        return self.distribution.rsample() * self.mask

    def mode(self) -> th.Tensor:
        return self.distribution.mean * self.mask


# --------------------------------------------------------------------------- game features
def _outer(vectors: list[th.Tensor]) -> th.Tensor:
    """(B, k^m): the outer product of m (B, k) tensors, flattened in C order."""
    out = vectors[0]
    for v in vectors[1:]:
        out = (out[:, :, None] * v[:, None, :]).flatten(1)
    return out


def _own_first(t: th.Tensor, i: int) -> th.Tensor:
    """(B, k, k^(N-1)): a (B, k, ..., k) tensor with player i's axis first, the others' flattened."""
    return t.movedim(1 + i, 1).flatten(2)


def _pool(t: th.Tensor, q: th.Tensor, w: th.Tensor) -> list[th.Tensor]:
    """Expectation under q and masked (by w) mean, max, min of t (B, k, R) over its last axis."""
    q, w = q[:, None, :], w[:, None, :]
    valid = (w > 0).expand_as(t)
    mean = (t * w).sum(-1) / w.sum(-1).clamp_min(1.0)
    return [(t * q).sum(-1), mean, t.masked_fill(~valid, -BIG).amax(-1), t.masked_fill(~valid, BIG).amin(-1)]


class GameFeatures:
    """Everything the policy computes from a padded observation batch without learned weights."""

    def __init__(self, layout: PaddedLayout, obs: th.Tensor):
        N, K, B = layout.n_max, layout.k_max, obs.shape[0]
        sl = layout.obs_slices
        obs = obs.float().reshape(B, -1)
        designs = obs[:, sl["designs"]].reshape(B, N, K) > 0.5
        # work on the batch's largest real menu k <= k_max only: every feature is masked, so cropping the
        # all-padding tail changes nothing but the cost (a 2 x 4 batch is 3 x 4^3, not 3 x 16^3, entries)
        k = int(designs.any(0).any(0).nonzero().max()) + 1 if designs.any() else 1
        self.N, self.k, self.B, self.k_max = N, k, B, K
        crop = (slice(None), slice(None)) + (slice(0, k),) * N
        self.u = obs[:, sl["payoffs"]].reshape((B, N) + (K,) * N)[crop]
        self.x = obs[:, sl["strategies"]].reshape(B, N, K)[:, :, :k]
        self.m = designs[:, :, :k].float()
        self.p = (obs[:, sl["players"]] > 0.5).float()
        self.me = self.m * self.p[:, :, None]                         # real designs of real players
        self.n_designs = self.m.sum(-1).clamp_min(1.0)                # (B, N)
        n_real = self.p.sum(-1, keepdim=True)                          # (B, 1)
        self.n_others = (n_real - self.p).clamp_min(1.0)               # (B, N): real players other than i
        self.profiles = self._axes(self.m)                             # (B, k..k) real profiles
        self._design_features(layout, n_real)
        self._pair_weights()
        self._profile_features()

    def _at_axis(self, v: th.Tensor, i: int) -> th.Tensor:
        """(B, k) -> (B, 1, .., k at axis i, .., 1) for broadcasting over profiles."""
        shape = [self.B] + [1] * self.N
        shape[1 + i] = self.k
        return v.reshape(shape)

    def _axes(self, v: th.Tensor) -> th.Tensor:
        """prod_i v[:, i, a_i]: (B, N, k) -> (B, k, ..., k)."""
        out = self._at_axis(v[:, 0], 0)
        for i in range(1, self.N):
            out = out * self._at_axis(v[:, i], i)
        return out

    def _design_features(self, layout: PaddedLayout, n_real: th.Tensor) -> None:
        u, x, m, p, N = self.u, self.x, self.m, self.p, self.N
        pe = p.reshape((self.B, N) + (1,) * N)
        self.welfare = (u * pe).sum(1)                                 # (B, k..k)
        log_k = math.log(layout.k_max) if layout.k_max > 1 else 1.0
        real = self._axes(m) > 0
        best_welfare = self.welfare.masked_fill(~real, -BIG).flatten(1).amax(-1)     # (B,) max_a W(a)
        per_player = []
        for i in range(N):
            others = [j for j in range(N) if j != i]
            q = _outer([x[:, j] for j in others])                      # (B, R) others' product strategy
            w = _outer([m[:, j] for j in others])                      # (B, R) others' real profiles
            own = _own_first(u[:, i], i)                               # (B, k, R)
            rest = _own_first(self.welfare - p[:, i].reshape((-1,) + (1,) * N) * u[:, i], i)
            rest = rest / self.n_others[:, i, None, None]
            wel = _own_first(self.welfare, i)
            mi = m[:, i, :, None] > 0
            gap = own.masked_fill(~mi, -BIG).amax(1, keepdim=True) - own
            best = (gap <= 1e-6).float()
            pooled = _pool(own, q, w) + _pool(rest, q, w) + _pool(wel, q, w)
            wq, ww = q[:, None, :], w[:, None, :]
            denom = ww.sum(-1).clamp_min(1.0)
            pooled += [(gap * wq).sum(-1), (gap * ww).sum(-1) / denom, (best * ww).sum(-1) / denom]
            e = pooled[0]
            value = (x[:, i] * e).sum(-1, keepdim=True)
            best_e = e.masked_fill(m[:, i] == 0, -BIG).amax(-1, keepdim=True)
            k_i = self.n_designs[:, i, None].expand_as(e)
            best_with_d = wel.masked_fill(~(w[:, None, :] > 0), -BIG).amax(-1)      # max_{a_-i} W(d, a_-i)
            per_player.append(th.stack(pooled + [best_with_d - best_welfare[:, None], 
                e - value, e - best_e, x[:, i], x[:, i] - 1.0 / k_i, th.log(k_i) / log_k,
                (n_real / N).expand_as(e)], dim=-1))
        feats = th.stack(per_player, dim=1)                            # (B, N, k, F)
        self.design = feats * self.m[..., None]

    def _pair_weights(self) -> None:
        """A^mean (B, N, N, k) and A^own, A^oth (B, N, k, N, k): weights of player j's design e in the
        messages to player i's design d (zero for j = i, for dummies and padded designs)."""
        N, k, B, u, x, m, p = self.N, self.k, self.B, self.u, self.x, self.m, self.p
        eye = th.eye(N, device=u.device)
        base = (p[:, None, :] * (1 - eye)[None]) / self.n_others[:, :, None]      # (B, i, j)
        a_mean = base[..., None] * m[:, None, :, :] / self.n_designs[:, None, :, None]  # (B, i, j, e)
        own = u.new_zeros(B, N, N, k, k)
        oth = u.new_zeros(B, N, N, k, k)
        letters = LETTERS[:N]
        for i in range(N):
            for j in range(N):
                if i == j:
                    continue
                rest = [r for r in range(N) if r not in (i, j)]
                spec = f"zp{letters}," + ",".join(f"z{letters[r]}" for r in rest)
                out = th.einsum(spec.rstrip(",") + f"->zp{letters[i]}{letters[j]}", u, *[x[:, r] for r in rest])
                own[:, i, j], oth[:, i, j] = out[:, i], out[:, j]

        def centred(t: th.Tensor) -> th.Tensor:     # centre over e (player j's real designs)
            mj = m[:, None, :, None, :]
            mean = (t * mj).sum(-1, keepdim=True) / self.n_designs[:, None, :, None, None]
            return (t - mean) * mj

        self.a_mean = a_mean
        scale = base[:, :, :, None, None] / self.n_designs[:, None, :, None, None]
        self.a_own = (centred(own) * scale).permute(0, 1, 3, 2, 4)    # (B, i, d, j, e)
        self.a_oth = (centred(oth) * scale).permute(0, 1, 3, 2, 4)

    def _profile_features(self) -> None:
        u, p, m, x, N, B = self.u, self.p, self.m, self.x, self.N, self.B
        pe = p.reshape((B, N) + (1,) * N) > 0
        dev = []
        for i in range(N):
            mi = self._at_axis(m[:, i], i) > 0
            dev.append(u[:, i].masked_fill(~mi, -BIG).amax(1 + i, keepdim=True) - u[:, i])
        dev = th.stack(dev, 1) * pe                                          # (B, N, k..k), 0 for dummies
        n_real = p.sum(-1).reshape((B,) + (1,) * N)
        valid = self.profiles > 0
        prob = self._axes(x)
        k_real = self.profiles.flatten(1).sum(-1).reshape((B,) + (1,) * N)
        w = self.welfare
        best_w = w.masked_fill(~valid, -BIG).flatten(1).amax(-1).reshape((B,) + (1,) * N)
        self.profile = th.stack([
            w, u.masked_fill(~pe, BIG).amin(1), u.masked_fill(~pe, -BIG).amax(1), dev.amax(1),
            dev.sum(1) / n_real, th.log1p(prob * k_real), w - best_w], dim=-1) * valid[..., None]
        xi = th.stack([self._at_axis(x[:, i], i).expand_as(w) for i in range(N)], 1)
        self.player_profile = th.stack([u, dev, xi], dim=-1)                 # (B, N, k..k, 3)
        self.expected_welfare = (w * prob).flatten(1).sum(-1, keepdim=True)
        self.best_welfare = best_w.reshape(B, 1)

    # ----------------------------------------------------------------- back to the padded layout
    def pad_designs(self, t: th.Tensor) -> th.Tensor:
        """(B, N, k) -> (B, N * k_max): per-design entries in the layout's places (0 beyond the crop)."""
        return nn.functional.pad(t, (0, self.k_max - self.k)).flatten(1)

    def profile_places(self) -> th.Tensor:
        """(k^N,) long: the padded flat index of each cropped profile (C order)."""
        digits = th.cartesian_prod(*[th.arange(self.k)] * self.N).reshape(-1, self.N)
        return digits @ (self.k_max ** th.arange(self.N - 1, -1, -1))

    def pad_profiles(self, t: th.Tensor) -> th.Tensor:
        """(B, ..., k^N) -> (B, ..., k_max^N): per-profile entries in the layout's places."""
        out = t.new_zeros(t.shape[:-1] + (self.k_max ** self.N,))
        return out.index_copy(-1, self.profile_places().to(t.device), t)

    def action_mask(self, layout: PaddedLayout) -> th.Tensor:
        """(B, A_pad) 0/1: the real entries of each game's action (as `PaddedLayout.action_mask`)."""
        per_design = self.pad_designs(self.me)
        profiles = self.pad_profiles(self.profiles.flatten(1))
        blocks = {"restrict": per_design, "subsidize": per_design, "recommend": profiles,
                  "vouchers": self.pad_profiles(self.p[:, :, None] * self.profiles.flatten(1)[:, None, :]).flatten(1)}
        return th.cat([blocks[part] for part in layout.parts], dim=1)


# --------------------------------------------------------------------------- networks
def _mlp(sizes: list[int], act: type[nn.Module], last_act: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*(layers if last_act else layers[:-1]))


class MixingLayer(nn.Module):
    """h_{i,d} <- LN(h + MLP[h, own mean, others' mean, payoff-weighted messages]), shared weights."""

    def __init__(self, width: int, act: type[nn.Module]):
        super().__init__()
        self.mlp = _mlp([5 * width, width, width], act)
        self.norm = nn.LayerNorm(width)

    def forward(self, h: th.Tensor, g: GameFeatures) -> th.Tensor:
        me = g.me[..., None]
        own = (h * me).sum(2, keepdim=True) / g.me.sum(-1).clamp_min(1.0)[..., None, None]
        others = th.einsum("bije,bjeh->bih", g.a_mean, h)[:, :, None, :]
        msg_own = th.einsum("bidje,bjeh->bidh", g.a_own, h)
        msg_oth = th.einsum("bidje,bjeh->bidh", g.a_oth, h)
        z = th.cat([h, own.expand_as(h), others.expand_as(h), msg_own, msg_oth], dim=-1)
        return self.norm(h + self.mlp(z)) * me


class Trunk(nn.Module):
    """Per-(player, design) embeddings (B, N, k, width) of a padded game."""

    def __init__(self, width: int, layers: int, act: type[nn.Module]):
        super().__init__()
        self.embed = _mlp([N_DESIGN_FEATURES, width, width], act)
        self.mix = nn.ModuleList(MixingLayer(width, act) for _ in range(layers))

    def forward(self, g: GameFeatures) -> th.Tensor:
        h = self.embed(g.design) * g.me[..., None]
        for layer in self.mix:
            h = layer(h, g)
        return h


def _pooled(h: th.Tensor, g: GameFeatures) -> th.Tensor:
    """(B, 2 width): masked mean and max of h over real designs of real players."""
    me = g.me[..., None]
    mean = (h * me).sum((1, 2)) / g.me.sum((1, 2)).clamp_min(1.0)[:, None]
    top = h.masked_fill(me == 0, -BIG).amax((1, 2))
    return th.cat([mean, top], dim=-1)


# --------------------------------------------------------------------------- the policy
class EquivariantPolicy(ActorCriticPolicy):
    """An SB3 actor-critic policy over `PaddedLayout` observations / actions, equivariant to relabelling
    the designs of any player and to relabelling players.

    policy_kwargs:
      ``layout``: a `PaddedLayout` (or a dict of its fields); default ``PaddedLayout()``;
      ``families`` / ``vouchers``: override the layout's (the action space must match the result);
      ``width`` (64): embedding width of h_{i,d}; ``layers`` (2): number of mixing layers;
      ``profile_width`` (width // 2): width of the per-profile recommend / voucher code;
      ``separate_value`` (False): give the critic its own trunk (else the trunk is shared);
      ``init_mean``: initial mean per action block (default restrict +0.5, subsidize -0.1, recommend 0, vouchers
        `VOUCHER_START`);
      ``log_std_init`` (-0.7): initial log-std of every block; ``activation_fn`` (nn.SiLU);
      plus ActorCriticPolicy's optimizer arguments. gSDE is not supported.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule,
                 layout: PaddedLayout | dict | None = None, families: tuple[str, ...] | None = None,
                 vouchers: bool | None = None, width: int = 64, layers: int = 2, profile_width: int | None = None,
                 separate_value: bool = False, init_mean: dict[str, float] | None = None,
                 log_std_init: float = -0.7, activation_fn: type[nn.Module] = nn.SiLU, **kwargs: Any):
        layout = PaddedLayout(**layout) if isinstance(layout, dict) else (layout or PaddedLayout())
        changes = {name: value for name, value in (("families", families), ("vouchers", vouchers)) if value is not None}
        layout = dataclasses.replace(layout, **changes) if changes else layout
        if observation_space.shape != (layout.obs_dim,) or action_space.shape != (layout.action_dim,):
            raise ValueError(f"spaces {observation_space.shape}, {action_space.shape} do not match the layout's "
                             f"({layout.obs_dim},), ({layout.action_dim},)")
        if kwargs.get("use_sde"):
            raise ValueError("EquivariantPolicy does not support gSDE")
        self.layout, self.width, self.layers = layout, int(width), int(layers)
        self.profile_width = int(profile_width or max(8, width // 2))
        self.separate_value = bool(separate_value)
        self.init_mean = {**DEFAULT_INIT_MEAN, **(init_mean or {})}
        for name in ("net_arch", "ortho_init"):
            kwargs.pop(name, None)
        super().__init__(observation_space, action_space, lr_schedule, net_arch=[], activation_fn=activation_fn,
                         ortho_init=False, log_std_init=log_std_init, **kwargs)

    # ----------------------------------------------------------------- construction
    def _build(self, lr_schedule) -> None:
        act, E, P, layout = self.activation_fn, self.width, self.profile_width, self.layout
        self.action_dist = MaskedDiagGaussian(layout.action_dim)
        self.trunk = Trunk(E, self.layers, act)
        self.value_trunk = Trunk(E, self.layers, act) if self.separate_value else None
        self.heads = nn.ModuleDict()
        for family in ("restrict", "subsidize"):
            if family in layout.families:
                self.heads[family] = _mlp([E, E, 1], act)
        if "recommend" in layout.families:
            self.rec_design = nn.Linear(E, P, bias=False)
            self.rec_profile = nn.Linear(N_PROFILE_FEATURES, P)
            self.heads["recommend"] = nn.Sequential(act(), *_mlp([P, P, 1], act))
        if layout.vouchers:
            self.voucher_design = nn.Linear(E, P, bias=False)
            self.voucher_player = nn.Linear(N_PLAYER_PROFILE_FEATURES, P)
            self.heads["vouchers"] = nn.Sequential(act(), *_mlp([P, P, 1], act))
        self.value_net = _mlp([2 * E + 2, E, E, 1], act)
        for part, head in self.heads.items():             # small outputs around the block's initial mean
            last = head[-1]
            nn.init.orthogonal_(last.weight, gain=0.01)
            nn.init.constant_(last.bias, float(self.init_mean[part]))
        nn.init.orthogonal_(self.value_net[-1].weight, gain=1.0)
        self.log_std = nn.Parameter(th.full((len(layout.parts),), float(self.log_std_init)))
        block = np.concatenate([np.full(size, b) for b, size in enumerate(layout.action_sizes.values())])
        self.register_buffer("_block", th.as_tensor(block, dtype=th.long), persistent=False)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(layout=self.layout, families=None, vouchers=None, width=self.width, layers=self.layers,
                    profile_width=self.profile_width, separate_value=self.separate_value, init_mean=self.init_mean)
        return data

    # ----------------------------------------------------------------- computation
    def features(self, obs: th.Tensor) -> GameFeatures:
        return GameFeatures(self.layout, obs)

    def _means(self, h: th.Tensor, g: GameFeatures) -> th.Tensor:
        """(B, A_pad) action means in the layout's order."""
        B, N = g.B, g.N
        out = []
        for family in ("restrict", "subsidize"):
            if family in self.layout.families:
                out.append(g.pad_designs(self.heads[family](h)[..., 0]))
        if "recommend" in self.layout.families:
            # per-profile heads run on the real profiles only (gathered, then scattered back): a 2 x 2 game
            # costs 4 rows, not one per padded profile; padded profiles get mean 0 (masked anyway)
            K, k = g.k ** N, g.k
            b, a = (g.profiles.reshape(B, K) > 0).nonzero(as_tuple=True)
            digits = [(a // k ** (N - 1 - i)) % k for i in range(N)]
            code = self.rec_design(h)                                    # (B, N, k, P)
            z = self.rec_profile(g.profile.reshape(B, K, -1)[b, a])      # (R, P)
            for i in range(N):
                z = z + code[b, i, digits[i]] * g.p[b, i, None]
            logits = self.heads["recommend"](z)[:, 0]
            out.append(g.pad_profiles(logits.new_zeros(B * K).index_copy(0, b * K + a, logits).reshape(B, K)))
            if self.layout.vouchers:
                own = self.voucher_design(h)                             # (B, N, k, P)
                players = self.voucher_player(g.player_profile.reshape(B, N, K, -1)[b, :, a])   # (R, N, P)
                zi = z[:, None] + players + th.stack([own[b, i, digits[i]] for i in range(N)], 1)
                v = self.heads["vouchers"](zi)[..., 0]                   # (R, N)
                index = (b * N * K + a)[:, None] + th.arange(N, device=v.device)[None, :] * K
                flat = v.new_zeros(B * N * K).index_copy(0, index.reshape(-1), v.reshape(-1))
                out.append(g.pad_profiles(flat.reshape(B, N, K)).flatten(1))
        return th.cat(out, dim=1)

    def _value(self, h: th.Tensor, g: GameFeatures) -> th.Tensor:
        return self.value_net(th.cat([_pooled(h, g), g.expected_welfare, g.best_welfare], dim=-1))

    def _distribution(self, h: th.Tensor, g: GameFeatures) -> MaskedDiagGaussian:
        return self.action_dist.proba_distribution(self._means(h, g), self.log_std[self._block], g.action_mask(self.layout))

    def _run(self, obs: th.Tensor, policy: bool = True, value: bool = True):
        g = self.features(obs)
        h = self.trunk(g) if policy or self.value_trunk is None else None
        dist = self._distribution(h, g) if policy else None
        values = None
        if value:
            values = self._value(h if self.value_trunk is None else self.value_trunk(g), g)
        return dist, values

    def forward(self, obs: th.Tensor, deterministic: bool = False) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        dist, values = self._run(obs)
        actions = dist.get_actions(deterministic=deterministic)
        return actions, values, dist.log_prob(actions)

    def evaluate_actions(self, obs: th.Tensor, actions: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        dist, values = self._run(obs)
        return values, dist.log_prob(actions), dist.entropy()

    def get_distribution(self, obs: th.Tensor) -> MaskedDiagGaussian:
        return self._run(obs, value=False)[0]

    def predict_values(self, obs: th.Tensor) -> th.Tensor:
        return self._run(obs, policy=False)[1]
