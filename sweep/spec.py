"""A sweep specification (YAML or JSON) and the independent (game, learner, mediator, seed) tasks it lists.

    games:                                  # catalog names, game files, generators with a grid
      - example1
      - my_game.json                        # relative paths are relative to the spec file
      - {generator: "random:n=2,kind=uniform", grid: {k: [3, 4], seed: [0, 1]}}
    learners: [hedge, regret-matching]
    mediators: [none, analytic]             # analytic = every analytic family; or runs/<run>/final.zip
    seeds: 3                                # a count (0, 1, 2) or a list
    rounds: 5000
"""
from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.no_regret import make_learner
from envs.game import OBJECTIVES
from envs.logs import is_log_spec
from mediator.analytic import ANALYTIC


class SweepSpecError(ValueError):
    """A sweep specification that cannot be run: reported in one line."""


@dataclass(frozen=True)
class Options:
    """Settings every task of a sweep shares."""

    rounds: int = 5000
    objective: str = "utilitarian"
    lam: float = 1.0
    margin: float | None = None
    voucher_margin: float = 0.0
    contextual: str = "auto"
    trust: float = 0.5


@dataclass(frozen=True)
class Task:
    """One independent work item; ``game`` and ``mediator`` are labels in the results, ``source`` and
    ``mediator_source`` what loads them."""

    index: int
    game: str
    source: str
    learner: str
    mediator: str
    mediator_source: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.game}|{self.learner}|{self.mediator}|{self.seed}"


@dataclass(frozen=True)
class SweepSpec:
    games: list[tuple[str, str]]          # (label, source)
    learners: list[str]
    mediators: list[tuple[str, str]]      # (label, source)
    seeds: list[int]
    options: Options = field(default_factory=Options)

    def tasks(self) -> list[Task]:
        """Every (game, learner, mediator, seed) combination, in a fixed order."""
        combos = itertools.product(self.games, self.learners, self.mediators, self.seeds)
        return [Task(i, label, source, learner, mediator, mediator_source, seed)
                for i, ((label, source), learner, (mediator, mediator_source), seed) in enumerate(combos)]

    def to_json(self) -> dict:
        return {"games": [list(g) for g in self.games], "learners": self.learners, "mediators": [list(m) for m in self.mediators],
                "seeds": self.seeds, "options": asdict(self.options)}


KEYS = {"games", "learners", "mediators", "seeds", "rounds", "objective", "lambda", "margin",
        "voucher_margin", "contextual", "trust", "name"}


def _read(path: Path) -> dict:
    """The spec file's mapping: YAML for .yaml/.yml, JSON otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SweepSpecError(f"{path}: cannot read the sweep spec ({e})") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:  # yaml.YAMLError and json.JSONDecodeError carry their own position
        reason = " ".join(str(e).split())
        raise SweepSpecError(f"{path}: not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {reason}") from None
    if not isinstance(data, dict):
        raise SweepSpecError(f"{path}: the sweep spec must be a mapping with games, learners, mediators, seeds")
    return data


def _list_of_str(data: dict, key: str, path: Path, default: list[str] | None = None) -> list[str]:
    value = data.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise SweepSpecError(f"{path}: {key!r} must be a non-empty list of strings")
    return value


def _number(data: dict, key: str, path: Path, default: Any, kind: type, low: float) -> Any:
    value = data.get(key, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise SweepSpecError(f"{path}: {key!r} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    if value < low:
        raise SweepSpecError(f"{path}: {key!r} must be >= {low}, got {value}")
    return kind(value)


def _local(source: str, base: Path) -> str:
    """``source`` with relative game-file paths made relative to the spec's folder."""
    def fix(part: str) -> str:
        p = Path(part)
        return str(base / p) if not p.is_absolute() and p.suffix.lower() in (".json", ".csv") else part

    if is_log_spec(source):
        kind, _, rest = source.partition(":")
        return f"{kind}:{rest if Path(rest).is_absolute() else base / rest}"
    return ",".join(fix(part) for part in source.split(","))


def _games(entries: Any, base: Path, path: Path) -> list[tuple[str, str]]:
    """(label, source) pairs: plain entries as given, generators expanded over their grid."""
    if not isinstance(entries, list) or not entries:
        raise SweepSpecError(f"{path}: 'games' must be a non-empty list")
    games = []
    for entry in entries:
        if isinstance(entry, str) and entry:
            games.append((entry, _local(entry, base)))
        elif isinstance(entry, dict) and set(entry) <= {"generator", "grid"} and isinstance(entry.get("generator"), str):
            grid = entry.get("grid", {})
            if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
                raise SweepSpecError(f"{path}: the grid of {entry['generator']!r} must map options to non-empty lists")
            sep = "," if ":" in entry["generator"] else ":"
            for values in itertools.product(*grid.values()):
                options = ",".join(f"{k}={v}" for k, v in zip(grid, values))
                label = f"{entry['generator']}{sep}{options}" if options else entry["generator"]
                games.append((label, label))
        else:
            raise SweepSpecError(f"{path}: a game must be a name, a file or {{generator: ..., grid: {{...}}}}, "
                                 f"got {entry!r}")
    labels = [label for label, _ in games]
    if len(set(labels)) != len(labels):
        raise SweepSpecError(f"{path}: a game is listed twice")
    return games


def _mediators(names: list[str], base: Path, path: Path) -> list[tuple[str, str]]:
    """(label, source) pairs: ``analytic`` expanded, a trained model labelled ``learned:<as given>``."""
    out = []
    for name in names:
        if name == "analytic":
            out += [(m, m) for m in ANALYTIC if (m, m) not in out]
        elif name == "none" or name in ANALYTIC:
            out.append((name, name))
        elif name.endswith(".zip"):
            model = Path(name) if Path(name).is_absolute() else base / name
            if not model.is_file():
                raise SweepSpecError(f"{path}: no learned mediator at {model}")
            out.append((f"learned:{name}", str(model)))
        else:
            raise SweepSpecError(f"{path}: unknown mediator {name!r}; use none, analytic, "
                                 f"{', '.join(ANALYTIC)} or a trained model .zip")
    if len({label for label, _ in out}) != len(out):
        raise SweepSpecError(f"{path}: a mediator is listed twice")
    return out


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec; every problem is one SweepSpecError line naming the file."""
    path = Path(path)
    data = _read(path)
    unknown = set(data) - KEYS
    if unknown:
        raise SweepSpecError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}")
    base = path.resolve().parent
    learners = _list_of_str(data, "learners", path, ["hedge"])
    for learner in learners:
        try:
            make_learner(learner, 2, 1)
        except ValueError as e:
            raise SweepSpecError(f"{path}: learners: {e}") from None
    seeds = data.get("seeds", 3)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = list(range(seeds))
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise SweepSpecError(f"{path}: 'seeds' must be a count >= 1 or a list of distinct integers >= 0")
    objective = data.get("objective", "utilitarian")
    if objective not in OBJECTIVES:
        raise SweepSpecError(f"{path}: unknown objective {objective!r}; known: {', '.join(sorted(OBJECTIVES))}")
    contextual = data.get("contextual", "auto")
    if contextual not in ("auto", "on", "off"):
        raise SweepSpecError(f"{path}: 'contextual' must be auto, on or off, got {contextual!r}")
    trust = _number(data, "trust", path, 0.5, float, 0.0)
    if trust > 1:
        raise SweepSpecError(f"{path}: 'trust' must lie in [0, 1], got {trust}")
    margin = _number(data, "margin", path, None, float, 0.0)
    if margin is not None and margin <= 0:
        raise SweepSpecError(f"{path}: 'margin' must be > 0, got {margin}")
    options = Options(rounds=_number(data, "rounds", path, 5000, int, 1), objective=objective,
                      lam=_number(data, "lambda", path, 1.0, float, 0.0), margin=margin,
                      voucher_margin=_number(data, "voucher_margin", path, 0.0, float, 0.0),
                      contextual=contextual, trust=trust)
    return SweepSpec(_games(data.get("games"), base, path), learners,
                     _mediators(_list_of_str(data, "mediators", path, ["none", "analytic"]), base, path),
                     seeds, options)
