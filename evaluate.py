"""Analyse an agent-design meta-game and compare mediators.

    python evaluate.py --game example1
    python evaluate.py --game my_game.json --json report.json

Prints the payoff table, the Nash equilibria (with the profiles that Pareto-dominate them), the
welfare optimum, correlated / coarse correlated equilibrium welfare, the price of anarchy and
stability, and the value of correlation; ``--json`` writes the same report (DESIGN.md contract).
Bad input ends with one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from agents.dynamics import run_signals
from agents.no_regret import RULES, make_learner, population
from comparison.dynamics import generalization, learned_entry, run_dynamics
from comparison.score import GAP_TOLERANCE
from comparison.usage import EXIT_BAD_INPUT, OneLineParser, UsageError
from envs.bayes import BayesGame
from envs.catalog import game_family, load_any
from envs.intervention import Intervention
from envs.game import OBJECTIVES, DesignGame, GameError
from envs.io import atomic_write_json, atomic_write_with
from envs.limits import check_engine
from envs.logs import is_log_spec, load_log
from envs.simulate import summarise
from mediator.analysis import analyze, analyze_bayes
from mediator.analytic import ANALYTIC, analytic_mediators
from mediator.learned import LearnedMediator, model_file, read_run_config
from mediator.equilibria import ALL_MIXED_MAX_PROFILES, CertificateError
from mediator.information import default_information_margin, state_mediators
from mediator.robust import add_log_report
from sweep import BACKENDS, SweepSpecError, load_spec, run_sweep

def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="evaluate.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--game", default="example1",
                   help="catalog spec (example1, example1:s_T=0.5, bos, random:n=3,k=4,seed=1, ...), "
                        "a JSON game file, a CSV pair p1.csv,p2.csv, interaction logs glee:FOLDER / "
                        "records:FILE.csv, or a game with states (persuasion, agent_tuning, state_coordination, "
                        "or a Bayesian JSON file) (default: example1)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON to FILE")
    p.add_argument("--objective", default="utilitarian", choices=sorted(OBJECTIVES),
                   help="welfare objective (default: utilitarian)")
    p.add_argument("--mixed", default="auto", choices=["auto", "all", "one", "none"],
                   help="which mixed equilibria to compute (default auto: all for two-player games "
                        f"up to {ALL_MIXED_MAX_PROFILES} profiles)")
    p.add_argument("--lambda", dest="lam", type=float, default=1.0,
                   help="price of a unit of transfers in net welfare (default 1, as in the paper)")
    p.add_argument("--margin", type=float, default=None,
                   help="strictness margin of k-implementation payments (default 1e-2 x payoff scale)")
    p.add_argument("--voucher-margin", type=float, default=0.0,
                   help="strict obedience margin of the voucher LP per recommendation (default 0: Appendix B "
                        "exactly; learners obey reliably only with a positive margin)")
    p.add_argument("--information-margin", type=float, default=None,
                   help="games with states: the information mediator's recommendations beat every deviation by this "
                        "much per unit of recommendation probability (default 5%% of the payoff scale: the exact "
                        "best BCE, margin 0, leaves stakeholders indifferent and Hedge then mixes; at 5%% they obey "
                        ">= 95%% within a few thousand rounds, for an objective lower by O(margin), e.g. persuasion "
                        "0.571 instead of 0.6, which the report shows too)")
    p.add_argument("--learners", default="hedge",
                   help="stakeholder learning rules for the dynamics, one for all or one per player: " + ", ".join(RULES)
                        + ", optionally with rates such as hedge:eta=0.5; hedge,ppo = player 1 Hedge, player 2 PPO "
                          "(default hedge)")
    p.add_argument("--contextual", default="auto", choices=["auto", "on", "off"],
                   help="per-recommendation learners (auto: when the mediator recommends)")
    p.add_argument("--trust", type=float, default=0.5,
                   help="contextual stakeholders first follow a recommendation with this extra weight, fading "
                        "with experience as 100 / (100 + rounds seen) (default 0.5; 0 = uniform start)")
    p.add_argument("--rounds", type=int, default=20000,
                   help="rounds of learning dynamics (default 20000; 0: static analysis only)")
    p.add_argument("--seeds", type=int, default=8, help="independent runs per mediator (default 8)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--plot", metavar="FILE.png", help="draw welfare per round of every mediator")
    p.add_argument("--mediator", action="append", default=[], metavar="MODEL.zip",
                   help="a learned mediator (train.py's final.zip or a checkpoint, or general / general-subsidize: "
                        "the general models shipped with the package, restricting / paying) to compare; repeatable")
    p.add_argument("--decimals", type=int, default=2, help="decimals in printed tables (default 2)")
    p.add_argument("--generalize", type=int, default=0, metavar="N",
                   help="evaluate the one --mediator (a general model, trained on a family such as mix:v1) on N "
                        "unseen games of --game's family (default: the family it was trained on) next to no "
                        "mediation and its analytic counterparts")
    p.add_argument("--bootstrap", type=int, default=200, metavar="N",
                   help="bootstrap draws for a game estimated from logs (default 200; 0: none)")
    s = p.add_argument_group("sweeps", "many games x learners x mediators x seeds (settings come from SPEC)")
    s.add_argument("--sweep", metavar="SPEC", help="run the sweep a YAML or JSON file describes (examples/sweep.yaml)")
    s.add_argument("--out", metavar="DIR", help="sweep output folder; an existing one is resumed "
                                                "(default sweeps/<SPEC name>)")
    s.add_argument("--backend", default="local", choices=BACKENDS,
                   help="local: a process pool on this machine (default); ray: a Ray runtime")
    s.add_argument("--workers", type=int, default=None, help="parallel tasks (default: one per core)")
    s.add_argument("--ray-address", metavar="ADDR", help="join this Ray cluster (ray://host:10001 or auto) "
                                                         "instead of starting a local runtime")
    return p


# --------------------------------------------------------------------------- text output
def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table."""
    cols = [headers, *rows]
    widths = [max(len(str(r[j])) for r in cols) for j in range(len(headers))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def fmt_vec(xs: Sequence[float], d: int) -> str:
    return "(" + ", ".join(f"{x:.{d}f}" for x in xs) + ")"


def fmt_profile(entry: dict, d: int) -> str:
    if entry.get("mixed"):
        return "mixed " + " x ".join("[" + " ".join(f"{p:.{d + 1}f}" for p in s) + "]" for s in entry["profile"])
    return "(" + ", ".join(entry["profile"]) + ")"


def payoff_table(game: DesignGame, d: int) -> str:
    """The bimatrix (two players) or one row per profile (n > 2)."""
    if game.n_players == 2:
        rows = [[game.designs[0][r]] + [fmt_vec(game.payoffs[:, r, c], d) for c in range(game.shape[1])]
                for r in range(game.shape[0])]
        return table([f"{game.players[0]} \\ {game.players[1]}", *game.designs[1]], rows)
    rows = [[game.profile_label(a), *(f"{x:.{d}f}" for x in game.payoffs_at(a))]
            for a in np.ndindex(*game.shape)]
    return table(["profile", *game.players], rows)


def render(game: DesignGame, report: dict, d: int) -> str:
    opt, ce, cce = report["optimum"], report["correlated"], report["coarse_correlated"]
    out = [f"Game {report['game']}: {game.description}" if game.description else f"Game {report['game']}",
           f"players {', '.join(game.players)}; designs per player {' x '.join(map(str, game.shape))}; "
           f"objective {report['objective']}", "", payoff_table(game, d), "",
           f"Nash equilibria ({report['nash_method']}):",
           table(["#", "profile", "payoffs", "welfare"],
                 [[str(j + 1), fmt_profile(e, d), fmt_vec(e["payoffs"], d), f"{e['welfare']:.{d}f}"]
                  for j, e in enumerate(report["nash"])])]
    dominated = [(j, p) for j, e in enumerate(report["nash"]) for p in e["pareto_dominated_by"]]
    if dominated:
        out += ["", "Profiles that Pareto-dominate an equilibrium (every player strictly better):",
                table(["equilibrium #", "profile", "payoffs", "welfare"],
                      [[str(j + 1), fmt_profile(p, d), fmt_vec(p["payoffs"], d), f"{p['welfare']:.{d}f}"]
                       for j, p in dominated])]
    ratio = lambda x: "undefined (no equilibrium found, or welfare <= 0)" if x is None else f"{x:.4f}"  # noqa: E731
    out += ["", table(["benchmark", "welfare"], [
        ["welfare optimum " + fmt_profile(opt, d), f"{opt['welfare']:.{d}f}"],
        ["best / worst Nash equilibrium", f"{max(e['welfare'] for e in report['nash']):.{d}f} / "
                                          f"{min(e['welfare'] for e in report['nash']):.{d}f}" if report["nash"]
         else f"none found ({report['nash_method']})"],
        ["best / worst correlated equilibrium", f"{ce['max_welfare']:.{d}f} / {ce['min_welfare']:.{d}f}"],
        ["best / worst coarse correlated eq.", f"{cce['max_welfare']:.{d}f} / {cce['min_welfare']:.{d}f}"],
    ]), "", f"price of anarchy {ratio(report['price_of_anarchy'])}; price of stability "
            f"{ratio(report['price_of_stability'])}; value of correlation {ratio(report['value_of_correlation'])}",
            "", "Mediators (static outcome):",
            table(["mediator", "welfare", "transfers", "net", "explanation"],
                  [[name, f"{m['welfare']:.{d}f}", f"{m['transfers']:.{d}f}", f"{m['net']:.{d}f}", m["explanation"]]
                   for name, m in report["mediators"].items() if "static" in m])]
    out += render_frontier(game, report["mediators"].get("restriction", {}).get("static", {}), d)
    if "learners" in report:
        first = next(iter(report["mediators"].values()))["dynamic"]
        out += ["", f"Learning dynamics ({report['learners']} stakeholders, {first['rounds']} rounds, "
                    f"{first['seeds']} seeds; long run = last {first['tail_fraction']:.0%} of rounds, 95% intervals):",
                table(["mediator", "welfare", "net", "net 95% CI", "transfers/round", "converged by", "obeyed"],
                      [[name, f"{m['dynamic']['welfare']:.{d}f}", f"{m['dynamic']['net']:.{d}f}",
                        "[{:.{d}f}, {:.{d}f}]".format(*m["dynamic"]["net_ci95"], d=d),
                        f"{m['dynamic']['transfers_per_round']:.{d + 2}f}",
                        str(m["dynamic"]["convergence_round"] or "-"),
                        f"{m['dynamic']['obedience_rate']:.2f}" if "obedience_rate" in m["dynamic"] else "-"]
                       for name, m in report["mediators"].items()])]
    return "\n".join(out)


def render_state(game: BayesGame, report: dict, d: int) -> str:
    """A game with a state: its payoffs per state, the three ways to inform, and their dynamics."""
    states = ", ".join(f"{s} ({mu:.{d}g})" for s, mu in zip(game.states, game.prior))
    out = [f"Game {report['game']}: {game.description}" if game.description else f"Game {report['game']}",
           f"players {', '.join(game.players)}; designs per player {' x '.join(map(str, game.shape))}; "
           f"states {states}; objective {report['objective']}"]
    for s, name in enumerate(game.states):
        out += ["", f"state {name}:", payoff_table(game.state_game(s), d)]
    m, bce, opt = report["mediators"], report["bayes_correlated"], report["optimum"]
    out += ["", "Ways to inform (static outcome; objective = E[v]):",
            table(["mediator", "welfare", "objective", "explanation"],
                  [[k, f"{e['welfare']:.{d}f}", f"{e['static']['objective']['value']:.{d}f}", e["explanation"]]
                   for k, e in m.items()]),
            f"best / worst Bayes correlated equilibrium objective {bce['max_welfare']:.{d}f} / {bce['min_welfare']:.{d}f}; "
            f"first best (state known, profile dictated) {opt['value']:.{d}f}"]
    if "learners" in report:
        first = m["none"]["dynamic"]
        out += ["", f"Learning dynamics ({report['learners']} stakeholders learning per signal, {first['rounds']} rounds, "
                    f"{first['seeds']} seeds, the same states drawn for every mediator; long run = last "
                    f"{first['tail_fraction']:.0%} of rounds, 95% intervals; final = the learned strategies' exact value):",
                table(["mediator", "welfare", "welfare 95% CI", "objective", "final objective", "obeyed"],
                      [[k, f"{e['dynamic']['welfare']:.{d}f}", "[{:.{d}f}, {:.{d}f}]".format(*e["dynamic"]["welfare_ci95"], d=d),
                        f"{e['dynamic']['objective']:.{d}f}", f"{e['dynamic']['final_objective']:.{d}f}",
                        f"{e['dynamic']['obedience_rate']:.2f}" if "obedience_rate" in e["dynamic"] else "-"]
                       for k, e in m.items()])]
    return "\n".join(out)


def run_state_game(args: argparse.Namespace, game: BayesGame) -> int:
    """A game with a state: the static report, then every way to inform on the same learning dynamics."""
    if args.mediator or args.margin is not None or args.voucher_margin:
        raise UsageError("--mediator, --margin and --voucher-margin do not apply to a game with states")
    margin = default_information_margin(game) if args.information_margin is None else args.information_margin
    if not (np.isfinite(margin) and margin >= 0):
        raise UsageError(f"--information-margin must be a finite number >= 0, got {margin}")
    try:
        make_learner(args.learners, 2, 1, contextual=True, contexts=2)
    except ValueError as e:
        raise UsageError(f"--learners: {e} (full disclosure sends states, not recommendations)") from None
    mediators = state_mediators(game, args.objective, args.mixed, margin)
    report = analyze_bayes(game, args.mixed, args.objective, margin, mediators)
    if args.rounds:
        report["learners"] = args.learners
        for name, m in mediators.items():
            traj = run_signals(game, m.signals, args.learners, args.rounds, args.seeds, args.seed, args.lam,
                               args.contextual, args.trust, progress=name)
            report["mediators"][name]["dynamic"] = summarise(game, traj)
    return emit(render_state(game, report, args.decimals), report, args, plot_state_dynamics)


def emit(text: str, report: dict, args: argparse.Namespace, plot) -> int:
    """Print the report's text, then draw ``--plot`` with ``plot`` and write ``--json`` (atomically)."""
    print(text)
    if args.plot:
        plot(report, args.plot)
        print(f"plot written to {args.plot}")
    if args.json:
        atomic_write_json(args.json, report)
        print(f"\nreport written to {args.json}")
    return 0


def render_frontier(game: DesignGame, static: dict, d: int, width: int = 110) -> list[str]:
    """The restriction frontier in a few lines: per b, the best worst-equilibrium welfare with <= b bans."""
    cells = []
    for e in static.get("frontier", []):
        banned = [(p, [x for x in ds if x not in kept]) for p, ds, kept in zip(game.players, game.designs, e["allowed"])]
        said = "; ".join(f"{', '.join(ds) if len(ds) <= 3 else f'{len(ds)} designs'} for {p}"
                         for p, ds in banned if ds) or "nothing banned"
        cells.append(f"{e['bans']} ban{'' if e['bans'] == 1 else 's'} {e['worst_welfare']:.{d}f}"
                     f"{'' if e['exact'] else '~'} ({said})")
    lines: list[str] = []
    for cell in cells:
        if lines and len(lines[-1]) + 3 + len(cell) <= width:
            lines[-1] += " | " + cell
        else:
            lines.append(cell)
    return ["", "Restriction frontier (best worst-equilibrium welfare with at most b designs banned; ~ = heuristic):",
            *[f"  {line}" for line in lines]] if cells else []


def render_log(report: dict, d: int) -> str:
    """The import and the estimated table of a game from logs: one row per observed pair, 95% intervals."""
    log, (rows, cols), players = report["log"], report["designs"], report["players"]
    pair_effects = log["adjustment"] == "pair-effects"
    u, se, n = (np.array(report[k], dtype=float) for k in ("payoffs", "payoff_stderr", "payoff_counts"))
    ci = lambda i, r, c: (f"{u[i, r, c]:.{d}f} [{u[i, r, c] - 1.96 * se[i, r, c]:.{d}f}, "  # noqa: E731
                          f"{u[i, r, c] + 1.96 * se[i, r, c]:.{d}f}]" if np.isfinite(se[i, r, c])
                          else f"{u[i, r, c]:.{d}f}")
    out = [f"Log {log['source']}: {log['games']} {log['format']} games read, {log['failed']} could not be read; "
           f"{log['pairs_observed']} of {log['pairs']} ({players[0]}, {players[1]}) design pairs observed, "
           f"{log['single_game_pairs']} of them with one game; " + ("GLEE's pair effects (demeaned regression "
           "coefficients of each model pair, the settings regressed out)" if pair_effects else
           f"adjustment for settings: {log['adjustment']}"),
           *[f"  skipped: {f}" for f in log["failures"][:5]], "",
           f"Estimated meta-game ({'pair effect' if pair_effects else 'mean utility'} [95% interval: 1.96 standard "
           "errors]; n = games):",
           table([players[0], players[1], "n", f"u_{players[0]}", f"u_{players[1]}"],
                 [[rows[r], cols[c], str(int(n[r, c])), ci(0, r, c), ci(1, r, c)] for r, c in np.argwhere(n > 0)]),
           f"{int((n == 0).sum())} pairs have no game (null in the JSON report).", "",
           f"Analysed game ({report['analysed']['method']}): {report['analysed']['note']}."]
    return "\n".join(out)


def render_generalization(report: dict, d: int) -> str:
    """Per unseen game: no mediation, the analytic counterparts and the learned mediator; the summed gap
    closed overall, per generator and per shape."""
    names, pct = report["mediators"], lambda x: "n/a" if x is None else f"{x:.1%}"  # noqa: E731

    def groups(key: str) -> str:
        return table([key, "games", "with a gap", "summed gap closed", "matches best"],
                     [[v, str(g["n_games"]), str(g["games_with_gap"]), pct(g["summed_gap_closed"]), str(g["matches_best"])]
                      for v, g in report[f"by_{key}"].items()])

    return "\n".join([
        f"{report['model']} on {len(report['games'])} unseen games of {report['family']} (seeds from "
        f"{report['first_seed']}; {report['learners']} stakeholders, {report['rounds']} rounds, {report['seeds']} "
        f"seeds each; long-run net welfare):",
        table(["game", "generator", *names, "gap closed"],
              [[r["game"], r["generator"], *(f"{r[k]:.{d}f}" for k in names),
                "no gap" if r["gap_closed"] is None else f"{r['gap_closed']:.1%}"] for r in report["games"]]),
        "", groups("generator"), "", groups("shape"), "",
        f"summed gap closed over the {report['games_with_gap']} games with a gap (each game in units of its payoff "
        f"scale): {pct(report['summed_gap_closed'])} (mean per game {pct(report['mean_gap_closed'])}); as good as the "
        f"best analytic counterpart (within {GAP_TOLERANCE:.0%} of the payoff scale) on {report['matches_best']} "
        f"of {len(report['games'])} games"])


def render_bootstrap(report: dict, d: int) -> str:
    """Equilibrium probabilities, mediator welfare spreads and the stable conclusions of the bootstrap."""
    b = report["bootstrap"]
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    robust = b["robust_restriction"]
    out = [f"Bootstrap ({b['draws']} draws, seed {b['seed']}; games resampled within each pair; {b['method']}):",
           table(["profile", "P(pure Nash equilibrium)", "equilibrium at the estimate"],
                 [[fmt_profile(e, d), pct(e["probability"]), "yes" if e["at_estimate"] else "no"]
                  for e in b["equilibria"]]),
           f"equilibrium set as at the estimate in {pct(b['equilibrium_set_probability'])} of draws; "
           f"no pure equilibrium in {pct(b['no_pure_equilibrium'])}", "",
           table(["mediator", "net at estimate", "mean", "10%", "90%", "min", "holds", ">= none"],
                 [[name, *(f"{m[k]:.{d}f}" for k in ("net_at_estimate", "mean", "q10", "q90", "min")),
                   pct(m["holds"]), pct(m["at_least_none"])] for name, m in b["mediators"].items()]),
           f"robust restriction (best {pct(robust['quantile'])}-quantile welfare, {robust['search']}): allow "
           + "; ".join(f"{p}: {', '.join(a)}" for p, a in zip(report["players"], robust["allowed"]))
           + f"; quantile {robust['welfare_quantile']:.{d}f}, mean {robust['spread']['mean']:.{d}f}, "
             f"at the estimate {robust['welfare_at_estimate']:.{d}f}"]
    out += [f"only {f['tag']} for everyone: worst-equilibrium welfare {f['welfare_at_estimate']:.{d}f} at the "
            f"estimate, {f['q10']:.{d}f} at the 10% quantile, at least no mediation in {pct(f['at_least_none'])}"
            for f in b["only_tag"]]
    for stable in (True, False):
        out += ["", f"{'Stable' if stable else 'Unstable'} conclusions (in {'at least' if stable else 'under'} "
                    f"{pct(b['threshold'])} of draws):"]
        out += [f"  {c['statement']}: {pct(c['probability'])}" for c in b["conclusions"]
                if c["stable"] == stable] or ["  none"]
    return "\n".join(out + ([f"caveat: {b['caveat']}"] if "caveat" in b else []))


# --------------------------------------------------------------------------- main
def check_output_path(flag: str, path: str | None, suffix: str | None = None) -> None:
    """Fail before any work if an output cannot be written to ``path``."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a directory")
    if not p.parent.is_dir():
        raise UsageError(f"{flag} {path}: directory {str(p.parent)!r} does not exist")
    if suffix and p.suffix.lower() != suffix:
        raise UsageError(f"{flag} {path}: expected a {suffix} file")


def check_args(args: argparse.Namespace) -> None:
    """Every flag that argparse cannot check on its own, before any work is done."""
    if not 0 <= args.decimals <= 12:
        raise UsageError(f"--decimals must be between 0 and 12, got {args.decimals}")
    if not (np.isfinite(args.lam) and args.lam >= 0):
        raise UsageError(f"--lambda must be a finite number >= 0, got {args.lam}")
    if args.margin is not None and not (np.isfinite(args.margin) and args.margin > 0):
        raise UsageError(f"--margin must be a finite number > 0, got {args.margin}")
    try:
        population(args.learners)
    except ValueError as e:
        raise UsageError(f"--learners: {e}") from None
    if not (np.isfinite(args.voucher_margin) and args.voucher_margin >= 0):
        raise UsageError(f"--voucher-margin must be a finite number >= 0, got {args.voucher_margin}")
    if not 0 <= args.trust <= 1:
        raise UsageError(f"--trust must lie in [0, 1], got {args.trust}")
    if args.rounds < 0 or args.seeds < 1:
        raise UsageError(f"--rounds must be >= 0 and --seeds >= 1, got {args.rounds} and {args.seeds}")
    if (args.plot or args.mediator) and args.rounds == 0:
        raise UsageError("--plot and --mediator need learning dynamics (--rounds > 0)")
    if args.bootstrap < 0:
        raise UsageError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    if args.generalize < 0 or (args.generalize and len(args.mediator) != 1):
        raise UsageError("--generalize N needs N >= 0 and exactly one --mediator")
    check_output_path("--json", args.json)
    check_output_path("--plot", args.plot, ".png")


def plot_generalization(report: dict, path: str) -> None:
    """Summed gap closed on the unseen games per generator and per shape (bars; games with a gap on top)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("generator", report["by_generator"]), ("shape", report["by_shape"])]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=110, gridspec_kw={"width_ratios": [1, 2]})
    for ax, (key, groups) in zip(axes, panels):
        names = [k for k, g in groups.items() if g["summed_gap_closed"] is not None]
        values = [100 * groups[k]["summed_gap_closed"] for k in names]
        bars = ax.bar(range(len(names)), values, color="tab:blue")
        for bar, k in zip(bars, names):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 1, str(groups[k]["games_with_gap"]),
                    ha="center", fontsize=7)
        ax.axhline(100, color="grey", ls=":", lw=1)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("summed gap closed (%)")
        ax.set_title(f"per {key} (number: games with a gap)", fontsize=9)
    closed = report["summed_gap_closed"]
    fig.suptitle(f"{Path(report['model']).name} on {len(report['games'])} unseen games of {report['family']}: "
                 f"{'n/a' if closed is None else f'{closed:.1%}'} of the summed gap ({report['learners']}, "
                 f"{report['rounds']} rounds, {report['seeds']} seeds)", fontsize=10)
    fig.tight_layout()
    try:
        atomic_write_with(path, fig.savefig)
    finally:
        plt.close(fig)


def plot_dynamics(report: dict, path: str) -> None:
    """Welfare per round (moving average over seeds) of every mediator, written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for name, m in report["mediators"].items():
        curve = m["dynamic"]["curve"]
        ax.plot(curve["round"], curve["net"], label=f"{name} (net {m['dynamic']['net']:.3g})", lw=1.6)
    if report.get("optimum"):
        ax.axhline(report["optimum"]["welfare"], color="grey", ls=":", lw=1, label="welfare optimum")
    ax.set_xlabel("round")
    ax.set_ylabel("net welfare per round (moving average over seeds)")
    d = next(iter(report["mediators"].values()))["dynamic"]
    ax.set_title(f"{report['game']}: {report['learners']} stakeholders, {d['seeds']} seeds")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        atomic_write_with(path, fig.savefig)
    finally:
        plt.close(fig)


def plot_state_dynamics(report: dict, path: str) -> None:
    """A game with a state: welfare and the mediator's objective per round (moving average over seeds) under
    each way to inform, each against its static value (dashed), written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for (name, m), color in zip(report["mediators"].items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        curve, static = m["dynamic"]["curve"], m["static"]
        for ax, key, value in ((axes[0], "welfare", static["welfare"]), (axes[1], "objective", static["objective"]["value"])):
            ax.plot(curve["round"], curve[key], color=color, lw=1.6, label=f"{name} (long run {m['dynamic'][key]:.3g})")
            ax.axhline(value, color=color, ls="--", lw=0.9)
    v = "the game's own v" if report["objective"] == "own" else report["objective"]
    for ax, label in zip(axes, ("welfare", f"objective E[v] ({v})")):
        ax.set_xlabel("round")
        ax.set_ylabel(f"{label} per round")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    d = next(iter(report["mediators"].values()))["dynamic"]
    fig.suptitle(f"{report['game']}: {report['learners']} stakeholders learning per signal, {d['seeds']} seeds "
                 f"(dashed: static values)", fontsize=10)
    fig.tight_layout()
    try:
        atomic_write_with(path, fig.savefig)
    finally:
        plt.close(fig)


def run_sweep_command(args: argparse.Namespace) -> int:
    """``--sweep``: run or resume it, print the Markdown summary; exit 1 if any task failed."""
    if args.json or args.plot or args.mediator:
        raise UsageError("--json, --plot and --mediator do not apply to --sweep (list learned mediators in SPEC)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.ray_address and args.backend != "ray":
        raise UsageError("--ray-address needs --backend ray")
    spec = load_spec(args.sweep)
    out = Path(args.out or Path("sweeps") / Path(args.sweep).stem)
    summary = run_sweep(spec, out, args.backend, args.workers, args.ray_address)
    print((out / "summary.md").read_text(encoding="utf-8"))
    print(f"results in {out}/: results.csv, summary.json, summary.md, figures/")
    failed = summary["tasks"]["failed"]
    if failed:
        print(f"evaluate.py: {failed} of {summary['tasks']['total']} tasks failed (listed in {out}/summary.md)",
              file=sys.stderr)
    return 1 if failed else 0


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.sweep:
        return run_sweep_command(args)
    if args.out or args.ray_address or args.workers is not None or args.backend != "local":
        raise UsageError("--out, --backend, --workers and --ray-address need --sweep")
    check_args(args)
    if args.generalize:
        family = args.game if game_family(args.game) else read_run_config(model_file(args.mediator[0]))["game"]
        report = generalization(family, args.mediator[0], args.learners, args.generalize, args.rounds, args.seeds,
                                args.seed, args.lam, args.trust)
        print(render_generalization(report, args.decimals))
        if args.json:
            atomic_write_json(args.json, report)
        if args.plot:
            plot_generalization(report, args.plot)
        return 0
    loaded = load_log(args.game) if is_log_spec(args.game) else None
    game = loaded.game if loaded else load_any(args.game)
    try:
        population(args.learners, game.n_players)
    except ValueError as e:
        raise UsageError(f"--learners: {e}") from None
    if args.rounds:                     # before any work: every mediator's seeds may run as one engine batch
        check_engine(game.shape, args.seeds * (1 + len(ANALYTIC) + len(args.mediator)))
    if isinstance(game, BayesGame):
        return run_state_game(args, game)
    if args.information_margin is not None:
        raise UsageError("--information-margin applies only to games with states")
    mediators = analytic_mediators(game, args.objective, args.lam, args.margin, args.voucher_margin)
    report = analyze(game, mixed=args.mixed, objective=args.objective, lam=args.lam, margin=args.margin,
                     mediators=mediators)
    learned = {}
    for path in args.mediator:
        policy = LearnedMediator(path, game)
        learned[f"learned:{policy.name}"] = policy
    if args.rounds:
        compared = {"none": Intervention(), **{k: m.intervention for k, m in mediators.items()}, **learned}
        run_dynamics(game, report, compared, args.learners, args.rounds, args.seeds, args.seed, args.lam,
                     args.contextual, args.trust)
        for name, policy in learned.items():
            report["mediators"][name].update(learned_entry(report["mediators"][name]["dynamic"], report,
                                                           policy.codec.families, game.scale))
    text = render(game, report, args.decimals)
    if loaded:
        add_log_report(report, loaded, mediators, args.bootstrap, args.seed, args.lam)
        text = "\n\n".join([render_log(report, args.decimals), text]
                            + ([render_bootstrap(report, args.decimals)] if "bootstrap" in report else []))
    return emit(text, report, args, plot_dynamics)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: one line on stderr and exit 2 for bad input, exit 1 for a failed certificate."""
    try:
        return run(argv)
    except (UsageError, GameError, SweepSpecError) as e:
        print(f"evaluate.py: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CertificateError as e:
        print(f"evaluate.py: solver certificate failed: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"evaluate.py: error: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:  # a step whose size guard (envs/limits.py) underestimated it
        print("evaluate.py: error: out of memory; analyse a sub-game with fewer players or designs", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
