"""Extreme equilibria by vertex enumeration (mediator.vertex) against Gambit, lrsnash and hand-derived sets."""
import sys
from pathlib import Path

import numpy as np
import pygambit as gbt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mediator.vertex as vertex
from envs.catalog import make_game, random_game
from envs.game import DesignGame
from mediator.equilibria import CertificateError, nash_equilibria
from mediator.vertex import extreme_equilibria, polytope_labels

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_equilibria import degenerate_game, lrsnash_equilibria, same_set  # noqa: E402  the benchmark's games and peer


def bimatrix(a, b, name: str = "game") -> DesignGame:
    a, b = np.asarray(a, float), np.asarray(b, float)
    designs = (tuple(f"r{i}" for i in range(a.shape[0])), tuple(f"c{j}" for j in range(a.shape[1])))
    return DesignGame(("P1", "P2"), designs, np.stack([a, b]), name=name)


def assert_same_set(ours, reference) -> None:
    """Every equilibrium of each list is within the benchmark's tolerance of one of the other's; ours are distinct."""
    assert same_set(ours, reference)
    flat = np.array([np.concatenate(e) for e in ours])
    assert len(flat) == len(np.unique(np.round(flat, 9), axis=0))


def gambit(game: DesignGame, rational: bool):
    g = gbt.Game.from_arrays(*game.payoffs)
    return [[np.array([float(eq[s]) for s in p.strategies]) for p in g.players]
            for eq in gbt.nash.enummixed_solve(g, rational=rational).equilibria]


def duplicated_game(seed: int) -> DesignGame:
    """A random 4x4 game with its first row and first column repeated twice more (6x6, degenerate)."""
    u = random_game(2, 4, seed=seed).payoffs
    u = u[:, [0, 0, 0, 1, 2, 3]][:, :, [0, 0, 0, 1, 2, 3]]
    return bimatrix(*u, name=f"duplicated:seed={seed}")


@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (5, 3), (6, 6), (4, 9), (10, 10)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_games_match_gambit(shape, seed):
    game = random_game(2, shape, seed=seed)
    assert_same_set(extreme_equilibria(game), gambit(game, rational=False))


def test_exact_enumeration_alone_gives_the_same_set(monkeypatch):
    # With the floating-point certificate refused, every polytope goes through cdd.gmp.
    game = random_game(2, (5, 7), seed=9)
    monkeypatch.setattr(vertex, "_certified_simple", lambda slack, dim: None)
    assert_same_set(extreme_equilibria(game), gambit(game, rational=True))


@pytest.mark.parametrize("seed", [0, 1, 2])        # Gambit's enummixed takes 25-75 s on these, lrsnash 1.4-2.8 s
def test_random_13x13_matches_lrsnash(seed):
    game = random_game(2, 13, seed=seed)
    assert_same_set(extreme_equilibria(game), lrsnash_equilibria(game))


@pytest.mark.parametrize("game", [degenerate_game(k, s) for k, s in [((2, 3), 0), (3, 1), ((4, 5), 2), ((5, 4), 3),
                                                                  (6, 6), (8, 8)]]  # the benchmark's 6x6 and 8x8
                         + [duplicated_game(s) for s in range(3)], ids=lambda g: g.name)
def test_degenerate_games_match_gambit_exact(game):
    # Gambit's rational enumeration is exact; it may list an equilibrium twice, which same_set ignores.
    assert_same_set(extreme_equilibria(game), gambit(game, rational=True))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_small_integer_games_match_gambit_exact(m, n, levels, seed):
    game = bimatrix(*np.random.default_rng(seed).integers(0, levels, (2, m, n)))
    assert_same_set(extreme_equilibria(game), gambit(game, rational=True))


@pytest.mark.parametrize("game", [degenerate_game(13, 13), duplicated_game(5)], ids=lambda g: g.name)
def test_degenerate_games_match_lrsnash(game):
    # degenerate_game(13, 13) is the benchmark's degenerate 13x13 game.
    assert_same_set(extreme_equilibria(game), lrsnash_equilibria(game))


def test_zero_game_every_pure_profile_and_exact_labels():
    # u = 0: every profile is an equilibrium; the set is the whole product of simplices, whose
    # vertices are the m x n pure profiles. P's vertex e_i has m - 1 + n labels (x_j = 0, j != i, and
    # every column tight), more than its dimension m: only exact labels say so.
    game = bimatrix(np.zeros((3, 4)), np.zeros((3, 4)))
    expected = [(np.eye(3)[i], np.eye(4)[j]) for i in range(3) for j in range(4)]
    assert_same_set(extreme_equilibria(game), expected)
    z, labels = polytope_labels(game.payoffs[1].T)
    assert sorted(map(tuple, np.round(z, 12))) == [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)]
    assert sorted(labels.sum(axis=1).tolist()) == [3, 6, 6, 6]


def test_von_stengel_degenerate_example_has_a_continuum_with_known_extreme_points():
    # Rows 1-3, columns 1-2. Against row 1 the column player is indifferent (B's row 1 is (3, 3)), and
    # row 1 stays a best reply while 3 >= 2 y1 + 5 y2 and 3 >= 6 y2, i.e. y2 <= 1/3: the segment
    # {row 1} x [(1, 0), (2/3, 1/3)]. The only other equilibrium mixes rows 2, 3 as (1/3, 2/3), making
    # the columns indifferent (8/3 each), against y = (1/3, 2/3), making rows 2, 3 pay 4 > 3.
    game = bimatrix([[3, 3], [2, 5], [0, 6]], [[3, 3], [2, 6], [3, 1]])
    expected = [([1, 0, 0], [1, 0]), ([1, 0, 0], [2 / 3, 1 / 3]), ([0, 1 / 3, 2 / 3], [1 / 3, 2 / 3])]
    assert_same_set(extreme_equilibria(game), expected)


def test_example3_battle_of_the_sexes_by_hand():
    # P1 plays L with p = 7/12 (P2 indifferent: 5p - 2 = 5 - 7p), P2 plays L with q = 5/12 (P1: 7q - 2 = 3 - 5q).
    expected = [([1, 0], [1, 0]), ([0, 1], [0, 1]), ([7 / 12, 5 / 12], [5 / 12, 7 / 12])]
    assert_same_set(extreme_equilibria(make_game("bos")), expected)


@pytest.mark.parametrize("spec", ["example1", "example2", "bos", "prisoners_dilemma", "stag_hunt", "chicken",
                                  "matching_pennies", "shapley"])
def test_paper_and_classic_games_match_gambit_exact(spec):
    game = make_game(spec)
    assert_same_set(extreme_equilibria(game), gambit(game, rational=True))


def test_nash_equilibria_all_uses_the_vertex_enumeration_deterministically():
    game = degenerate_game(5, 11)
    eqs = nash_equilibria(game, mixed="all")
    assert_same_set([e.strategies for e in eqs], gambit(game, rational=True))
    again = nash_equilibria(game, mixed="all")
    assert all(np.array_equal(np.concatenate(a.strategies), np.concatenate(b.strategies)) for a, b in zip(eqs, again))
    assert [e.mixed for e in eqs] == sorted(e.mixed for e in eqs)


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4)])
def test_a_simple_game_needs_only_the_polytope_of_lower_dimension(monkeypatch, shape):
    # Random games are nondegenerate: the partners' linear systems alone give Gambit's set.
    game = random_game(2, shape, seed=5)
    monkeypatch.setattr(vertex, "_two_sided", lambda a, b: pytest.fail("enumerated both polytopes"))
    assert_same_set(extreme_equilibria(game), gambit(game, rational=False))


@pytest.mark.parametrize("scale", [None, 1])
def test_without_lrs_or_with_its_rounding_refused_cddlib_gives_the_same_set(monkeypatch, scale):
    # None: no lrs binary on PATH. 1: lrs reads payoffs rounded to integers 1..2, whose vertices are not
    # those of the true polytope, so the certificate refuses them and cddlib enumerates instead.
    game = random_game(2, (6, 8), seed=2)
    monkeypatch.setattr(vertex, "LRS_MIN_VERTICES", 0)                 # lrs for every polytope
    if scale is None:
        monkeypatch.setattr(vertex, "LRS", None)
    else:
        monkeypatch.setattr(vertex, "LRS_SCALE", scale)
    calls, enumerate_ = [], vertex._enumerate
    monkeypatch.setattr(vertex, "_enumerate", lambda rows, lib: calls.append(lib) or enumerate_(rows, lib))
    assert_same_set(extreme_equilibria(game), gambit(game, rational=False))
    assert vertex.cdd in calls


@pytest.mark.parametrize("shape", [(6, 6), (5, 9)])
def test_lrs_for_every_polytope_gives_gambit_s_set(monkeypatch, shape):
    monkeypatch.setattr(vertex, "LRS_MIN_VERTICES", 0)
    monkeypatch.setattr(vertex, "_enumerate", lambda rows, lib: pytest.fail("cddlib called"))
    game = random_game(2, shape, seed=4)
    assert_same_set(extreme_equilibria(game), gambit(game, rational=False))


def test_lrs_gives_cddlib_s_vertices():
    m = random_game(2, (5, 7), seed=1).payoffs[0]
    rows = np.asarray(vertex._rows(vertex._float_form(m)))
    ours, (theirs, _) = vertex._lrs_vertices(rows), vertex._enumerate(rows.tolist(), vertex.cdd)
    assert len(ours) == len(theirs)
    ours, theirs = (z[np.lexsort(z.round(9).T)] for z in (ours, theirs))
    assert np.allclose(ours, theirs, atol=1e-9)


def test_partners_refuse_a_slack_of_zero_and_both_polytopes_are_joined_instead():
    # P (player 2's B) is simple, but against c0 the rows r0 and r1 tie for player 1: the partner of
    # x = r0 lies on a third constraint of Q (slack 0), so the one-sided answer is refused.
    game = bimatrix([[2, 0], [2, 1]], [[2, 0], [0, 1]])
    assert vertex._float_labels(game.payoffs[1].T) is not None
    _, labels = vertex._float_labels(game.payoffs[1].T)
    assert vertex.partners(labels, game.payoffs[0]) is None
    assert_same_set(extreme_equilibria(game), gambit(game, rational=True))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_self_check_raises_on_corrupted_partners(monkeypatch):
    game = random_game(2, 6, seed=3)
    solve = vertex.partners
    monkeypatch.setattr(vertex, "partners", lambda labels, other: np.roll(solve(labels, other), 1, axis=0))
    with pytest.raises(CertificateError):
        extreme_equilibria(game)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_self_check_raises_on_a_corrupted_join(monkeypatch):
    game = random_game(2, 6, seed=3)
    monkeypatch.setattr(vertex, "_one_sided", lambda a, b: None)
    assert len(extreme_equilibria(game)) >= 3
    join = vertex.complementary_pairs

    def mismatched(lx, ly, m, with_zero):
        """The true pairs with player 2's vertices rotated (among the real equilibria, or also onto y = 0)."""
        a, b = join(lx, ly, m)
        rotate = np.ones(len(a), bool) if with_zero else ~lx[a, :m].all(axis=1)
        b = b.copy()
        b[rotate] = np.roll(b[rotate], 1)
        return a, b

    monkeypatch.setattr(vertex, "complementary_pairs", lambda lx, ly, m: mismatched(lx, ly, m, False))
    with pytest.raises(CertificateError, match="gains"):
        extreme_equilibria(game)
    monkeypatch.setattr(vertex, "complementary_pairs", lambda lx, ly, m: mismatched(lx, ly, m, True))
    with pytest.raises(CertificateError, match="not a distribution"):
        extreme_equilibria(game)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_self_check_raises_on_corrupted_vertices(monkeypatch):
    game = random_game(2, 5, seed=4)
    monkeypatch.setattr(vertex, "_one_sided", lambda a, b: None)
    labels = vertex.polytope_labels
    monkeypatch.setattr(vertex, "polytope_labels", lambda m: (lambda z, lab: (z[::-1].copy(), lab))(*labels(m)))
    with pytest.raises(CertificateError):
        extreme_equilibria(game)
