"""train.py: TensorBoard tags, checkpoints, resume (also after SIGKILL), and bad input."""
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--num-envs", "4", "--rounds", "40", "--act-every", "10", "--eval-rounds", "400", "--eval-seeds", "2"]
TAGS = {"mediator/gross_welfare", "mediator/net_welfare", "mediator/transfers_per_round", "mediator/gap_closed",
        "stakeholders/strategy_entropy", "stakeholders/obedience_rate", "time/steps_per_second",
        "stakeholders/P1/reward", "stakeholders/P2/reward", "stakeholders/P2/strategy_entropy"}


def train(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True,
                          timeout=600, cwd=ROOT, **kwargs)


def scalars(run: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    for events in sorted(run.glob("tb/*/events.out.tfevents.*")):
        acc = EventAccumulator(str(events)).Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend(e.step for e in acc.Scalars(tag))
    return out


def test_training_writes_named_tags_checkpoints_and_resumes_the_step_count(tmp_path):
    run = tmp_path / "r"
    proc = train("--run-name", "r", "--runs-dir", str(tmp_path), "--total-steps", "1024",
                 "--checkpoint-every", "512", *SMALL)
    assert proc.returncode == 0, proc.stderr
    assert TAGS <= set(scalars(run))
    assert sorted(p.name for p in (run / "checkpoints").glob("*.zip")) == ["step_1024.zip", "step_512.zip"]
    config = json.loads((run / "config.json").read_text())
    assert config["total_steps"] == 1024 and config["game"] == "example1"
    report = json.loads((run / "report.json").read_text())
    learned = report["mediators"]["learned:r"]
    assert {"net", "gap_closed", "dynamic"} <= set(learned)
    # a finished run: said so, exit 0, nothing rewritten
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    proc = train("--resume", str(run))
    assert proc.returncode == 0 and "finished" in proc.stdout
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before
    # other flags would change the run: refused; --total-steps extends it from its last checkpoint
    proc = train("--resume", str(run), "--gamma", "0.5")
    assert proc.returncode == 2 and "--gamma" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = train("--resume", str(run), "--total-steps", "2048")
    assert proc.returncode == 0, proc.stderr
    assert "from step 1024 of 2048" in proc.stdout
    assert json.loads((run / "config.json").read_text())["total_steps"] == 2048
    steps = scalars(run)["mediator/net_welfare"]
    assert max(steps) > 1024 and len(steps) == len(set(steps))
    assert (run / "checkpoints" / "step_2048.zip").exists()


def test_an_interrupted_run_checkpoints_and_resumes_without_duplicate_steps(tmp_path):
    run = tmp_path / "i"
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--run-name", "i", "--runs-dir", str(tmp_path),
                             "--total-steps", "100000", "--checkpoint-every", "256", *SMALL],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not list((run / "checkpoints").glob("step_*.zip")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted at step ")
    assert lines[0].endswith(f"resume with: python train.py --resume {run}")
    step = int(lines[0].split()[3].rstrip(";"))
    assert (run / "checkpoints" / f"step_{step}.zip").exists() and out.startswith(f"run folder: {run}")
    resumed = train("--resume", str(run), "--total-steps", str(step + 512))
    assert resumed.returncode == 0, resumed.stderr
    assert f"from step {step} of {step + 512}" in resumed.stdout
    for tag, steps in scalars(run).items():
        assert len(steps) == len(set(steps)), tag               # TensorBoard holds every step once


@pytest.mark.parametrize("args, message", [
    (["--eval-rounds", "0"], "--eval-rounds"),
    (["--budget", "inf"], "--budget"),
    (["--budget", "nan"], "--budget"),
    (["--lambda", "inf"], "--lambda"),
    (["--gamma", "1.5"], "--gamma"),
    (["--batch-size", "4096"], "--batch-size"),
    (["--vouchers"], "--vouchers"),
])
def test_bad_hyperparameters_stop_before_training(tmp_path, args, message):
    proc = train("--runs-dir", str(tmp_path), *args)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())


def test_a_killed_two_level_run_resumes_from_its_checkpoint(tmp_path):
    run = tmp_path / "k"      # a learned mediator over a mixed population: P1 Hedge, P2 PPO
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--run-name", "k", "--runs-dir", str(tmp_path),
                             "--stakeholders", "hedge,ppo", "--total-steps", "4096", "--checkpoint-every", "1024",
                             *SMALL],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def newest_checkpoint() -> int:
        return max((int(p.stem.split("_")[1]) for p in (run / "checkpoints").glob("step_*.zip")), default=0)

    deadline = time.time() + 300       # kill once TensorBoard holds steps past the newest checkpoint
    while time.time() < deadline and not (newest_checkpoint()
                                          and max(scalars(run).get("mediator/net_welfare", [0])) > newest_checkpoint()):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = sorted(int(p.stem.split("_")[1]) for p in (run / "checkpoints").glob("step_*.zip"))
    assert first, "no checkpoint was written before the kill"
    assert max(scalars(run)["mediator/net_welfare"]) > first[-1]          # events the resume must drop
    assert json.loads((run / "checkpoints" / f"step_{first[-1]}.episodes.json").read_text())["ep_info_buffer"]
    for path in run.rglob("*.zip"):
        assert zipfile.ZipFile(path).testzip() is None          # nothing truncated
    assert not [p for p in run.rglob("*") if p.name.startswith(".") and p.suffix == ".zip" and p.stat().st_size == 0]
    resumed = train("--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert f"from step {first[-1]} of 4096" in resumed.stdout and "dropped" in resumed.stdout
    assert (run / "final.zip").exists() and (run / "checkpoints" / "step_4096.zip").exists()
    for tag, steps in scalars(run).items():
        assert len(steps) == len(set(steps)), tag               # every step once, the killed run's tail dropped
    assert sorted(p.name for p in (run / "checkpoints").glob("*.episodes.json")) == sorted(
        p.stem + ".episodes.json" for p in (run / "checkpoints").glob("step_*.zip"))
    assert max(scalars(run)["mediator/net_welfare"]) >= first[-1]


def test_evaluate_compares_a_learned_mediator(tmp_path):
    run = tmp_path / "e"
    assert train("--run-name", "e", "--runs-dir", str(tmp_path), "--total-steps", "512", *SMALL).returncode == 0
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--game", "example1", "--rounds", "300",
                           "--seeds", "2", "--mediator", str(run / "final.zip"), "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    learned = json.loads(out.read_text())["mediators"]["learned:e"]
    assert learned["dynamic"]["rounds"] == 300 and learned["gap_closed"] is not None


def test_ppo_stakeholders_train_and_report_their_outcome(tmp_path):
    proc = train("--stakeholders", "ppo", "--game", "bos", "--mediator", "none", "--total-steps", "3000",
                 "--run-name", "p", "--runs-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report["stakeholders"] == "ppo" and report["steps"] >= 3000
    assert sum(report["profiles"].values()) == pytest.approx(1.0)
    # Myopic PPO stakeholders in the battle of the sexes coordinate: miscoordination is rare.
    assert report["profiles"]["(L, L)"] + report["profiles"]["(S, S)"] > 0.8
    assert sorted(p.name for p in (tmp_path / "p" / "stakeholders").iterdir()) == ["P1.zip", "P2.zip"]
    assert "most played" in proc.stdout



def test_a_ppo_stakeholder_run_writes_nothing_outside_its_run_folder(tmp_path):
    """SB3's default logger would create an empty TMPDIR/SB3-<time> folder per model (torch's own
    kernel cache, TMPDIR/torchinductor_<user>, is torch's, shared across runs, and not counted)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = train("--stakeholders", "ppo", "--mediator", "none", "--game", "bos", "--total-steps", "800", "--run-name", "q",
                 "--runs-dir", str(tmp_path / "runs"), env={**os.environ, "TMPDIR": str(scratch)})
    assert proc.returncode == 0, proc.stderr
    assert not [p for p in scratch.iterdir() if not p.name.startswith("torchinductor_")]


@pytest.mark.parametrize("args, message", [
    (["--families", "bribe"], "--families"),
    (["--stakeholders", "oracle"], "--stakeholders"),
    (["--total-steps", "0"], "--total-steps"),
    (["--act-every", "50", "--rounds", "20"], "--act-every"),
    (["--game", "nope"], "unknown game"),
    (["--mediator", "restriction"], "fixed --mediator"),
    (["--stakeholders", "ppo", "--mediator", "oracle"], "--mediator must be"),
    (["--net-arch", "64,x"], "--net-arch"),
    (["--game", "random:n=2,k=4", "--stakeholders", "ppo"], "game family"),
    (["--game", "random:n=2,k=4", "--stakeholders", "hedge,ppo"], "one --stakeholders rule"),
    (["--stakeholders", "hedge,ppo,hedge"], "one per player"),
    (["--stakeholders", "ppo:lr=-1"], "--stakeholders"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    proc = train("--runs-dir", str(tmp_path), *args)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())


def test_resume_errors_are_one_line(tmp_path):
    proc = train("--resume", str(tmp_path))
    assert proc.returncode == 2 and "config.json" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    run = tmp_path / "c"
    assert train("--run-name", "c", "--runs-dir", str(tmp_path), "--total-steps", "256",
                 "--checkpoint-every", "256", *SMALL).returncode == 0
    newest = max((run / "checkpoints").glob("step_*.zip"), key=lambda p: int(p.stem.split("_")[1]))
    newest.write_bytes(b"not a zip")
    proc = train("--resume", str(run), "--total-steps", "512")
    assert proc.returncode == 2 and "cannot resume" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_general_mediator_trains_on_a_family_and_reports_unseen_games(tmp_path):
    from envs.catalog import make_game
    from mediator.learned import LearnedMediator, LearnedMediatorError

    run = tmp_path / "g"
    proc = train("--game", "random:n=2,k=3", "--run-name", "g", "--runs-dir", str(tmp_path), "--total-steps", "256",
                 "--k-max", "4", "--generalize", "2", "--validation-games", "2", "--checkpoint-every", "128", *SMALL)
    assert proc.returncode == 0, proc.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["policy"] == "equivariant" and config["k_max"] == 4
    report = json.loads((run / "report.json").read_text())
    assert {"games", "summed_gap_closed", "games_with_gap", "by_shape", "by_generator", "at_training_horizon"} <= set(report)
    assert [g["game"] for g in report["games"]] == [f"random:n=2,k=3,kind=uniform,seed={10**9 + j}" for j in range(2)]
    assert report["mediators"] == ["none", "restriction", "learned"] and "unseen games" in proc.stdout
    assert report["at_training_horizon"]["rounds"] == 40
    assert "validation/summed_gap_closed" in scalars(run)
    for game in (make_game("random:n=2,k=3,seed=5"), make_game("bos"), make_game("random:n=3,k=2,seed=1")):
        policy = LearnedMediator(run / "final.zip", game)          # any game that fits its layout
        assert len(policy.interventions(np.full((2, sum(game.shape)), 0.5, np.float32))) == 2
    with pytest.raises(LearnedMediatorError, match="at most 3 players and 4 designs"):
        LearnedMediator(run / "final.zip", make_game("random:n=2,k=5,seed=0"))
