"""Vouchers can be learned: on the prisoner's dilemma, whose best analytic mediator of the recommend family
needs vouchers (the only correlated equilibrium is (D, D), welfare 2 = no mediation; recommending (D, C)
with a voucher for the cooperator nets 4), a short PPO run with ``--families recommend --vouchers``
beats the zero action, and taking its vouchers away (all voucher entries at -1) loses the gain.

Stakeholders are contextual Hedge learners with trust 0 (no initial trust in recommendations, so
nothing but a voucher makes a recommendation worth obeying). Measured on this machine (2 cores, one
torch thread; seed 0, 16 environments, 200-round episodes, a decision every 50 rounds, log-std -0.7):
mean reward per decision over 2 fresh episodes on fixed evaluation seeds, zero action 0.557; after
16,384 steps the learned policy 0.640 and the same policy without its vouchers 0.557; after 32,768
steps 0.656 and 0.512. MARGIN = 0.03 is under half the learned gain at 16,384 steps; the untrained
policy is checked to be within it of the zero action.
"""
import numpy as np
import torch
from stable_baselines3 import PPO

from agents.dynamics import learner_factory
from agents.ppo import silent_logger
from envs.catalog import make_game
from envs.views import MediatorVecEnv

NUM_ENVS, ROUNDS, ACT_EVERY = 16, 200, 50
TRAIN_STEPS = 16_384
MARGIN = 0.03
EVAL_SEEDS = (100, 101)


def mediator_env(game, seed: int) -> MediatorVecEnv:
    return MediatorVecEnv(game, learner_factory("hedge", contextual=True, trust=0.0), NUM_ENVS, ROUNDS, ACT_EVERY,
                          families=("recommend",), vouchers=True, subsidy="incentive", seed=seed)


def mean_reward(game, act) -> float:
    """Mean reward per mediator decision over one fresh episode per evaluation seed, actions from ``act``."""
    total = 0.0
    for seed in EVAL_SEEDS:
        env = mediator_env(game, seed)
        obs = env.reset()
        for _ in range(ROUNDS // ACT_EVERY):
            env.step_async(act(obs))
            obs, rewards, _, _ = env.step_wait()
            total += float(rewards.mean())
    return total / (len(EVAL_SEEDS) * (ROUNDS // ACT_EVERY))


def test_a_short_ppo_run_learns_vouchers_on_the_dilemma():
    game = make_game("prisoners_dilemma")
    K = game.n_profiles
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = PPO("MlpPolicy", mediator_env(game, 0), n_steps=64, batch_size=256, gamma=0.9, seed=0, device="cpu",
                    verbose=0, policy_kwargs=dict(log_std_init=-0.7))
        model.set_logger(silent_logger())
        learned = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731

        def without_vouchers(obs):
            action = learned(obs).copy()
            action[:, K:] = -1.0                 # the voucher entries: max(x, 0) = 0 pays nothing
            return action

        zero = mean_reward(game, lambda obs: np.zeros((NUM_ENVS, 3 * K), np.float32))
        before = mean_reward(game, learned)
        model.learn(TRAIN_STEPS)
        after, stripped = mean_reward(game, learned), mean_reward(game, without_vouchers)
    finally:
        torch.set_num_threads(threads)
    assert abs(before - zero) < MARGIN, (before, zero)
    assert after - zero > MARGIN, (after, zero)
    assert after - stripped > MARGIN, (after, stripped)


def test_a_learned_device_starts_with_vouchers_that_make_obeying_every_recommendation_pay():
    # Obedience (Appendix B) of a recommended profile a: u_i(a) + v_i(a) >= u_i(d', a_-i) for every d', for
    # every player i; the initial mean action pays that and nothing else (no ban, no subsidy).
    from envs.codec import ActionCodec

    game = make_game("prisoners_dilemma")
    codec = ActionCodec(game, families=("restrict", "subsidize", "recommend"), vouchers=True, subsidy="incentive")
    start = codec.decode(codec.initial_mean())
    assert all(m.all() for m in start.masks(game)) and not start.transfers.any()
    u, v = game.payoffs, start.vouchers
    for a in np.ndindex(game.shape):
        for i in range(game.n_players):
            deviations = [u[(i, *a[:i], d, *a[i + 1:])] for d in range(game.shape[i])]
            assert u[(i, *a)] + v[(i, *a)] >= max(deviations)
    assert v[0, 0, 0] > 0 and not v[0, 1].any()     # P1 told C against C is paid; told D (dominant) never
    assert not ActionCodec(game, families=("recommend",)).initial_mean().any()
