"""mediator/schedule.py: a user-given payment schedule, evaluated (values worked out by hand)."""
import numpy as np
import pytest

from envs.game import DesignGame, GameError
from mediator.schedule import evaluate_schedule, payment_schedule, strictly_dominant

# Battle of the Sexes as in the paper's Example 3: rows P1's L, S; columns P2's L, S.
BOS = DesignGame(("P1", "P2"), (("L", "S"), ("L", "S")),
                 np.array([[[5, -2], [-2, 3]], [[3, -2], [-2, 5]]], float))
PD = DesignGame(("A", "B"), (("C", "D"), ("C", "D")), np.array([[[3, 0], [5, 1]], [[3, 5], [0, 1]]], float))


def test_payment_schedule_places_and_adds_amounts_by_name():
    t = payment_schedule(BOS, [("P2", ("S", "L"), 1.5), ("P1", ("L", "S"), 2.0), ("P2", ("S", "L"), 0.5)])
    expected = np.zeros((2, 2, 2))
    expected[1, 1, 0], expected[0, 0, 1] = 2.0, 2.0
    np.testing.assert_array_equal(t, expected)


@pytest.mark.parametrize("payments, message", [
    ([("P3", ("L", "L"), 1.0)], "no player 'P3'"),
    ([("P1", ("L", "X"), 1.0)], "has no design 'X'"),
    ([("P1", ("L",), 1.0)], "names 2 designs"),
    ([("P1", ("L", "L"), -1.0)], "nonnegative"),
])
def test_payment_schedule_rejects_bad_entries(payments, message):
    with pytest.raises(GameError, match=message):
        payment_schedule(BOS, payments)


def test_evaluate_schedule_rejects_a_wrongly_shaped_or_negative_schedule():
    with pytest.raises(GameError, match="shape"):
        evaluate_schedule(BOS, np.zeros((2, 2)))
    with pytest.raises(GameError, match="nonnegative"):
        evaluate_schedule(BOS, -np.ones((2, 2, 2)))


def test_strictly_dominant_designs():
    assert [strictly_dominant(PD, i) for i in range(2)] == [1, 1]          # D dominates C for both
    assert [strictly_dominant(BOS, i) for i in range(2)] == [None, None]
    ties = DesignGame(("A", "B"), (("x", "y"), ("u", "v")), np.array([[[1, 0], [1, -1]], [[0, 0], [0, 0]]], float))
    assert strictly_dominant(ties, 0) is None                               # x only weakly beats y


def test_a_schedule_paid_on_the_path_costs_what_the_equilibria_play():
    # +1 to P1 at (L, L). P1's L now pays 6q - 2(1 - q) against P2's L-probability q and S pays
    # -2q + 3(1 - q): indifferent at q = 5/13; P2's indifference still needs P1's p = 7/12.
    out = evaluate_schedule(BOS, payment_schedule(BOS, [("P1", ("L", "L"), 1.0)]), mixed="all")
    assert out.dominant == (None, None)
    pure = {e.equilibrium.profile: e for e in out.equilibria if not e.equilibrium.mixed}
    assert set(pure) == {(0, 0), (1, 1)}
    assert pure[(0, 0)].cost == pytest.approx(1.0) and pure[(1, 1)].cost == 0.0
    np.testing.assert_allclose(pure[(0, 0)].payoffs, [5, 3])               # payments excluded
    np.testing.assert_allclose(pure[(0, 0)].equilibrium.payoffs, [6, 3])   # ... and included
    (mixed,) = [e for e in out.equilibria if e.equilibrium.mixed]
    p, q = 7 / 12, 5 / 13
    np.testing.assert_allclose(mixed.equilibrium.strategies[0], [p, 1 - p], atol=1e-9)
    np.testing.assert_allclose(mixed.equilibrium.strategies[1], [q, 1 - q], atol=1e-9)
    assert mixed.cost == pytest.approx(p * q)                                # 35/156
    # P(L,L) = 35/156, P(S,S) = 40/156, a mismatch otherwise: 8 (75/156) - 4 (81/156) = 23/13.
    assert mixed.welfare == pytest.approx(23 / 13)
    assert "(L, L) (realised cost 1)" in out.explanation


def test_a_schedule_can_make_the_efficient_profile_of_a_prisoners_dilemma_dominant():
    # Paying 2.5 for C against C and 1.5 for C against D (each player): C beats D by 0.5 everywhere;
    # at (C, C) the promise against D is never paid, but 2.5 each is.
    t = payment_schedule(PD, [("A", ("C", "C"), 2.5), ("A", ("C", "D"), 1.5),
                              ("B", ("C", "C"), 2.5), ("B", ("D", "C"), 1.5)])
    out = evaluate_schedule(PD, t)
    assert out.dominant == (0, 0)
    (eq,) = out.equilibria
    assert eq.equilibrium.profile == (0, 0)
    assert eq.cost == pytest.approx(5.0) and eq.welfare == pytest.approx(6.0)
    assert out.promised == pytest.approx(8.0)
