"""The padded layout (envs.padding) and the equivariant game-conditioned mediator policy (mediator.equivariant)."""
from __future__ import annotations


import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from envs.codec import INCENTIVE_MULTIPLE, ActionCodec  # noqa: E402
from envs.game import DesignGame, default_margin, implementation_costs  # noqa: E402
from agents.ppo import silent_logger  # noqa: E402
from envs.padding import PaddedLayout  # noqa: E402
from mediator.equivariant import EquivariantPolicy, padded_spaces  # noqa: E402

FULL = ("restrict", "subsidize", "recommend")


def make_game(shape, seed=0) -> DesignGame:
    rng = np.random.default_rng(seed)
    n = len(shape)
    return DesignGame(players=[f"P{i}" for i in range(n)], designs=[[f"d{j}" for j in range(k)] for k in shape],
                      payoffs=rng.uniform(-2, 3, (n, *shape)))


def random_strategies(shape, rng, batch=None):
    if batch is None:
        return [rng.dirichlet(np.ones(k)) for k in shape]
    return [rng.dirichlet(np.ones(k), batch) for k in shape]


def make_policy(layout, seed=0, scramble=True, **kwargs):
    th.manual_seed(seed)
    obs_space, act_space = padded_spaces(layout)
    policy = EquivariantPolicy(obs_space, act_space, lambda _: 3e-4, layout=layout, **kwargs)
    if scramble:      # large random weights, so that outputs vary a lot across entries (a strict test)
        with th.no_grad():
            for name, p in policy.named_parameters():
                if name != "log_std":
                    p.normal_(0.0, 0.5 if p.dim() > 1 else 0.2)
    return policy


def deterministic(policy, obs):
    with th.no_grad():
        return policy.get_distribution(th.as_tensor(obs)).mode().numpy().astype(float)


def split_action(layout, action, shape):
    """A game-shaped (codec-order) action as per-family arrays: restrict / subsidize lists of (k_i,),
    recommend (k_1, ..., k_n), vouchers (n, k_1, ..., k_n)."""
    n, sizes, out, start = len(shape), {}, {}, 0
    for part in layout.parts:
        sizes[part] = sum(shape) if part in ("restrict", "subsidize") else int(np.prod(shape)) * (n if part == "vouchers" else 1)
    for part, size in sizes.items():
        x, start = action[start:start + size], start + size
        if part in ("restrict", "subsidize"):
            out[part] = np.split(x, np.cumsum(shape)[:-1])
        else:
            out[part] = x.reshape(((n,) if part == "vouchers" else ()) + tuple(shape))
    return out


# --------------------------------------------------------------------------- PaddedLayout
def test_layout_sizes():
    layout = PaddedLayout(3, 16, FULL, vouchers=True)
    assert layout.obs_dim == 3 * 16 ** 3 + 3 * 16 * 2 + 3
    assert layout.action_sizes == {"restrict": 48, "subsidize": 48, "recommend": 4096, "vouchers": 3 * 4096}
    assert PaddedLayout(3, 16, ("subsidize",)).action_dim == 48
    with pytest.raises(ValueError):
        PaddedLayout(3, 4, ("restrict",), vouchers=True)
    with pytest.raises(ValueError):
        PaddedLayout(2, 4).check_shape((2, 2, 2))
    with pytest.raises(ValueError):
        PaddedLayout(3, 4).check_shape((5, 2))


@pytest.mark.parametrize("shape", [(2, 3), (4, 1), (2, 3, 4), (3, 3, 3)])
def test_encode_round_trip(shape):
    layout, rng = PaddedLayout(3, 4), np.random.default_rng(1)
    u = rng.normal(size=(5, len(shape), *shape))
    s = random_strategies(shape, rng, 5)
    obs = layout.encode(u, s)
    assert obs.shape == (5, layout.obs_dim) and obs.dtype == np.float32
    parts = layout.split(obs)
    n, scale = len(shape), np.abs(u).reshape(5, -1).max(axis=1)
    real = (slice(None), slice(0, n)) + tuple(slice(0, k) for k in shape) + (0,) * (3 - n)
    np.testing.assert_allclose(parts["payoffs"][real] * scale.reshape(5, 1, *(1,) * n), u, rtol=1e-6, atol=1e-6)
    assert np.abs(parts["payoffs"]).sum() == pytest.approx(np.abs(parts["payoffs"][real]).sum())   # zero padding
    assert np.abs(parts["payoffs"]).max() == pytest.approx(1.0)
    for i, k in enumerate(shape):
        np.testing.assert_allclose(parts["strategies"][:, i, :k], s[i], rtol=1e-6)
        assert (parts["strategies"][:, i, k:] == 0).all()
        assert (parts["designs"][:, i] == (np.arange(4) < k)).all()
    for i in range(n, 3):                                     # a dummy player: design 0 played for sure
        assert (parts["strategies"][:, i] == [1, 0, 0, 0]).all() and (parts["designs"][:, i] == [1, 0, 0, 0]).all()
    assert (parts["players"] == (np.arange(3) < n)).all()
    game = make_game(shape)
    np.testing.assert_allclose(layout.encode_game(game), layout.encode(game.payoffs[None], [np.full((1, k), 1 / k) for k in shape])[0])


@pytest.mark.parametrize("shape", [(2, 2), (3, 1), (2, 3, 2), (4, 4, 4)])
@pytest.mark.parametrize("vouchers", [False, True])
def test_unpad_pad_round_trip(shape, vouchers):
    layout, rng = PaddedLayout(3, 4, FULL, vouchers), np.random.default_rng(2)
    codec = layout.codec(make_game(shape))
    mask = layout.action_mask(shape)
    assert mask.sum() == codec.dim
    x = rng.uniform(-1, 1, (3, codec.dim))
    padded = layout.pad(x, shape)
    np.testing.assert_array_equal(layout.unpad(padded, shape), x)
    assert (padded[:, ~mask] == 0).all()
    np.testing.assert_array_equal(layout.unpad(padded[0], shape), x[0])
    y = rng.uniform(-1, 1, (3, layout.action_dim))
    np.testing.assert_array_equal(layout.pad(layout.unpad(y, shape), shape), np.where(mask, y, 0.0))


@pytest.mark.parametrize("shape", [(2, 3), (3, 2, 4), (1, 3)])
def test_unpad_follows_codec_slice_order(shape):
    """Fill the padded blocks as tensors, decode the unpadded action, and compare with the intervention
    built by hand from the same tensors (allowed iff >= 0, incentive weights, softmax, incentive vouchers)."""
    layout, rng = PaddedLayout(3, 4, FULL, vouchers=True), np.random.default_rng(3)
    game, n = make_game(shape, seed=4), len(shape)
    N, k = 3, 4
    restrict = rng.uniform(-1, 1, (N, k))
    subsidize = rng.uniform(-1, 1, (N, k))
    recommend = rng.uniform(-1, 1, (k,) * N)
    vouchers = rng.uniform(-1, 1, (N,) + (k,) * N)
    padded = np.concatenate([restrict.ravel(), subsidize.ravel(), recommend.ravel(), vouchers.ravel()])
    codec = layout.codec(game)
    got = codec.decode(layout.unpad(padded, shape)).validate(game)

    real = tuple(slice(0, ki) for ki in shape) + (0,) * (N - n)
    for i, ki in enumerate(shape):
        r = restrict[i, :ki]
        np.testing.assert_array_equal(got.allowed[i], (r >= 0) | (np.arange(ki) == np.argmax(r)))
    amounts = np.minimum(INCENTIVE_MULTIPLE * implementation_costs(game, default_margin(game)), game.scale)
    expected_t = np.stack([amounts[i] * np.expand_dims(np.maximum(subsidize[i, :ki], 0), tuple(range(1, n - i)))
                           for i, ki in enumerate(shape)])
    np.testing.assert_allclose(got.transfers, expected_t)
    logits = codec.temperature * recommend[real]
    p = np.exp(logits - logits.max())
    np.testing.assert_allclose(got.recommendation, p / p.sum())
    np.testing.assert_allclose(got.vouchers, amounts * np.maximum(vouchers[(slice(0, n),) + real], 0))


# --------------------------------------------------------------------------- the policy: equivariance
def _permute_designs(u, s, i, perm):
    return np.take(u, perm, axis=2 + i), [x[..., perm] if j == i else x for j, x in enumerate(s)]


@pytest.mark.parametrize("shape", [(2, 4), (3, 3, 3)])
def test_design_relabelling_permutes_actions(shape):
    layout, rng = PaddedLayout(3, 4, FULL, vouchers=True), np.random.default_rng(5)
    policy = make_policy(layout)
    n = len(shape)
    u = rng.normal(size=(1, n, *shape))
    s = random_strategies(shape, rng, 1)
    base = split_action(layout, layout.unpad(deterministic(policy, layout.encode(u, s)), shape)[0], shape)
    for part in ("restrict", "subsidize"):      # the outputs do depend on the design
        assert np.std(np.concatenate(base[part])) > 1e-2
    assert np.std(base["recommend"]) > 1e-2 and np.std(base["vouchers"]) > 1e-2
    for i in range(n):
        perm = rng.permutation(shape[i])
        while (perm == np.arange(shape[i])).all():
            perm = rng.permutation(shape[i])
        u2, s2 = _permute_designs(u, s, i, perm)
        got = split_action(layout, layout.unpad(deterministic(policy, layout.encode(u2, s2)), shape)[0], shape)
        for part in ("restrict", "subsidize"):
            for j in range(n):
                want = base[part][j][perm] if j == i else base[part][j]
                np.testing.assert_allclose(got[part][j], want, atol=2e-4, rtol=1e-4)
        np.testing.assert_allclose(got["recommend"], np.take(base["recommend"], perm, axis=i), atol=2e-4, rtol=1e-4)
        np.testing.assert_allclose(got["vouchers"], np.take(base["vouchers"], perm, axis=1 + i), atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("shape", [(3, 3), (3, 3, 3)])
def test_player_relabelling_permutes_actions(shape):
    layout, rng = PaddedLayout(3, 4, FULL, vouchers=True), np.random.default_rng(6)
    policy = make_policy(layout, seed=1)
    n = len(shape)
    u = rng.normal(size=(1, n, *shape))
    s = random_strategies(shape, rng, 1)
    base = split_action(layout, layout.unpad(deterministic(policy, layout.encode(u, s)), shape)[0], shape)
    for sigma in ([1, 0] if n == 2 else [2, 0, 1], [1, 0] if n == 2 else [0, 2, 1]):
        sigma = np.array(sigma)               # new player i is old player sigma[i]
        u2 = np.transpose(u[:, sigma], (0, 1, *(2 + sigma)))
        s2 = [s[j] for j in sigma]
        got = split_action(layout, layout.unpad(deterministic(policy, layout.encode(u2, s2)), shape)[0], shape)
        for part in ("restrict", "subsidize"):
            for i in range(n):
                np.testing.assert_allclose(got[part][i], base[part][sigma[i]], atol=2e-4, rtol=1e-4)
        np.testing.assert_allclose(got["recommend"], np.transpose(base["recommend"], sigma), atol=2e-4, rtol=1e-4)
        np.testing.assert_allclose(got["vouchers"], np.transpose(base["vouchers"][sigma], (0, *(1 + sigma))),
                                   atol=2e-4, rtol=1e-4)


# --------------------------------------------------------------------------- one model, many games
@pytest.mark.parametrize("vouchers", [False, True])
def test_one_model_serves_every_shape(vouchers):
    layout = PaddedLayout(3, 16, FULL, vouchers=vouchers)
    policy = make_policy(layout, scramble=False, width=32, layers=1)
    rng = np.random.default_rng(8)
    shapes = [(2, 2), (2, 4), (3, 3), (13, 13), (3, 3, 3), (2, 3, 4), (16, 16, 16)]
    for seed, shape in enumerate(shapes):
        game = make_game(shape, seed)
        obs = layout.encode_game(game, random_strategies(shape, rng))[None]
        with th.no_grad():
            actions, values, log_prob = policy(th.as_tensor(obs))
        assert th.isfinite(values).all() and th.isfinite(log_prob).all()
        action = np.clip(actions.numpy(), -1, 1)
        codec = layout.codec(game)
        for a in (action, deterministic(policy, obs)):
            intervention = codec.decode(layout.unpad(a, shape)[0]).validate(game)
            assert intervention.allowed is not None and intervention.transfers is not None
            assert (intervention.vouchers is not None) == vouchers
        mode = codec.decode(layout.unpad(deterministic(policy, obs), shape)[0])
        assert all(m.all() for m in mode.allowed)       # the initial mean bans nothing
        assert np.allclose(mode.transfers, 0)             # ... and pays nothing


def test_action_mask_of_observation_matches_layout():
    layout = PaddedLayout(3, 5, FULL, vouchers=True)
    policy = make_policy(layout, scramble=False, width=8, layers=1)
    for shape in [(2, 2), (5, 1), (3, 4, 2), (1, 2, 5)]:
        obs = th.as_tensor(layout.encode_game(make_game(shape))[None])
        np.testing.assert_array_equal(policy.features(obs).action_mask(layout)[0].numpy() > 0, layout.action_mask(shape))


# --------------------------------------------------------------------------- the distribution
def test_padded_entries_do_not_change_log_prob_or_entropy():
    layout, rng = PaddedLayout(3, 4, FULL, vouchers=True), np.random.default_rng(9)
    policy = make_policy(layout, scramble=False)
    with th.no_grad():
        policy.log_std.copy_(th.tensor([-0.3, -0.6, 0.1, -1.0]))
    shape = (2, 3)
    obs = th.as_tensor(np.repeat(layout.encode_game(make_game(shape), random_strategies(shape, rng))[None], 4, 0))
    mask = layout.action_mask(shape)
    with th.no_grad():
        actions, _, log_prob = policy(obs)
        assert (actions.numpy()[:, ~mask] == 0).all()            # padded entries are sampled as 0
        noisy = actions.clone()
        noisy[:, th.as_tensor(~mask)] = th.as_tensor(rng.normal(0, 5, (4, int((~mask).sum()))), dtype=th.float32)
        _, lp_clean, entropy = policy.evaluate_actions(obs, actions)
        _, lp_noisy, _ = policy.evaluate_actions(obs, noisy)
        real = noisy.clone()
        real[:, th.as_tensor(mask)] += 0.1
        _, lp_real, _ = policy.evaluate_actions(obs, real)
    np.testing.assert_allclose(lp_clean.numpy(), log_prob.numpy(), rtol=1e-5)
    np.testing.assert_allclose(lp_noisy.numpy(), lp_clean.numpy(), rtol=1e-6)
    assert not np.allclose(lp_real.numpy(), lp_clean.numpy())     # real entries do count
    counts = {"restrict": 5, "subsidize": 5, "recommend": 6, "vouchers": 12}
    want = sum(c * (0.5 + 0.5 * np.log(2 * np.pi) + float(policy.log_std[b].detach())) for b, c in enumerate(counts.values()))
    np.testing.assert_allclose(entropy.numpy(), want, rtol=1e-5)


@pytest.mark.parametrize("vouchers", [False, True])
def test_a_game_gets_the_same_action_alone_and_next_to_a_larger_game(vouchers):
    """The policy crops a batch to its largest real menu: a 2 x 2 game's action and value must not
    depend on whether a 4 x 3 x 2 game shares its batch (which changes the crop from 2 to 4)."""
    layout = PaddedLayout(3, 5, FULL, vouchers=vouchers)
    policy = make_policy(layout, seed=3)
    rng = np.random.default_rng(4)
    small = layout.encode_game(make_game((2, 2), 1), random_strategies((2, 2), rng))
    large = layout.encode_game(make_game((4, 3, 2), 2), random_strategies((4, 3, 2), rng))
    alone = deterministic(policy, small[None])[0]
    together = deterministic(policy, np.stack([small, large]))[0]
    np.testing.assert_allclose(alone, together, atol=1e-5)
    assert np.abs(alone[layout.action_mask((2, 2))]).max() > 1e-3       # real entries carry an action
    with th.no_grad():
        v_alone = policy.predict_values(th.as_tensor(small[None]))[0]
        v_together = policy.predict_values(th.as_tensor(np.stack([small, large])))[0]
    np.testing.assert_allclose(v_alone.numpy(), v_together.numpy(), atol=1e-5)


def test_save_and_load(tmp_path):
    layout = PaddedLayout(3, 3, FULL, vouchers=True)
    env = DummyVecEnv([lambda: SubsidyTargetEnv(layout, seed=0)])
    model = PPO(EquivariantPolicy, env, n_steps=8, batch_size=8, n_epochs=1, device="cpu",
                policy_kwargs=dict(layout=layout, width=16, layers=1), seed=0)
    obs = env.reset()
    before, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", device="cpu")
    after, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_allclose(after, before, rtol=1e-6)
    assert loaded.policy.layout == layout


# --------------------------------------------------------------------------- PPO learns with it
class SubsidyTargetEnv(gym.Env):
    """One-step episodes on a fresh random game of a random shape. The mediator should pay each player
    the incentive subsidy (weight 1/2) for its design that is best against uniformly mixing opponents
    and nothing for the others; reward: minus the L1 distance of the decoded transfers to that target,
    relative to a typical target size (0 is perfect; paying nothing scores about -0.5)."""

    SHAPES = ((2, 2), (2, 3), (3, 3), (3, 2), (2, 2, 2), (2, 3, 3))

    def __init__(self, layout: PaddedLayout, seed: int = 0):
        self.layout, self.rng = layout, np.random.default_rng(seed)
        self.observation_space, self.action_space = padded_spaces(layout)

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        shape = self.SHAPES[self.rng.integers(len(self.SHAPES))]
        n = len(shape)
        self.game = DesignGame([f"P{i}" for i in range(n)], [[f"d{j}" for j in range(k)] for k in shape],
                               self.rng.uniform(-1, 1, (n, *shape)))
        self.codec = self.layout.codec(self.game)
        uniform = [np.full(k, 1.0 / k) for k in shape]
        best = [np.argmax(v) for v in self.game.deviation_payoffs(uniform)]
        target = np.concatenate([np.where(np.arange(k) == b, 0.5, -1.0) for k, b in zip(shape, best)])
        codec = ActionCodec(self.game, ("subsidize",), subsidy="incentive")
        self.target = codec.decode(target).transfers
        self.size = 0.5 * codec.incentive_amounts.sum() / np.mean(shape)     # ~ the target's typical size
        obs = self.layout.encode_game(self.game, random_strategies(shape, self.rng))
        return obs, {}

    def reward(self, action: np.ndarray) -> float:
        transfers = self.codec.decode(self.layout.unpad(action, self.game.shape)).transfers
        return -float(np.abs(transfers - self.target).sum() / self.size)

    def step(self, action):
        reward = self.reward(action)
        obs, _ = self.reset()
        return obs, reward, True, False, {}


def _mean_reward(model, layout, episodes=120, seed=123):
    env, total = SubsidyTargetEnv(layout, seed=seed), 0.0
    for _ in range(episodes):
        obs, _ = env.reset()
        action, _ = model.predict(obs, deterministic=True)
        total += env.reward(action)
    return total / episodes


def test_ppo_learns_a_game_dependent_subsidy():
    layout = PaddedLayout(3, 3, ("subsidize",))
    env = DummyVecEnv([lambda s=s: SubsidyTargetEnv(layout, seed=s) for s in range(8)])
    model = PPO(EquivariantPolicy, env, n_steps=16, batch_size=64, n_epochs=8, learning_rate=2e-3, gamma=0.0,
                gae_lambda=1.0, ent_coef=0.0, device="cpu", seed=0,
                policy_kwargs=dict(layout=layout, width=32, layers=1, log_std_init=-1.0))
    model.set_logger(silent_logger())
    before = _mean_reward(model, layout)
    model.learn(total_timesteps=8 * 16 * 24)
    after = _mean_reward(model, layout)
    print(f"mean reward before {before:.3f}, after {after:.3f}")
    assert after > 0.6 * before, (before, after)      # the distance to the target shrinks by > 40%
