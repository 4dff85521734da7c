"""End-to-end tests of `python evaluate.py`: the report contract and bad input handling."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envs.catalog import make_game
from envs.io import write_game_csv, write_game_json

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_KEYS = {"game", "players", "designs", "payoffs", "nash", "optimum", "mediators", "correlated",
                 "coarse_correlated", "price_of_anarchy", "price_of_stability", "value_of_correlation"}


def evaluate(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run evaluate.py; static analysis only unless the test asks for rounds."""
    rounds = [] if "--rounds" in args else ["--rounds", "0"]
    return subprocess.run([sys.executable, str(ROOT / "evaluate.py"), *args, *rounds], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_example1_report_has_the_contract_keys(tmp_path):
    out = tmp_path / "out.json"
    proc = evaluate("--game", "example1", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert CONTRACT_KEYS <= set(report)
    assert report["players"] == ["P1", "P2"] and len(report["designs"][1]) == 4
    assert np.array(report["payoffs"]).shape == (2, 2, 4)
    assert [e["profile"] for e in report["nash"]] == [["C1", "(C2,T)"]]
    for key in ("correlated", "coarse_correlated"):
        assert {"max_welfare", "min_welfare"} <= set(report[key])
    none = report["mediators"]["none"]
    assert {"welfare", "transfers", "net", "payoffs", "static"} <= set(none)
    assert none["net"] == pytest.approx(report["nash"][0]["welfare"])
    assert "(C1, (C2,T))" in proc.stdout and "8.14" in proc.stdout


def test_report_lists_all_four_analytic_mediators_with_static_values(tmp_path):
    out = tmp_path / "out.json"
    assert evaluate("--game", "example1", "--json", str(out)).returncode == 0
    mediators = json.loads(out.read_text())["mediators"]
    assert {"none", "restriction", "payments", "correlation", "vouchers"} <= set(mediators)
    for name in ("restriction", "payments", "correlation", "vouchers"):
        static = mediators[name]["static"]
        assert {"welfare", "transfers", "net", "payoffs", "explanation"} <= set(static), name
        assert static["net"] == pytest.approx(static["welfare"] - static["transfers"])
        assert static["explanation"].endswith(".")
    assert mediators["restriction"]["static"]["allowed"] == [["E1", "C1"], ["(E2,none)", "(C2,none)", "(E2,T)"]]
    assert round(mediators["restriction"]["net"], 2) == 8.47
    assert mediators["payments"]["static"]["target"] == ["C1", "(C2,none)"]
    assert {"support", "vouchers"} <= set(mediators["vouchers"]["static"])


def test_lambda_changes_the_price_of_transfers(tmp_path):
    assert evaluate("--game", "example1", "--lambda", "0", "--json", str(tmp_path / "a.json")).returncode == 0
    vouchers = json.loads((tmp_path / "a.json").read_text())["mediators"]["vouchers"]
    assert vouchers["net"] == pytest.approx(vouchers["welfare"]) and vouchers["static"]["lambda"] == 0


def test_a_game_file_written_by_the_project_reads_back_to_the_same_report(tmp_path):
    game = make_game("bos")
    write_game_json(game, tmp_path / "bos.json")
    proc = evaluate("--game", str(tmp_path / "bos.json"), "--json", str(tmp_path / "file.json"))
    assert proc.returncode == 0, proc.stderr
    assert evaluate("--game", "bos", "--json", str(tmp_path / "cat.json")).returncode == 0
    from_file, from_catalog = (json.loads((tmp_path / f).read_text()) for f in ("file.json", "cat.json"))
    for key in CONTRACT_KEYS - {"mediators"}:
        assert from_file[key] == from_catalog[key], key


def test_csv_pair_game(tmp_path):
    write_game_csv(make_game("example1"), tmp_path / "p1.csv", tmp_path / "p2.csv")
    proc = evaluate("--game", f"{tmp_path / 'p1.csv'},{tmp_path / 'p2.csv'}", "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["nash"][0]["profile"] == ["C1", "(C2,T)"]


def test_three_player_random_game(tmp_path):
    proc = evaluate("--game", "random:n=3,k=3,seed=2", "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["nash"] and all(len(e["profile"]) == 3 for e in report["nash"])


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


GOOD = {"name": "g", "players": ["A", "B"], "designs": [["x", "y"], ["x", "y"]],
        "payoffs": [[[1, 2], [3, 4]], [[4, 3], [2, 1]]]}


def _json_game(tmp_path: Path, **override) -> str:
    return _write(tmp_path / "bad.json", json.dumps({**GOOD, **override}))


BAD_INPUTS = {
    "unknown game": lambda t: ["--game", "no_such_game"],
    "missing file": lambda t: ["--game", str(t / "missing.json")],
    "malformed json": lambda t: ["--game", _write(t / "bad.json", '{"players": [')],
    "nan payoff": lambda t: ["--game", _write(t / "bad.json", json.dumps(GOOD).replace("[1, 2]", "[NaN, 2]"))],
    "string payoff": lambda t: ["--game", _json_game(t, payoffs=[[[1, "x"], [3, 4]], [[4, 3], [2, 1]]])],
    "ragged payoffs": lambda t: ["--game", _json_game(t, payoffs=[[[1, 2], [3]], [[4, 3], [2, 1]]])],
    "wrong payoff shape": lambda t: ["--game", _json_game(t, payoffs=[[1, 2], [3, 4]])],
    "duplicate designs": lambda t: ["--game", _json_game(t, designs=[["x", "x"], ["x", "y"]])],
    "one player": lambda t: ["--game", _json_game(t, players=["A"], designs=[["x", "y"]], payoffs=[[1, 2]])],
    "player without designs": lambda t: ["--game", _json_game(t, designs=[["x", "y"], []])],
    "csv non-numeric": lambda t: ["--game", _write(t / "a.csv", "c,x,y\nx,1,oops\ny,3,4\n") + ","
                                  + _write(t / "b.csv", "c,x,y\nx,1,2\ny,3,4\n")],
    "csv header mismatch": lambda t: ["--game", _write(t / "a.csv", "c,x,y\nx,1,2\ny,3,4\n") + ","
                                      + _write(t / "b.csv", "c,x,z\nx,1,2\ny,3,4\n")],
    "unknown model parameter": lambda t: ["--game", "example1:s_Q=1"],
    "non-numeric parameter": lambda t: ["--game", "example1:s_T=abc"],
    "random game with one player": lambda t: ["--game", "random:n=1,k=3"],
    "unknown flag": lambda t: ["--gmae", "bos"],
    "bad objective": lambda t: ["--objective", "happiness"],
    "bad decimals": lambda t: ["--decimals", "-3"],
    "negative lambda": lambda t: ["--lambda", "-1"],
    "zero margin": lambda t: ["--margin", "0"],
    "unknown learner": lambda t: ["--learners", "telepathy"],
    "bad learner option": lambda t: ["--learners", "hedge:eta=fast"],
    "zero seeds": lambda t: ["--seeds", "0", "--rounds", "10"],
    "plot without png suffix": lambda t: ["--plot", str(t / "out.jpg"), "--rounds", "10"],
    "trust above one": lambda t: ["--trust", "1.5"],
    "json into missing directory": lambda t: ["--json", str(t / "nowhere" / "out.json")],
    "json onto a directory": lambda t: ["--json", str(t)],
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_no_output(tmp_path, case):
    out = tmp_path / "out.json"
    args = BAD_INPUTS[case](tmp_path)
    if "--json" not in args:
        args += ["--json", str(out)]
    proc = evaluate(*args)
    assert proc.returncode == 2, (case, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evaluate.py: error:"), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith((".tmp", "tmp")) or p.suffix == ".tmp"]
