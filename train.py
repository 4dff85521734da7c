"""Train a PPO mediator over learning stakeholders (or PPO stakeholders), CleanRL-style: one flow.

    python train.py                                   # PPO mediator over Hedge stakeholders on example1
    python train.py --game bos --families recommend --total-steps 100000
    python train.py --game random:n=2,k=4 --total-steps 200000   # a game-conditioned mediator (a game family)
    python train.py --resume runs/example1-s0-20261122-031500
    tensorboard --logdir runs

Writes runs/<run-name>/: config.json (the typed config), tb/ (TensorBoard), checkpoints/ (atomic,
the last few kept), final.zip, and report.json (the learned mediator next to the analytic ones on
the same learner dynamics).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from agents.dynamics import learner_factory
from agents.no_regret import RULES, population
from envs.catalog import game_batches, game_family, load_game
from envs.codec import FAMILIES, SUBSIDIES
from envs.game import DesignGame, GameError
from envs.intervention import Intervention
from envs.io import atomic_write_json, atomic_write_with
from envs.mixture import is_mixture_spec
from envs.padding import PaddedLayout
from comparison.dynamics import (VALIDATION_SEED, generalization, grouped, judge_games, learned_entry, reference_nets,
                                 run_dynamics, summary)
from comparison.score import score
from comparison.usage import OneLineParser, UsageError
from mediator.analytic import analytic_mediators
from mediator.learned import LearnedMediator, LearnedMediatorError, load_model, run_layout


def flag(default, help: str, **kwargs):
    """A TrainConfig field with its command-line help (every field but ``designs`` is a flag)."""
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class TrainConfig:
    """Everything a run depends on; echoed to runs/<run-name>/config.json (``auto`` values resolved)."""

    # what is trained, on what
    game: str = flag("example1", "catalog spec or game file; a family (mix:v1, random:n=2,k=4) trains a general mediator")
    stakeholders: str = flag("hedge", f"stakeholder rules, one for all or one per player ({', '.join(RULES)}; options "
                                      "as hedge:eta=0.5), e.g. hedge,ppo: player 1 Hedge, player 2 PPO")
    mediator: str = flag("learned", "learned (a PPO mediator), or, to train only PPO stakeholders (iterated best "
                                    "response), the fixed analytic one in force: none, restriction, payments, "
                                    "correlation, vouchers")
    families: tuple[str, ...] = flag(("restrict",), f"what the mediator may do, comma-separated from {', '.join(FAMILIES)}")
    vouchers: bool = flag(False, "with recommend: the mediator may also offer conditional vouchers (Section 3.3)")
    policy: str = flag("auto", "mlp (one game), equivariant (any game of the layout), or auto: equivariant for a "
                               "family, mlp for one game", choices=("auto", "mlp", "equivariant"))
    # the dynamics
    rounds: int | None = flag(None, "stakeholder rounds per training episode (the learners restart each episode; "
                                    "default 200, or 1000 with recommend, to outlast the learners' initial trust)")
    act_every: int = flag(50, "rounds between mediator decisions (long enough for learners to respond to each one)")
    lam: float = flag(1.0, "lambda: weight of the mediator's transfers in its net welfare", dest="lambda")
    budget: float | None = flag(None, "largest payment per player and profile (default: the game's payoff scale)")
    subsidy: str = flag("incentive", "subsidies and vouchers: incentive (multiples of the k-implementation amounts, "
                                     "per player and design for subsidies, per player and profile for vouchers) or "
                                     "profile (shares of the budget per player and profile)", choices=SUBSIDIES)
    temperature: float = flag(4.0, "recommend: softmax temperature of the profile logits")
    trust: float = flag(0.5, "recommend: the contextual learners' prior trust in a recommendation")
    # PPO (stable-baselines3)
    total_steps: int = flag(50_000, "PPO steps = mediator decisions summed over environments")
    num_envs: int = flag(16, "environments (games of the engine's batch) per rollout")
    n_steps: int = flag(64, "steps per environment per rollout")
    batch_size: int = flag(256, "PPO minibatch size")
    n_epochs: int = flag(10, "PPO epochs per rollout")
    learning_rate: float = flag(3e-4, "Adam learning rate")
    gamma: float = flag(0.9, "discount per mediator decision")
    gae_lambda: float = flag(0.95, "GAE lambda")
    clip_range: float = flag(0.2, "PPO clip range")
    ent_coef: float = flag(0.0, "entropy bonus")
    log_std_init: float = flag(-0.7, "initial log-std of the Gaussian actions (std 0.5)")
    net_arch: tuple[int, ...] = flag((64, 64), "mlp: hidden layer sizes of the policy and value networks")
    width: int = flag(64, "equivariant: width of the per-(player, design) embeddings")
    layers: int = flag(2, "equivariant: mixing layers")
    n_max: int = flag(3, "equivariant: most players of a game the model serves")
    k_max: int = flag(16, "equivariant: most designs per player of a game the model serves")
    seed: int = flag(0, "seed of PPO, the games drawn and the learners")
    # the run
    run_name: str = flag("", "run folder name under --runs-dir (default: game-seed-time)")
    runs_dir: str = flag("runs", "where run folders go")
    checkpoint_every: int = flag(10_000, "PPO steps between checkpoints (a family's validation scores are logged then)")
    keep_checkpoints: int = flag(3, "checkpoints kept")
    validation_games: int = flag(16, "a family: held-out games scored in TensorBoard at every checkpoint")
    eval_rounds: int = flag(20_000, "rounds of the final comparison on learning dynamics")
    eval_seeds: int = flag(5, "seeds of the final comparison")
    generalize: int = flag(50, "a family: unseen games of the final report (reserved evaluation seeds)")
    designs: list = field(default_factory=list)   # filled from the game: a per-game model is tied to its designs


#: Comma-separated flags
INT_TUPLES, STR_TUPLES = ("net_arch",), ("families",)


# --------------------------------------------------------------------------- command line
def build_parser() -> OneLineParser:
    """Every TrainConfig field as a flag (defaults suppressed, so the flags actually given are known)."""
    p = OneLineParser(prog="train.py", description=__doc__.split("\n\n")[0], argument_default=argparse.SUPPRESS)
    for f in dataclasses.fields(TrainConfig):
        if "help" not in f.metadata:
            continue
        name = "--" + f.metadata.get("dest", f.name).replace("_", "-")
        shown = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
        kwargs = {"dest": f.name, "help": f.metadata["help"] + ("" if f.default is None else f" (default {shown})")}
        if isinstance(f.default, bool):
            p.add_argument(name, action="store_true", **kwargs)
            continue
        kind = {int: int, float: float}.get(type(f.default), str)
        kind = {"budget": float, "rounds": int}.get(f.name, kind)
        p.add_argument(name, type=kind, choices=f.metadata.get("choices"), **kwargs)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint "
                                                       "(only --total-steps may change, to extend it)")
    return p


def parse_config(argv: Sequence[str] | None) -> tuple[dict, str | None]:
    """The flags given (field -> value) and the run folder to resume, if any."""
    given = vars(build_parser().parse_args(argv))
    resume = given.pop("resume", None)
    for name in STR_TUPLES:
        if name in given:
            given[name] = tuple(x.strip() for x in given[name].split(",") if x.strip())
    for name in INT_TUPLES:
        if name in given:
            given[name] = layer_sizes(given[name])
    return given, resume


def layer_sizes(text: str) -> tuple[int, ...]:
    """``--net-arch 256,256`` as (256, 256); one clear error otherwise."""
    try:
        sizes = tuple(int(x) for x in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--net-arch must be positive integers separated by commas, got {text!r}")
    return sizes


def resolve(c: TrainConfig) -> TrainConfig:
    """``auto`` values made concrete (what config.json records). Episodes with recommendations last 1000
    rounds: contextual learners start trusting a recommendation (``--trust``) for about 100 rounds, and a
    200-round episode is half that transient, where a mediator learns to exploit trust (recommend (C, C)
    in the dilemma) instead of earning obedience (vouchers) as a 20,000-round comparison demands."""
    if c.policy == "auto":
        c.policy = "equivariant" if game_family(c.game) else "mlp"
    if c.rounds is None:
        c.rounds = 1000 if "recommend" in c.families else 200
    return c


def check_config(c: TrainConfig) -> None:
    """One validation for fresh and resumed runs: one line and exit 2 before anything is trained or written."""
    unknown = set(c.families) - set(FAMILIES)
    if unknown or not c.families:
        raise UsageError(f"--families must be among {', '.join(FAMILIES)}, got {', '.join(c.families) or 'none'}")
    if c.vouchers and "recommend" not in c.families:
        raise UsageError("--vouchers needs the recommend family (--families ...,recommend)")
    if c.mediator not in ("learned", "none", "restriction", "payments", "correlation", "vouchers"):
        raise UsageError(f"--mediator must be learned, none or an analytic family, got {c.mediator!r}")
    fixed = c.mediator != "learned"
    if fixed and c.stakeholders != "ppo":
        raise UsageError("a fixed --mediator trains --stakeholders ppo alone; leave --mediator out to train a mediator")
    try:
        rules = population(c.stakeholders)
    except ValueError as e:
        raise UsageError(f"--stakeholders: {e}") from None
    family = game_family(c.game)
    if family and len(rules) > 1:
        raise UsageError(f"--game {c.game} is a game family of several sizes: one --stakeholders rule for all players")
    if family and "ppo" in [r.partition(":")[0] for r in rules]:
        raise UsageError(f"--game {c.game} is a game family: its stakeholders are no-regret rules (a PPO stakeholder "
                         "is one policy shared by the batch's copies, which would be different games)")
    if family and c.policy == "mlp":
        raise UsageError(f"--game {c.game} is a game family: it trains --policy equivariant (one model for any shape)")
    if c.policy == "equivariant" and c.subsidy != "incentive":
        raise UsageError("--policy equivariant subsidizes per design (--subsidy incentive)")
    for name in ("total_steps", "num_envs", "rounds", "act_every", "checkpoint_every", "keep_checkpoints", "eval_rounds",
                 "eval_seeds", "generalize", "validation_games", "n_steps", "batch_size", "n_epochs", "width", "layers"):
        if getattr(c, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(c, name)}")
    if c.n_max < 2 or c.k_max < 2:
        raise UsageError(f"--n-max and --k-max must be >= 2, got {c.n_max}, {c.k_max}")
    if c.act_every > c.rounds:
        raise UsageError(f"--act-every ({c.act_every}) cannot exceed --rounds ({c.rounds})")
    if c.batch_size > c.n_steps * c.num_envs:
        raise UsageError(f"--batch-size ({c.batch_size}) cannot exceed a rollout (--n-steps x --num-envs = "
                         f"{c.n_steps * c.num_envs})")
    ranges = {"lambda": (c.lam, 0, None), "learning-rate": (c.learning_rate, 0, None), "gamma": (c.gamma, 0, 1),
              "gae-lambda": (c.gae_lambda, 0, 1), "clip-range": (c.clip_range, 0, None), "ent-coef": (c.ent_coef, 0, None),
              "temperature": (c.temperature, 0, None), "trust": (c.trust, 0, 1), "log-std-init": (c.log_std_init, None, None)}
    if c.budget is not None:
        ranges["budget"] = (c.budget, 0, None)
    for name, (value, low, high) in ranges.items():
        if value is None:
            continue
        if not np.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
            bounds = f" in [{low}, {high}]" if high is not None else (f" >= {low}" if low is not None else "")
            raise UsageError(f"--{name} must be a finite number{bounds}, got {value}")
    if c.budget is not None and c.budget == 0:
        raise UsageError("--budget must be > 0 (or left out: the game's payoff scale)")
    if c.policy == "equivariant":
        try:
            PaddedLayout(c.n_max, c.k_max, c.families, c.vouchers)
        except ValueError as e:
            raise UsageError(str(e)) from None


def run_folder(c: TrainConfig) -> Path:
    name = c.run_name or f"{c.game.replace(':', '_').replace('/', '_')}-s{c.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder = Path(c.runs_dir) / name
    if folder.exists():
        raise UsageError(f"run folder {folder} exists; pick another --run-name or --resume it")
    c.run_name = name
    return folder


def checkpoints(folder: Path) -> list[Path]:
    """The run's checkpoints, oldest first (``checkpoints/step_<N>.zip``)."""
    return sorted(folder.glob("checkpoints/step_*.zip"), key=lambda p: int(p.stem.split("_")[1]))


def step_of(checkpoint: Path) -> int:
    return int(checkpoint.stem.split("_")[1])


def load_resume(run_dir: str, given: dict) -> tuple[TrainConfig, Path | None]:
    """The run's own config (``--total-steps`` may extend it) and its newest checkpoint (None: not started)."""
    folder = Path(run_dir)
    changed = sorted(set(given) - {"total_steps"})
    if changed:
        raise UsageError(f"--resume continues {run_dir} as configured; only --total-steps may change, not "
                         + ", ".join(f"--{k.replace('_', '-')}" for k in changed))
    try:
        raw = json.loads((folder / "config.json").read_text())
        config = TrainConfig(**{**raw, "families": tuple(raw["families"]), "net_arch": tuple(raw["net_arch"])})
    except FileNotFoundError:
        raise UsageError(f"--resume {run_dir}: no config.json (not a training run folder)") from None
    except (json.JSONDecodeError, TypeError, KeyError) as e:
        raise UsageError(f"--resume {run_dir}: config.json is unreadable or from another version ({e})") from None
    config.total_steps = given.get("total_steps", config.total_steps)
    check_config(resolve(config))
    found = checkpoints(folder)
    return config, found[-1] if found else None


# --------------------------------------------------------------------------- callbacks
class Stop:
    """SIGINT / SIGTERM during training: remember the signal; the training loop checkpoints and stops."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.step = 0
        self.previous: dict[int, object] = {}

    def __enter__(self) -> "Stop":
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def make_callbacks(c: TrainConfig, folder: Path, reference: tuple[float, dict, float] | None, stop: Stop,
                   validation: list[DesignGame]):
    """TensorBoard scalars, atomic checkpoints (with a family's validation scores), the stop on a signal
    and a progress bar (SB3 callbacks)."""
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Image
    from tqdm.auto import tqdm

    class MetricsCallback(BaseCallback):
        """Named scalars per rollout (mean over its steps and environments), a heatmap now and then."""

        def _on_training_start(self) -> None:
            self.sums, self.count, self.rollouts = {}, 0, 0
            self.start, self.start_steps = time.perf_counter(), self.num_timesteps

        def _on_step(self) -> bool:
            self.count += 1
            for key, values in self.training_env.get_attr("metrics")[0].items():
                if not np.isnan(values).all():                 # obedience is NaN without recommendations
                    self.sums[key] = self.sums.get(key, 0.0) + float(np.nanmean(values))
            return True

        def _on_rollout_end(self) -> None:
            means = {k: v / max(self.count, 1) for k, v in self.sums.items()}
            net = means.get("net_welfare", np.nan)
            self.logger.record("mediator/gross_welfare", means.get("gross_welfare", np.nan))
            self.logger.record("mediator/net_welfare", net)
            self.logger.record("mediator/transfers_per_round", means.get("transfers_per_round", np.nan))
            if reference is not None:      # comparison.score's definition, at the training horizon
                s = score(net, *reference)
                self.logger.record("mediator/gain_over_none", s["gain_over_none"])
                self.logger.record("mediator/gain_over_best", s["gain_over_best"])
                self.logger.record("mediator/gap_closed", np.nan if s["gap_closed"] is None else s["gap_closed"])
            self.logger.record("stakeholders/strategy_entropy", means.get("strategy_entropy", np.nan))
            self.logger.record("stakeholders/obedience_rate", means.get("obedience_rate", np.nan))
            for key in sorted(k for k in means if "/" in k):     # per stakeholder: <player>/reward, ...
                self.logger.record(f"stakeholders/{key}", means[key])
            elapsed = time.perf_counter() - self.start
            self.logger.record("time/steps_per_second", (self.num_timesteps - self.start_steps) / max(elapsed, 1e-9))
            self.rollouts += 1
            if self.rollouts % 10 == 1:
                self.logger.record("stakeholders/strategy_heatmap", Image(self._heatmap(), "HW"),
                                   exclude=("stdout", "log", "json", "csv"))
            self.sums, self.count = {}, 0

        def _heatmap(self) -> np.ndarray:
            """Grey image: one row per stakeholder, its mean strategy over designs (scaled up)."""
            env = self.training_env.get_attr("engine")[0]
            rows = [p.mean(axis=0) for p in env.strategies()]
            k = max(len(r) for r in rows)
            img = np.zeros((len(rows), k))
            for i, r in enumerate(rows):
                img[i, :len(r)] = r
            return np.kron(img, np.ones((16, 16))).astype(np.float32)

    class CheckpointCallback(BaseCallback):
        """Every ``checkpoint_every`` steps, and at a stop signal: write then rename, keep the last
        ``keep_checkpoints``; for a family, score the checkpoint on the validation games."""

        def _on_training_start(self) -> None:
            self.next = (self.num_timesteps // c.checkpoint_every + 1) * c.checkpoint_every

        def _on_step(self) -> bool:
            if stop.signal is not None:
                save_checkpoint(self.model, folder, c.keep_checkpoints)
                return False
            if self.num_timesteps >= self.next:
                self.next += c.checkpoint_every
                path = save_checkpoint(self.model, folder, c.keep_checkpoints)
                if validation:
                    self._validate(path)
            return True

        def _validate(self, path: Path) -> None:
            """Score per generator and shape (comparison.score) on held-out games at the training horizon."""
            rows = judge_games(path, validation, c.stakeholders, c.rounds, 2, c.seed + 7, c.lam, c.trust, progress=False)
            for row, game in zip(rows, validation):
                row["generator"] = generator_of(c.game, game)
            self.logger.record("validation/summed_gap_closed", none_as_nan(summary(rows)["summed_gap_closed"]))
            for key in ("generator", "shape"):
                for value, group in grouped(rows, key).items():
                    self.logger.record(f"validation/{key}/{value}", none_as_nan(group["summed_gap_closed"]))
            self.logger.dump(self.num_timesteps)

    class ProgressCallback(BaseCallback):
        def _on_training_start(self) -> None:
            self.bar = tqdm(total=c.total_steps, initial=self.num_timesteps, desc="PPO steps", unit="step",
                            disable=None, mininterval=1.0)

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            return True

        def _on_training_end(self) -> None:
            self.bar.close()

    return [MetricsCallback(), CheckpointCallback(), ProgressCallback()]


def none_as_nan(x: float | None) -> float:
    return np.nan if x is None else x


def generator_of(spec: str, game: DesignGame) -> str:
    """A family game's generator (a mixture's) or the family itself."""
    return game.name.split(":")[3] if is_mixture_spec(spec) else spec


def save_checkpoint(model, folder: Path, keep: int) -> Path:
    """``checkpoints/step_<N>.zip`` written atomically, with its episode statistics (the window behind
    ``rollout/ep_*``, which safe loading does not restore) beside it; only the newest ``keep`` are kept."""
    path = folder / "checkpoints" / f"step_{model.num_timesteps}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(episodes_file(path), {"ep_info_buffer": [{k: float(v) for k, v in e.items()}
                                                              for e in model.ep_info_buffer or []]})
    save_atomic(model, path)
    for old in checkpoints(folder)[:-keep]:
        old.unlink()
        episodes_file(old).unlink(missing_ok=True)
    return path


def episodes_file(checkpoint: Path) -> Path:
    return checkpoint.with_suffix(".episodes.json")


def restore_episodes(model, checkpoint: Path) -> None:
    """Put a checkpoint's episode statistics back, so ``rollout/ep_*`` continues its window across a resume."""
    from collections import deque

    try:
        episodes = json.loads(episodes_file(checkpoint).read_text())["ep_info_buffer"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return                                       # an older run: the window restarts empty
    model.ep_info_buffer = deque(episodes, maxlen=model._stats_window_size)
    model.ep_success_buffer = deque(maxlen=model._stats_window_size)


def drop_events_after(tb: Path, step: int) -> int:
    """Cut the TensorBoard events a killed run logged after its last checkpoint (``step``), so the resumed
    run logs each step once: every event file holding such events is rewritten atomically (a record torn by
    the kill goes too). Returns the number of events dropped."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import RecordWriter

    dropped = 0
    for path in sorted(tb.glob("*/events.out.tfevents.*")):
        records = list(RawEventFileLoader(str(path)).Load())
        keep = [r for r in records if Event.FromString(r).step <= step]
        if len(keep) == len(records) and path.stat().st_size == sum(len(r) + 16 for r in records):
            continue

        def write(tmp: Path, keep=keep) -> None:
            with open(tmp, "wb") as f:
                writer = RecordWriter(f)
                for record in keep:
                    writer.write(record)
                writer.flush()

        atomic_write_with(path, write)
        dropped += len(records) - len(keep)
    return dropped


def save_atomic(model, path: Path) -> None:
    """Save an SB3 model by writing a temporary file and renaming it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_with(path, model.save)


# --------------------------------------------------------------------------- the run
def training_reference(game: DesignGame, c: TrainConfig) -> tuple[float, dict, float]:
    """No mediation's and the analytic counterparts' mean net welfare per round over a training episode
    (``rounds`` rounds of the same learners, ``num_envs`` seeds), and the payoff scale: what
    TensorBoard's score compares the rollouts' net welfare with."""
    none, analytic = reference_nets(game, c.families, c.stakeholders, c.rounds, c.num_envs, c.seed, c.lam, trust=c.trust)
    return none, analytic, game.scale


def stakeholder_factory(c: TrainConfig):
    """The learners a mediator trains over: contextual, with prior trust ``trust``, when it may recommend."""
    return learner_factory(c.stakeholders, contextual="recommend" in c.families, trust=c.trust)


def mediator_env(c: TrainConfig, game: DesignGame):
    """The mediator's VecEnv: one game, or (a general mediator) games of any shape through the padded layout."""
    from envs.views import MediatorVecEnv

    layout = run_layout(dataclasses.asdict(c))
    batches = None if layout is None else (game_batches(c.game) or (lambda first, count: [game] * count))
    return MediatorVecEnv(game, stakeholder_factory(c), c.num_envs, c.rounds, c.act_every, c.families, c.lam, c.budget,
                          c.vouchers, seed=c.seed, subsidy=c.subsidy, batches=batches, layout=layout,
                          temperature=c.temperature)


def new_model(c: TrainConfig, venv, folder: Path):
    """A fresh SB3 PPO with every hyperparameter from the config."""
    import torch
    from stable_baselines3 import PPO

    from mediator.equivariant import EquivariantPolicy

    if c.policy == "equivariant":
        policy, kwargs = EquivariantPolicy, {"layout": run_layout(dataclasses.asdict(c)), "width": c.width,
                                             "layers": c.layers, "log_std_init": c.log_std_init}
    else:
        policy, kwargs = "MlpPolicy", {"net_arch": list(c.net_arch), "log_std_init": c.log_std_init}
    model = PPO(policy, venv, learning_rate=c.learning_rate, n_steps=c.n_steps, batch_size=c.batch_size,
                n_epochs=c.n_epochs, gamma=c.gamma, gae_lambda=c.gae_lambda, clip_range=c.clip_range,
                ent_coef=c.ent_coef, seed=c.seed, device="cpu", policy_kwargs=kwargs,
                tensorboard_log=str(folder / "tb"), verbose=0)
    if c.policy != "equivariant" and run_layout(dataclasses.asdict(c)) is None:   # one game's MLP: mean action
        # starts at the codec's initial mean (vouchers that secure obedience)
        with torch.no_grad():
            model.policy.action_net.bias.copy_(torch.as_tensor(venv.get_attr("codec")[0].initial_mean()))
    return model


def train_mediator(c: TrainConfig, folder: Path, game: DesignGame, checkpoint: Path | None) -> tuple[Path, Stop]:
    """PPO on the mediator's VecEnv up to ``total_steps`` (from ``checkpoint`` when resuming)."""
    import torch
    from stable_baselines3.common.vec_env import VecMonitor

    torch.set_num_threads(1)
    venv = VecMonitor(mediator_env(c, game))
    if checkpoint is None:
        model = new_model(c, venv, folder)
    else:
        model = load_model(checkpoint, env=venv, tensorboard_log=str(folder / "tb"))
        if model.action_space.shape != venv.action_space.shape or model.observation_space.shape != venv.observation_space.shape:
            raise LearnedMediatorError(f"{checkpoint}: checkpoint does not match this run's game and families")
        restore_episodes(model, checkpoint)
        dropped = drop_events_after(folder / "tb", model.num_timesteps)
        print(f"resuming {folder} from step {model.num_timesteps} of {c.total_steps} ({checkpoint.name})"
              + (f"; dropped {dropped} TensorBoard events logged after it" if dropped else ""))
    family = game_family(c.game)
    reference = None if family else training_reference(game, c)   # a family has no one game to compare with
    validation = [family(VALIDATION_SEED + j) for j in range(c.validation_games)] if family else []
    with Stop() as stop:
        if model.num_timesteps < c.total_steps:
            model.learn(c.total_steps - model.num_timesteps, reset_num_timesteps=checkpoint is None,
                        callback=make_callbacks(c, folder, reference, stop, validation), tb_log_name="ppo_mediator")
    if stop.signal is None:
        save_checkpoint(model, folder, c.keep_checkpoints)
        save_atomic(model, folder / "final.zip")
    stop.step = model.num_timesteps
    return folder / "final.zip", stop


def compare(c: TrainConfig, folder: Path, game: DesignGame, final: Path) -> dict:
    """The learned mediator next to the analytic ones on the same learner dynamics (for a game family:
    on ``generalize`` unseen games of it, at 20,000 rounds and at the training horizon); report.json."""
    if game_family(c.game):
        report = generalization(c.game, final, c.stakeholders, c.generalize, c.eval_rounds, c.eval_seeds,
                                c.seed + 1000, c.lam, c.trust)
        short = generalization(c.game, final, c.stakeholders, c.generalize, c.rounds, c.eval_seeds,
                               c.seed + 1000, c.lam, c.trust)
        report["at_training_horizon"] = {k: short[k] for k in ("rounds", "summed_gap_closed", "mean_gap_closed",
                                                               "games_with_gap", "by_generator", "by_shape")}
        atomic_write_json(folder / "report.json", report)
        return report
    mediators = analytic_mediators(game, lam=c.lam)
    policy = LearnedMediator(final, game)
    report = {"game": game.name, "players": list(game.players), "designs": [list(d) for d in game.designs],
              "mediators": {"none": {}, **{k: {} for k in mediators}}}
    compared = {"none": Intervention(), **{k: m.intervention for k, m in mediators.items()},
                f"learned:{policy.name}": policy}
    run_dynamics(game, report, compared, c.stakeholders, c.eval_rounds, c.eval_seeds, c.seed + 1000, c.lam, trust=c.trust)
    report["mediators"][f"learned:{policy.name}"].update(
        learned_entry(report["mediators"][f"learned:{policy.name}"]["dynamic"], report, c.families, game.scale))
    atomic_write_json(folder / "report.json", report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    folder = None
    try:
        given, resume = parse_config(argv)
        if resume:
            config, checkpoint = load_resume(resume, given)
            folder = Path(resume)
            done = checkpoint is not None and step_of(checkpoint) >= config.total_steps
            if done and (folder / "report.json").is_file():
                print(f"{folder} is finished ({step_of(checkpoint)} steps, report.json written); nothing to do "
                      f"(extend it with --total-steps)")
                return 0
        else:
            config = resolve(TrainConfig(**given))
            check_config(config)
            checkpoint, folder = None, run_folder(config)
        game = load_game(config.game)
        try:
            population(config.stakeholders, game.n_players)
        except ValueError as e:
            raise UsageError(f"--stakeholders: {e}") from None
        config.designs = [list(d) for d in game.designs]
        print(f"run folder: {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / "config.json", dataclasses.asdict(config))
        if config.mediator != "learned":
            return train_stakeholders(config, game, folder)
        final, stop = train_mediator(config, folder, game, checkpoint)
        if stop.signal is not None:
            print(f"interrupted at step {stop.step}; resume with: python train.py --resume {folder}", file=sys.stderr)
            return 128 + stop.signal
        report = compare(config, folder, game, final)
    except (UsageError, GameError) as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = f"; resume with: python train.py --resume {folder}" if folder is not None and folder.exists() else ""
        print(f"interrupted{where}", file=sys.stderr)
        return 130
    print(f"\nrun folder: {folder}\n  TensorBoard: tensorboard --logdir {folder.parent}\n  final model: {final}"
          f"\n  report: {folder / 'report.json'}\n{outcome(config, report)}")
    return 0


def outcome(c: TrainConfig, report: dict) -> str:
    """One line: the learned mediator's long-run net welfare against no mediation and the best analytic one."""
    if "summed_gap_closed" in report:
        closed = report["summed_gap_closed"]
        return (f"on {len(report['games'])} unseen games of {c.game} ({c.eval_seeds} seeds of {c.stakeholders} "
                f"stakeholders each, {c.eval_rounds} rounds), mean long-run net welfare: "
                + "; ".join(f"{k} {v:.4f}" for k, v in report["mean_net"].items())
                + f"; summed gap closed over the {report['games_with_gap']} games with a gap: "
                + ("n/a" if closed is None else f"{closed:.1%}"))
    learned = next(v for k, v in report["mediators"].items() if k.startswith("learned:"))
    return f"over {c.eval_seeds} seeds of {c.stakeholders} stakeholders: {learned['explanation']}"


def train_stakeholders(c: TrainConfig, game: DesignGame, folder: Path) -> int:
    """PPO stakeholders (MaskablePPO, iterated best response) under an analytic mediator or none."""
    from agents.ppo import train_ppo_stakeholders

    intervention = (Intervention() if c.mediator == "none"
                    else analytic_mediators(game, lam=c.lam)[c.mediator].intervention)
    out = train_ppo_stakeholders(game, intervention, total_steps=c.total_steps, seed=c.seed)
    for player, model in out.models.items():
        save_atomic(model, folder / "stakeholders" / f"{player}.zip")
    report = {"game": game.name, "players": list(game.players), "designs": [list(d) for d in game.designs],
              "stakeholders": "ppo", "mediator": c.mediator, "steps": out.steps,
              "profiles": out.profiles, "payoffs": [float(out.payoffs[p]) for p in game.players],
              "welfare": out.welfare, "transfers": out.transfers, "net": out.net}
    atomic_write_json(folder / "report.json", report)
    common = sorted(out.profiles.items(), key=lambda kv: -kv[1])[:3]
    print(f"\nPPO stakeholders on {game.name} under mediator {c.mediator} ({out.steps} steps): "
          f"most played {', '.join(f'{p} {q:.1%}' for p, q in common)}; payoffs "
          f"{tuple(round(float(out.payoffs[p]), 3) for p in game.players)}, welfare {out.welfare:.4f}, net {out.net:.4f}\n"
          f"run folder: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
