"""Tests for mediator/robust.py: bootstrap equilibria, mediators under sampling noise, robust restriction."""
import itertools

import numpy as np
import pytest

from envs.catalog import make_game, random_game
from envs.game import DesignGame
from envs.logs import LoadedLog, bootstrap_payoffs, complete, estimate, synthetic_log
from mediator.analytic import analytic_mediators, restriction_mediator, vouchers_mediator
from mediator.equilibria import pure_nash
from mediator.restriction import LOCAL
from mediator.robust import (
    bootstrap_report, obeyed, only_tag_restrictions, pure_equilibria, robust_restriction, worst_outcome,
)

# A 3 x 3 game with one strict pure equilibrium (b, y); every best-response gap is at least 0.2.
TRUE = DesignGame(("Alice", "Bob"), (("a", "b", "c"), ("x", "y", "z")),
                  np.array([[[0.4, 0.3, 0.1], [0.7, 0.6, 0.2], [0.1, 0.2, 0.0]],
                            [[0.5, 0.8, 0.1], [0.2, 0.5, 0.3], [0.6, 0.3, 0.0]]]))


def loaded_from(game: DesignGame, games_per_pair: int, noise: float, seed: int = 0) -> LoadedLog:
    log = synthetic_log(game, games_per_pair, noise, seed)
    est = estimate(log)
    return LoadedLog(log, est, complete(est))


def report_for(loaded: LoadedLog, draws: int = 200, seed: int = 0) -> dict:
    u = bootstrap_payoffs(loaded, draws, seed)
    return bootstrap_report(loaded.game, analytic_mediators(loaded.game), u)


def test_many_games_recover_the_true_equilibrium_with_high_bootstrap_probability():
    assert pure_nash(TRUE) == [(1, 1)]
    report = report_for(loaded_from(TRUE, 400, noise=0.5))
    prob = np.array(report["nash_probability"])
    assert prob[1, 1] > 0.95 and prob.sum() - prob[1, 1] < 0.05
    assert report["equilibria"][0]["profile"] == ["b", "y"] and report["equilibria"][0]["at_estimate"]
    statement = next(c for c in report["conclusions"] if c["statement"].startswith("(b, y) is"))
    assert statement["stable"]


def test_few_games_show_the_instability():
    loaded = loaded_from(TRUE, 2, noise=0.5)
    report = report_for(loaded)
    top = report["equilibria"][0]["probability"]
    assert top < 0.95 and len(report["equilibria"]) > 1
    assert any(not c["stable"] for c in report["conclusions"])
    assert report["mediators"]["none"]["std"] > 0.05


def test_bootstrap_is_reproducible_and_seeded():
    loaded = loaded_from(TRUE, 5, noise=0.3)
    a, b = report_for(loaded, 60, seed=3), report_for(loaded, 60, seed=3)
    assert a == b and report_for(loaded, 60, seed=4) != a


def test_vectorised_equilibria_match_the_solver_on_restricted_games():
    rng = np.random.default_rng(0)
    for seed in range(20):
        game = random_game(2, (3, 4), seed=seed)
        masks = (rng.random(3) < 0.7, rng.random(4) < 0.7)
        masks = tuple(m if m.any() else np.eye(len(m), dtype=bool)[0] for m in masks)
        eq = pure_equilibria(game.payoffs[None], masks)[0]
        sub = game.restrict(masks)
        expected = {tuple(np.flatnonzero(m)[a] for m, a in zip(masks, prof)) for prof in pure_nash(sub)}
        assert {tuple(a) for a in np.argwhere(eq)} == expected
        welfare, _ = worst_outcome(game.payoffs[None], masks)
        w = sub.welfare()
        assert welfare[0] == pytest.approx(min(w[a] for a in pure_nash(sub)) if pure_nash(sub) else w.min())


def test_fixed_interventions_at_the_estimate_reproduce_the_analytic_values():
    game = make_game("example1")
    mediators = analytic_mediators(game)
    report = bootstrap_report(game, mediators, np.repeat(game.payoffs[None], 5, axis=0))
    for name in ("restriction", "payments", "correlation", "vouchers"):
        m = report["mediators"][name]
        assert m["net_at_estimate"] == pytest.approx(mediators[name].net, abs=1e-9), name
        assert m["std"] == pytest.approx(0, abs=1e-12) and m["holds"] == 1.0
    assert report["equilibrium_set_probability"] == 1.0


def test_obedience_check_agrees_with_the_voucher_certificate():
    for seed in range(5):
        game = random_game(2, 3, seed=seed)
        vm = vouchers_mediator(game, lam=1.0, margin=0.01)
        p, v = vm.intervention.recommendation, vm.intervention.vouchers
        assert obeyed(game.payoffs[None], p, v)[0]
        u = game.payoffs.copy()
        support = np.argwhere(p > 1e-6)
        a = tuple(support[0])
        d = (a[0] + 1) % 3
        u[0, d, a[1]] += 10.0                    # a deviation from the recommended profile now pays a lot
        assert not obeyed(u[None], p, v)[0]


def test_robust_restriction_maximises_the_quantile_over_every_restriction():
    rng = np.random.default_rng(1)
    game = random_game(2, (3, 3), seed=11)
    draws = game.payoffs[None] + 0.3 * rng.standard_normal((40, *game.payoffs.shape))
    out = robust_restriction(game, draws, quantile=0.1)
    best = -np.inf
    for m1, m2 in itertools.product(itertools.product([0, 1], repeat=3), repeat=2):
        masks = (np.array(m1, bool), np.array(m2, bool))
        if masks[0].any() and masks[1].any():
            per_draw = []
            for u in draws:
                sub = DesignGame(game.players, game.designs, u).restrict(masks)
                w, eqs = sub.welfare(), pure_nash(sub)
                per_draw.append(min(w[a] for a in eqs) if eqs else w.min())
            best = max(best, np.quantile(per_draw, 0.1))
    assert out["welfare_quantile"] == pytest.approx(best) and out["search"] == "exhaustive"
    assert out["spread"]["q10"] == pytest.approx(best)


def test_large_games_use_symmetric_tag_and_hill_climbing_search():
    game = random_game(2, (7, 7), seed=2)
    rng = np.random.default_rng(0)
    draws = game.payoffs[None] + 0.1 * rng.standard_normal((30, *game.payoffs.shape))
    out = robust_restriction(game, draws, quantile=0.0)
    full = worst_outcome(draws)[0].min()
    assert out["search"] == LOCAL and out["welfare_quantile"] >= full
    chosen = tuple(np.isin(ds, kept) for ds, kept in zip(game.designs, out["allowed"]))
    for i, j in itertools.product(range(2), range(7)):         # no single toggle scores better
        masks = [m.copy() for m in chosen]
        masks[i][j] = not masks[i][j]
        if masks[i].any():
            assert worst_outcome(draws, tuple(masks))[0].min() <= out["welfare_quantile"] + 1e-6


def test_only_provider_restrictions_are_evaluated():
    names = ("gemini-1.5-pro", "gemini-2.0-flash", "gpt-4o")
    tags = tuple(tuple(("provider:google",) if n.startswith("gemini") else ("provider:openai",) for n in names)
                 for _ in range(2))
    game = DesignGame(("Alice", "Bob"), (names, names), random_game(2, 3, seed=5).payoffs, tags=tags)
    assert [t for t, _ in only_tag_restrictions(game)] == ["provider:google", "provider:openai"]
    report = bootstrap_report(game, {}, np.repeat(game.payoffs[None], 3, axis=0))
    google = report["only_tag"][0]
    assert google["allowed"] == [["gemini-1.5-pro", "gemini-2.0-flash"]] * 2
    masks = tuple(np.array([True, True, False]) for _ in range(2))
    assert google["welfare_at_estimate"] == pytest.approx(restriction_mediator(game, allowed=masks).welfare)
