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

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from agents.dynamics import learner_factory
from agents.no_regret import LEARNERS, make_learner
from envs.catalog import game_family, load_game
from envs.codec import FAMILIES, SUBSIDIES
from envs.game import DesignGame, GameError
from envs.intervention import Intervention
from envs.io import atomic_write_json, atomic_write_text, atomic_write_with
from comparison.dynamics import generalization, learned_entry, reference_nets, run_dynamics
from comparison.score import score
from comparison.usage import OneLineParser, UsageError
from mediator.analytic import analytic_mediators
from mediator.learned import LearnedMediator, LearnedMediatorError


@dataclass
class TrainConfig:
    """Everything a run depends on; echoed to runs/<run-name>/config.json."""

    game: str = "example1"
    stakeholders: str = "hedge"               # a no-regret rule (optionally with options), or "ppo"
    mediator: str = "none"                    # with PPO stakeholders: the analytic mediator in force
    families: tuple[str, ...] = ("restrict",)  # what the mediator may do
    total_steps: int = 50_000                 # PPO steps = mediator decisions summed over environments
    num_envs: int = 16
    rounds: int = 200                         # stakeholder rounds per episode
    act_every: int = 10                       # rounds between mediator decisions
    lam: float = 1.0
    budget: float | None = None               # largest payment per player and profile (default: payoff scale)
    subsidy: str = "incentive"                # subsidize: multiples of k-implementation amounts, or "profile"
    seed: int = 0
    run_name: str = ""
    runs_dir: str = "runs"
    checkpoint_every: int = 10_000
    keep_checkpoints: int = 3
    eval_rounds: int = 20_000
    eval_seeds: int = 5
    generalize: int = 20                      # with a game family (random spec without seed): unseen games evaluated
    learning_rate: float = 3e-4
    ent_coef: float = 0.0
    net_arch: tuple[int, ...] = (64, 64)      # hidden layers of the policy and value networks (SB3's default)
    log_std_init: float = 0.0                 # initial log standard deviation of the Gaussian actions
    designs: list = field(default_factory=list)   # filled from the game: a model is tied to its designs


# --------------------------------------------------------------------------- command line
def parse_config(argv: Sequence[str] | None) -> tuple[TrainConfig, str | None]:
    p = OneLineParser(prog="train.py", description=__doc__.split("\n\n")[0])
    d = TrainConfig()
    p.add_argument("--game", default=d.game, help="catalog spec or game file (default example1)")
    p.add_argument("--stakeholders", default=d.stakeholders,
                   help=f"stakeholder learners: {', '.join(LEARNERS)} (options as hedge:eta=0.5), or ppo")
    p.add_argument("--mediator", default=d.mediator,
                   help="with --stakeholders ppo: the analytic mediator in force (none, restriction, payments, "
                        "correlation, vouchers; default none)")
    p.add_argument("--families", default=",".join(d.families),
                   help=f"mediator families, comma-separated from {', '.join(FAMILIES)} (default restrict)")
    p.add_argument("--total-steps", type=int, default=d.total_steps)
    p.add_argument("--num-envs", type=int, default=d.num_envs)
    p.add_argument("--rounds", type=int, default=d.rounds, help="stakeholder rounds per episode")
    p.add_argument("--act-every", type=int, default=d.act_every, help="rounds between mediator decisions")
    p.add_argument("--lambda", dest="lam", type=float, default=d.lam)
    p.add_argument("--budget", type=float, default=d.budget)
    p.add_argument("--subsidy", default=d.subsidy, choices=SUBSIDIES,
                   help="subsidize parameterisation: incentive (per player and design, a multiple of the "
                        "k-implementation amounts; default) or profile (per player and profile)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--run-name", default="")
    p.add_argument("--runs-dir", default=d.runs_dir)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--net-arch", default=",".join(map(str, d.net_arch)),
                   help="hidden layer sizes of the policy and value networks, comma-separated (default 64,64)")
    p.add_argument("--log-std-init", type=float, default=d.log_std_init,
                   help="initial log standard deviation of the mediator's Gaussian actions (default 0)")
    p.add_argument("--eval-rounds", type=int, default=d.eval_rounds)
    p.add_argument("--eval-seeds", type=int, default=d.eval_seeds)
    p.add_argument("--generalize", type=int, default=d.generalize,
                   help="with a game family such as random:n=2,k=4: unseen games in the final report (default 20)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    args = p.parse_args(argv)
    config = TrainConfig(**{k: getattr(args, k) for k in
                            ("game", "stakeholders", "mediator", "total_steps", "num_envs", "rounds", "act_every", "lam",
                             "budget", "subsidy", "seed", "run_name", "runs_dir", "checkpoint_every", "eval_rounds",
                             "eval_seeds", "generalize", "log_std_init")},
                         families=tuple(f.strip() for f in args.families.split(",") if f.strip()),
                         net_arch=layer_sizes(args.net_arch))
    return config, args.resume


def layer_sizes(text: str) -> tuple[int, ...]:
    """``--net-arch 256,256`` as (256, 256); one clear error otherwise."""
    try:
        sizes = tuple(int(x) for x in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--net-arch must be positive integers separated by commas, got {text!r}")
    return sizes


def check_config(c: TrainConfig) -> None:
    unknown = set(c.families) - set(FAMILIES)
    if unknown or not c.families:
        raise UsageError(f"--families must be among {', '.join(FAMILIES)}, got {', '.join(c.families) or 'none'}")
    if c.mediator not in ("none", "restriction", "payments", "correlation", "vouchers"):
        raise UsageError(f"--mediator must be none or an analytic family, got {c.mediator!r}")
    if c.mediator != "none" and c.stakeholders != "ppo":
        raise UsageError("--mediator applies to --stakeholders ppo (a learned mediator is trained otherwise)")
    if c.stakeholders != "ppo":
        try:
            make_learner(c.stakeholders, 2, 1)
        except ValueError as e:
            raise UsageError(f"--stakeholders: {e}") from None
    if c.stakeholders == "ppo" and game_family(c.game):
        raise UsageError(f"--game {c.game} is a game family: it trains a mediator, not --stakeholders ppo")
    for name in ("total_steps", "num_envs", "rounds", "act_every", "checkpoint_every", "eval_seeds", "generalize"):
        if getattr(c, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(c, name)}")
    if c.act_every > c.rounds:
        raise UsageError(f"--act-every ({c.act_every}) cannot exceed --rounds ({c.rounds})")
    if not (np.isfinite(c.lam) and c.lam >= 0) or (c.budget is not None and not c.budget > 0):
        raise UsageError("--lambda must be >= 0 and --budget > 0")


def run_folder(c: TrainConfig) -> Path:
    name = c.run_name or f"{c.game.replace(':', '_').replace('/', '_')}-s{c.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder = Path(c.runs_dir) / name
    if folder.exists():
        raise UsageError(f"run folder {folder} exists; pick another --run-name or --resume it")
    c.run_name = name
    return folder


def load_resume(run_dir: str) -> tuple[TrainConfig, Path]:
    """The run's own config and its newest checkpoint; one clear error when either is unusable."""
    folder = Path(run_dir)
    try:
        raw = json.loads((folder / "config.json").read_text())
        config = TrainConfig(**{"subsidy": "profile", **raw, "families": tuple(raw["families"]),
                                "net_arch": tuple(raw.get("net_arch", TrainConfig.net_arch))})
    except FileNotFoundError:
        raise UsageError(f"--resume {run_dir}: no config.json (not a training run folder)") from None
    except (json.JSONDecodeError, TypeError, KeyError) as e:
        raise UsageError(f"--resume {run_dir}: config.json is unreadable or from another version ({e})") from None
    checkpoints = sorted(folder.glob("checkpoints/step_*.zip"), key=lambda p: int(p.stem.split("_")[1]))
    if not checkpoints:
        raise UsageError(f"--resume {run_dir}: no checkpoint to resume from")
    return config, checkpoints[-1]


# --------------------------------------------------------------------------- callbacks
def make_callbacks(c: TrainConfig, folder: Path, reference: tuple[float, dict, float] | None, total: int):
    """TensorBoard scalars, atomic checkpoints and a progress bar (SB3 callbacks)."""
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
        """Every ``checkpoint_every`` steps: write then rename, keep the last ``keep_checkpoints``."""

        def _on_training_start(self) -> None:
            self.next = (self.num_timesteps // c.checkpoint_every + 1) * c.checkpoint_every

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next:
                self.next += c.checkpoint_every
                save_atomic(self.model, folder / "checkpoints" / f"step_{self.num_timesteps}.zip")
                old = sorted((folder / "checkpoints").glob("step_*.zip"), key=lambda p: int(p.stem.split("_")[1]))
                for path in old[:-c.keep_checkpoints]:
                    path.unlink()
            return True

    class ProgressCallback(BaseCallback):
        def _on_training_start(self) -> None:
            self.bar = tqdm(total=total, initial=self.num_timesteps, desc="PPO steps", unit="step",
                            disable=None, mininterval=1.0)

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            return True

        def _on_training_end(self) -> None:
            self.bar.close()

    return [MetricsCallback(), CheckpointCallback(), ProgressCallback()]


def save_atomic(model, path: Path) -> None:
    """Save an SB3 model by writing a temporary file and renaming it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_with(path, model.save)


# --------------------------------------------------------------------------- the run
def training_reference(game: DesignGame, c: TrainConfig) -> tuple[float, dict, float]:
    """No mediation's and the analytic counterparts' mean net welfare per round over a training episode
    (``rounds`` rounds of the same learners, ``num_envs`` seeds), and the payoff scale: what
    TensorBoard's score compares the rollouts' net welfare with."""
    none, analytic = reference_nets(game, c.families, c.stakeholders, c.rounds, c.num_envs, c.seed, c.lam, trust=0.5)
    return none, analytic, game.scale


def stakeholder_factory(c: TrainConfig):
    """The learners a mediator trains over: contextual, with trust 0.5, when it may recommend."""
    return learner_factory(c.stakeholders, contextual="recommend" in c.families, trust=0.5)


def train_mediator(c: TrainConfig, folder: Path, game: DesignGame, checkpoint: Path | None) -> Path:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    from envs.views import MediatorVecEnv

    torch.set_num_threads(1)
    family = game_family(c.game)
    venv = VecMonitor(MediatorVecEnv(game, stakeholder_factory(c), c.num_envs, c.rounds, c.act_every, c.families, c.lam,
                                     c.budget, seed=c.seed, subsidy=c.subsidy, games=family))
    steps_per_rollout = max(64, 1024 // c.num_envs) * c.num_envs
    if checkpoint is None:
        model = PPO("MlpPolicy", venv, n_steps=steps_per_rollout // c.num_envs, batch_size=min(256, steps_per_rollout),
                    learning_rate=c.learning_rate, ent_coef=c.ent_coef, gamma=0.9, seed=c.seed, device="cpu",
                    policy_kwargs={"net_arch": list(c.net_arch), "log_std_init": c.log_std_init},
                    tensorboard_log=str(folder / "tb"), verbose=0)
    else:
        try:
            model = PPO.load(checkpoint, env=venv, device="cpu", tensorboard_log=str(folder / "tb"))
        except Exception as e:  # a truncated or foreign zip: one clear line
            raise LearnedMediatorError(f"{checkpoint}: cannot resume from this checkpoint ({type(e).__name__})") from None
        if model.action_space.shape != venv.action_space.shape or model.observation_space.shape != venv.observation_space.shape:
            raise LearnedMediatorError(f"{checkpoint}: checkpoint does not match this run's game and families")
    reference = None if family else training_reference(game, c)   # a family has no one game to compare with
    remaining = c.total_steps - model.num_timesteps
    if remaining > 0:
        model.learn(remaining, callback=make_callbacks(c, folder, reference, c.total_steps),
                    reset_num_timesteps=checkpoint is None, tb_log_name="ppo_mediator")
    final = folder / "final.zip"
    save_atomic(model, final)
    return final


def compare(c: TrainConfig, folder: Path, game: DesignGame, final: Path) -> dict:
    """The learned mediator next to the analytic ones on the same learner dynamics (for a game family:
    on ``generalize`` unseen games of it); report.json."""
    if game_family(c.game):
        report = generalization(c.game, final, c.stakeholders, c.generalize, c.eval_rounds, c.eval_seeds,
                                c.seed + 1000, c.lam)
        atomic_write_json(folder / "report.json", report)
        return report
    mediators = analytic_mediators(game, lam=c.lam)
    policy = LearnedMediator(final, game)
    report = {"game": game.name, "players": list(game.players), "designs": [list(d) for d in game.designs],
              "mediators": {"none": {}, **{k: {} for k in mediators}}}
    compared = {"none": Intervention(), **{k: m.intervention for k, m in mediators.items()},
                f"learned:{policy.name}": policy}
    run_dynamics(game, report, compared, c.stakeholders, c.eval_rounds, c.eval_seeds, c.seed + 1000, c.lam)
    report["mediators"][f"learned:{policy.name}"].update(
        learned_entry(report["mediators"][f"learned:{policy.name}"]["dynamic"], report, c.families, game.scale))
    atomic_write_json(folder / "report.json", report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config, resume = parse_config(argv)
        if resume:
            config, checkpoint = load_resume(resume)
            folder = Path(resume)
        else:
            check_config(config)
            checkpoint, folder = None, run_folder(config)
        game = load_game(config.game)
        config.designs = [list(d) for d in game.designs]
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "config.json", json.dumps(dataclasses.asdict(config), indent=2) + "\n")
        if config.stakeholders == "ppo":
            return train_stakeholders(config, game, folder)
        final = train_mediator(config, folder, game, checkpoint)
        report = compare(config, folder, game, final)
    except (UsageError, GameError) as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        return 2
    print(f"\nrun folder: {folder}\n  TensorBoard: tensorboard --logdir {folder.parent}\n  final model: {final}"
          f"\n  report: {folder / 'report.json'}\n{outcome(config, report)}")
    return 0


def outcome(c: TrainConfig, report: dict) -> str:
    """One line: the learned mediator's long-run net welfare against no mediation and the best analytic one."""
    if "mean_gap_closed" in report:
        mean = report["mean_gap_closed"]
        return (f"on {len(report['games'])} unseen games of {c.game} ({c.eval_seeds} seeds of {c.stakeholders} "
                f"stakeholders each), mean long-run net welfare: "
                + "; ".join(f"{k} {v:.4f}" for k, v in report["mean_net"].items())
                + f"; mean gap closed over the {report['games_with_gap']} games with a gap: "
                + ("n/a" if mean is None else f"{mean:.1%}"))
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
