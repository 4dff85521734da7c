"""Size guards (envs/limits.py): oversized inputs end in one line and exit 2, never a traceback or a
MemoryError; the sparse CE / CCE builders match a dense reference written from the definitions."""
from __future__ import annotations

import itertools
import json
import tracemalloc

import numpy as np
import pytest

import evaluate
from envs import limits
from envs.catalog import random_game
from envs.game import DesignGame
from envs.io import read_game_json
from envs.limits import TooLarge
from mediator.equilibria import coarse_matrix, obedience_matrix


def run_cli(capsys, *argv: str) -> tuple[int, list[str]]:
    code = evaluate.main(list(argv))
    return code, capsys.readouterr().err.splitlines()


def assert_refused(code: int, err: list[str], *words: str) -> None:
    assert code == 2
    assert len(err) == 1 and "Traceback" not in err[0], err
    for w in words:
        assert w in err[0], err[0]


@pytest.mark.parametrize("spec, words", [
    ("random:n=10,k=10", ("payoff tensor", "TiB", "sub-game")),          # 10^10 profiles x 10 players
    ("random:n=2,k=100000", ("payoff tensor", "GiB", "sub-game")),       # 2 x 10^10 floats
])
def test_oversized_random_games_are_refused_before_allocating(capsys, spec, words):
    assert_refused(*run_cli(capsys, "--game", spec, "--rounds", "0"), *words)


def test_five_players_thirty_designs_is_refused_in_one_line(capsys):
    """Its payoff tensor (0.97 GB) fits, its CE LP (3.5e9 nonzeros) and its restriction search do not."""
    code, err = run_cli(capsys, "--game", "random:n=5,k=30", "--rounds", "0")
    assert_refused(code, err, "30 x 30 x 30 x 30 x 30", "sub-game")
    with pytest.raises(TooLarge, match="correlated equilibrium LP"):
        limits.check_lp((30,) * 5, "ce")


def test_oversized_game_file_is_refused_before_its_tensor_is_built(capsys, tmp_path):
    """12 players with 10 designs each declare 10^12 profiles; the payoffs are never walked."""
    path = tmp_path / "huge.json"
    path.write_text(json.dumps({"name": "huge", "players": [f"P{i}" for i in range(12)],
                                "designs": [[f"d{j}" for j in range(10)] for _ in range(12)], "payoffs": []}))
    code, err = run_cli(capsys, "--game", str(path), "--rounds", "0")
    assert_refused(code, err, str(path), "designs", "payoff tensor")


def test_a_json_file_too_large_to_parse_is_refused_before_reading(monkeypatch, tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(random_game(2, 3).to_dict()))
    monkeypatch.setattr(limits, "memory_budget", lambda: 1000)             # the file is ~600 chars
    with pytest.raises(TooLarge, match="reading .*g.json"):
        read_game_json(path)


def test_a_game_just_under_the_memory_limit_still_runs(capsys, monkeypatch):
    """random 4x4: the voucher LP is its largest step, with 2 players x 4 x 3 = 24 obedience rows of 4
    entries (96) plus one transfer entry each (120 nonzeros) over 16 + 8 variables."""
    need = limits.LP_BYTES_PER_NONZERO * 120 + limits.LP_BYTES_PER_VARIABLE * 24
    monkeypatch.setattr(limits, "memory_budget", lambda: need)
    code, err = run_cli(capsys, "--game", "random:n=2,k=4", "--rounds", "0")
    assert code == 0 and err == []
    monkeypatch.setattr(limits, "memory_budget", lambda: need - 1)
    assert_refused(*run_cli(capsys, "--game", "random:n=2,k=4", "--rounds", "0"), "voucher LP", "120 nonzeros")


def test_dynamics_too_large_for_the_engine_are_refused_before_any_work(capsys, monkeypatch):
    monkeypatch.setattr(limits, "memory_budget", lambda: 10 << 20)
    code, err = run_cli(capsys, "--game", "random:n=3,k=10", "--seeds", "100")
    assert_refused(code, err, "learning dynamics", "--seeds")


def test_vertex_enumeration_and_the_logit_path_have_time_limits():
    limits.check_vertex((13, 13))                                         # ~1 s here
    limits.check_vertex((16, 16), lrs=True)                               # ~10 s here
    for lrs in (False, True):
        with pytest.raises(TooLarge, match="--mixed one"):
            limits.check_vertex((25, 25), lrs=lrs)
    limits.check_logit((3, 3, 3))
    with pytest.raises(TooLarge, match="--mixed none"):
        limits.check_logit((20,) * 6)


def test_upper_bound_theorem_counts():
    """McMullen's bound: a triangle has 3 vertices, a 3-polytope with 6 facets at most 8 (the cube), a
    4-polytope with 6 facets at most 9 (the dual of the cyclic polytope C(6, 4): f (f - 3) / 2)."""
    assert limits.polytope_vertices(4, 6) == 9
    assert limits.polytope_vertices(2, 3) == 3
    assert limits.polytope_vertices(3, 6) == 8


# --------------------------------------------------------------------------- sparse builders
def dense_obedience(game: DesignGame) -> np.ndarray:
    """Row (i, d, d'), d' != d ascending: the coefficient of p(a) is u_i(a) - u_i(d', a_-i) where a_i = d."""
    rows = []
    for i, k in enumerate(game.shape):
        for d, dp in itertools.product(range(k), repeat=2):
            if d == dp:
                continue
            row = np.zeros(game.shape)
            for a in itertools.product(*map(range, game.shape)):
                if a[i] == d:
                    row[a] = game.payoffs[i][a] - game.payoffs[i][a[:i] + (dp,) + a[i + 1:]]
            rows.append(row.ravel())
    return np.array(rows).reshape(-1, game.n_profiles)  # (0, K) when every player has one design


def dense_coarse(game: DesignGame) -> np.ndarray:
    """Row (i, d'): the coefficient of p(a) is u_i(a) - u_i(d', a_-i), for every profile a."""
    rows = []
    for i, k in enumerate(game.shape):
        for dp in range(k):
            row = np.zeros(game.shape)
            for a in itertools.product(*map(range, game.shape)):
                row[a] = game.payoffs[i][a] - game.payoffs[i][a[:i] + (dp,) + a[i + 1:]]
            rows.append(row.ravel())
    return np.array(rows)


@pytest.mark.parametrize("shape", [(3, 3), (2, 3), (1, 3), (3, 2, 4), (2, 2, 2, 2)])
def test_sparse_builders_match_the_definitions(shape):
    game = random_game(len(shape), shape, seed=5)
    g, h = obedience_matrix(game), coarse_matrix(game)
    np.testing.assert_array_equal(g.toarray(), dense_obedience(game))
    np.testing.assert_array_equal(h.toarray(), dense_coarse(game))
    k = np.array(shape)
    assert limits.lp_size(shape, "ce") == (g.shape[0], game.n_profiles, np.count_nonzero(dense_obedience(game)))
    assert g.shape[0] == (k * (k - 1)).sum()


def test_five_player_twelve_design_ce_matrix_builds_in_little_memory():
    """248,832 profiles, 660 rows, 13.7M nonzeros: the matrix (8-byte values, 4-byte indices) is 157 MiB;
    the builder peaks at 161 MiB here (the dense (pairs x K_-i) intermediates of the former builder:
    888 MiB). Asserted with margin: under 1.25 x the matrix itself."""
    game = random_game(5, 12, seed=0)
    tracemalloc.start()
    try:
        g = obedience_matrix(game)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert g.shape == (5 * 12 * 11, 12**5) and g.nnz == 5 * 12 * 11 * 12**4
    matrix = g.data.nbytes + g.indices.nbytes + g.indptr.nbytes
    assert matrix == 12 * g.nnz + 4 * (g.shape[0] + 1)
    assert peak < 1.25 * matrix


def test_mixed_none_on_a_game_without_a_pure_equilibrium_reports_none_found(capsys, tmp_path):
    # the refusals above suggest --mixed none; matching pennies has no pure equilibrium at all
    out = tmp_path / "r.json"
    code, err = run_cli(capsys, "--game", "matching_pennies", "--mixed", "none", "--rounds", "0", "--json", str(out))
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["nash"] == [] and report["price_of_anarchy"] is None
    assert report["mediators"]["none"]["static"]["equilibria_welfare"] is None
