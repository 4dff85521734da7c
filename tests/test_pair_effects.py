"""Tests for ``glee:FOLDER,adjust=pair-effects``: GLEE's pair-effects table (the paper's Section 4 matrix).

Planted logs: utility = planted pair effect + planted effect of every setting level + noise, so the table
to recover is the planted pair effect minus its grand mean (the settings and the constant drop out).
"""
import json
import subprocess
import sys
from itertools import product

import numpy as np
import pytest

from envs.logs import (
    GLEE_COVARIATES, LoadedLog, LogError, bootstrap_payoffs, complete, in_glee_order, load_log, make_log,
    pair_effects,
)
from envs.pair_effects import demeaning_weights, glee_order
from glee_fixtures import expected_utilities, write_glee_game
from test_evaluate_cli import ROOT, evaluate

# GLEE's bargaining grid (its sweep: money, round limit, information, messages, both deltas)
MONEY, ROUNDS, DELTAS = (100, 10_000, 1_000_000), (12, 25, 99), (0.8, 0.9, 0.95, 1.0)
ALICE = ("gpt-4o", "o3-mini", "vertex_ai/gemini-1.5-pro")
BOB = ("xai/grok-2-1212", "vertex_ai/gemini-2.0-flash", "vertex_ai/claude-3-7-sonnet@20250219")


def setting_effects(rng: np.random.Generator) -> dict:
    """A planted effect for every level of every setting; round limits 25 and 99 are both 'unbounded'."""
    unbounded = rng.normal(0, 0.03)
    return {"money": dict(zip(MONEY, rng.normal(0, 0.03, 3))), "rounds": {12: rng.normal(0, 0.03), 25: unbounded,
            99: unbounded}, "ci": rng.normal(0, 0.03, 2), "msg": rng.normal(0, 0.03, 2),
            "d1": dict(zip(DELTAS, rng.normal(0, 0.03, 4))), "d2": dict(zip(DELTAS, rng.normal(0, 0.03, 4)))}


def draw_setting(rng: np.random.Generator) -> dict:
    return dict(money=MONEY[rng.integers(3)], rounds=ROUNDS[rng.integers(3)], ci=bool(rng.integers(2)),
                msg=bool(rng.integers(2)), d1=DELTAS[rng.integers(4)], d2=DELTAS[rng.integers(4)])


def effect_of(gamma: dict, s: dict) -> float:
    return (gamma["money"][s["money"]] + gamma["rounds"][s["rounds"]] + gamma["ci"][int(s["ci"])]
            + gamma["msg"][int(s["msg"])] + gamma["d1"][s["d1"]] + gamma["d2"][s["d2"]])


def covariates(s: dict) -> list[float]:
    """The log's covariates in GLEE_COVARIATES order."""
    return [np.log10(s["money"]), s["rounds"], float(s["ci"]), float(s["msg"]), s["d1"], s["d2"]]


def planted_log(seed: int, noise: float, counts: np.ndarray | None = None):
    """A GLEE log on 3 x 3 models ("a0".., "b0".. so design order is index order) with independent planted
    pair and setting effects for each side; returns (log, planted pair effects (2, 3, 3))."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.5, 0.05, (2, 3, 3))
    gammas = [setting_effects(rng), setting_effects(rng)]
    counts = rng.integers(15, 45, (3, 3)) if counts is None else counts
    records = []
    for a, b in product(range(3), range(3)):
        for g in range(counts[a, b]):
            s = draw_setting(rng)
            u = [theta[i, a, b] + effect_of(gammas[i], s) + noise * rng.standard_normal() for i in range(2)]
            records.append((f"{a}{b}-{g}", f"a{a}", f"b{b}", *u, covariates(s)))
    return make_log(records, ("Alice", "Bob"), GLEE_COVARIATES, kind="glee"), theta


def demeaned(theta: np.ndarray) -> np.ndarray:
    return theta - theta.mean(axis=(1, 2), keepdims=True)


# --------------------------------------------------------------------------- recovery of planted effects
def test_noise_free_planted_pair_effects_are_recovered_exactly():
    log, theta = planted_log(seed=1, noise=0.0)
    est = pair_effects(log)
    assert est.payoffs == pytest.approx(demeaned(theta), abs=1e-10)
    assert np.nanmax(est.stderr) < 1e-8 and est.payoffs.sum(axis=(1, 2)) == pytest.approx([0, 0], abs=1e-12)


def test_planted_pair_effects_are_recovered_within_two_standard_errors_from_glee_folders(tmp_path):
    """End to end through GLEE game folders, half in the old config format (deltas in player_i_args.delta),
    half in the new one (game_args.delta_1/2): Alice's accepted share in round 1 is 0.5 + pair effect +
    setting effects + noise, so Alice's table is the demeaned planted effect and Bob's (1 - share) its negative.
    All nine cells are within two standard errors for this seed; a log like this has all nine inside with
    probability about 2/3 (8 of 12 seeds tried), so the calibration test below is the seed-free statement."""
    rng = np.random.default_rng(0)
    theta = rng.normal(0.0, 0.06, (3, 3))
    gamma = setting_effects(rng)
    # levels only one format has: Alice's 0.8 and 0.95, Bob's 0.8 (old); Alice's 0.9 and 1.0, Bob's 1.0 (new)
    deltas = {"old": ((0.8, 0.95), (0.8, 0.9, 0.95)), "new": ((0.9, 1.0), (0.9, 0.95, 1.0))}
    for (a, alice), (b, bob) in product(enumerate(ALICE), enumerate(BOB)):
        for g in range(24):
            s = draw_setting(rng)
            fmt = "old" if g % 2 else "new"
            s["d1"], s["d2"] = (levels[rng.integers(len(levels))] for levels in deltas[fmt])
            share = 0.5 + theta[a, b] + effect_of(gamma, s) + 0.04 * rng.standard_normal()
            write_glee_game(tmp_path / f"{a}{b}" / f"g{g}", alice=alice, bob=bob, offers=[share * s["money"]],
                            deltas=(s["d1"], s["d2"]), money=s["money"], fmt=fmt, messages=s["msg"],
                            max_rounds=s["rounds"], complete_information=s["ci"])
    loaded = load_log(f"glee:{tmp_path},adjust=pair-effects")
    est, summary = loaded.estimate, loaded.summary()
    assert loaded.log.n_games == 216 and summary["adjustment"] == "pair-effects"
    # both delta locations were read: the levels of each format are all there
    assert summary["settings"]["delta_alice"] == summary["settings"]["delta_bob"] == [0.8, 0.9, 0.95, 1.0]
    assert summary["settings"]["max_rounds"] == [12, "unbounded"]
    # GLEE's model order: grok, gpt-4o, o3-mini, ..., gemini-1.5-pro, ..., gemini-2.0-flash, claude-3-7
    assert loaded.game.designs == (("gpt-4o", "o3-mini", "vertex_ai/gemini-1.5-pro"),
                                   ("xai/grok-2-1212", "vertex_ai/gemini-2.0-flash",
                                    "vertex_ai/claude-3-7-sonnet@20250219"))
    truth = np.stack([demeaned(theta[None])[0], -demeaned(theta[None])[0]])
    z = (est.payoffs - truth) / est.stderr
    assert np.abs(z).max() <= 2.0, z
    assert 0.005 < est.stderr.min() and est.stderr.max() < 0.03         # 24 games a pair, noise 0.04
    assert loaded.game.payoffs == pytest.approx(est.payoffs) and loaded.game.payoff_stderr == pytest.approx(est.stderr)
    assert "pair effects" in loaded.game.description


def test_standard_errors_are_calibrated_over_replications():
    """Over 200 planted logs the recovered effects fall within two standard errors about 95% of the time
    (t with ~200 residual degrees of freedom: 95.3%), and the errors are centred (no bias)."""
    z = []
    for seed in range(200):
        log, theta = planted_log(seed=100 + seed, noise=0.05)
        est = pair_effects(log)
        z.append(((est.payoffs - demeaned(theta)) / est.stderr).ravel())
    z = np.concatenate(z)
    assert 0.935 <= np.mean(np.abs(z) <= 2) <= 0.97
    assert abs(z.mean()) < 0.05 and 0.9 < z.std() < 1.1


def test_bootstrap_spread_matches_the_regression_standard_errors():
    log, _ = planted_log(seed=7, noise=0.05, counts=np.full((3, 3), 40))
    est = pair_effects(log)
    draws = bootstrap_payoffs(LoadedLog(log, est, complete(est)), draws=400, seed=0)
    assert draws.shape == (400, 2, 3, 3)
    ratio = draws.std(axis=0) / est.stderr
    assert 0.75 < np.median(ratio) < 1.25 and ratio.min() > 0.5 and ratio.max() < 1.6


# --------------------------------------------------------------------------- GLEE's choices
def test_balanced_design_gives_the_demeaned_pair_means_and_no_agreement_is_zero_for_both(tmp_path):
    """Every pair plays the same eight settings, so the pair effects are exactly the pair means minus
    their grand mean. Two games of (o3-mini, claude) reach their 12-round limit without agreement: this
    project scores them 0 for both players; GLEE's code scores Bob (1 - 0) * delta_2^(round - 1) = 1 there
    (delta_2 = 1), which would move Bob's entry for that pair by 2/8 of a game's utility times (1 - 1/4)."""
    alice, bob = ("gpt-4o", "o3-mini"), ("vertex_ai/gemini-1.5-pro", "vertex_ai/claude-3-7-sonnet@20250219")
    grid = list(product((100, 10_000), (12, 99), (True, False)))
    utilities = np.zeros((2, 2, 2, len(grid)))
    for (a, x), (b, y) in product(enumerate(alice), enumerate(bob)):
        for g, (money, rounds, ci) in enumerate(grid):
            no_deal = (a, b) == (1, 1) and g < 2
            share = 0.4 + 0.05 * a + 0.1 * b + 0.01 * g
            offers = [money * (0.9 - 0.6 * (t % 2)) for t in range(12)] if no_deal else [money * share]
            kw = dict(offers=offers, accepted=not no_deal, deltas=(0.9, 1.0), money=money)
            write_glee_game(tmp_path / f"{a}{b}{g}", alice=x, bob=y, max_rounds=rounds, complete_information=ci,
                            messages=g % 3 == 0, **kw)
            utilities[:, a, b, g] = expected_utilities(**{k: kw[k] for k in ("offers", "accepted", "deltas", "money")})
    assert (grid[0][1], grid[1][1]) == (12, 12) and utilities[:, 1, 1, :2].max() == 0.0
    est = load_log(f"glee:{tmp_path},adjust=pair-effects").estimate
    assert est.payoffs == pytest.approx(demeaned(utilities.mean(axis=3)), abs=1e-9)
    glee_bob = utilities[1].copy()
    glee_bob[1, 1, :2] = 1.0 ** 11
    assert demeaned(glee_bob.mean(axis=2)[None])[0, 1, 1] - est.payoffs[1, 1, 1] == pytest.approx(2 / 8 * 3 / 4)


def test_designs_follow_glee_model_list():
    names = ["my-own-model", "vertex_ai/claude-3-5-sonnet-v2@20241022", "gemini-1.5-pro", "gpt-4o",
             "xai/grok-2-1212", "vertex_ai/meta/llama-3.1-405b-instruct-maas", "a-local-model"]
    assert glee_order(names) == ["xai/grok-2-1212", "gpt-4o", "vertex_ai/meta/llama-3.1-405b-instruct-maas",
                                 "gemini-1.5-pro", "vertex_ai/claude-3-5-sonnet-v2@20241022", "a-local-model",
                                 "my-own-model"]
    records = [("g1", "vertex_ai/gemini-1.5-pro", "gpt-4o", 0.7, 0.3, [2, 12, 1, 0, 0.9, 0.9]),
               ("g2", "xai/grok-2-1212", "vertex_ai/gemini-1.5-pro", 0.4, 0.6, [2, 12, 1, 0, 0.9, 0.9])]
    log = in_glee_order(make_log(records, ("Alice", "Bob"), GLEE_COVARIATES, kind="glee"))
    assert log.designs == (("xai/grok-2-1212", "vertex_ai/gemini-1.5-pro"), ("gpt-4o", "vertex_ai/gemini-1.5-pro"))
    pairs = [(log.designs[0][r], log.designs[1][c], *u) for r, c, u in zip(log.row, log.col, log.utilities)]
    assert sorted(pairs) == sorted((r[1], r[2], r[3], r[4]) for r in records)


def test_demeaning_is_glee_mean_of_column_means_on_an_incomplete_table():
    observed = np.array([[1, 1], [1, 0]], bool)
    assert demeaning_weights(observed) == pytest.approx(np.array([[0.25, 0.5], [0.25, 0.0]]))
    # on a log with a missing pair: noise-free planted effects minus the mean of the column means
    counts = np.full((3, 3), 20)
    counts[2, 0] = 0
    log, theta = planted_log(seed=3, noise=0.0, counts=counts)
    est = pair_effects(log)
    masked = np.where(counts > 0, theta, np.nan)
    truth = masked - np.nanmean(np.nanmean(masked, axis=1), axis=1)[:, None, None]
    assert np.isnan(est.payoffs[:, 2, 0]).all() and np.isnan(est.stderr[:, 2, 0]).all()
    assert est.payoffs == pytest.approx(truth, abs=1e-10, nan_ok=True)
    sub = complete(est)
    assert sub.method == "subset" and "pair effects" in sub.note
    with pytest.raises(LogError, match="fill=additive cannot fill a table of pair effects"):
        complete(est, "additive")


# --------------------------------------------------------------------------- bad input
def test_bad_pair_effects_inputs_are_one_line_errors(tmp_path):
    csv_file = tmp_path / "r.csv"
    csv_file.write_text("row_design,column_design,row_utility,column_utility\na,x,1,0\nb,x,0,1\n")
    with pytest.raises(LogError, match="needs a glee: log") as e:
        load_log(f"records:{csv_file},adjust=pair-effects")
    assert "\n" not in str(e.value)
    with pytest.raises(LogError, match="adjust must be one of none, settings, pair-effects"):
        load_log(f"glee:{tmp_path},adjust=pairs")
    # the only pair with messages is (gpt-4o, claude): its effect cannot be told from the messages effect
    for g, (bob, messages) in enumerate([("claude-3-7-sonnet", True)] * 3 + [("gemini-1.5-pro", False)] * 3):
        write_glee_game(tmp_path / "logs" / f"g{g}", bob=bob, messages=messages, offers=[40.0 + g])
    with pytest.raises(LogError, match="collinear with the design pairs") as e:
        load_log(f"glee:{tmp_path / 'logs'},adjust=pair-effects")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("folder", ["missing", "empty", "collinear"])
def test_bad_folders_exit_2_with_one_line_and_no_output(tmp_path, folder):
    (tmp_path / "empty").mkdir()
    for g, messages in enumerate([True, True, False, False]):
        write_glee_game(tmp_path / "collinear" / f"g{g}", bob="claude" if messages else "gemini", messages=messages)
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "envs.logs", f"glee:{tmp_path / folder},adjust=pair-effects",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("envs.logs: error:") and "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "out.estimate.json").exists()
    report = tmp_path / "r.json"
    proc = evaluate("--game", f"glee:{tmp_path / folder},adjust=pair-effects", "--json", str(report))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and not report.exists()


def test_evaluate_reports_the_pair_effects_game(tmp_path):
    log_dir = tmp_path / "logs"
    rng = np.random.default_rng(5)
    for (a, alice), (b, bob) in product(enumerate(ALICE[:2]), enumerate(BOB[:2])):
        for g in range(6):
            write_glee_game(log_dir / f"{a}{b}{g}", alice=alice, bob=bob, offers=[100 * rng.uniform(0.3, 0.7)],
                            messages=bool(g % 2), max_rounds=(12, 99)[g // 3])
    report = tmp_path / "r.json"
    proc = evaluate("--game", f"glee:{log_dir},adjust=pair-effects", "--json", str(report), "--bootstrap", "20")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(report.read_text())
    est = load_log(f"glee:{log_dir},adjust=pair-effects").estimate
    assert r["log"]["adjustment"] == "pair-effects" and r["analysed"]["method"] == "complete"
    assert np.array(r["payoffs"]) == pytest.approx(est.payoffs) and r["designs"][1] == list(BOB[:2])
    assert np.array(r["payoffs"]).sum(axis=(1, 2)) == pytest.approx([0, 0], abs=1e-12)


# --------------------------------------------------------------------------- the real GLEE sample
def test_real_sample_matches_an_independent_fit_with_glee_baselines():
    """GLEE's own recipe written out independently from the raw files: intercept, drop-first dummies with
    GLEE's forced baselines (complete information true, no messages, 12 rounds, deltas 0.9, money 10,000),
    the pair dummy of the first pair name (alice_X_bob_Y) dropped; effects relative to that baseline, pivoted
    and minus the mean of the column means. The project's parametrisation must give the same table."""
    from scipy.linalg import lstsq
    from test_logs import SAMPLE, independent_utilities
    rows = []
    for game in sorted(p for p in (SAMPLE / "games").iterdir() if p.is_dir()):
        alice, bob, ua, ub = independent_utilities(game)
        config = json.loads((game / "config.json").read_text(encoding="utf-8"))
        args = config["game_args"]
        d1 = args.get("delta_1", config["player_1_args"].get("delta"))
        d2 = args.get("delta_2", config["player_2_args"].get("delta"))
        rounds = args["max_rounds"] if args["max_rounds"] <= 20 else "inf"
        rows.append(dict(pair=f"alice_{alice}_bob_{bob}", ci=args["complete_information"], ma=args["messages_allowed"],
                         mr=rounds, d1=d1, d2=d2, money=args["money_to_divide"], u=(ua, ub)))
    baselines = dict(ci=True, ma=False, mr=12, d1=0.9, d2=0.9, money=10_000)
    pairs = sorted({r["pair"] for r in rows})
    columns = [("pair", p) for p in pairs[1:]] + [(f, v) for f, base in baselines.items()
                                                  for v in sorted({r[f] for r in rows}, key=str) if v != base]
    X = np.array([[1.0] + [float(r[f] == v) for f, v in columns] for r in rows])
    est = load_log(f"glee:{SAMPLE / 'games'},adjust=pair-effects").estimate
    names = est.log.designs
    for side in range(2):
        coef = lstsq(X, np.array([r["u"][side] for r in rows]))[0]
        effect = {p: (coef[j] if j else 0.0) for j, p in enumerate(pairs)}     # X column j is pairs[j]
        table = np.full((len(names[0]), len(names[1])), np.nan)
        for p, e in effect.items():
            a, b = p[len("alice_"):].split("_bob_")
            table[names[0].index(a), names[1].index(b)] = e
        table -= np.nanmean(np.nanmean(table, axis=0))          # pandas' pivot.mean().mean(): column means first
        assert est.payoffs[side] == pytest.approx(table, abs=1e-9, nan_ok=True)
