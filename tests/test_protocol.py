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


def test_a_padded_vecenv_serves_a_new_shape_every_episode():
    from envs.padding import PaddedLayout

    shapes = ["n=2,k=3", "n=3,k=2", "n=2,k=2x4"]
    batches = lambda first, count: [make_game(f"random:{shapes[first // count % 3]},seed={first + b}")  # noqa: E731
                                    for b in range(count)]
    layout = PaddedLayout(3, 4, families=("restrict", "subsidize", "recommend"))
    env = MediatorVecEnv(make_game("random:n=2,k=3,seed=0"), learner_factory("hedge", contextual=True), num_envs=2,
                         rounds=20, act_every=10, batches=batches, layout=layout)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for episode, spec in enumerate(shapes):
        assert env.game.shape == make_game(f"random:{spec},seed=0").shape
        np.testing.assert_allclose(obs, layout.encode(np.stack([g.payoffs for g in batches(2 * episode, 2)]),
                                                      env.engine.strategies()), atol=1e-6)
        for _ in range(2):
            action = rng.uniform(-1, 1, (2, layout.action_dim)).astype(np.float32)
            for iv, game in zip(env.decode(action), batches(2 * episode, 2)):
                iv.validate(game)
            obs, rewards, dones, _ = env.step(action)
            assert np.isfinite(rewards).all()
        assert dones.all() and obs.shape == (2, layout.obs_dim)
