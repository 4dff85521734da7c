"""A finished sweep as a person reads it: tidy CSV, JSON summary, Markdown table and PNG figures.

Gap closed is comparison.score's one definition: against no mediation and, for a learned mediator,
the analytic counterparts of its families (for an analytic mediator, every analytic mediator) of the
same game and learners (per seed in the CSV, on seed means in the summary); it is left empty where
there is no gap to close, as in evaluate.py and train.py.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from envs.io import atomic_write_json, atomic_write_text, atomic_write_with
from comparison.score import counterparts, score
from envs.simulate import mean_ci
from mediator.analytic import ANALYTIC

from sweep.spec import SweepSpec
from sweep.tasks import VALUES

COLUMNS = ("task", "game", "learner", "mediator", "seed", "status", *VALUES, "gap_closed", "payoffs", "error")
MAX_PANELS = 8   # games drawn in the trajectory and transfer figures


def _cell(value) -> str:
    """A CSV cell: floats in full precision (``repr``), lists joined by ';', missing values empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(repr(float(v)) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def _by(records: Iterable[dict], *keys: str) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[tuple(r[k] for k in keys)].append(r)
    return groups


def _gap(net: float, nets: dict[str, float], scale: float, families: Sequence[str] | None) -> float | None:
    """Gap closed by ``net`` given the mediators' ``nets`` of the same game and learners, judged against
    the counterparts of ``families`` (a learned mediator) or every analytic mediator (None without no
    mediation, without an analytic mediator, or when there is no gap)."""
    names = counterparts(families) if families else ANALYTIC
    analytic = {k: v for k, v in nets.items() if k in names}
    if "none" not in nets or not analytic:
        return None
    return score(net, nets["none"], analytic, scale)["gap_closed"]


def seed_gaps(records: Sequence[dict]) -> dict[int, float | None]:
    """Per task: gap closed against no mediation and the best analytic mediator of the same seed."""
    gaps = {}
    for group in _by([r for r in records if r["status"] == "ok"], "game", "learner", "seed").values():
        nets = {r["mediator"]: r["net"] for r in group}
        for r in group:
            gaps[r["task"]] = _gap(r["net"], nets, r["scale"], r.get("families"))
    return gaps


def write_csv(path: Path, records: Sequence[dict]) -> None:
    """One row per task, ordered by task index; identical for identical results whatever the backend."""
    gaps = seed_gaps(records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in sorted(records, key=lambda r: r["task"]):
        w.writerow([_cell(gaps.get(r["task"]) if c == "gap_closed" else r.get(c)) for c in COLUMNS])
    atomic_write_text(path, buf.getvalue())


def _stat(values: Sequence[float]) -> dict:
    m, lo, hi = mean_ci(np.asarray(values, float))
    return {"mean": m, "ci95": [lo, hi]}


def summarise_sweep(spec: SweepSpec, records: Sequence[dict]) -> dict:
    """Per game, mediator and learner: mean and 95% interval over seeds of net welfare, welfare and
    transfers, gap closed on the means, convergence rounds; plus every failed task with its error."""
    ok = [r for r in records if r["status"] == "ok"]
    results: dict = {}
    for (game, learner), group in _by(ok, "game", "learner").items():
        by_mediator = _by(group, "mediator")
        means = {m: float(np.mean([r["net"] for r in rs])) for (m,), rs in by_mediator.items()}
        for (mediator,), rs in by_mediator.items():
            rounds = [r["convergence_round"] for r in rs if r["convergence_round"] is not None]
            entry = {"seeds": len(rs), "net": _stat([r["net"] for r in rs]),
                     "welfare": _stat([r["welfare"] for r in rs]),
                     "transfers_per_round": _stat([r["transfers_per_round"] for r in rs]),
                     "gap_closed": _gap(means[mediator], means, rs[0]["scale"], rs[0].get("families")),
                     "convergence_round": {"median": float(np.median(rounds)) if rounds else None,
                                           "converged_seeds": len(rounds)}}
            results.setdefault(game, {}).setdefault(mediator, {})[learner] = entry
    failures = [{"task": r["task"], "key": r["key"], "error": r["error"]}
                for r in sorted(records, key=lambda r: r["task"]) if r["status"] != "ok"]
    return {"sweep": spec.to_json(),
            "tasks": {"total": len(spec.tasks()), "finished": len(records), "ok": len(ok), "failed": len(failures)},
            "results": results, "failures": failures}


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:.0%}" if pct else f"{x:.4g}"


def markdown(summary: dict) -> str:
    """The summary as Markdown: one table per game, failures listed at the end."""
    t = summary["tasks"]
    lines = ["# Sweep summary\n", f"{t['ok']} of {t['total']} tasks finished, {t['failed']} failed; "
             f"{summary['sweep']['options']['rounds']} rounds per task, long-run values over the last 20%.\n"]
    for game, mediators in summary["results"].items():
        lines += [f"## {game}\n", "| mediator | learner | seeds | net welfare (95% CI) | transfers/round "
                  "| gap closed | median convergence round |", "|---|---|---|---|---|---|---|"]
        for mediator, learners in mediators.items():
            for learner, e in learners.items():
                lo, hi = e["net"]["ci95"]
                lines.append(f"| {mediator} | {learner} | {e['seeds']} | {_fmt(e['net']['mean'])} "
                             f"[{_fmt(lo)}, {_fmt(hi)}] | {_fmt(e['transfers_per_round']['mean'])} "
                             f"| {_fmt(e['gap_closed'], pct=True)} | {_fmt(e['convergence_round']['median'])} |")
        lines.append("")
    if summary["failures"]:
        lines += ["## Failed tasks\n", "| task | game / learner / mediator / seed | error |", "|---|---|---|"]
        lines += [f"| {f['task']} | {f['key'].replace('|', ' / ')} | {f['error'].replace('|', '/')} |"
                  for f in summary["failures"]]
    return "\n".join(lines) + "\n"


def slug(name: str) -> str:
    """A file-name-safe version of a game label."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("_") or "game"


# --------------------------------------------------------------------------- figures
def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> None:
    plt = _pyplot()
    try:
        fig.tight_layout()
        atomic_write_with(path, fig.savefig)
    finally:
        plt.close(fig)


def plot_gap_closed(summary: dict, path: Path) -> None:
    """Grouped bars: per game, the share of the gap each mediator closes (one panel per learner);
    "n/a" marks a game where no mediation is already as good as the best analytic mediator."""
    plt = _pyplot()
    games = list(summary["results"])
    learners = sorted({lr for m in summary["results"].values() for ls in m.values() for lr in ls})
    mediators = [m for m in dict.fromkeys(m for ms in summary["results"].values() for m in ms) if m != "none"]
    fig, axes = plt.subplots(len(learners), 1, figsize=(max(6.0, 0.35 * len(games) * len(mediators) + 3.5),
                                                         2.6 * len(learners) + 0.6), dpi=100, squeeze=False)
    width = 0.8 / max(1, len(mediators))
    for ax, learner in zip(axes[:, 0], learners):
        for j, mediator in enumerate(mediators):
            gaps = [summary["results"][g].get(mediator, {}).get(learner, {}).get("gap_closed") for g in games]
            x = np.arange(len(games)) + (j - (len(mediators) - 1) / 2) * width
            ax.bar(x, [np.nan if v is None else 100 * v for v in gaps], width, label=mediator, color=f"C{j}")
            for xi, v in zip(x, gaps):
                if v is None:
                    ax.text(xi, 2, "n/a", ha="center", va="bottom", fontsize=6, rotation=90, color="grey")
        ax.axhline(100, color="grey", ls=":", lw=1)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(np.arange(len(games)), games, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("gap closed (%)")
        ax.set_title(f"{learner} stakeholders", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    if mediators:
        axes[0, 0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Long-run net welfare: share of the gap between no mediation (0%) and the best analytic "
                 "mediator (100%)", fontsize=9)
    _save(fig, path)


def _mean_curves(records: Sequence[dict], series: str) -> dict[tuple, tuple[list, np.ndarray]]:
    """Per (game, learner, mediator): the round grid and the seed-mean of a curve."""
    return {key: (rs[0]["curve"]["round"], np.mean([r["curve"][series] for r in rs], axis=0))
            for key, rs in _by([r for r in records if r["status"] == "ok"], "game", "learner", "mediator").items()}


def _curve_grid(records: Sequence[dict], series: str, ylabel: str, log: bool, path: Path) -> None:
    """One panel per (game, learner), one line per mediator."""
    plt = _pyplot()
    curves = _mean_curves(records, series)
    panels = list(dict.fromkeys((g, lr) for g, lr, _ in curves))[:MAX_PANELS]
    cols = min(2, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.0 * rows), dpi=100, squeeze=False)
    for ax, (game, learner) in zip(axes.flat, panels):
        for (g, lr, mediator), (rounds, y) in curves.items():
            if (g, lr) == (game, learner) and (not log or np.any(y > 0)):
                ax.plot(rounds, np.where(y > 0, y, np.nan) if log else y, label=mediator, lw=1.4)
        if log:
            ax.set_yscale("log")
        ax.set_xlim(0, max(rounds[-1] for (g, lr, _), (rounds, _) in curves.items() if (g, lr) == (game, learner)))
        ax.set_title(f"{game} · {learner}", fontsize=9)
        ax.set_xlabel("round")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no transfers paid", ha="center", va="center", transform=ax.transAxes)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    _save(fig, path)


def plot_heatmap(records: Sequence[dict], game: str, path: Path) -> None:
    """Final mixed strategies (mean over seeds) of each player: rows mediator / learner, columns designs."""
    plt = _pyplot()
    ok = [r for r in records if r["status"] == "ok" and r["game"] == game]
    groups = _by(ok, "mediator", "learner")
    players, designs = ok[0]["players"], ok[0]["designs"]
    labels = [f"{m} / {lr}" for m, lr in groups]
    fig, axes = plt.subplots(1, len(players), figsize=(2.2 + 1.1 * sum(map(len, designs)) + 2.5 * len(players),
                                                       1.2 + 0.35 * len(labels)), dpi=100, squeeze=False)
    for ax, player, ds in zip(axes[0], players, designs):
        m = np.array([[np.mean([r["final_strategies"][player][d] for r in rs]) for d in ds] for rs in groups.values()])
        ax.imshow(m, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
        ax.set_xticks(range(len(ds)), ds, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels if ax is axes[0, 0] else [""] * len(labels), fontsize=8)
        ax.set_title(f"{player}: final strategy", fontsize=9)
    fig.suptitle(game, fontsize=10)
    _save(fig, path)


def write_outputs(folder: Path, spec: SweepSpec, records: Sequence[dict]) -> dict:
    """Every output of the sweep in ``folder``, each written atomically; returns the summary."""
    records = sorted(records, key=lambda r: r["task"])
    summary = summarise_sweep(spec, records)
    write_csv(folder / "results.csv", records)
    atomic_write_json(folder / "summary.json", summary)
    atomic_write_text(folder / "summary.md", markdown(summary))
    if summary["results"]:
        figures = folder / "figures"
        figures.mkdir(exist_ok=True)
        plot_gap_closed(summary, figures / "gap_closed.png")
        _curve_grid(records, "net", "net welfare per round", False, figures / "trajectories.png")
        _curve_grid(records, "transfers", "transfers per round (log)", True, figures / "transfers.png")
        for game in summary["results"]:
            plot_heatmap(records, game, figures / f"heatmap_{slug(game)}.png")
    return summary
