"""The training distribution mix:v1 (envs/mixture.py): deterministic, versioned, one shape per batch, reserved
evaluation seeds, and generators whose games make mediation matter."""
import collections

import numpy as np
import pytest

from envs import mixture
from envs.catalog import game_batches, game_family, load_game, make_game
from envs.game import DesignGame
from envs.mixture import EVAL_SEED, GENERATORS, MIX_V1, MixtureError
from mediator.equilibria import pure_nash


def as_game(u: np.ndarray) -> DesignGame:
    shape = u.shape[1:]
    return DesignGame(tuple(f"P{i + 1}" for i in range(len(shape))),
                      tuple(tuple(f"d{j}" for j in range(k)) for k in shape), u)


def test_a_seed_is_always_the_same_game_and_named_after_its_generator_and_shape():
    for seed in (0, 5, 123):
        a, b = mixture.draw(seed), mixture.draw(seed)
        np.testing.assert_array_equal(a.payoffs, b.payoffs)
        generator, shape = mixture.describe(seed)
        assert a.shape == shape and a.name == f"mix:v1:seed={seed}:{generator}:{'x'.join(map(str, shape))}"
        assert a.players == tuple(f"P{i + 1}" for i in range(len(shape)))
        assert a.designs[0] == tuple(f"d{j}" for j in range(shape[0]))
    assert not np.array_equal(mixture.draw(1).payoffs, mixture.draw(2).payoffs)


def test_v1_is_frozen():
    """Pinned draws: if this fails, mix:v1 changed (make a mix:v2 instead)."""
    assert [mixture.describe(s) for s in range(8)] == [
        ("dilemma_exploit", (2, 2)), ("dilemma_exploit", (2, 7)), ("common_interest", (5, 5)),
        ("uniform", (5, 5)), ("three_player", (4, 2, 3)), ("bargaining", (2, 2)),
        ("dilemma_exploit", (3, 3)), ("dilemma_exploit", (5, 2))]
    for seed, total in ((0, 4.040128767540042), (4, 15.46825031902617), (7, 7.297397728801131)):
        assert mixture.draw(seed).payoffs.sum() == pytest.approx(total, rel=1e-9)


def test_a_batch_has_one_shape_and_starts_with_the_draw_of_its_first_seed():
    shapes = set()
    for first in range(0, 40 * 16, 16):
        batch = mixture.draw_batch(first, 16)
        assert len(batch) == 16 and len({g.shape for g in batch}) == 1
        shapes.add(batch[0].shape)
        first_game = mixture.draw(first)
        assert batch[0].name == first_game.name
        np.testing.assert_array_equal(batch[0].payoffs, first_game.payoffs)
        assert [g.name.split(":")[2] for g in batch] == [f"seed={first + b}" for b in range(16)]
        if len(batch[0].shape) == 3:
            assert not any(":bargaining:" in g.name for g in batch)
    assert len(shapes) > 5 and any(len(s) == 3 for s in shapes)


def test_generator_frequencies_follow_the_weights():
    counts = collections.Counter(mixture.describe(s)[0] for s in range(2000))
    assert set(counts) == set(MIX_V1.weights)
    for name, weight in MIX_V1.weights.items():
        assert abs(counts[name] / 2000 - weight) < 0.035, (name, counts[name])
    assert sum(MIX_V1.weights.values()) == pytest.approx(1.0)


def test_every_generator_gives_finite_payoffs_of_its_shape():
    rng = np.random.default_rng(0)
    for name, gen in GENERATORS.items():
        for _ in range(20):
            shape = gen.sample_shape(rng)
            assert gen.accepts(shape)
            assert (len(shape) == 2 and all(2 <= k <= 8 for k in shape)) or (
                len(shape) == 3 and all(2 <= k <= 4 for k in shape)), (name, shape)
            u = gen.payoffs(rng, shape)
            assert u.shape == (len(shape), *shape) and np.isfinite(u).all(), name
    for name in ("uniform", "conflict", "common_interest", "coordination_trap", "dilemma_exploit"):
        u = GENERATORS[name].payoffs(rng, (3, 2, 4))                  # they also serve three-player batches
        assert u.shape == (3, 3, 2, 4) and np.isfinite(u).all()


def test_the_reserved_evaluation_seeds_are_refused_in_training():
    for call in (lambda: mixture.draw(EVAL_SEED), lambda: mixture.draw_batch(EVAL_SEED - 3, 4),
                 lambda: mixture.describe(EVAL_SEED + 5), lambda: game_batches("mix:v1")(EVAL_SEED, 2),
                 lambda: mixture.draw(5, split="eval"), lambda: mixture.draw(-1)):
        with pytest.raises(MixtureError):
            call()
    assert len(mixture.draw_batch(EVAL_SEED - 4, 4)) == 4
    evaluation = mixture.draw(EVAL_SEED + 2, split="eval")
    assert evaluation.name.startswith(f"mix:v1:seed={EVAL_SEED + 2}:")
    assert len({g.shape for g in mixture.draw_batch(EVAL_SEED, 8, split="eval")}) == 1
    from comparison.dynamics import UNSEEN_SEED
    assert UNSEEN_SEED == EVAL_SEED


def test_the_catalog_names_mixture_games_families_and_batches():
    np.testing.assert_array_equal(load_game("mix:v1:seed=3").payoffs, mixture.draw(3).payoffs)
    assert load_game("mix:v1:seed=3").name == mixture.draw(3).name
    assert make_game("mix:v1").name == mixture.draw(0).name
    family = game_family("mix:v1")
    assert family(7).name == mixture.draw(7).name
    assert family(EVAL_SEED + 1).name == mixture.draw(EVAL_SEED + 1, split="eval").name
    assert game_family("mix:v1:seed=3") is None and game_batches("mix:v1:seed=3") is None
    assert [g.name for g in game_batches("mix:v1")(32, 4)] == [g.name for g in mixture.draw_batch(32, 4)]
    random_batch = game_batches("random:n=2,k=3")(5, 3)
    assert [g.name for g in random_batch] == [make_game(f"random:n=2,k=3,seed={s}").name for s in (5, 6, 7)]
    assert game_batches("bos") is None and game_batches("random:n=2,k=3,seed=1") is None
    for bad in ("mix:v9", "mix:v1:seed=x", "mix:v1:k=3", "mix:v1:seed=-2"):
        with pytest.raises(MixtureError):
            load_game(bad)


def draws(name: str, count: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    gen = GENERATORS[name]
    for j in range(count):
        shape = gen.sample_shape(rng) if j % 5 else (3, 3, 2)       # every fifth: a three-player shape
        if not gen.accepts(shape):
            shape = gen.sample_shape(rng)
        yield as_game(gen.payoffs(rng, shape))


def test_coordination_traps_have_equilibria_of_different_welfare():
    for game in draws("coordination_trap"):
        welfare = game.welfare()
        values = [welfare[e] for e in pure_nash(game)]
        assert len(values) >= 2 and max(values) - min(values) > 1e-3 * game.scale, game.shape


def test_dilemmas_have_one_pure_equilibrium_below_the_welfare_optimum():
    for game in draws("dilemma_exploit"):
        equilibria = pure_nash(game)
        assert len(equilibria) == 1, game.shape
        assert game.welfare()[equilibria[0]] < game.welfare().max() - 1e-3 * game.scale


def test_three_player_public_goods_trap_free_riders_below_the_optimum():
    for game in draws("three_player"):
        assert game.n_players == 3
        welfare = game.welfare()
        assert min(welfare[e] for e in pure_nash(game)) < welfare.max() - 1e-3 * game.scale


def test_bargaining_at_the_papers_parameters_is_example1():
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(mixture.bargaining(rng, (2, 4), spread=0.0), make_game("example1").payoffs)
    np.testing.assert_allclose(mixture.bargaining(rng, (2, 2), spread=0.0), make_game("example2").payoffs)
    perturbed = mixture.bargaining(rng, (2, 4))
    assert perturbed.shape == (2, 2, 4) and not np.allclose(perturbed, make_game("example1").payoffs)
    with pytest.raises(MixtureError):
        mixture.bargaining(rng, (3, 3))
