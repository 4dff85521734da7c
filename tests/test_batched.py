"""Batched evaluation and sweeps: many mediators and seeds as blocks of one engine batch, each copy with
exactly the numbers of its own run (compared with ==, never approximately)."""
from __future__ import annotations

import json
import numpy as np
import pytest

from agents.dynamics import learner_factory, run_fixed
from agents.no_regret import make_learner
from comparison.dynamics import run_dynamics
from envs.bayes import full_disclosure
from envs.catalog import load_any, load_game
from envs.engine import Engine
from envs.intervention import Intervention
from envs.learner import Feedback
from envs.simulate import simulate, summarise
from mediator.analytic import analytic_mediators
from sweep import load_spec, run_sweep
from sweep.spec import Task
from sweep.store import ResultStore
from sweep.tasks import VALUES, groups


def fixed_mediators(game) -> dict[str, Intervention]:
    return {"none": Intervention(), **{k: m.intervention for k, m in analytic_mediators(game).items()}}


def test_streams_draw_each_block_from_its_own_generator():
    engine = Engine(load_game("stag_hunt"), None, batch=2 * 5, seed=[(4, 2), (9, 3)], repeats=2)
    draws = [engine.rng.random(10), engine.rng.random((10, 2))]
    a, b = np.random.default_rng(4), np.random.default_rng(9)
    block = np.concatenate([a.random(2), b.random(3)])
    assert np.array_equal(draws[0], np.concatenate([block, block]))
    block = np.concatenate([a.random((2, 2)), b.random((3, 2))])
    assert np.array_equal(draws[1], np.concatenate([block, block]))
    with pytest.raises(ValueError, match="do not make a batch"):
        Engine(load_game("stag_hunt"), None, batch=4, seed=[(4, 2)], repeats=3)


def test_one_stream_is_the_seed_alone():
    game = load_game("example1")
    one = Engine(game, None, batch=6, seed=[(5, 6)])
    assert isinstance(one.rng, np.random.Generator)
    assert np.array_equal(one.rng.random((6, 2)), np.random.default_rng(5).random((6, 2)))


def test_a_state_game_draws_each_streams_states():
    game = load_any("state_coordination")
    streams = Engine(game.averaged(), None, batch=4, seed=[(1, 1), (2, 1)], repeats=2)
    streams.set_signals(game, full_disclosure(game))
    alone = [Engine(game.averaged(), None, batch=1, seed=s) for s in (1, 2)]
    for engine in alone:
        engine.set_signals(game, full_disclosure(game))
    for _ in range(20):
        streams.draw_signals()
        for engine in alone:
            engine.draw_signals()
        assert streams.state.tolist() == [int(engine.state[0]) for engine in alone] * 2
        assert np.array_equal(streams.signal, np.concatenate([engine.signal for engine in alone] * 2))


def test_per_copy_bounds_learn_as_separate_learners():
    """A batch whose copies normalise by their own bounds is the copies' learners with scalar bounds."""
    rng = np.random.default_rng(0)
    bounds = [(-1.0, 2.0), (0.5, 4.0), (-3.0, -1.0)]
    for rule in ("hedge", "exp3", "regret-matching"):
        batch = make_learner(rule, 3, 3, contextual=True, bounds=(np.array([b[0] for b in bounds]),
                                                                  np.array([b[1] for b in bounds])), trust=0.5)
        alone = [make_learner(rule, 3, 1, contextual=True, bounds=b, trust=0.5) for b in bounds]
        mask = np.ones((3, 3), bool)
        for _ in range(30):
            context = rng.integers(0, 4, 3)
            p = batch.strategy(context, mask)
            assert np.array_equal(p, np.concatenate([a.strategy(context[[j]], mask[[j]]) for j, a in enumerate(alone)]))
            action = rng.integers(0, 3, 3)
            vector = rng.uniform(-4, 5, (3, 3))
            feedback = Feedback(action, vector[np.arange(3), action], vector, p[np.arange(3), action], context, mask)
            batch.update(feedback)
            for j, a in enumerate(alone):
                a.update(Feedback(action[[j]], feedback.reward[[j]], vector[[j]], feedback.probability[[j]],
                                  context[[j]], mask[[j]]))
        assert np.array_equal(batch.state, np.concatenate([a.state for a in alone]))


@pytest.mark.parametrize("spec, learners, contextual", [("example1", "hedge", "auto"),
                                                       ("random:n=3,k=3,seed=4", "hedge", "auto"),
                                                       ("example1", "regret-matching", "on"),
                                                       ("stag_hunt", "exp3", "off")])
def test_run_dynamics_batches_every_fixed_mediator_with_the_numbers_of_its_own_run(spec, learners, contextual):
    game = load_game(spec)
    mediators = fixed_mediators(game)
    report = {"mediators": {}}
    run_dynamics(game, report, mediators, learners, 600, 4, seed=7, contextual=contextual)
    assert list(report["mediators"]) == list(mediators)
    for name, mediator in mediators.items():
        ctx = contextual == "on" or (contextual == "auto" and mediator.recommendation is not None)
        alone = simulate(game, mediator, learner_factory(learners, ctx, 0.5), 600, 4, seed=7)
        assert report["mediators"][name]["dynamic"] == summarise(game, alone), name


def test_a_shared_policy_runs_one_stream_at_a_time():
    with pytest.raises(ValueError, match="one stream at a time"):
        run_fixed(load_game("stag_hunt"), [Intervention()], "ppo", 10, [(0, 1), (1, 1)])


def test_groups_batch_one_game_and_rule_and_split_for_workers():
    tasks = [Task(i, g, g, learner, m, src, s) for i, (g, learner, (m, src), s) in enumerate(
        (g, learner, m, s) for g in ("a", "b") for learner in ("hedge", "ppo")
        for m in (("none", "none"), ("learned", "x.zip")) for s in (0, 1, 2))]
    got = [[t.index for t in group] for group in groups(tasks)]
    by_key = {(tasks[g[0]].game, tasks[g[0]].learner, len(g)) for g in got}
    assert ("a", "hedge", 3) in by_key and ("b", "hedge", 3) in by_key                # seeds x mediators
    ppo = [g for g in got if tasks[g[0]].learner == "ppo" and tasks[g[0]].mediator == "none"]
    assert len(ppo) == 6 and all(len(g) == 1 for g in ppo)                              # ppo: a seed at a time
    assert sum(len(g) == 1 and tasks[g[0]].mediator == "learned" for g in got) == 12  # learned: alone
    assert sorted(i for g in got for i in g) == list(range(len(tasks)))
    hedge = [t for t in tasks if t.learner == "hedge" and t.mediator == "none" and t.game == "a"]
    assert sorted(len(g) for g in groups(hedge, workers=2)) == [1, 2]


SPEC = dict(games=["example1", "stag_hunt"], learners=["hedge", "regret-matching"], mediators=["none", "analytic"],
            seeds=3, rounds=300)


def test_a_batched_sweep_writes_the_csv_of_its_tasks_run_one_by_one(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    spec = load_spec(path)
    run_sweep(spec, tmp_path / "batched", workers=1, progress=False)
    run_sweep(spec, tmp_path / "alone", workers=1, progress=False, batched=False)
    text = (tmp_path / "batched" / "results.csv").read_text()
    assert text == (tmp_path / "alone" / "results.csv").read_text() and text.count("\n") == 2 * 2 * 5 * 3 + 1
    # and each task's numbers are those of its own simulation (the engine with the task's seed alone)
    records = ResultStore(tmp_path / "batched").open(spec)
    for task in spec.tasks()[::7]:
        game = load_game(task.source)
        mediator = fixed_mediators(game)[task.mediator]
        traj = simulate(game, mediator, learner_factory(task.learner, mediator.recommendation is not None, 0.5),
                        300, 1, seed=task.seed)
        want = summarise(game, traj)
        assert {k: records[task.key][k] for k in VALUES} == {k: want.get(k) for k in VALUES}, task.key
