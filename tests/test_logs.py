"""Tests for envs/logs.py: GLEE and records importers, per-pair estimates, complete tables, the real sample."""
import csv
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from envs.catalog import load_game
from envs.game import DesignGame, GameError
from envs.io import read_game_json
from envs.logs import (
    LogError, _resample, complete, estimate, largest_complete_subset, load_log, model_tags, parse_log_spec,
    read_glee, read_records, synthetic_log,
)
from glee_fixtures import expected_utilities, write_glee_game
from test_evaluate_cli import ROOT, evaluate



def find_sample() -> Path:
    """The project's GLEE sample (``shared/data/glee_bargaining_sample``, a sibling of the checkout in this
    workplace): ``$GLEE_SAMPLE`` if set, else the first ancestor of the checkout holding it, else /work/shared.
    A test that needs it fails (never skips) when it is absent."""
    if os.environ.get("GLEE_SAMPLE"):
        return Path(os.environ["GLEE_SAMPLE"])
    relative = Path("shared/data/glee_bargaining_sample")
    for folder in Path(__file__).resolve().parents[1:]:
        if (folder / relative).is_dir():
            return folder / relative
    return Path("/work") / relative


SAMPLE = find_sample()

# (game id, writer arguments): agreement in rounds 1, 2 (Bob's offer), 3 and 4, no agreement, both formats,
# messages with a responder's message on the accept row.
GAMES = {
    "r1_new": dict(offers=[60.0]),
    "r2_old": dict(offers=[70.0, 45.0], fmt="old", deltas=(0.95, 0.8)),
    "r3_msg": dict(offers=[80.0, 40.0, 55.0], messages=True, responder_message="Deal, \"finally\", ok"),
    "r4_old_msg": dict(offers=[90.0, 30.0, 70.0, 52.5], fmt="old", messages=True, money=1000,
                       deltas=(1.0, 0.9), responder_message="I accept, thanks"),
    "no_deal": dict(offers=[99.0, 10.0, 90.0], accepted=False, alice="o3-mini"),
}


def write_fixture(root: Path, games: dict = GAMES) -> Path:
    for gid, kw in games.items():
        write_glee_game(root / gid[:1] / gid, **kw)    # nested like GLEE's <c1>/<GAMEID>/ folders
    return root


def test_glee_per_game_utilities_follow_the_rule(tmp_path):
    log = read_glee(write_fixture(tmp_path))
    assert log.failures == () and log.n_games == len(GAMES)
    got = {gid: tuple(u) for gid, u in zip(log.ids, log.utilities)}
    for gid, kw in GAMES.items():
        exp = expected_utilities(kw["offers"], kw.get("accepted", True), kw.get("deltas", (0.9, 0.8)),
                                 kw.get("money", 100))
        assert got[gid] == pytest.approx(exp, abs=1e-12), gid
    assert got["r4_old_msg"] == pytest.approx((0.0525, 0.9475 * 0.729))  # by hand: round 4, 52.5 of 1000
    assert got["no_deal"] == (0.0, 0.0)
    assert log.designs == (("gpt-4o", "o3-mini"), ("vertex_ai/gemini-1.5-pro",))
    assert log.covariate_names[-2:] == ("delta_alice", "delta_bob")
    assert log.covariates[log.ids.index("r2_old")][-2:].tolist() == [0.95, 0.8]


def test_unreadable_games_are_counted_and_reported_not_raised(tmp_path):
    write_fixture(tmp_path, {"good": dict(offers=[60.0]), "good2": dict(offers=[50.0])})
    write_glee_game(tmp_path / "no_csv", files=("config.json",))
    write_glee_game(tmp_path / "bad_csv")
    (tmp_path / "bad_csv" / "game.csv").write_text("alice_gain,bob_gain,player,round,decision\nx,40,Alice,1,\n,,Bob,1,accept\n")
    write_glee_game(tmp_path / "no_model", alice="")
    write_glee_game(tmp_path / "bad_json").joinpath("config.json").write_text("{\"player_1_args\": ")
    (tmp_path / "empty_game").mkdir()
    log = read_glee(tmp_path)
    assert log.n_games == 2 and len(log.failures) == 5
    text = "\n".join(log.failures)
    assert all("\n" not in f for f in log.failures)
    assert f"{tmp_path / 'no_csv' / 'game.csv'}: cannot read" in text
    assert 'bad_csv/game.csv: row 2, column "alice_gain": "x" is not a number' in text
    assert "no_model/config.json: player_1_args.model_name: unknown model name" in text
    assert "bad_json/config.json: invalid JSON" in text and "empty_game/config.json: cannot read" in text
    with pytest.raises(LogError, match=r"5 of 7 games could not be read \(add ,skip_bad=1"):
        load_log(f"glee:{tmp_path}")
    loaded = load_log(f"glee:{tmp_path},skip_bad=1")
    assert loaded.summary()["failed"] == 5 and loaded.summary()["games"] == 2


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "no GLEE game folders"),
    (lambda p: p / "nowhere", "cannot read: No such file or directory"),
])
def test_an_empty_or_missing_folder_is_one_error(tmp_path, make, message):
    with pytest.raises(GameError, match=message):
        read_glee(make(tmp_path))


def records_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "records.csv"
    path.write_text(text)
    return path


RECORDS = """id,row_design,column_design,row_utility,column_utility,budget,chat
1,a,x,1.0,2.0,10,true
2,a,x,3.0,2.5,20,false
3,a,y,0.5,0.25,10,true
4,b,x,2.0,1.0,30,false
5,b,x,2.0,2.0,10,true
6,b,x,5.0,0.0,20,false
"""


def test_records_estimate_means_standard_errors_counts_and_missing_pairs(tmp_path):
    log = read_records(records_file(tmp_path, RECORDS))
    assert log.designs == (("a", "b"), ("x", "y")) and log.covariate_names == ("budget", "chat")
    assert log.covariates[:, 1].tolist() == [1, 0, 1, 0, 1, 0]
    est = estimate(log)
    assert est.counts.tolist() == [[2, 1], [3, 0]]
    assert est.payoffs[:, 0, 0].tolist() == [2.0, 2.25] and est.payoffs[:, 1, 0] == pytest.approx([3.0, 1.0])
    assert np.isnan(est.payoffs[:, 1, 1]).all() and np.isnan(est.stderr[:, 1, 1]).all()
    assert est.stderr[0, 1, 0] == pytest.approx(np.std([2, 2, 5], ddof=1) / np.sqrt(3))
    assert est.stderr[1, 0, 0] == pytest.approx(np.std([2, 2.5], ddof=1) / np.sqrt(2))
    pooled = np.sqrt(((1 - 2) ** 2 + (3 - 2) ** 2 + (2 - 3) ** 2 * 2 + (5 - 3) ** 2) / (6 - 3))
    assert est.pooled[0, 1] and est.stderr[0, 0, 1] == pytest.approx(pooled)   # one game: pooled spread
    out = est.to_json()
    assert out["payoffs"][0][1][1] is None and out["payoff_stderr"][1][1][1] is None
    assert out["payoff_counts"] == [[2, 1], [3, 0]]


@pytest.mark.parametrize("text, message", [
    ("", "file is empty"),
    ("row_design,column_design,row_utility\n", "missing column(s) column_utility"),
    ("row_design,column_design,row_utility,column_utility\n", "no data rows"),
    ("row_design,column_design,row_utility,column_utility\na,x,1,oops\n", 'row 2, column "column_utility": "oops"'),
    ("row_design,column_design,row_utility,column_utility\n,x,1,2\n", 'row 2, column "row_design": empty design'),
    ("row_design,column_design,row_utility,column_utility\na,x,1\n", "row 2: expected 4 values, got 3"),
    ("row_design,column_design,row_utility,column_utility,z\na,x,1,2,maybe\n", 'column "z": "maybe" is not'),
])
def test_bad_records_are_one_located_error(tmp_path, text, message):
    with pytest.raises(GameError, match=".*" + message.replace("(", r"\(").replace(")", r"\)")) as e:
        read_records(records_file(tmp_path, text))
    assert "\n" not in str(e.value) and "records.csv" in str(e.value)


def test_settings_adjustment_recovers_pair_effects_at_the_mean_setting():
    rng = np.random.default_rng(3)
    effect = {("a", "x"): (1.0, 2.0), ("a", "y"): (0.0, 1.0), ("b", "x"): (2.0, 0.5), ("b", "y"): (1.5, 1.5)}
    records, beta = [], np.array([0.8, -0.3])
    for j, (pair, base) in enumerate(effect.items()):
        for g in range(30):
            x = rng.normal(j, 1.0)                 # settings differ between pairs: raw means are biased
            u = np.array(base) + beta * x + 0.01 * rng.standard_normal(2)
            records.append((f"{j}-{g}", *pair, *u, [x]))
    from envs.logs import make_log
    log = make_log(records, covariate_names=["x"])
    xbar = log.covariates.mean()
    adjusted, raw = estimate(log, adjust=True), estimate(log)
    for (r, c), base in effect.items():
        cell = (slice(None), "ab".index(r), "xy".index(c))
        assert adjusted.payoffs[cell] == pytest.approx(np.array(base) + beta * xbar, abs=0.01)
        assert adjusted.stderr[cell].max() < 0.01
    assert np.abs(raw.payoffs - adjusted.payoffs).max() > 0.5
    idx = _resample(log, 7, 0)
    assert adjusted.values(idx).shape == (7, 2, 2, 2)


def test_largest_complete_subset_prefers_real_games_with_most_profiles():
    observed = np.array([[1, 1, 1, 0, 1],
                         [1, 1, 1, 0, 0],
                         [0, 1, 1, 1, 0],
                         [1, 1, 1, 1, 1]], bool)
    rows, cols = largest_complete_subset(observed)
    assert (rows.tolist(), cols.tolist()) == ([0, 1, 3], [0, 1, 2])      # 9 profiles (4 x 2 has 8)
    assert observed[np.ix_(rows, cols)].all()
    rows, cols = largest_complete_subset(np.eye(3, 5, dtype=bool) | np.eye(3, 5, 1, dtype=bool))
    assert len(rows) == 2 and len(cols) == 1 or len(rows) == 1 and len(cols) == 2
    with pytest.raises(LogError, match="no design pair"):
        largest_complete_subset(np.zeros((2, 2), bool))


def test_additive_fill_recovers_an_additive_game_and_drops_unlinked_designs():
    mu, a, b = np.array([1.0, 2.0]), np.array([[0, 0.5, -1], [0, 1, 2]]), np.array([[0, 2, 1], [0, -0.5, 3]])
    truth = mu[:, None, None] + a[:, :, None] + b[:, None, :]
    counts = np.array([[2, 2, 0], [2, 0, 2], [0, 2, 2]])
    game = DesignGame(("P1", "P2"), (("r0", "r1", "r2"), ("c0", "c1", "c2")), truth)
    log = synthetic_log(game, counts, noise=0.0)
    filled = complete(estimate(log), "additive")
    assert filled.method == "additive" and filled.filled.tolist() == (counts == 0).tolist()
    assert filled.game.payoffs == pytest.approx(truth)
    assert np.isfinite(filled.game.payoff_stderr).all()
    subset = complete(estimate(log), "subset")
    assert subset.method == "subset" and subset.game.shape in ((2, 1), (1, 2))
    # a design pair linked to nothing else forms its own component: left out, and said so
    island = np.zeros((4, 4), int)
    island[:3, :3], island[3, 3] = counts, 5
    game4 = DesignGame(("P1", "P2"), (("r0", "r1", "r2", "r3"), ("c0", "c1", "c2", "c3")), np.zeros((2, 4, 4)))
    out = complete(estimate(synthetic_log(game4, island, noise=0.1)), "additive")
    assert out.game.designs == (("r0", "r1", "r2"), ("c0", "c1", "c2")) and "dropped: c3, r3" in out.note
    assert not np.isnan(out.game.payoffs).any()


def test_model_tags_and_tags_option(tmp_path):
    assert model_tags("vertex_ai/gemini-1.5-pro") == ("provider:google", "size:pro")
    assert model_tags("vertex_ai/meta/llama-3.1-405b-instruct-maas") == ("provider:meta", "size:405b")
    assert model_tags("o3-mini") == ("provider:openai", "size:mini")
    assert model_tags("xai/grok-2-1212") == ("provider:xai",)
    assert model_tags("my-agent") == ()
    folder = write_fixture(tmp_path / "g")
    assert load_log(f"glee:{folder}").game.tags[0] == (("provider:openai",),) * 2
    assert load_log(f"glee:{folder},tags=all").game.tags[1] == (("provider:google", "size:pro"),)
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps({"gpt-4o": ["closed"], "o3-mini": ["closed"]}))
    with pytest.raises(GameError, match=r"tags.json: unknown model name\(s\) in the log: \"vertex_ai/gemini-1.5-pro\""):
        load_log(f"glee:{folder},tags={tags}")


@pytest.mark.parametrize("spec, message", [
    ("glee:", "no path"),
    ("glee:x,fill=everything", "fill must be one of subset, additive"),
    ("glee:x,colour=red", "unknown option 'colour'"),
])
def test_bad_specs(spec, message):
    with pytest.raises(LogError, match=message):
        parse_log_spec(spec)


def test_specs_keep_commas_in_paths_and_load_game_accepts_logs(tmp_path):
    assert parse_log_spec("records:a,b.csv,fill=additive") == ("records", "a,b.csv", {"fill": "additive"})
    folder = write_fixture(tmp_path)
    assert load_game(f"glee:{folder}").designs == load_log(f"glee:{folder}").game.designs


def test_resampling_stays_within_pairs_and_is_seeded():
    game = DesignGame(("P1", "P2"), (("a", "b"), ("x", "y")), np.arange(8.0).reshape(2, 2, 2))
    log = synthetic_log(game, np.array([[3, 1], [5, 2]]), noise=1.0, seed=1)
    idx = _resample(log, 50, seed=4)
    assert (log.cell[idx] == log.cell[None, :]).all()
    assert (idx == _resample(log, 50, seed=4)).all() and not (idx == _resample(log, 50, seed=5)).all()
    assert len(np.unique(idx[:, log.cell == 2])) == 5          # draws reach every game of a pair


def test_import_command_writes_a_game_file_and_the_estimate_beside_it(tmp_path):
    folder = write_fixture(tmp_path / "logs")
    out = tmp_path / "game.json"
    proc = subprocess.run([sys.executable, "-m", "envs.logs", f"glee:{folder}", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    game = read_game_json(out)
    assert game.payoff_stderr is not None and game.players == ("Alice", "Bob")
    side = json.loads((tmp_path / "game.estimate.json").read_text())
    assert side["payoff_counts"] == [[4], [1]] and side["log"]["games"] == 5 and side["analysed"]["method"] == "complete"
    bad = subprocess.run([sys.executable, "-m", "envs.logs", f"glee:{tmp_path / 'none'}", str(tmp_path / "x.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.json").exists()


# --------------------------------------------------------------------------- command line
def test_evaluate_reports_a_meta_game_from_glee_logs(tmp_path):
    folder = tmp_path / "logs"
    write_fixture(folder)
    write_glee_game(folder / "z" / "z1", alice="o3-mini", bob="claude-3-7-sonnet", offers=[40.0])
    report = tmp_path / "r.json"
    proc = evaluate("--game", f"glee:{folder}", "--json", str(report), "--bootstrap", "50")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(report.read_text())
    assert r["designs"] == [["gpt-4o", "o3-mini"], ["claude-3-7-sonnet", "vertex_ai/gemini-1.5-pro"]]
    assert r["payoffs"][0][0][0] is None and r["payoff_stderr"][1][0][0] is None
    assert r["payoff_counts"] == [[0, 4], [1, 1]]
    assert r["payoffs"][0][1][0] == pytest.approx(0.4) and r["payoffs"][1][1][1] == 0.0
    assert r["analysed"]["method"] == "subset" and r["log"]["games"] == 6
    assert r["bootstrap"]["draws"] == 50 and r["bootstrap"]["equilibria"]
    assert "Estimated meta-game" in proc.stdout and "P(pure Nash equilibrium)" in proc.stdout
    again = tmp_path / "again.json"
    assert evaluate("--game", f"glee:{folder}", "--json", str(again), "--bootstrap", "50").returncode == 0
    assert json.loads(again.read_text())["bootstrap"] == r["bootstrap"]          # same seed, same report
    bad = evaluate("--game", f"glee:{folder}", "--bootstrap", "-1")
    assert bad.returncode == 2 and "--bootstrap must be >= 0" in bad.stderr


def test_evaluate_on_the_real_sample(tmp_path):
    assert SAMPLE.is_dir(), f"the GLEE sample is missing: {SAMPLE}"
    report = tmp_path / "r.json"
    proc = evaluate("--game", f"glee:{SAMPLE / 'games'}", "--json", str(report), "--bootstrap", "40")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(report.read_text())
    assert r["log"]["games"] == 62 and r["log"]["failed"] == 0 and r["log"]["pairs_observed"] == 33
    assert np.array(r["payoffs"], dtype=float).shape == (2, 12, 12)
    assert r["bootstrap"]["mediators"].keys() >= {"none", "restriction", "payments", "correlation", "vouchers"}


BAD_LOGS = {
    "missing file": lambda t: write_glee_game(t / "g1", files=("config.json",)).parent,
    "malformed csv": lambda t: write_glee_game(t / "g1").joinpath("game.csv").write_text(
        "alice_gain,bob_gain,player,round,decision\n60.0,40.0,Alice,one,\n") and t,
    "unknown model name": lambda t: write_glee_game(t / "g1", bob="  ").parent,
    "empty folder": lambda t: t,
    "not a folder": lambda t: t / "missing",
}


@pytest.mark.parametrize("case", sorted(BAD_LOGS))
def test_bad_logs_exit_2_with_one_line_and_no_output(tmp_path, case):
    logs = tmp_path / "logs"
    logs.mkdir()
    write_glee_game(logs / "good", offers=[50.0]) if case != "empty folder" else None
    folder = BAD_LOGS[case](logs)
    out = tmp_path / "out.json"
    proc = evaluate("--game", f"glee:{folder}", "--json", str(out))
    assert proc.returncode == 2, (case, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evaluate.py: error:"), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and not out.exists()


# --------------------------------------------------------------------------- the real GLEE sample
def independent_utilities(game: Path) -> tuple[str, str, float, float]:
    """(Alice model, Bob model, u_Alice, u_Bob) computed from the raw files with json and csv only."""
    config = json.loads((game / "config.json").read_text(encoding="utf-8"))
    args = config["game_args"]
    d1 = args["delta_1"] if "delta_1" in args else config["player_1_args"]["delta"]
    d2 = args["delta_2"] if "delta_2" in args else config["player_2_args"]["delta"]
    with open(game / "game.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    col = {name: j for j, name in enumerate(header)}
    rnd = int(body[-1][col["round"]])
    if body[-1][col["decision"]] == "accept":
        p = float(body[-2][col["alice_gain"]]) / args["money_to_divide"]
        ua, ub = p * d1 ** (rnd - 1), (1 - p) * d2 ** (rnd - 1)
    else:
        ua = ub = 0.0
    return config["player_1_args"]["model_name"], config["player_2_args"]["model_name"], ua, ub


def test_real_glee_sample_utilities_counts_and_meta_game():
    assert SAMPLE.is_dir(), f"the GLEE sample is missing: {SAMPLE}"
    games = sorted(p for p in (SAMPLE / "games").iterdir() if p.is_dir())
    log = read_glee(SAMPLE)                     # the top folder: games are found below games/
    assert log.failures == () and log.n_games == len(games) == 62
    got = dict(zip(log.ids, log.utilities))
    expected = {g.name: independent_utilities(g) for g in games}
    for gid, (alice, bob, ua, ub) in expected.items():
        assert got[gid] == pytest.approx([ua, ub], abs=1e-12), gid
        j = log.ids.index(gid)
        assert (log.designs[0][log.row[j]], log.designs[1][log.col[j]]) == (alice, bob)
    # by hand: round 6, Bob's 48/52 accepted, delta_1 = 0.8, delta_2 = 1 (new format)
    assert got["001MFRKHFTE6099C"] == pytest.approx([0.48 * 0.8 ** 5, 0.52])
    # round 1, 517378 of 1,000,000 (old format)
    assert got["004Y2HXUZ09BQHGM"] == pytest.approx([0.517378, 0.482622])
    # round 12, Bob concedes 100/0 and Alice's accept row carries a message; delta_1 = 1
    assert got["502VYU037GHUBPB9"] == pytest.approx([1.0, 0.0])

    est = estimate(log)
    pairs = Counter((a, b) for a, b, _, _ in expected.values())
    assert len(pairs) == 33 and int(est.observed.sum()) == 33 and est.counts.sum() == 62
    for (a, b), n in pairs.items():
        assert est.counts[log.designs[0].index(a), log.designs[1].index(b)] == n
    by_pair = defaultdict(list)
    for a, b, ua, ub in expected.values():
        by_pair[a, b].append((ua, ub))
    for (a, b), us in by_pair.items():
        r, c = log.designs[0].index(a), log.designs[1].index(b)
        assert est.payoffs[:, r, c] == pytest.approx(np.mean(us, axis=0))
        if len(us) > 1:
            assert est.stderr[:, r, c] == pytest.approx(np.std(us, axis=0, ddof=1) / np.sqrt(len(us)))
    loaded = load_log(f"glee:{SAMPLE}")
    assert loaded.completion.method == "subset" and loaded.game.payoff_stderr is not None
    assert np.isfinite(loaded.game.payoff_stderr).all()
