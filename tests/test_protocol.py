"""One protocol for training and judging: the mediator's VecEnv and the simulation give a policy the same
observations, and play the same rounds, for the same seed and actions."""
import numpy as np

from agents.dynamics import learner_factory
from envs.catalog import make_game
from envs.codec import ActionCodec
from envs.simulate import simulate
from envs.views import MediatorVecEnv


class Recorder:
    """A mediator policy that plays a fixed action sequence and records what it observed."""

    def __init__(self, codec: ActionCodec, actions: np.ndarray, act_every: int, rounds: int):
        self.codec, self.actions, self.act_every, self.rounds = codec, actions, act_every, rounds
        self.seen: list[np.ndarray] = []

    def interventions(self, observation: np.ndarray):
        self.seen.append(observation.copy())
        return [self.codec.decode(a) for a in self.actions[len(self.seen) - 1]]


def test_the_vecenv_and_the_simulation_observe_and_play_the_same():
    game = make_game("bos")
    families, seeds, rounds, every = ("restrict", "recommend"), 3, 40, 10
    factory = learner_factory("hedge", contextual=True, trust=0.5)
    env = MediatorVecEnv(game, factory, num_envs=seeds, rounds=rounds, act_every=every, families=families, seed=7)
    actions = np.random.default_rng(0).uniform(-1, 1, (rounds // every, seeds, env.action_space.shape[0]))
    observed, nets = [env.reset()], []
    for step in actions:
        obs, _, _, infos = env.step(step)
        nets.append(env.metrics["net_welfare"])
        observed.append(np.stack([i["terminal_observation"] for i in infos]) if "terminal_observation" in infos[0] else obs)
    policy = Recorder(env.codec, actions, every, rounds)
    traj = simulate(game, policy, factory, rounds, seeds, seed=7, bounds=env.codec.learner_bounds())
    np.testing.assert_allclose(np.stack(policy.seen), np.stack(observed[:-1]), atol=1e-6)
    np.testing.assert_allclose(traj.net.reshape(rounds // every, every, seeds).mean(axis=1), np.stack(nets), atol=1e-9)
