"""Tests for envs/io.py: round trips, strict validation with one-line located errors, atomic writes."""
import copy
import json
import math
import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs import io as gio
from envs.game import DesignGame, GameError
from envs.io import (GameFileError, atomic_write_text, read_game, read_game_csv, read_game_json,
                     write_game, write_game_csv, write_game_json)

DESIGNS = [["C1", "(C2,T)"], ["E1", '"E2", quoted', "(E3,T)"]]
BASE = {
    "name": "base",
    "players": ["Alice", "Bob"],
    "designs": DESIGNS,
    "payoffs": [[[1, 2, 3], [4, 5, 6]], [[-1.5, 0.1, 2], [3, 1e-300, 7]]],
}


def two_player_game(**kw) -> DesignGame:
    return DesignGame(players=("Alice", "Bob"), designs=DESIGNS,
                      payoffs=np.array(BASE["payoffs"], dtype=float) / 3, **kw)


def three_player_game() -> DesignGame:
    rng = np.random.default_rng(0)
    return DesignGame(
        players=("A", "B", "C"), designs=(("a1", "a,2"), ("b1", "b2", 'b"3"'), ("c1",)),
        payoffs=rng.normal(size=(3, 2, 3, 1)), name="three", description="line one\nline two",
        tags=((("llm", "tool"), ()), (("x",), ("y",), ("z", "w")), (("solo",),)),
        payoff_stderr=np.abs(rng.normal(size=(3, 2, 3, 1))),
    )


def assert_same(a: DesignGame, b: DesignGame) -> None:
    fields = lambda g: (g.players, g.designs, g.name, g.description, g.tags)  # noqa: E731
    assert fields(a) == fields(b)
    assert np.array_equal(a.payoffs, b.payoffs)
    assert (a.payoff_stderr is None) == (b.payoff_stderr is None)
    if a.payoff_stderr is not None:
        assert np.array_equal(a.payoff_stderr, b.payoff_stderr)


def assert_error(call, path, *fragments: str) -> str:
    with pytest.raises(GameFileError) as info:
        call()
    msg = str(info.value)
    assert Path(path).name in msg, msg
    assert "\n" not in msg and "\r" not in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("game", [two_player_game(), two_player_game(description="d", name="n"), three_player_game()])
def test_json_round_trip(tmp_path, game):
    path = write_game_json(game, tmp_path / "g.json")
    assert path == tmp_path / "g.json"
    text = path.read_text()
    assert text.endswith("}\n") and text.startswith('{\n  "name"')
    assert_same(read_game_json(path), game)
    assert_same(read_game(str(path)), game)
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_json_file_is_the_contract(tmp_path):
    (tmp_path / "g.json").write_text(json.dumps(BASE))
    game = read_game_json(tmp_path / "g.json")
    assert game.players == ("Alice", "Bob") and game.designs[1][1] == '"E2", quoted'
    assert game.payoffs.shape == (2, 2, 3) and game.payoffs[1, 1, 1] == 1e-300
    assert game.tags is None and game.payoff_stderr is None and game.description == ""


def test_csv_round_trip(tmp_path):
    game = two_player_game(name="pair")
    p1, p2 = write_game_csv(game, tmp_path / "pair_1.csv", tmp_path / "pair_2.csv")
    assert p1.read_text().splitlines()[0] == 'Alice,E1,"""E2"", quoted","(E3,T)"'
    back = read_game_csv(p1, p2, name="pair", players=("Alice", "Bob"))
    assert_same(back, game)
    assert_same(read_game(f"{p1},{p2}"), DesignGame(("P1", "P2"), game.designs, game.payoffs, name="pair_1"))
    assert_same(read_game((p1, p2)), read_game(f"{p1}, {p2}"))
    assert sorted(tmp_path.iterdir()) == [p1, p2]


def test_csv_reads_hand_written_files(tmp_path):
    (tmp_path / "a.csv").write_bytes(b'\xef\xbb\xbf,L,"(R,T)"\r\nU,1, 2\r\nD,3e0,-4\r\n\r\n')
    (tmp_path / "b.csv").write_text('corner,L,"(R,T)"\nU,5,6\nD,7,8\n')
    game = read_game_csv(tmp_path / "a.csv", tmp_path / "b.csv")
    assert game.players == ("P1", "P2") and game.designs == (("U", "D"), ("L", "(R,T)"))
    assert game.payoffs.tolist() == [[[1, 2], [3, -4]], [[5, 6], [7, 8]]]


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(str.strip)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(names, min_size=1, max_size=3, unique=True),
       cols=st.lists(names, min_size=1, max_size=3, unique=True), data=st.data())
def test_round_trip_property(rows, cols, data):
    floats = st.floats(allow_nan=False, allow_infinity=False)
    payoffs = data.draw(st.lists(st.lists(st.lists(floats, min_size=len(cols), max_size=len(cols)),
                                          min_size=len(rows), max_size=len(rows)), min_size=2, max_size=2))
    game = DesignGame(("P1", "P2"), (rows, cols), payoffs, name="h")
    with tempfile.TemporaryDirectory() as d:
        assert_same(read_game_json(write_game_json(game, Path(d, "h.json"))), game)
        assert_same(read_game_csv(*write_game_csv(game, Path(d, "h.a.csv"), Path(d, "h.b.csv")), name="h"), game)


# ----------------------------------------------------------------------------- bad JSON files
def with_payoff(index, value, key="payoffs"):
    data = copy.deepcopy(BASE)
    data.setdefault(key, np.abs(BASE["payoffs"]).tolist())
    *outer, last = index
    target = data[key]
    for i in outer:
        target = target[i]
    target[last] = value
    return data


def changed(**kw):
    data = copy.deepcopy(BASE)
    for key, value in kw.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return data


BAD_JSON = [  # (id, file text or dict to dump, fragments the message must contain)
    ("invalid", '{"name": "g",\n  "players": [}', ["line 2, column 15", "invalid JSON"]),
    ("empty", "", ["line 1, column 1", "invalid JSON"]),
    ("top-level-list", "[1, 2]", ["top level", "expected a JSON object"]),
    ("nan-literal", with_payoff((0, 1, 2), math.nan), ["payoffs[0][1][2]", "NaN is not finite"]),
    ("infinity", with_payoff((1, 0, 0), math.inf), ["payoffs[1][0][0]", "Infinity is not finite"]),
    ("minus-infinity", with_payoff((1, 1, 2), -math.inf), ["payoffs[1][1][2]", "not finite"]),
    ("overflow-float", json.dumps(BASE).replace("1e-300", "1e999"), ["payoffs[1][1][1]", "not finite"]),
    ("huge-int", json.dumps(BASE).replace("1e-300", "9" * 400), ["payoffs[1][1][1]", "not finite"]),
    ("string-payoff", with_payoff((0, 1, 2), "abc"), ['payoffs[0][1][2]: "abc" is not a number']),
    ("numeric-string", with_payoff((0, 0, 0), "1.5"), ['payoffs[0][0][0]: "1.5" is not a number']),
    ("bool-payoff", with_payoff((1, 0, 1), True), ["payoffs[1][0][1]: true is not a number"]),
    ("null-payoff", with_payoff((1, 0, 1), None), ["payoffs[1][0][1]: null is not a number"]),
    ("ragged", with_payoff((1, 0), [1, 2]), ["payoffs[1][0]: expected 3 entries, got 2"]),
    ("too-few-players-axis", changed(payoffs=[BASE["payoffs"][0]]), ["payoffs: expected 2 entries, got 1"]),
    ("too-shallow", changed(payoffs=[[1, 2], [3, 4]]), ["payoffs[0][0]: expected a list of 3 entries, got 1"]),
    ("too-deep", with_payoff((0, 0, 0), [1]), ["payoffs[0][0][0]: [1] is not a number"]),
    ("duplicate-design", changed(designs=[["C1", "C1"], DESIGNS[1]]),
     ['designs[0][1]: duplicate name "C1"', "designs[0][0]"]),
    ("duplicate-player", changed(players=["Alice", "Alice"]), ["players[1]: duplicate name"]),
    ("empty-player", changed(players=["Alice", "  "]), ['players[1]: empty name "  "']),
    ("empty-design", changed(designs=[["C1", ""], DESIGNS[1]]), ["designs[0][1]: empty name"]),
    ("non-string-name", changed(players=["Alice", 7]), ["players[1]: expected a name (string), got 7"]),
    ("one-player", changed(players=["Alice"], designs=[DESIGNS[0]], payoffs=[[1, 2]]),
     ["players: a game needs at least 2 players, got 1"]),
    ("no-design", changed(designs=[DESIGNS[0], []]), ['designs[1]: player "Bob" has no design']),
    ("design-count", changed(designs=[DESIGNS[0]]), ["designs: 2 players but 1 design lists"]),
    ("unknown-key", changed(colour="red", weight=1), ['unknown key(s) "colour", "weight"']),
    ("missing-key", changed(payoffs=None), ['missing key(s) "payoffs"']),
    ("wrong-type", changed(name=5), ["name: expected a string, got 5"]),
    ("wrong-type-list", changed(players="Alice,Bob"), ['players: expected a list, got "Alice,Bob"']),
    ("description-type", changed(description=["x"]), ["description: expected a string"]),
    ("tags-shape", changed(tags=[[[], []], [[], []]]), ["tags[1]: expected 3 entries, got 2"]),
    ("tag-type", changed(tags=[[[], ["ok", 3]], [[], [], []]]), ["tags[0][1][1]: expected a string, got 3"]),
    ("stderr-nan", with_payoff((0, 0, 1), math.nan, key="payoff_stderr"), ["payoff_stderr[0][0][1]", "not finite"]),
    ("stderr-negative", with_payoff((1, 1, 0), -0.5, key="payoff_stderr"),
     ["payoff_stderr[1][1][0]: -0.5 is negative"]),
    ("stderr-shape", changed(payoff_stderr=[[1]]), ["payoff_stderr: expected 2 entries, got 1"]),
]


@pytest.mark.parametrize("content, fragments", [case[1:] for case in BAD_JSON], ids=[case[0] for case in BAD_JSON])
def test_bad_json(tmp_path, content, fragments):
    path = tmp_path / "bad_game.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert_error(lambda: read_game_json(path), path, *fragments)
    assert_error(lambda: read_game(path), path, *fragments)


def test_missing_and_unreadable_json(tmp_path):
    assert_error(lambda: read_game_json(tmp_path / "nope.json"), "nope.json", "cannot read", "No such file")
    (tmp_path / "dir.json").mkdir()
    assert_error(lambda: read_game_json(tmp_path / "dir.json"), "dir.json", "cannot read")
    (tmp_path / "latin.json").write_bytes(b'{"name": "caf\xe9"}')
    assert_error(lambda: read_game_json(tmp_path / "latin.json"), "latin.json", "cannot read", "utf-8")


def test_messages_stay_on_one_line(tmp_path):
    path = tmp_path / "nl.json"
    path.write_text(json.dumps(changed(players=["A\nB", "A\nB"])))
    assert_error(lambda: read_game_json(path), path, r'players[1]: duplicate name "A\nB"')


def test_file_error_is_a_game_error():
    assert issubclass(GameFileError, GameError) and issubclass(GameFileError, ValueError)


# ----------------------------------------------------------------------------- bad CSV files
GOOD_CSV = ',"(E1,T)",E2\nC1,1,2\nC2,3,4\n'
BAD_CSV = [  # (id, first file's text, second file's text, fragments)
    ("ragged-row", ',"(E1,T)",E2\nC1,1,2\nC2,3\n', GOOD_CSV, ["p1.csv: row 3: expected 3 values, got 2"]),
    ("long-row", ',"(E1,T)",E2\nC1,1,2,9\nC2,3,4\n', GOOD_CSV, ["p1.csv: row 2: expected 3 values, got 4"]),
    ("non-numeric", GOOD_CSV, '"","(E1,T)",E2\nC1,1,2\nC2,x,4\n',
     ['p2.csv: row 3, column "(E1,T)": "x" is not a number']),
    ("empty-cell", ',"(E1,T)",E2\nC1,1,\nC2,3,4\n', GOOD_CSV, ['p1.csv: row 2, column "E2": "" is not a number']),
    ("inf-cell", ',"(E1,T)",E2\nC1,inf,2\nC2,3,4\n', GOOD_CSV, ['p1.csv: row 2, column "(E1,T)": "inf" is not finite']),
    ("nan-cell", GOOD_CSV, ',"(E1,T)",E2\nC1,1,2\nC2,3, NaN\n', ['p2.csv: row 3, column "E2": " NaN" is not finite']),
    ("overflow-cell", ',"(E1,T)",E2\nC1,1e999,2\nC2,3,4\n', GOOD_CSV, ["row 2", "is not finite"]),
    ("header-mismatch", GOOD_CSV, ',"(E1,T)",E3\nC1,1,2\nC2,3,4\n', ["p1.csv", "p2.csv", "column design names"]),
    ("row-name-mismatch", GOOD_CSV, ',"(E1,T)",E2\nC2,1,2\nC1,3,4\n', ["p1.csv", "p2.csv", "row design names"]),
    ("empty-file", "", GOOD_CSV, ["p1.csv: file is empty"]),
    ("no-data-rows", ',"(E1,T)",E2\n', GOOD_CSV, ["p1.csv: no data rows"]),
    ("no-columns", 'corner\nC1\n', GOOD_CSV, ["p1.csv: row 1: the header names no column designs"]),
    ("duplicate-column", ',E1,E1\nC1,1,2\nC2,3,4\n', GOOD_CSV, ['p1.csv: row 1, column 3: duplicate name "E1"']),
    ("duplicate-row", GOOD_CSV, ',"(E1,T)",E2\nC1,1,2\nC1,3,4\n', ['p2.csv: row 3, column 1: duplicate name "C1"']),
    ("empty-row-name", ',"(E1,T)",E2\n ,1,2\nC2,3,4\n', GOOD_CSV, ["p1.csv: row 2, column 1: empty name"]),
]


@pytest.mark.parametrize("text1, text2, fragments", [case[1:] for case in BAD_CSV], ids=[case[0] for case in BAD_CSV])
def test_bad_csv(tmp_path, text1, text2, fragments):
    p1, p2 = tmp_path / "p1.csv", tmp_path / "p2.csv"
    p1.write_text(text1)
    p2.write_text(text2)
    bad = p2 if any(f.startswith("p2.csv") for f in fragments) else p1
    assert_error(lambda: read_game_csv(p1, p2), bad, *fragments)
    assert_error(lambda: read_game((p1, p2)), bad, *fragments)


def test_csv_players_and_missing_file(tmp_path):
    p1, p2 = tmp_path / "p1.csv", tmp_path / "p2.csv"
    p1.write_text(GOOD_CSV)
    p2.write_text(GOOD_CSV)
    assert_error(lambda: read_game_csv(p1, p2, players=("A", "B", "C")), p1, "p2.csv", "two-player games only")
    assert_error(lambda: read_game_csv(p1, p2, players=("A", "A")), p1, "p2.csv", "player names")  # from DesignGame
    assert_error(lambda: read_game_csv(p1, tmp_path / "gone.csv"), "gone.csv", "cannot read")


# ----------------------------------------------------------------------------- dispatch & writes
@pytest.mark.parametrize("source", ["game.txt", "a.csv", "a.csv,b.csv,c.csv", "a.json,b.csv",
                                    ("a.csv",), ("a.json", "b.csv")])
def test_read_game_rejects_unsupported(source):
    msg = assert_error(lambda: read_game(source), source[0] if isinstance(source, tuple) else source, "unsupported")
    assert ".json" in msg and ".csv" in msg


def test_write_game(tmp_path):
    game = three_player_game()
    assert_same(read_game(write_game(game, tmp_path / "g.JSON")), game)
    assert_error(lambda: write_game(game, tmp_path / "g.csv"), "g.csv", "JSON", "write_game_csv")
    assert_error(lambda: write_game_csv(game, tmp_path / "a.csv", tmp_path / "b.csv"), "a.csv", "two-player games only")
    assert_error(lambda: write_game_json(game, tmp_path / "no_dir" / "g.json"), "g.json", "cannot write")
    assert [p.name for p in tmp_path.iterdir()] == ["g.JSON"]


def test_write_replaces_existing_file_with_normal_permissions(tmp_path):
    path = tmp_path / "g.json"
    path.write_text("old")
    write_game_json(two_player_game(), path)
    assert read_game_json(path).players == ("Alice", "Bob")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_unserialisable_game_leaves_nothing(tmp_path):
    game = two_player_game(name=object())  # DesignGame does not check the name's type
    assert_error(lambda: write_game_json(game, tmp_path / "g.json"), "g.json", "cannot write", "not JSON serializable")
    nan_stderr = two_player_game(payoff_stderr=np.full((2, 2, 3), np.nan))
    assert_error(lambda: write_game_json(nan_stderr, tmp_path / "g.json"), "g.json", "cannot write")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_failures_leave_nothing(tmp_path, monkeypatch):
    with pytest.raises(TypeError):
        atomic_write_text(tmp_path / "r.txt", object())  # the temp file exists when write() fails
    assert list(tmp_path.iterdir()) == []

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gio.os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(tmp_path / "r.txt", "text")
    assert_error(lambda: write_game_json(two_player_game(), tmp_path / "g.json"), "g.json",
                 "cannot write: No space left")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "r.txt"
    atomic_write_text(path, "old\r\n")
    monkeypatch.setattr(gio.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_bytes() == b"old\r\n" and list(tmp_path.iterdir()) == [path]
