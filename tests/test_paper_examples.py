"""The paper's published numbers, from games built out of their definitions."""
import numpy as np
import pytest

from envs.catalog import BargainingModel, make_game
from mediator.analysis import analyze
from mediator.equilibria import correlated_equilibrium, nash_equilibria

# Section 2's table: rows E1, C1; columns (E2,none), (C2,none), (E2,T), (C2,T).
PAPER_TABLE = [
    [(3.91, 4.23), (3.41, 4.81), (2.82, 4.64), (2.51, 5.04)],
    [(4.84, 2.24), (4.62, 3.85), (4.05, 2.36), (3.90, 3.90)],
]


def test_example1_reproduces_the_papers_table_to_two_decimals():
    game = make_game("example1")
    assert game.designs == (("E1", "C1"), ("(E2,none)", "(C2,none)", "(E2,T)", "(C2,T)"))
    table = np.moveaxis(game.payoffs, 0, -1)
    np.testing.assert_array_equal(np.round(table, 2), np.array(PAPER_TABLE))


def test_example1_equilibrium_pareto_domination_and_optimum():
    game = make_game("example1")
    report = analyze(game)
    (eq,) = report["nash"]
    assert eq["profile"] == ["C1", "(C2,T)"] and not eq["mixed"]
    assert np.round(eq["payoffs"], 2).tolist() == [3.90, 3.90]
    assert round(eq["welfare"], 2) == 7.80
    dominators = eq["pareto_dominated_by"]
    assert [d["profile"] for d in dominators] == [["E1", "(E2,none)"]]
    assert round(dominators[0]["welfare"], 2) == 8.14
    assert report["optimum"]["profile"] == ["C1", "(C2,none)"]
    assert report["optimum"]["welfare"] == pytest.approx(game.welfare().max())
    assert report["price_of_anarchy"] == pytest.approx(report["optimum"]["welfare"] / eq["welfare"])


def test_example1_dominant_strategies_as_the_paper_argues():
    u = make_game("example1").payoffs
    assert (u[0][1] > u[0][0]).all()                      # C1 strictly dominates E1
    assert (u[1][:, 3:4] > u[1][:, :3]).all()             # (C2,T) strictly dominates the rest


def test_appendix_a_parameters_are_exposed():
    assert BargainingModel().s_T == 0.2433
    varied = make_game("example1:s_T=0.5,c_T=0.1")
    assert not np.allclose(varied.payoffs, make_game("example1").payoffs)
    # The tool's surplus enters only the tool columns.
    delta = varied.payoffs - make_game("example1:c_T=0.1").payoffs
    assert np.allclose(delta[:, :, :2], 0) and (np.abs(delta[:, :, 2:]) > 0).all()


def test_example1_parameter_file(tmp_path):
    f = tmp_path / "params.json"
    f.write_text('{"s_T": 0.5, "c_T": 0.1}')
    np.testing.assert_array_equal(make_game(f"example1:{f}").payoffs, make_game("example1:s_T=0.5,c_T=0.1").payoffs)


def test_example2_unique_equilibrium():
    game = make_game("example2")
    (eq,) = nash_equilibria(game)
    assert game.profile_names(eq.profile) == ["C1", "(C2,none)"]
    assert np.round(eq.payoffs, 2).tolist() == [4.62, 3.85]
    assert round(eq.welfare, 2) == 8.47


def test_example2_is_example1_without_the_tool():
    full, restricted = make_game("example1"), make_game("example2")
    sub = full.restrict([[True, True], [True, True, False, False]])
    np.testing.assert_array_equal(sub.payoffs, restricted.payoffs)
    assert sub.designs == restricted.designs


def test_bos_has_exactly_three_equilibria():
    game = make_game("bos")
    eqs = nash_equilibria(game)
    assert len(eqs) == 3
    pure = sorted(game.profile_names(e.profile) for e in eqs if not e.mixed)
    assert pure == [["L", "L"], ["S", "S"]]
    (mixed,) = [e for e in eqs if e.mixed]
    np.testing.assert_allclose(mixed.strategies[0], [7 / 12, 5 / 12], atol=1e-9)
    np.testing.assert_allclose(mixed.strategies[1], [5 / 12, 7 / 12], atol=1e-9)
    assert mixed.welfare == pytest.approx(11 / 6, abs=1e-9)
    assert all(e.welfare == pytest.approx(8) for e in eqs if not e.mixed)


def test_bos_best_correlated_equilibrium_has_welfare_8():
    assert correlated_equilibrium(make_game("bos")).welfare == pytest.approx(8, abs=1e-7)


def test_bos_report_lists_the_mixed_equilibrium_as_probability_vectors():
    report = analyze(make_game("bos"))
    (mixed,) = [e for e in report["nash"] if e["mixed"]]
    np.testing.assert_allclose(mixed["profile"], [[7 / 12, 5 / 12], [5 / 12, 7 / 12]], atol=1e-9)
    assert report["price_of_anarchy"] == pytest.approx(8 / (11 / 6))
    assert report["price_of_stability"] == pytest.approx(1.0)
    assert report["correlated"]["max_welfare"] == pytest.approx(8)
    assert report["correlated"]["min_welfare"] == pytest.approx(11 / 6, abs=1e-7)


def test_chicken_value_of_correlation_is_aumanns():
    report = analyze(make_game("chicken"))
    assert report["correlated"]["max_welfare"] == pytest.approx(10.5, abs=1e-7)
    # The best Nash equilibrium is the mixed one, (2/3, 1/3) each, with welfare 28/3.
    assert max(e["welfare"] for e in report["nash"]) == pytest.approx(28 / 3)
    assert report["value_of_correlation"] == pytest.approx(10.5 / (28 / 3))
