"""Sweeps: spec validation, identical results on the local and Ray backends, kill and resume, failed tasks."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import evaluate
from sweep import load_spec, run_sweep
from sweep.report import COLUMNS
from sweep.store import ResultStore
from glee_fixtures import write_glee_game

ROOT = Path(__file__).resolve().parents[1]


def write_spec(folder: Path, **spec) -> Path:
    path = folder / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


SMALL = dict(games=["example1", "prisoners_dilemma", "stag_hunt"], learners=["hedge", "regret-matching"],
             mediators=["none", "analytic"], seeds=3, rounds=200)


@pytest.fixture(scope="module")
def local_and_ray(tmp_path_factory):
    """The same 3 games x 2 learners x 5 mediators x 3 seeds sweep on both backends."""
    tmp = tmp_path_factory.mktemp("sweep")
    spec = load_spec(write_spec(tmp, **SMALL))
    local = run_sweep(spec, tmp / "local", backend="local", workers=2, progress=False)
    ray = run_sweep(spec, tmp / "ray", backend="ray", workers=2, progress=False)
    return tmp, local, ray


def test_local_and_ray_backends_write_identical_csvs(local_and_ray):
    tmp, local, ray = local_and_ray
    assert local["tasks"] == ray["tasks"] == {"total": 90, "finished": 90, "ok": 90, "failed": 0}
    text = (tmp / "local" / "results.csv").read_text()
    assert text == (tmp / "ray" / "results.csv").read_text()
    rows = read_csv(tmp / "local" / "results.csv")
    assert len(rows) == 90 and tuple(rows[0]) == COLUMNS
    assert {r["mediator"] for r in rows} == {"none", "restriction", "payments", "correlation", "vouchers"}
    assert [int(r["task"]) for r in rows] == list(range(90))


def test_sweep_outputs_are_complete_and_consistent(local_and_ray):
    tmp, summary, _ = local_and_ray
    out = tmp / "local"
    for name in ("results.csv", "summary.json", "summary.md", "figures/gap_closed.png", "figures/trajectories.png",
                 "figures/transfers.png", "figures/heatmap_example1.png", "figures/heatmap_stag_hunt.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    rows = read_csv(out / "results.csv")
    # the summary's mean is the mean of the CSV's seeds, and no mediation closes 0% of the gap
    pd = [float(r["net"]) for r in rows if r["game"] == "prisoners_dilemma" and r["learner"] == "hedge"
          and r["mediator"] == "restriction"]
    entry = summary["results"]["prisoners_dilemma"]["restriction"]["hedge"]
    assert entry["seeds"] == 3 and entry["net"]["mean"] == pytest.approx(sum(pd) / 3)
    assert entry["net"]["ci95"][0] <= entry["net"]["mean"] <= entry["net"]["ci95"][1]
    assert summary["results"]["example1"]["none"]["hedge"]["gap_closed"] == 0.0
    # on example1 restricting (C2, T) away is the best analytic mediator (Example 2): it closes 100%
    assert summary["results"]["example1"]["restriction"]["hedge"]["gap_closed"] == pytest.approx(1.0)
    md = (out / "summary.md").read_text()
    assert "## stag_hunt" in md and "| restriction | regret-matching | 3 |" in md


def test_failing_task_is_reported_and_the_rest_complete(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "b", "players": ["A", "B"], "designs": [["x"], ["y"]], "payoffs": [[[1]], [[NaN]]]}')
    spec = write_spec(tmp_path, games=["bos", "broken.json"], learners=["hedge"], mediators=["none", "restriction"],
                      seeds=2, rounds=100)
    out = tmp_path / "out"
    code = evaluate.main(["--sweep", str(spec), "--out", str(out), "--workers", "2"])
    assert code == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"] == {"total": 8, "finished": 8, "ok": 4, "failed": 4}
    assert {f["key"].split("|")[0] for f in summary["failures"]} == {"broken.json"}
    assert all("broken.json" in f["error"] for f in summary["failures"])
    rows = read_csv(out / "results.csv")
    assert [r["status"] for r in rows] == ["ok"] * 4 + ["error"] * 4
    assert "## Failed tasks" in (out / "summary.md").read_text()


def test_killed_sweep_resumes_without_rerunning_finished_tasks(tmp_path):
    # three games' batches of 20 tasks on two workers: the third is still running when the first has finished
    spec = write_spec(tmp_path, games=["example1", "stag_hunt", "prisoners_dilemma"], learners=["hedge"],
                      mediators=["none", "analytic"], seeds=4, rounds=1500)
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "evaluate.py"), "--sweep", str(spec), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if results.is_file() and results.read_bytes().count(b"\n") >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)          # the driver and its worker processes
    proc.wait()
    before = [json.loads(line) for line in results.read_bytes().splitlines(keepends=True) if line.endswith(b"\n")]
    assert 4 <= len(before) < 60 and not (out / "results.csv").exists()

    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} of 60 tasks already finished" in done.stderr
    after = [json.loads(line) for line in results.read_text().splitlines()]
    assert after[:len(before)] == before                            # kept as they were
    assert sorted(r["key"] for r in after) == sorted({r["key"] for r in after})   # nothing ran twice
    assert len(after) == 60
    rows = read_csv(out / "results.csv")
    assert len(rows) == 60 and {r["status"] for r in rows} == {"ok"}


def test_a_torn_last_line_is_dropped_on_resume(tmp_path):
    spec = load_spec(write_spec(tmp_path, games=["bos"], learners=["hedge"], mediators=["none"], seeds=2, rounds=50))
    store = ResultStore(tmp_path / "out")
    assert store.open(spec) == {}
    store.append({"key": "bos|hedge|none|0", "status": "ok"})
    with open(store.path, "a") as f:
        f.write('{"key": "bos|hedge|none|1", "sta')
    assert list(ResultStore(tmp_path / "out").open(spec)) == ["bos|hedge|none|0"]
    assert store.path.read_text().count("\n") == 1 and store.path.read_text().endswith("\n")


def test_an_output_folder_of_another_sweep_is_refused(tmp_path, capsys):
    first = write_spec(tmp_path, games=["bos"], learners=["hedge"], mediators=["none"], seeds=1, rounds=50)
    out = tmp_path / "out"
    assert evaluate.main(["--sweep", str(first), "--out", str(out), "--workers", "1"]) == 0
    capsys.readouterr()
    other = write_spec(tmp_path, games=["bos"], learners=["hedge"], mediators=["none"], seeds=1, rounds=60)
    assert evaluate.main(["--sweep", str(other), "--out", str(out)]) == 2
    assert "holds the results of a different sweep" in capsys.readouterr().err
    assert evaluate.main(["--sweep", str(first), "--out", str(tmp_path)]) == 2   # not a sweep folder


@pytest.mark.parametrize("spec, message", [
    (dict(games=["bos"], colour="red"), "unknown key(s) colour"),
    (dict(games=[]), "'games' must be a non-empty list"),
    (dict(games=["bos"], learners=["hedgehog"]), "unknown learner 'hedgehog'"),
    (dict(games=["bos"], mediators=["oracle"]), "unknown mediator 'oracle'"),
    (dict(games=["bos"], mediators=["runs/nowhere/final.zip"]), "no learned mediator at"),
    (dict(games=["bos"], seeds=0), "'seeds' must be a count >= 1"),
    (dict(games=["bos"], seeds=[1, 1]), "'seeds' must be a count >= 1"),
    (dict(games=["bos"], rounds=2.5), "'rounds' must be an integer"),
    (dict(games=["bos", "bos"]), "a game is listed twice"),
    (dict(games=[{"generator": "random:n=2", "grid": {"k": []}}]), "must map options to non-empty lists"),
])
def test_bad_specs_are_one_line_errors_and_write_nothing(tmp_path, capsys, spec, message):
    out = tmp_path / "out"
    assert evaluate.main(["--sweep", str(write_spec(tmp_path, **spec)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


def test_yaml_spec_with_a_generator_grid(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("games:\n  - bos\n  - {generator: 'random:n=2,kind=uniform', grid: {k: [2, 3], seed: [0, 1]}}\n"
                    "learners: hedge\nmediators: [none]\nseeds: [5]\nrounds: 10\n")
    spec = load_spec(path)
    assert [g for g, _ in spec.games] == ["bos", "random:n=2,kind=uniform,k=2,seed=0",
                                          "random:n=2,kind=uniform,k=2,seed=1", "random:n=2,kind=uniform,k=3,seed=0",
                                          "random:n=2,kind=uniform,k=3,seed=1"]
    assert [t.key for t in spec.tasks()][:2] == ["bos|hedge|none|5", "random:n=2,kind=uniform,k=2,seed=0|hedge|none|5"]
    (tmp_path / "bad.yaml").write_text("games: [bos\n")
    assert evaluate.main(["--sweep", str(tmp_path / "bad.yaml")]) == 2


def test_sweep_flags_need_sweep(capsys):
    assert evaluate.main(["--game", "bos", "--backend", "ray"]) == 2
    assert "need --sweep" in capsys.readouterr().err


def test_a_learned_mediator_runs_in_a_sweep_and_refuses_another_game(tmp_path):
    train = subprocess.run([sys.executable, str(ROOT / "train.py"), "--run-name", "tiny", "--runs-dir", str(tmp_path),
                            "--total-steps", "256", "--num-envs", "4", "--rounds", "40", "--act-every", "10", "--eval-rounds", "100",
                            "--eval-seeds", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr
    spec = load_spec(write_spec(tmp_path, games=["example1", "bos"], learners=["hedge"],
                                mediators=["none", "restriction", "tiny/final.zip"], seeds=2, rounds=100))
    summary = run_sweep(spec, tmp_path / "out", workers=2, progress=False)
    learned = summary["results"]["example1"]["learned:tiny/final.zip"]["hedge"]
    assert learned["seeds"] == 2 and learned["gap_closed"] is not None
    assert [f["key"] for f in summary["failures"]] == ["bos|hedge|learned:tiny/final.zip|0",
                                                       "bos|hedge|learned:tiny/final.zip|1"]
    assert all("trained on designs" in f["error"] for f in summary["failures"])


def test_a_game_estimated_from_logs_is_swept_from_a_path_relative_to_the_spec(tmp_path):
    for i, (alice, bob, offer) in enumerate([(a, b, 40.0 + 10 * j) for j, (a, b) in enumerate(
            [(a, b) for a in ("gpt-4o", "o3-mini") for b in ("gpt-4o", "o3-mini")]) for _ in range(2)]):
        write_glee_game(tmp_path / "logs" / f"g{i}", alice=alice, bob=bob, offers=(offer + i % 2,))
    spec = load_spec(write_spec(tmp_path, games=["glee:logs"], learners=["hedge"], mediators=["none", "restriction"],
                                seeds=1, rounds=50))
    assert spec.games == [("glee:logs", f"glee:{tmp_path / 'logs'}")]
    summary = run_sweep(spec, tmp_path / "out", workers=1, progress=False)
    assert summary["tasks"]["ok"] == 2 and set(summary["results"]["glee:logs"]) == {"none", "restriction"}
