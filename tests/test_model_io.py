"""mediator.model_io: a model file loads without unpickling anything from it, exactly as SB3 would load an
honest one, and a tampered, truncated or incomplete one is refused in one line by evaluate.py and train.py."""
import base64
import io
import json
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--total-steps", "256", "--num-envs", "2", "--n-steps", "64", "--batch-size", "64", "--rounds", "20",
        "--act-every", "10", "--eval-rounds", "20", "--eval-seeds", "1"]


class Touch:
    """Unpickling it creates ``marker``: the code a malicious model file would run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (Path(self.marker),)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A real (tiny) run folder of train.py: config.json, checkpoints/step_256.zip, final.zip."""
    runs = tmp_path_factory.mktemp("runs")
    proc = subprocess.run([sys.executable, "train.py", "--runs-dir", str(runs), "--run-name", "r", *TINY],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return runs / "r"


def rewrite(src: Path, dst: Path, replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = (),
            data=None) -> Path:
    """A copy of the model zip ``src`` with entries replaced or dropped, or its ``data`` JSON edited by ``data``."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for name in old.namelist():
            if name in drop:
                continue
            blob = (replace or {}).get(name, old.read(name))
            if name == "data" and data is not None:
                content = json.loads(blob)
                data(content)
                blob = json.dumps(content).encode()
            new.writestr(name, blob)
    return dst


def payload(marker: Path) -> str:
    return base64.b64encode(pickle.dumps(Touch(marker))).decode()


def in_observation_space(marker: Path):
    """The observation space's pickled value replaced by code (its readable companion fields kept)."""
    return lambda data: data["observation_space"].update({":serialized:": payload(marker)})


def in_unknown_key(marker: Path):
    """An extra pickled entry nothing rebuilds."""
    return lambda data: data.update({"surprise": {":type:": "<class 'float'>", ":serialized:": payload(marker)}})


def evil_pth(marker: Path) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save({"weights": Touch(marker)}, buffer)
    return buffer.getvalue()


def malicious(run: Path, kind: str, marker: Path, dst: Path) -> Path:
    final = run / "final.zip"
    if kind == "data entry":
        return rewrite(final, dst, data=in_observation_space(marker))
    if kind == "unknown entry":
        return rewrite(final, dst, data=in_unknown_key(marker))
    return rewrite(final, dst, replace={kind: evil_pth(marker)})


def honest_model(run: Path):
    """The run's final model, loaded by mediator.learned (its spaces are what a refused file is loaded with)."""
    from envs.catalog import load_game
    from mediator.learned import LearnedMediator

    return LearnedMediator(run / "final.zip", load_game("example1")).model


def one_line(stderr: str) -> bool:
    return len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_a_trained_model_loads_and_predicts_exactly_as_sb3_loads_it(run):
    from stable_baselines3 import PPO

    from envs.catalog import load_game
    from mediator.learned import LearnedMediator

    for path in (run / "final.zip", run / "checkpoints" / "step_256.zip"):
        ours = LearnedMediator(path, load_game("example1")).model
        theirs = PPO.load(path, device="cpu")
        assert ours.observation_space == theirs.observation_space and ours.action_space == theirs.action_space
        assert ours.num_timesteps == theirs.num_timesteps == 256
        mine, reference = ours.policy.state_dict(), theirs.policy.state_dict()
        assert mine.keys() == reference.keys() and all(np.array_equal(mine[k], reference[k]) for k in mine)
        obs = np.random.default_rng(0).uniform(0, 1, (64, *theirs.observation_space.shape)).astype(np.float32)
        assert np.array_equal(ours.predict(obs, deterministic=True)[0], theirs.predict(obs, deterministic=True)[0])
        assert float(ours.clip_range(1.0)) == float(theirs.clip_range(1.0))


def test_a_general_equivariant_model_loads_and_predicts_exactly_as_sb3_loads_it(tmp_path):
    """Its policy class and keyword arguments (with the padded layout) are pickled too: rebuilt from config.json."""
    import dataclasses

    from stable_baselines3 import PPO

    import train
    from envs.catalog import load_game
    from mediator.learned import LearnedMediator

    config = train.resolve(train.TrainConfig(policy="equivariant", n_max=2, k_max=4, width=8, layers=1, num_envs=2,
                                             rounds=20, act_every=10, batch_size=64, log_std_init=-0.3))
    game = load_game("example1")
    config.designs = [list(d) for d in game.designs]
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(config)))
    train.new_model(config, train.mediator_env(config, game), tmp_path).save(tmp_path / "final.zip")
    for served in (game, load_game("bos")):
        ours = LearnedMediator(tmp_path / "final.zip", served).model
        theirs = PPO.load(tmp_path / "final.zip", device="cpu")
        assert ours.observation_space == theirs.observation_space and ours.action_space == theirs.action_space
        assert ours.policy_kwargs == theirs.policy_kwargs and type(ours.policy) is type(theirs.policy)
        obs = np.random.default_rng(1).uniform(-1, 1, (16, *theirs.observation_space.shape)).astype(np.float32)
        assert np.array_equal(ours.predict(obs, deterministic=True)[0], theirs.predict(obs, deterministic=True)[0])


def test_the_payloads_are_live_so_sb3s_own_load_would_run_them(run, tmp_path):
    """Control: the malicious entries really run code when unpickled (SB3's PPO.load; torch without weights_only)."""
    import torch
    from stable_baselines3 import PPO

    marker = tmp_path / "ran"
    with pytest.raises(Exception):
        PPO.load(malicious(run, "data entry", marker, tmp_path / "m.zip"), device="cpu")
    assert marker.exists()
    marker.unlink()
    torch.load(io.BytesIO(evil_pth(marker)), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("kind, message", [
    ("data entry", "refusing its observation_space entry (its pickle names pathlib.Path.touch"),
    ("unknown entry", "refusing to unpickle its surprise entry"),
    ("policy.pth", "refusing policy.pth: it holds more than tensors"),
    ("pytorch_variables.pth", "refusing pytorch_variables.pth"),
    ("policy.optimizer.pth", "refusing policy.optimizer.pth"),
])
def test_malicious_files_are_refused_without_running_anything(run, tmp_path, kind, message):
    from mediator.learned import LearnedMediatorError, load_model

    marker = tmp_path / "ran"
    path = malicious(run, kind, marker, run / f"bad-{kind.replace(' ', '_')}.zip")
    model = honest_model(run)
    with pytest.raises(LearnedMediatorError, match=f"^{path}: ") as e:
        load_model(path, spaces=(model.observation_space, model.action_space))
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["data entry", "unknown entry", "policy.pth"])
def test_evaluate_and_train_resume_refuse_a_malicious_model_in_one_line(run, tmp_path, kind):
    marker = tmp_path / "MARKER"
    bad = malicious(run, kind, marker, run / f"cli-{kind.replace(' ', '_')}.zip")
    proc = subprocess.run([sys.executable, "evaluate.py", "--game", "example1", "--mediator", str(bad),
                           "--rounds", "100", "--seeds", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and one_line(proc.stderr) and "refusing" in proc.stderr, proc.stderr
    assert not marker.exists()
    resumed = tmp_path / "resumed"
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copy(run / "config.json", resumed / "config.json")
    shutil.copy(run / "checkpoints" / "step_256.zip", resumed / "checkpoints" / "step_256.zip")
    shutil.copy(bad, resumed / "checkpoints" / "step_512.zip")          # the newest checkpoint is the malicious one
    proc = subprocess.run([sys.executable, "train.py", "--resume", str(resumed), "--total-steps", "1024"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and one_line(proc.stderr), proc.stderr
    assert "cannot resume from this checkpoint" in proc.stderr
    assert "refusing" in proc.stderr and not marker.exists()
    assert not list((resumed / "checkpoints").glob("step_1024.zip")) and not (resumed / "final.zip").exists()


def test_broken_and_tampered_files_are_one_line(run, tmp_path):
    from mediator.learned import LearnedMediatorError, load_model

    model = honest_model(run)
    final = run / "final.zip"
    raw = final.read_bytes()

    def refused(path: Path) -> str:
        with pytest.raises(LearnedMediatorError) as e:
            load_model(path, spaces=(model.observation_space, model.action_space))
        assert "\n" not in str(e.value)
        return str(e.value)

    def write(name: str, blob: bytes) -> Path:
        (run / name).write_bytes(blob)
        return run / name

    assert "not a zip archive" in refused(write("text.zip", b"not a model"))
    assert "truncated" in refused(write("truncated.zip", raw[: len(raw) // 2]))
    info = zipfile.ZipFile(final).getinfo("policy.pth")
    flipped = bytearray(raw)
    flipped[info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2] ^= 0xFF
    assert "corrupt" in refused(write("flipped.zip", bytes(flipped)))
    assert "no policy.optimizer.pth entry" in refused(rewrite(final, run / "m1.zip", drop=("policy.optimizer.pth",)))
    assert "no data entry" in refused(rewrite(final, run / "m2.zip", drop=("data",)))
    assert "not JSON" in refused(rewrite(final, run / "m3.zip", replace={"data": b"{nope"}))
    assert "unexpected entry extra.pth" in refused(_with_entry(final, run / "m4.zip", "extra.pth", b"x"))
    assert "refusing its env entry" in refused(rewrite(final, run / "m5.zip", data=lambda d: d.update(env="os:Env-v0")))
    nested = {"net_arch": [64, 64], "log_std_init": 0.0, "x": {":serialized:": payload(tmp_path / "ran")}}
    assert "nested" in refused(rewrite(final, run / "m6.zip", data=lambda d: d.update(policy_kwargs=nested)))
    shape = refused(rewrite(final, run / "m7.zip", data=lambda d: d["action_space"].update(_shape=[9])))
    assert "its action_space entry does not match its run's config (shape [9] in the file, [6] rebuilt)" in shape
    clip = refused(rewrite(final, run / "m8.zip", data=lambda d: d["clip_range"].update(
        value_schedule="ConstantSchedule(val=0.5)")))
    assert "clip_range entry does not match" in clip
    assert "no such model file" in refused(run / "absent.zip")
    assert not (tmp_path / "ran").exists()


def _with_entry(src: Path, dst: Path, name: str, blob: bytes) -> Path:
    shutil.copy(src, dst)
    with zipfile.ZipFile(dst, "a") as z:
        z.writestr(name, blob)
    return dst


def test_the_pickle_audit_reads_every_global_without_running_it():
    import os

    from mediator.model_io import pickled_globals

    class System:
        def __reduce__(self):
            return os.system, ("true",)

    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        found = pickled_globals(pickle.dumps([System(), System(), {"a": np.float32(1)}], protocol=protocol))
        assert (os.system.__module__, "system") in found, protocol
