"""The engine replays the trajectories recorded before its issue-15 speed-up, bit for bit.

tests/fixtures/engine_trajectories.npz holds, for each scenario below (every learning rule, plain and
contextual learners, restrictions, transfers, recommendations with vouchers, per-copy payoffs, outside
agents' actions, a 3-player game, B = 1 and B = 64, batches long enough for the designs-first copies of
`envs.learner` with k = 9, 13 and 16, games with a state under each kind of signal), the per-round
profiles, recommendations, utilities, payments, draw probabilities, states, signals and objectives of
10-50 rounds, then the final strategies and the learners' state. They were written by
``python tests/test_engine_fixture.py`` with the engine as it was before the rewrite; a faster engine
must reproduce every integer and every float exactly (same random stream, same arithmetic: no tolerance).
The recording rests on numpy's exp and sums on the platform that wrote it (numpy 2.4, x86-64): elsewhere,
re-record with the old engine (git) rather than loosen the comparison.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from agents.no_regret import make_learner
from envs.bayes import full_disclosure, no_information, recommendations
from envs.catalog import load_any, make_game
from envs.engine import Engine
from envs.intervention import Intervention
from envs.learner import designs_first

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "engine_trajectories.npz"
ROUNDS = 50
FIELDS = ("profile", "recommendation", "utilities", "payments", "probabilities", "illegal", "state", "signal",
          "objective")


def _engine(spec, learners: list[tuple[str, dict]] | None, batch: int, seed: int,
            intervention: Intervention | list[Intervention] = Intervention(), signals=None, lam: float = 1.0) -> Engine:
    """An engine on ``spec`` (a game, or a game with a state informed by ``signals``) with one rule per player."""
    game = load_any(spec) if isinstance(spec, str) else spec
    bayes = game if signals is not None else None
    engine = Engine(game.averaged() if bayes is not None else game, None, batch=batch, lam=lam, seed=seed)
    if isinstance(intervention, list):
        engine.set_interventions(intervention)
    else:
        engine.set_intervention(intervention)
    if bayes is not None:
        engine.set_signals(bayes, signals)
    engine.learners = None if learners is None else [
        make_learner(name, k, batch, bounds=engine.payoff_bounds, **options)
        for (name, options), k in zip(learners, engine.shape)]
    return engine


def _record(engine: Engine, actions: Callable[[int, np.random.Generator], np.ndarray] | None = None,
            switch: Callable[[Engine], None] | None = None, rounds: int = ROUNDS) -> dict[str, np.ndarray]:
    """``rounds`` rounds (outside ``actions`` if given; ``switch`` called before the middle round), then the
    final strategies (per signal in a state game) and the learners' state."""
    outside = np.random.default_rng(99)
    seen: dict[str, list] = {f: [] for f in FIELDS}
    for t in range(rounds):
        if switch is not None and t == rounds // 2:
            switch(engine)
        engine.draw_recommendations()
        r = engine.play(None if actions is None else actions(engine.batch, outside))
        for f in FIELDS:
            if getattr(r, f) is not None:
                seen[f].append(getattr(r, f))
    out = {f: np.array(v) for f, v in seen.items() if v}
    if engine.learners is not None:
        if engine.bayes is None:
            engine.draw_recommendations()
        final = engine.strategies() if engine.bayes is None else engine.signal_strategies()
        for i, learner in enumerate(engine.learners):
            out[f"strategy{i}"], out[f"rule_state{i}"], out[f"rule_count{i}"] = final[i], learner.state, learner.count
    return out


def _random_intervention(game, seed: int, allowed: bool = False, transfers: bool = False,
                         recommend: bool = False, vouchers: bool = False) -> Intervention:
    rng = np.random.default_rng(seed)
    rec = rng.random(game.shape) ** 3 if recommend else None
    return Intervention(
        allowed=tuple(np.arange(k) != (i % k) for i, k in enumerate(game.shape)) if allowed else None,
        transfers=rng.random(game.payoffs.shape) * (rng.random(game.payoffs.shape) < 0.3) if transfers else None,
        recommendation=None if rec is None else rec / rec.sum(),
        vouchers=rng.random(game.payoffs.shape) * 0.5 if vouchers else None)


def _scenarios() -> dict[str, Callable[[], dict[str, np.ndarray]]]:
    g16, g13, g9, g5, g4, g3 = (make_game(s) for s in (
        "random:n=2,k=16,seed=1", "random:n=2,k=13,seed=0", "random:n=2,k=9,seed=5", "random:n=2,k=5,seed=2",
        "random:n=2,k=4,seed=3", "random:n=3,k=3,seed=4"))
    hedge, ctx = ("hedge", {}), {"contextual": True}
    tuning, coordination, persuasion = (load_any(s) for s in ("agent_tuning", "state_coordination", "persuasion"))
    policy = np.random.default_rng(5).random((tuning.n_states, *tuning.shape))
    policy /= policy.sum(axis=tuple(range(1, policy.ndim)), keepdims=True)

    def mixed(engine: Engine) -> None:        # a mediator policy's switch: every copy its own intervention
        engine.set_interventions([_random_intervention(g4, 20 + b, allowed=b % 2 == 0, recommend=b % 3 != 0,
                                                       vouchers=b % 3 == 1) for b in range(engine.batch)])

    def per_copy_payoffs() -> dict[str, np.ndarray]:
        engine = _engine(g4, [hedge, ("exp3", {})], 8, 6)
        engine.set_payoffs(np.stack([make_game(f"random:n=2,k=4,seed={s}").payoffs for s in range(8)]))
        return _record(engine)

    def outside_actions(batch: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(-1, 6, (batch, 2))           # some out of range, some masked

    return {
        "hedge_13x13_b64": lambda: _record(_engine(g13, [hedge, hedge], 64, 1)),
        "hedge_13x13_b1": lambda: _record(_engine(g13, [hedge, hedge], 1, 2)),
        "hedge_13x13_b256": lambda: _record(_engine(g13, [hedge, hedge], 256, 16), rounds=12),
        "fictitious_play_9x9_b160_everything": lambda: _record(_engine(
            g9, [("fictitious-play", ctx), ("hedge", {**ctx, "trust": 0.5})], 160, 17,
            _random_intervention(g9, 9, allowed=True, transfers=True, recommend=True, vouchers=True)), rounds=12),
        "exp3_vs_regret_matching_16x16_b256": lambda: _record(_engine(
            g16, [("exp3", {}), ("regret-matching", {})], 256, 18,
            _random_intervention(g16, 10, allowed=True, transfers=True)), rounds=10),
        "hedge_eta_restricted": lambda: _record(_engine(g5, [("hedge", {"eta": 0.7})] * 2, 64, 3,
                                                        _random_intervention(g5, 0, allowed=True))),
        "exp3_restricted_transfers": lambda: _record(_engine(g5, [("exp3", {}), ("exp3", {"gamma": 0.05})], 64, 4,
                                                             _random_intervention(g5, 1, allowed=True, transfers=True),
                                                             lam=0.5)),
        "regret_matching_transfers_b1": lambda: _record(_engine(g4, [("regret-matching", {})] * 2, 1, 5,
                                                                _random_intervention(g4, 2, transfers=True))),
        "rm_plus_vs_best_response": lambda: _record(_engine(g4, [("regret-matching+", {}), ("best-response", {})],
                                                            16, 6, _random_intervention(g4, 3, allowed=True))),
        "fictitious_play_recommend_vouchers": lambda: _record(_engine(
            g4, [("fictitious-play", ctx)] * 2, 64, 7, _random_intervention(g4, 4, recommend=True, vouchers=True))),
        "hedge_trust_3_players_everything": lambda: _record(_engine(
            g3, [("hedge", {**ctx, "trust": 0.5}), ("hedge", ctx), ("exp3", {**ctx, "trust": 0.3})], 64, 8,
            _random_intervention(g3, 5, allowed=True, transfers=True, recommend=True, vouchers=True))),
        "regret_matching_3_players_b1": lambda: _record(_engine(
            g3, [("regret-matching", ctx)] * 3, 1, 9, _random_intervention(g3, 6, recommend=True, vouchers=True))),
        "exp3_contextual_policy_switch": lambda: _record(_engine(
            g4, [("exp3", {**ctx, "eta": 0.2}), ("hedge", {**ctx, "trust": 0.5})], 12, 10,
            [_random_intervention(g4, 10 + b, recommend=b % 2 == 0, transfers=b % 4 == 1) for b in range(12)]),
            switch=mixed),
        "per_copy_payoffs": per_copy_payoffs,
        "outside_actions_restricted": lambda: _record(_engine(g5, None, 64, 11, _random_intervention(
            g5, 7, allowed=True, transfers=True, recommend=True, vouchers=True)), actions=outside_actions),
        "state_recommendations_hedge_trust": lambda: _record(_engine(
            tuning, [("hedge", {**ctx, "trust": 0.5})] * 2, 64, 12, signals=recommendations(tuning, policy))),
        "state_full_disclosure_exp3": lambda: _record(_engine(
            coordination, [("exp3", {**ctx, "contexts": 2}), ("regret-matching", {**ctx, "contexts": 2})], 64, 13,
            signals=full_disclosure(coordination))),
        "state_no_information_b1": lambda: _record(_engine(persuasion, [hedge, hedge], 1, 14,
                                                           signals=no_information(persuasion))),
        "state_restricted_fictitious_play": lambda: _record(_engine(
            tuning, [("fictitious-play", {**ctx, "contexts": 3})] * 2, 64, 15,
            _random_intervention(tuning.averaged(), 8, allowed=True, transfers=True), signals=full_disclosure(tuning))),
    }


@pytest.fixture(scope="module")
def recorded() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return dict(data)


@pytest.mark.parametrize("name", list(_scenarios()))
def test_engine_replays_recorded_trajectory(name, recorded):
    expected = {key.split("/", 1)[1]: value for key, value in recorded.items() if key.startswith(f"{name}/")}
    assert expected, f"no recorded trajectory for {name}"
    got = _scenarios()[name]()
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        assert np.array_equal(got[key], value), f"{name}: {key} differs"


def test_scenarios_cover_both_layouts():
    """The long scenarios (B = 160, 256) run on (k, B) copies, the B = 64 ones with k = 13 on views."""
    assert all(designs_first(np.zeros((b, k))).flags.c_contiguous for b, k in ((256, 13), (160, 9), (256, 16)))
    assert not designs_first(np.zeros((64, 13))).flags.c_contiguous


def write() -> None:
    """Record every scenario with the engine as it is now (only before a change meant to keep them)."""
    from envs.io import atomic_write_with

    data = {f"{name}/{key}": value for name, run in _scenarios().items() for key, value in run().items()}
    FIXTURE.parent.mkdir(exist_ok=True)
    atomic_write_with(FIXTURE, lambda path: np.savez_compressed(path, **data))
    print(f"wrote {len(data)} arrays to {FIXTURE} ({FIXTURE.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    write()
