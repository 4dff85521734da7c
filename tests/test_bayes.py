"""Games with a state end to end (issue 14, points 1-4): Bayesian game files, the information mediator in
evaluate.py, signals in the engine and the learners, the PettingZoo environment, Example 5 on a grid."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import envs
from agents.dynamics import learner_factory, run_signals
from envs.bayes import BayesGame, full_disclosure, no_information
from envs.catalog import BAYES_CATALOG, load_any, make_game
from envs.design_env import MEDIATOR
from envs.engine import Engine
from envs.game import DesignGame
from envs.intervention import Intervention
from envs.io import read_any_json, write_game_json
from envs.simulate import simulate, summarise
from mediator import information
from mediator.equilibria import CertificateError, nash_equilibria
from mediator.information import (
    default_information_margin, discretised_scheme, gaussian_prediction_scheme, prediction_game, state_mediators,
)

ROOT = Path(__file__).resolve().parents[1]
CATALOG = sorted(BAYES_CATALOG)


def evaluate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "evaluate.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def prosecutor_and_judge(guilty: float) -> BayesGame:
    """Kamenica & Gentzkow's example from its definition: the judge gets 1 for the right verdict, the
    prosecutor (one design only) 1 for a conviction, and the prosecutor's utility is the objective."""
    judge = np.eye(2)                                   # [state innocent/guilty][verdict acquit/convict]
    prosecutor = np.array([[0.0, 1.0], [0.0, 1.0]])
    return BayesGame([1 - guilty, guilty], np.stack([judge, prosecutor], axis=1)[..., None], prosecutor[..., None])


def obedience_gains(game: BayesGame, policy: np.ndarray) -> list[np.ndarray]:
    """Per player, G[d, d'] = E[(u_i(s, d, a_-i) - u_i(s, d', a_-i)) 1{told d}] from the joint mu(s) pi(a | s),
    computed here from the definition (not with the library's obedience rows)."""
    q = game.prior.reshape(-1, *[1] * game.n_players) * policy
    out = []
    for i, k in enumerate(game.shape):
        qi = np.moveaxis(q, 1 + i, 1).reshape(game.n_states, k, -1)
        ui = np.moveaxis(game.payoffs[:, i], 1 + i, 1).reshape(game.n_states, k, -1)
        out.append(np.einsum("sdr,sdr->d", qi, ui)[:, None] - np.einsum("sdr,ser->de", qi, ui))
    return out


def worst_equilibrium_value(game: DesignGame, v: np.ndarray) -> tuple[float, float]:
    """(worst, best) E[v] over the Nash equilibria of ``game``."""
    values = [float((e.distribution() * v).sum()) for e in nash_equilibria(game)]
    return min(values), max(values)


# --------------------------------------------------------------------------- persuasion
@pytest.mark.parametrize("guilty", [0.1, 0.3, 0.45, 0.5, 0.8])
def test_persuasion_matches_kamenica_gentzkow(guilty):
    """The judge convicts iff P(guilty | evidence) >= 1/2, so the best evidence convicts w.p. min(2 mu, 1)."""
    info = state_mediators(prosecutor_and_judge(guilty))["information"]
    assert info.value == pytest.approx(min(2 * guilty, 1.0), abs=1e-9)


def test_catalog_persuasion_is_exactly_0_6_and_the_margin_costs_its_closed_form():
    game = load_any("persuasion")
    np.testing.assert_array_equal(game.payoffs, prosecutor_and_judge(0.3).payoffs)
    np.testing.assert_array_equal(game.values(), prosecutor_and_judge(0.3).values())
    assert state_mediators(game)["information"].value == pytest.approx(0.6, abs=1e-12)
    # with margin m the judge told to convict must gain m: 0.3 (1 - m) >= 0.7 p (1 + m), so
    # P(convict) = 0.3 + 0.7 p = 0.6 / (1 + m)
    m = default_information_margin(game)
    info = state_mediators(game, margin=m)["information"]
    assert m == pytest.approx(0.05)
    assert info.value == pytest.approx(0.6 / (1 + m), abs=1e-9)
    assert info.details["exact_objective"] == pytest.approx(0.6, abs=1e-12)


def test_evaluate_reports_0_6_for_persuasion(tmp_path):
    exact, default = tmp_path / "exact.json", tmp_path / "default.json"
    assert evaluate("--game", "persuasion", "--rounds", "0", "--information-margin", "0",
                    "--json", str(exact)).returncode == 0
    proc = evaluate("--game", "persuasion", "--rounds", "0", "--json", str(default))
    assert proc.returncode == 0, proc.stderr
    exact, default = json.loads(exact.read_text()), json.loads(default.read_text())
    assert exact["mediators"]["information"]["static"]["objective"]["value"] == pytest.approx(0.6, abs=1e-9)
    assert default["bayes_correlated"]["max_welfare"] == pytest.approx(0.6, abs=1e-9)
    assert default["mediators"]["information"]["static"]["objective"]["value"] == pytest.approx(0.6 / 1.05, abs=1e-9)
    assert default["mediators"]["none"]["static"]["objective"]["value"] == pytest.approx(0.0, abs=1e-12)
    assert default["mediators"]["full_disclosure"]["static"]["objective"]["value"] == pytest.approx(0.3, abs=1e-12)
    assert "margin 0 reaches objective 0.6" in proc.stdout


# --------------------------------------------------------------------------- the catalog
@pytest.mark.parametrize("name", CATALOG)
@pytest.mark.parametrize("margin", ["exact", "default"])
def test_information_beats_no_information_and_full_disclosure(name, margin):
    game = load_any(name)
    m = 0.0 if margin == "exact" else default_information_margin(game)
    out = state_mediators(game, margin=m)
    v = game.values()
    # the two baselines computed here: the prior-averaged game's and each state's Nash equilibria
    averaged = DesignGame(game.players, game.designs, np.tensordot(game.prior, game.payoffs, axes=1))
    none_low, none_high = worst_equilibrium_value(averaged, np.tensordot(game.prior, v, axes=1))
    per_state = [worst_equilibrium_value(game.state_game(s), v[s]) for s in range(game.n_states)]
    full_low, full_high = game.prior @ np.array(per_state)
    assert out["none"].value == pytest.approx(none_low, abs=1e-9)
    assert out["full_disclosure"].value == pytest.approx(full_low, abs=1e-9)
    info = out["information"]
    assert info.value >= max(out["none"].value, out["full_disclosure"].value) - 1e-9
    assert info.welfare >= max(out["none"].welfare, out["full_disclosure"].welfare) - 1e-9
    if m == 0:   # both baselines' equilibria are BCEs, so the best BCE beats even their best
        assert info.value >= max(none_high, full_high) - 1e-9
    # the certificate, re-checked from the definition: a distribution per state, every recommendation
    # a best reply (by the margin) to the posterior it induces
    policy = info.signals.scheme
    assert (policy >= 0).all()
    np.testing.assert_allclose(policy.reshape(game.n_states, -1).sum(axis=1), 1.0, atol=1e-9)
    q = game.prior.reshape(-1, *[1] * game.n_players) * policy
    for i, gains in enumerate(obedience_gains(game, policy)):
        told = np.moveaxis(q, 1 + i, 0).reshape(game.shape[i], -1).sum(axis=1)        # P(told d)
        off = ~np.eye(game.shape[i], dtype=bool)                                          # d' != d
        assert (gains[off] >= (m * told[:, None] - 1e-9).repeat(game.shape[i], axis=1)[off]).all(), (name, i)
    assert info.value == pytest.approx(float((q * v).sum()), abs=1e-9)
    assert info.payoffs == pytest.approx(np.einsum("sa,sia->i", q.reshape(game.n_states, -1),
                                                   game.payoffs.reshape(game.n_states, game.n_players, -1)), abs=1e-9)


def test_a_corrupted_scheme_raises(monkeypatch):
    """The LP's answer is checked by the solver itself: a scheme that convicts the innocent too often, or a
    value that is not the scheme's, raises CertificateError."""
    game, real = load_any("persuasion"), information.linprog

    def always_convict(*args, **kwargs):
        res = real(*args, **kwargs)
        res.x = np.array([0.0, 1.0, 0.0, 1.0])        # pi(convict | s) = 1: the judge then acquits
        return res

    def wrong_value(*args, **kwargs):
        res = real(*args, **kwargs)
        res.fun -= 0.01
        return res

    for corrupt, match in ((always_convict, "obedience"), (wrong_value, "differs")):
        monkeypatch.setattr(information, "linprog", corrupt)
        with pytest.raises(CertificateError, match=match):
            state_mediators(game)
    monkeypatch.setattr(information, "linprog", real)
    assert state_mediators(game)["information"].value == pytest.approx(0.6, abs=1e-12)


# --------------------------------------------------------------------------- files
def test_bayesian_file_round_trip(tmp_path):
    for name in CATALOG:
        game = load_any(name)
        path = write_game_json(game, tmp_path / f"{name}.json")
        back = read_any_json(path)
        assert isinstance(back, BayesGame) and back.states == game.states and back.designs == game.designs
        np.testing.assert_array_equal(back.prior, game.prior)
        np.testing.assert_array_equal(back.payoffs, game.payoffs)
        assert state_mediators(back)["information"].value == state_mediators(game)["information"].value


def _bad(data: dict, key: str, value) -> str:
    data = json.loads(json.dumps(data))
    data[key] = value
    return json.dumps(data).replace('"NaN!"', "NaN")


GOOD = load_any("state_coordination").to_dict()
BAD = {
    "prior_sum": _bad(GOOD, "prior", [0.6, 0.5]),
    "prior_negative": _bad(GOOD, "prior", [1.2, -0.2]),
    "prior_nan": _bad(GOOD, "prior", ["NaN!", 0.4]),
    "prior_count": _bad(GOOD, "prior", [0.5, 0.3, 0.2]),
    "state_count": _bad(GOOD, "states", ["a", "b", "c"]),
    "payoff_states": _bad(GOOD, "payoffs", GOOD["payoffs"] + GOOD["payoffs"][:1]),
    "payoff_nan": _bad(GOOD, "payoffs", [[[["NaN!", 0.0], [0.0, 1.0]]] * 2] * 2),
    "ragged": _bad(GOOD, "payoffs", [GOOD["payoffs"][0], [GOOD["payoffs"][1][0], [[0.0, 1.0], [3.0]]]]),
    "duplicate_state": _bad(GOOD, "states", ["a", "a"]),
    "unknown_key": _bad(GOOD, "posterior", [0.5, 0.5]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_bayesian_file_one_line_exit_2_no_output(tmp_path, case):
    bad, out = tmp_path / "bad.json", tmp_path / "out.json"
    bad.write_text(BAD[case])
    proc = evaluate("--game", str(bad), "--json", str(out), "--rounds", "10")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evaluate.py: error: ") and "bad.json" in lines[0], proc.stderr
    assert not out.exists() and proc.stdout == ""


def test_good_file_runs(tmp_path):
    good, out = tmp_path / "good.json", tmp_path / "out.json"
    good.write_text(json.dumps(GOOD))
    assert evaluate("--game", str(good), "--json", str(out), "--rounds", "0").returncode == 0
    assert json.loads(out.read_text())["mediators"]["information"]["static"]["objective"]["value"] == pytest.approx(6.0)


@pytest.mark.parametrize("args, match", [
    (["--game", "persuasion", "--objective", "egalitarian"], "own objective"),
    (["--game", "persuasion", "--information-margin", "-1"], "--information-margin"),
    (["--game", "persuasion", "--information-margin", "5"], "lower the margin"),
    (["--game", "example1", "--information-margin", "0.1"], "only to games with states"),
    (["--game", "persuasion", "--voucher-margin", "0.1"], "do not apply"),
])
def test_state_game_usage_errors(tmp_path, args, match):
    proc = evaluate(*args, "--rounds", "0", "--json", str(tmp_path / "out.json"))
    assert proc.returncode == 2 and match in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists()


def test_state_game_report_with_dynamics_and_plot_runs_without_torch(tmp_path):
    """evaluate.py on a state game: all three ways to inform on the same dynamics, the figure, no torch."""
    from test_floors import BLOCK_TORCH

    out, png = tmp_path / "out.json", tmp_path / "fig.png"
    proc = subprocess.run([sys.executable, "-c", BLOCK_TORCH, "--game", "agent_tuning", "--rounds", "300",
                           "--seeds", "2", "--json", str(out), "--plot", str(png)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert set(report["mediators"]) == {"none", "full_disclosure", "information"}
    for name, m in report["mediators"].items():
        assert {"welfare", "transfers", "net", "payoffs", "static", "dynamic"} <= set(m)
        assert len(m["dynamic"]["curve"]["objective"]) == len(m["dynamic"]["curve"]["round"])
        assert ("obedience_rate" in m["dynamic"]) == (name == "information")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- signals in the dynamics
ROUNDS, SEEDS = 8000, 16


@pytest.mark.parametrize("name", CATALOG)
def test_hedge_stakeholders_obey_the_information_mediator(name):
    """At the default margin, the long-run welfare (last 20% of rounds, mean over 16 seeds) of Hedge
    stakeholders told the scheme's recommendations is within 2% of its static value, obedience >= 95%."""
    game = load_any(name)
    info = state_mediators(game, margin=default_information_margin(game))["information"]
    dyn = summarise(game, run_signals(game, info.signals, "hedge", ROUNDS, SEEDS))
    assert dyn["obedience_rate"] >= 0.95
    assert abs(dyn["welfare"] - info.welfare) <= 0.02 * abs(info.welfare)
    assert abs(dyn["final_welfare"] - info.welfare) <= 0.02 * abs(info.welfare)


def test_obedience_counts_the_stakeholders_who_can_disobey():
    """Persuasion's prosecutor has one design: the obedience rate is the judge's alone, so 0 or 1 per round."""
    game = load_any("persuasion")
    traj = run_signals(game, state_mediators(game)["information"].signals, "hedge", 200, 4, trust=0.0)
    assert set(np.unique(traj.obeyed)) == {0.0, 1.0}


def test_every_way_to_inform_meets_the_same_states():
    game = load_any("agent_tuning")
    out = state_mediators(game, margin=default_information_margin(game))
    states = []
    for m in out.values():
        engine = Engine(game.averaged(), None, batch=4, seed=3)
        engine.set_signals(game, m.signals)
        engine.learners = [learner_factory("hedge", False)(i, k, 4, engine.payoff_bounds)
                           for i, k in enumerate(game.shape)]
        seen = []
        for _ in range(200):
            seen.append(engine.step().state)
        states.append(np.array(seen))
    assert all(np.array_equal(states[0], s) for s in states[1:])
    freq = np.bincount(states[0].ravel(), minlength=game.n_states) / states[0].size
    np.testing.assert_allclose(freq, game.prior, atol=0.05)


@pytest.mark.parametrize("learners", ["hedge", "exp3", "regret-matching", "fictitious-play"])
@pytest.mark.parametrize("prior", [[1.0], [0.3, 0.7]])
def test_uninformed_state_game_with_one_payoff_table_replays_the_ordinary_game(learners, prior):
    """A state game whose states all have the ordinary game's payoffs, under no information (or full
    disclosure of a single state), replays the ordinary game's trajectory exactly."""
    game = make_game("random:n=3,k=3,seed=4")
    bayes = BayesGame(prior, np.broadcast_to(game.payoffs, (len(prior), *game.payoffs.shape)),
                      players=game.players, designs=game.designs)
    ordinary = simulate(game, Intervention(), learner_factory(learners, False), 300, 5, seed=11)
    signals = [no_information(bayes)] + ([full_disclosure(bayes)] if len(prior) == 1 else [])
    for s in signals:
        stated = run_signals(bayes, s, learners, 300, 5, seed=11)
        for field in ("gross", "net", "paid", "obeyed", "utilities"):
            np.testing.assert_array_equal(getattr(stated, field), getattr(ordinary, field))
        for a, b in zip(stated.final_strategies, ordinary.final_strategies):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(stated.objective, ordinary.gross)     # v = utilitarian welfare


# --------------------------------------------------------------------------- PettingZoo
@pytest.mark.parametrize("name", CATALOG)
def test_pettingzoo_state_game_passes_the_api_tests(name):
    game = load_any(name)
    info = state_mediators(game)["information"]
    parallel_api_test(envs.parallel_env(game=game, rounds=25, signals=info.signals), num_cycles=60)
    parallel_seed_test(lambda: envs.parallel_env(game=name, rounds=25, signals=info.signals), num_cycles=40)


def test_stakeholders_observe_their_private_signal():
    game = load_any("agent_tuning")
    for signals in (full_disclosure(game), state_mediators(game)["information"].signals):
        env = envs.parallel_env(game=game, rounds=50, signals=signals)
        obs, _ = env.reset(seed=5)
        for _ in range(50):
            told = {p: obs[p]["signal"] for p in env.stakeholders}
            assert all(env.observation_space(p)["signal"].contains(told[p]) for p in env.stakeholders)
            np.testing.assert_array_equal([told[p] for p in env.stakeholders], env.engine.signal[0])
            if signals.recommends:
                assert all(obs[p]["recommendation"] == told[p] for p in env.stakeholders)
            obs, _, _, _, infos = env.step({p: int(told[p]) if signals.recommends else 0 for p in env.stakeholders})
            if not signals.recommends:       # full disclosure: every signal is the state just played
                assert {game.states[told[p]] for p in env.stakeholders} == {infos[MEDIATOR]["state"]}
            elif signals.recommends:         # obeying the recommendation: the scheme's support only
                s = game.states.index(infos[MEDIATOR]["state"])
                assert signals.scheme[(s, *[told[p] for p in env.stakeholders])] > 0


# --------------------------------------------------------------------------- Example 5 on a grid
def test_example5_gaussian_scheme_on_a_grid_approaches_its_closed_form():
    """Example 5 with N = 2, rho = 2: the paper's scheme a_i = c theta + eps_i - eps_j has c* = 1/(2 rho) +
    1/(2N) = 1/2 and, with obedience E[theta | a_i] = a_i (sigma^2 = c(1 - c)/2), E[v] = c(1 + rho/N) - rho c^2
    = rho c*^2 = 1/2, where full disclosure (a_i = theta) and no information (a_i = 0) give 1 - rho/2 = 0 and 0.
    Discretised (theta and a_i on 25 points of [-3, 3], theta's prior the N(0,1) mass of each cell, the
    recommendations rounded to the grid), Hedge stakeholders learning per recommendation reach E[v] within
    0.025 (5%) of 1/2 (they do not obey exactly: neighbouring grid actions differ by less than the noise of a
    round, but their mixing is symmetric and independent, which leaves E[v] nearly unchanged)."""
    n, rho = 2, 2.0
    c = 1 / (2 * rho) + 1 / (2 * n)
    closed = c * (1 + rho / n) - rho * c**2
    assert closed == pytest.approx(0.5)
    grid = np.linspace(-3.0, 3.0, 25)
    game = prediction_game(n, rho, grid, grid)
    scheme = gaussian_prediction_scheme(n, rho)
    assert scheme.c == pytest.approx(c) and scheme.sigma2 == pytest.approx(c * (1 - c) / 2)
    signals = discretised_scheme(scheme, grid, grid, samples=200_000, rng=0)
    q = game.prior.reshape(-1, 1, 1) * signals.scheme
    assert float((q * game.values()).sum()) == pytest.approx(closed, abs=0.01)       # obeyed on the grid
    dyn = summarise(game, run_signals(game, signals, "hedge", 3000, 8))
    assert dyn["final_objective"] == pytest.approx(closed, abs=0.025)
    assert dyn["objective"] == pytest.approx(closed, abs=0.04)      # the per-round mean, noisier
