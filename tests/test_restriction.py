"""The restriction mediator: Example 2 rediscovered, footnote 5, one solution concept, the frontier, the certificate."""
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envs.catalog import load_game, make_game, random_game
from envs.game import DesignGame
from envs.io import write_game_json
from mediator.equilibria import CertificateError, correlated_equilibrium, pure_nash, welfare_optimum
from mediator.restriction import (
    LOCAL, PURE_OR_CE, RestrictedOutcome, _check_restriction, ban_counts, exhaustive_restrictions, forced,
    restricted_outcome, restriction_mediator, symmetric_restrictions, unrestricted,
)

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ the paper's examples
def test_restriction_search_rediscovers_example2_and_says_so():
    result = restriction_mediator(make_game("example1"))
    assert round(result.welfare, 2) == 8.47
    assert result.details["removed_equilibria"] == [["C1", "(C2,T)"]]
    assert "(C1, (C2,none))" in result.explanation and "tool:T" in result.explanation
    assert "+8.6%" in result.explanation
    # Forbidding the tool itself (Example 2) is judged the same.
    tool_ban = restricted_outcome(make_game("example1"), (np.ones(2, bool), np.array([1, 1, 0, 0], bool)))
    assert round(tool_ban.worst, 2) == 8.47


def test_example1_frontier_one_ban_of_the_tool_with_model_c2_is_the_whole_gain():
    # Paper, Example 1: C1 strictly dominates E1 (4.84 > 3.91, 4.62 > 3.41, 4.05 > 2.82, 3.90 > 2.51).
    # Without (C2,T), P2's best reply to C1 is (C2,none) (3.85 > 2.36 > 2.24): the unique equilibrium
    # is (C1, (C2,none)) with welfare 4.62 + 3.85 = 8.47, the welfare optimum of the table, so one ban suffices.
    result = restriction_mediator(make_game("example1"))
    (entry,) = result.details["frontier"]
    assert entry["bans"] == 1 and entry["exact"]
    assert entry["allowed"] == [["E1", "C1"], ["(E2,none)", "(C2,none)", "(E2,T)"]]
    assert entry["worst_welfare"] == pytest.approx(4.62 + 3.85, abs=0.01)
    assert entry["worst_welfare"] == pytest.approx(result.welfare, abs=1e-9)


def footnote5_game() -> DesignGame:
    """X dominates in the full game; among {A, B, F}, (F, F) is an extra, worse equilibrium."""
    u = np.array([[1, 5, 5, 2],       # X
                  [0, 2, 4, 0],       # A
                  [0, 4, 2, 0],       # B
                  [0, 0, 0, 0.5]])    # F
    return DesignGame(("P1", "P2"), (("X", "A", "B", "F"),) * 2, np.stack([u, u.T]))


def test_a_restriction_that_keeps_a_bad_design_creates_a_worse_equilibrium():
    game = footnote5_game()
    family = (np.array([0, 1, 1, 1], bool),) * 2
    given = restriction_mediator(game, allowed=family)
    assert ["F", "F"] in given.details["created_equilibria"]
    assert given.welfare < restricted_outcome(game, unrestricted(game)).worst  # worse than no mediation
    assert given.details["frontier"] == []


def test_restriction_search_excludes_the_design_that_creates_the_bad_equilibrium():
    game = footnote5_game()
    best = restriction_mediator(game, space="symmetric")
    assert best.details["allowed"] == [["A", "B"], ["A", "B"]]
    searched = restriction_mediator(game)
    assert searched.welfare == pytest.approx(8)
    assert ["F", "F"] not in [e["profile"] for e in searched.details["equilibria"]]


def test_symmetric_restrictions_need_identical_catalogs():
    with pytest.raises(ValueError):
        list(symmetric_restrictions(make_game("example1")))


def test_restrictions_are_enumerated_fewest_bans_first_and_counted():
    game = random_game(n=3, k=(2, 3, 2), seed=0)
    every = list(exhaustive_restrictions(game))
    bans = [int(sum((~m).sum() for m in masks)) for masks in every]
    assert len(every) == 3 * 7 * 3 and bans == sorted(bans)
    assert np.bincount(bans).tolist() == ban_counts(game.shape)
    assert len({np.concatenate(m).tobytes() for m in every}) == len(every)


# ------------------------------------------------------------------ local search
def test_local_search_reaches_the_forced_optimum_and_stops_where_any_unban_hurts():
    game = random_game(n=2, k=7, seed=3)          # 127^2 restrictions: local search
    z, optimum = welfare_optimum(game)
    # Forcing the welfare-optimal profile leaves it the only outcome; no restriction can do better.
    assert restricted_outcome(game, forced(game, z)).worst == pytest.approx(optimum)
    assert restricted_outcome(game, unrestricted(game)).worst < optimum - 0.5
    result = restriction_mediator(game)
    assert result.details["search"] == LOCAL
    assert result.welfare == pytest.approx(optimum)
    masks = result.intervention.allowed
    assert sum(m.sum() for m in masks) > game.n_players        # less intrusive than forcing the profile
    for i, m in enumerate(masks):                             # allowing any banned design back hurts
        for j in np.flatnonzero(~m):
            more = list(masks)
            more[i] = m.copy()
            more[i][j] = True
            assert restricted_outcome(game, tuple(more)).worst < optimum - 1e-6


# ------------------------------------------------------------------ the frontier
def test_frontier_of_a_13x13_game_is_monotone_checked_and_ends_at_the_chosen_restriction():
    game = load_game("random:n=2,k=13,seed=2")
    result = restriction_mediator(game)
    front = result.details["frontier"]
    chosen = restricted_outcome(game, result.intervention.allowed)
    bans = int(sum((~m).sum() for m in result.intervention.allowed))
    assert [e["bans"] for e in front] == list(range(1, bans + 1))
    welfare = [e["worst_welfare"] for e in front]
    assert welfare == sorted(welfare) and welfare[-1] == chosen.worst
    for e in front:                                    # each entry is a real restriction with <= b bans
        masks = tuple(np.isin(ds, kept) for ds, kept in zip(game.designs, e["allowed"]))
        assert sum((~m).sum() for m in masks) <= e["bans"]
        assert restricted_outcome(game, masks).worst == pytest.approx(e["worst_welfare"], abs=1e-12)
    # Entry 1 is exact: the best of the full game and the 26 single bans, enumerated here.
    single = [unrestricted(game)] + [tuple(np.arange(13) != j if p == i else np.ones(13, bool) for p in range(2))
                                     for i, j in itertools.product(range(2), range(13))]
    assert front[0]["exact"]
    assert front[0]["worst_welfare"] == pytest.approx(max(restricted_outcome(game, m).worst for m in single))


# ------------------------------------------------------------------ n > 2 players: one concept, no NaN
def jordan_game() -> DesignGame:
    """Three-player matching pennies: P1 matches P2, P2 matches P3, P3 mismatches P1; no pure equilibrium."""
    a = np.array(list(itertools.product([0, 1], repeat=3))).reshape(2, 2, 2, 3)
    u = np.stack([np.where(a[..., 0] == a[..., 1], 1.0, -1.0), np.where(a[..., 1] == a[..., 2], 1.0, -1.0),
                  np.where(a[..., 2] != a[..., 0], 1.0, -1.0)])
    return DesignGame(("P1", "P2", "P3"), (("H", "T"),) * 3, u, name="jordan")


def test_a_game_without_pure_equilibrium_is_judged_by_its_worst_correlated_equilibrium():
    game = jordan_game()
    assert pure_nash(game) == []
    base = restricted_outcome(game, unrestricted(game))
    assert base.concept == PURE_OR_CE and base.equilibria == []
    assert base.worst == pytest.approx(correlated_equilibrium(game, "ce", "min").welfare)
    assert np.isfinite(base.payoffs).all() and base.payoffs.sum() == pytest.approx(base.worst)


def test_certificate_rejects_a_worst_correlated_equilibrium_on_a_forbidden_design():
    game = jordan_game()
    out = restricted_outcome(game, unrestricted(game))
    assert out.correlated.distribution[1].sum() > 0          # P1 is told T with positive probability
    banned_t = (np.array([True, False]), np.ones(2, bool), np.ones(2, bool))
    with pytest.raises(CertificateError):
        _check_restriction(game, RestrictedOutcome(banned_t, [], out.worst, out.payoffs, out.concept, out.correlated))


def test_jordan_restriction_forces_one_design_by_hand():
    # No profile has welfare above 1 (the three wishes cannot all hold); allowing P1 only one design
    # makes P3's mismatch, then P2's match, dominant: a unique equilibrium of welfare -1 + 1 + 1 = 1.
    result = restriction_mediator(jordan_game())
    assert result.details["solution_concept"] == PURE_OR_CE
    assert result.welfare == pytest.approx(1.0) and len(result.details["equilibria"]) == 1
    assert sorted(map(len, result.details["allowed"])) == [1, 2, 2]
    assert result.details["frontier"] == [{"bans": 1, "worst_welfare": pytest.approx(1.0),
                                           "allowed": result.details["allowed"], "exact": True}]


def _no_nan(name: str):
    raise ValueError(f"the report holds {name}")


def test_evaluate_json_of_a_three_player_game_without_pure_equilibrium_has_no_nan(tmp_path):
    # Zero-sum pennies: P1 matches P2, P2 matches P3, P3 (paid -u1 - u2) mismatches P2. Every profile has
    # welfare 0, so no restriction improves on the full game, which has no pure equilibrium.
    jordan = jordan_game()
    u = jordan.payoffs.copy()
    u[2] = -u[0] - u[1]
    game = DesignGame(jordan.players, jordan.designs, u, name="zero_sum_pennies")
    assert pure_nash(game) == []
    game_file, out = write_game_json(game, tmp_path / "pennies.json"), tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--game", str(game_file), "--json", str(out),
                           "--rounds", "0"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text(), parse_constant=_no_nan)
    none, restriction = (report["mediators"][k]["static"] for k in ("none", "restriction"))
    assert restriction["solution_concept"] == PURE_OR_CE and restriction["frontier"] == []
    assert restriction["allowed"] == [["H", "T"]] * 3 and restriction["equilibria"] == []
    # The unmediated game and the restriction are judged alike, by the worst CE (its payoffs, not NaN).
    assert restriction["payoffs"] == pytest.approx(none["payoffs"], abs=1e-9)
    assert none["welfare"] == pytest.approx(report["correlated"]["min_welfare"], abs=1e-9)
    assert sum(restriction["payoffs"]) == pytest.approx(0.0, abs=1e-9)
