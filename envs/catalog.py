"""Built-in games by name: the paper's examples (built from their models), classics, random games.

A game spec is ``NAME`` or ``NAME:key=value,key=value`` (for example ``example1:s_T=0.5`` or
``random:n=3,k=4,kind=zero_sum,seed=7``); ``example1:params.json`` reads Appendix A parameters
from a JSON object.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np

from envs.bayes import BayesGame
from envs.game import DesignGame, GameError
from envs.limits import check_payoffs


class CatalogError(GameError):
    """An unknown game name or a bad parameter in a game spec."""


# --------------------------------------------------------------------------- Example 1 (Appendix A)
@dataclass(frozen=True)
class BargainingModel:
    """Appendix A's surplus / bargaining-share / cost model; defaults are the paper's values.

    u_i(a) = alpha_i(a) S(a) - c_i(a_i), with S, alpha_1 linear in indicator features of the
    designs (E1; E2; tool T; E1 and E2) and alpha_2 = 1 - alpha_1.
    """

    s_0: float = 10.0
    s_1: float = 2.1469
    s_2: float = 0.7760
    s_T: float = 0.2433
    s_12: float = 1.3017
    alpha_0: float = 0.55
    b_1: float = 0.00015
    b_2: float = 0.01923
    b_T: float = 0.08344
    b_12: float = -0.02606
    c_1E: float = 3.2748
    c_1C: float = 0.8786
    c_2E: float = 2.8131
    c_2C: float = 0.6545
    c_T: float = 0.9144

    def game(self, allow_tool: bool = True) -> DesignGame:
        """The 2 x 4 meta-game (2 x 2 without the tool, Example 2)."""
        p1 = [("E1", True), ("C1", False)]
        p2 = [("(E2,none)", True, False), ("(C2,none)", False, False),
              ("(E2,T)", True, True), ("(C2,T)", False, True)]
        if not allow_tool:
            p2 = [d for d in p2 if not d[2]]
        e1 = np.array([e for _, e in p1], float)[:, None]        # 1[a_1 = E_1]
        e2 = np.array([e for _, e, _ in p2], float)[None, :]     # 1[model(a_2) = E_2]
        tool = np.array([t for _, _, t in p2], float)[None, :]   # 1[tool(a_2) = T]
        surplus = self.s_0 + self.s_1 * e1 + self.s_2 * e2 + self.s_T * tool + self.s_12 * e1 * e2
        alpha1 = self.alpha_0 + self.b_1 * e1 - self.b_2 * e2 - self.b_T * tool + self.b_12 * e1 * e2
        c1 = np.where(e1 > 0, self.c_1E, self.c_1C)
        c2 = np.where(e2 > 0, self.c_2E, self.c_2C) + self.c_T * tool
        payoffs = np.stack([alpha1 * surplus - c1, (1 - alpha1) * surplus - c2])
        tags = ((("E", "model:E"), ("C", "model:C")),
                tuple(("model:E" if e else "model:C", "tool:T" if t else "tool:none") for _, e, t in p2))
        return DesignGame(
            players=("P1", "P2"), designs=(tuple(n for n, _ in p1), tuple(d[0] for d in p2)),
            payoffs=payoffs, name="example1" if allow_tool else "example2",
            description="Paper Example 1: contract bargaining; P1 picks a model, P2 a model and "
                        "whether to enable the market-price tool T (Appendix A model)"
                        + ("" if allow_tool else "; the tool is forbidden (Example 2)"),
            tags=tags,
        )


def _model_params(params: dict[str, str]) -> BargainingModel:
    """Appendix A parameters from ``key=value`` pairs and/or a JSON parameter file."""
    known = {f.name for f in fields(BargainingModel)}
    values: dict[str, float] = {}
    for key, raw in params.items():
        if key == "file":
            values.update(_read_param_file(raw, known))
            continue
        if key not in known:
            raise CatalogError(f"unknown example1 parameter {key!r}; known: {', '.join(sorted(known))}")
        values[key] = _number(key, raw)
    return replace(BargainingModel(), **values)


def _read_param_file(path: str, known: set[str]) -> dict[str, float]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise CatalogError(f"{path}: cannot read parameter file ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise CatalogError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno})") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: a parameter file holds one JSON object")
    unknown = sorted(set(data) - known)
    if unknown:
        raise CatalogError(f"{path}: unknown parameter(s) {', '.join(unknown)}")
    return {k: _number(f"{path}: {k}", v) for k, v in data.items()}


def _number(what: str, raw) -> float:
    if isinstance(raw, bool):
        raise CatalogError(f"{what}: {raw!r} is not a number")
    try:
        x = float(raw)
    except (TypeError, ValueError):
        raise CatalogError(f"{what}: {raw!r} is not a number") from None
    if not np.isfinite(x):
        raise CatalogError(f"{what}: {raw!r} is not finite")
    return x


def _integer(what: str, raw, low: int) -> int:
    x = _number(what, raw)
    if x != int(x) or x < low:
        raise CatalogError(f"{what} must be an integer >= {low}, got {raw!r}")
    return int(x)


# --------------------------------------------------------------------------- classic 2x2 / 3x3 games
def _bimatrix(name: str, designs: tuple[tuple[str, ...], tuple[str, ...]], a, b, description: str) -> DesignGame:
    return DesignGame(("P1", "P2"), designs, np.stack([np.asarray(a, float), np.asarray(b, float)]),
                      name=name, description=description)


def bos() -> DesignGame:
    """Example 3: communication format, Language vs Structured (Battle of the Sexes)."""
    return _bimatrix("bos", (("L", "S"), ("L", "S")), [[5, -2], [-2, 3]], [[3, -2], [-2, 5]],
                     "Paper Example 3: communication-format choice (Battle of the Sexes)")


def prisoners_dilemma() -> DesignGame:
    return _bimatrix("prisoners_dilemma", (("C", "D"), ("C", "D")), [[3, 0], [5, 1]], [[3, 5], [0, 1]],
                     "Prisoner's dilemma: D strictly dominates, (C, C) is efficient")


def stag_hunt() -> DesignGame:
    return _bimatrix("stag_hunt", (("Stag", "Hare"), ("Stag", "Hare")), [[4, 0], [3, 3]], [[4, 3], [0, 3]],
                     "Stag hunt: a payoff-dominant and a risk-dominant equilibrium")


def chicken() -> DesignGame:
    return _bimatrix("chicken", (("Swerve", "Straight"), ("Swerve", "Straight")),
                     [[6, 2], [7, 0]], [[6, 7], [2, 0]],
                     "Chicken (Aumann's example): correlation beats every Nash equilibrium")


def matching_pennies() -> DesignGame:
    return _bimatrix("matching_pennies", (("H", "T"), ("H", "T")), [[1, -1], [-1, 1]], [[-1, 1], [1, -1]],
                     "Matching pennies: zero-sum, unique mixed equilibrium")


def shapley() -> DesignGame:
    a = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], float)
    b = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float)
    return _bimatrix("shapley", (("R", "P", "S"), ("R", "P", "S")), a, b,
                     "Shapley's 3x3 game: fictitious play cycles; unique mixed equilibrium")


# --------------------------------------------------------------------------- seeded random games
RANDOM_KINDS = ("uniform", "zero_sum", "common", "correlated")


def random_game(n: int = 2, k: int | tuple[int, ...] = 3, kind: str = "uniform",
                cov: float = 0.0, seed: int = 0) -> DesignGame:
    """A seeded random game with n players and k designs each.

    kinds: ``uniform`` (independent U[0,1]); ``zero_sum`` (payoffs sum to 0 at every profile);
    ``common`` (one shared payoff); ``correlated`` (standard normal payoffs whose correlation
    across players at each profile is ``cov``, in [-1/(n-1), 1]).
    """
    shape = (k,) * n if isinstance(k, int) else tuple(k)
    if n < 2 or len(shape) != n or min(shape) < 1:
        raise CatalogError(f"a random game needs n >= 2 players with k >= 1 designs each (n={n}, k={k})")
    check_payoffs(shape)
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        u = rng.random((n, *shape))
    elif kind == "zero_sum":
        u = rng.random((n, *shape))
        u -= u.mean(axis=0)
    elif kind == "common":
        u = np.broadcast_to(rng.random(shape), (n, *shape)).copy()
    elif kind == "correlated":
        if not -1.0 / (n - 1) - 1e-12 <= cov <= 1.0:
            raise CatalogError(f"cov must lie in [{-1.0 / (n - 1):.4g}, 1] for {n} players, got {cov}")
        sigma = np.full((n, n), cov) + (1 - cov) * np.eye(n)
        chol = np.linalg.cholesky(sigma + 1e-12 * np.eye(n))
        u = np.einsum("ij,j...->i...", chol, rng.standard_normal((n, *shape)))
    else:
        raise CatalogError(f"unknown random kind {kind!r}; choose one of {', '.join(RANDOM_KINDS)}")
    designs = tuple(tuple(f"d{j}" for j in range(kk)) for kk in shape)
    return DesignGame(tuple(f"P{i + 1}" for i in range(n)), designs, u,
                      name=f"random:n={n},k={k},kind={kind},seed={seed}" + (f",cov={cov}" if kind == "correlated" else ""),
                      description=f"Seeded random {kind} game")


def _random_from_params(params: dict[str, str]) -> DesignGame:
    unknown = set(params) - {"n", "k", "kind", "cov", "seed"}
    if unknown:
        raise CatalogError(f"unknown random-game parameter(s) {', '.join(sorted(unknown))}; known: n, k, kind, cov, seed")
    n = _integer("n", params.get("n", 2), 2)
    k_raw = params.get("k", "3")
    k: int | tuple[int, ...] = (tuple(_integer("k", x, 1) for x in k_raw.split("x")) if "x" in str(k_raw)
                                else _integer("k", k_raw, 1))
    kind = params.get("kind", "uniform")
    cov = _number("cov", params.get("cov", 0.0))
    if "cov" in params and kind == "uniform":
        kind = "correlated"
    return random_game(n=n, k=k, kind=kind, cov=cov, seed=_integer("seed", params.get("seed", 0), 0))


def _no_params(build: Callable[[], DesignGame | BayesGame]) -> Callable[[dict[str, str]], DesignGame | BayesGame]:
    def make(params: dict[str, str]) -> DesignGame | BayesGame:
        if params:
            raise CatalogError(f"game {build.__name__!r} takes no parameters, got {', '.join(params)}")
        return build()
    return make


CATALOG: dict[str, Callable[[dict[str, str]], DesignGame]] = {
    "example1": lambda p: _model_params(p).game(allow_tool=True),
    "example2": lambda p: _model_params(p).game(allow_tool=False),
    "bos": _no_params(bos),
    "prisoners_dilemma": _no_params(prisoners_dilemma),
    "stag_hunt": _no_params(stag_hunt),
    "chicken": _no_params(chicken),
    "matching_pennies": _no_params(matching_pennies),
    "shapley": _no_params(shapley),
    "random": _random_from_params,
}
ALIASES = {"pd": "prisoners_dilemma", "battle_of_the_sexes": "bos", "example3": "bos"}


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``NAME:key=value,...`` into the name and its parameters (a bare ``x.json`` is ``file``)."""
    name, _, rest = spec.partition(":")
    params: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            if not key.endswith(".json"):
                raise CatalogError(f"bad parameter {item!r} in {spec!r}: expected key=value or a .json file")
            key, value = "file", key
        if key.strip() in params:
            raise CatalogError(f"parameter {key.strip()!r} given twice in {spec!r}")
        params[key.strip()] = value.strip()
    return name.strip(), params


def _mixture(spec: str):
    """(Mixture, seed or None) of a ``mix:v1[:seed=N]`` spec (envs/mixture.py), None for any other spec."""
    from envs.mixture import is_mixture_spec, parse_mixture_spec  # local: envs.mixture imports this module

    return parse_mixture_spec(spec) if is_mixture_spec(spec) else None


def make_game(spec: str) -> DesignGame:
    """The catalog game named by ``spec`` (see the module docstring); ``mix:v1:seed=7`` is draw 7 of the
    training distribution mix:v1 (``mix:v1`` alone: draw 0), in the split the seed belongs to."""
    mixture = _mixture(spec)
    if mixture is not None:
        return mixture[0].game(0 if mixture[1] is None else mixture[1])
    name, params = parse_spec(spec)
    name = ALIASES.get(name, name)
    if name in BAYES_CATALOG:
        raise CatalogError(f"{name!r} is a game with states (a Bayesian game); evaluate.py --game {name} analyses it")
    if name not in CATALOG:
        raise CatalogError(f"unknown game {name!r}; known: {', '.join(sorted([*CATALOG, *ALIASES]))}")
    return CATALOG[name](params)


def game_family(spec: str) -> Callable[[int], DesignGame] | None:
    """For a random-game spec without a seed (``random:n=2,k=4``) or a mixture without a seed (``mix:v1``),
    the map seed -> game; else None."""
    mixture = _mixture(spec)
    if mixture is not None:
        return mixture[0].game if mixture[1] is None else None
    name, params = parse_spec(spec)
    if name != "random" or "seed" in params:
        return None
    _random_from_params(params)                       # bad parameters fail here, once
    return lambda seed: _random_from_params({**params, "seed": str(seed)})


def game_batches(spec: str) -> Callable[[int, int], list[DesignGame]] | None:
    """What training draws from (envs.views.MediatorVecEnv's ``batches``): ``(first, count) -> count`` games
    of one shape, seeds first, ..., first + count - 1. A mixture: its training split (``draw_batch``, which
    refuses the reserved evaluation seeds); a random-game family: its games (one fixed shape); else None."""
    mixture = _mixture(spec)
    if mixture is not None:
        return mixture[0].draw_batch if mixture[1] is None else None
    family = game_family(spec)
    return None if family is None else (lambda first, count: [family(first + b) for b in range(count)])


def looks_like_file(spec: str) -> bool:
    """A game spec names a file when it ends in .json / .csv (a CSV pair is ``a.csv,b.csv``)."""
    return spec.lower().endswith((".json", ".csv"))


def load_game(spec: str) -> DesignGame:
    """A game from a catalog spec, a JSON game file, a CSV pair ``p1.csv,p2.csv``, or interaction logs
    (``glee:FOLDER``, ``records:FILE.csv``: the analysable game estimated from them, see envs/logs.py)."""
    from envs.io import read_game  # local imports keep catalog usable without file support
    from envs.logs import is_log_spec, load_log

    if is_log_spec(spec):
        return load_log(spec).game
    return read_game(spec) if looks_like_file(spec) else make_game(spec)


# --------------------------------------------------------------------------- games with a state (Section 3.4)
def persuasion() -> BayesGame:
    """Kamenica & Gentzkow's prosecutor and judge: the defendant is guilty with prior 0.3; the judge gets 1
    for the right verdict; the prosecutor (a dummy player: it designs the evidence, not a verdict) gets 1
    for a conviction and is the mediator's own objective. The best scheme convicts with probability 0.6."""
    judge = np.array([[1.0, 0.0], [0.0, 1.0]])                     # [state][verdict]: innocent, guilty x acquit, convict
    prosecutor = np.array([[0.0, 1.0], [0.0, 1.0]])
    payoffs = np.stack([judge, prosecutor], axis=1)[..., None]     # (S, n, k_judge, k_prosecutor = 1)
    return BayesGame([0.7, 0.3], payoffs, prosecutor[..., None], players=("judge", "prosecutor"),
                     designs=(("acquit", "convict"), ("investigate",)), states=("innocent", "guilty"),
                     name="persuasion", description="Bayesian persuasion (Kamenica & Gentzkow 2011): a prosecutor "
                     "designs the evidence a judge sees; its objective is a conviction")


def agent_tuning() -> BayesGame:
    """Example 5 made finite: two stakeholders tune a temperature (low, mid, high) to a user state (precise,
    balanced, creative; prior 0.3, 0.4, 0.3) they do not see. Fit is 1 on the user's level, 0.5 one level off,
    0 two off; two agents tuned alike compete for the same users and each loses 0.3."""
    fit = np.array([1.0, 0.5, 0.0])
    level = np.arange(3)
    own = fit[np.abs(level[None, :] - level[:, None])]                    # [state, a_i]
    crowded = 0.3 * np.eye(3)                                              # [a_1, a_2]
    u = np.stack([own[:, :, None] - crowded, own[:, None, :] - crowded], axis=1)   # (S, 2, 3, 3)
    return BayesGame([0.3, 0.4, 0.3], u, players=("A", "B"), designs=(("low", "mid", "high"),) * 2,
                     states=("precise", "balanced", "creative"), name="agent_tuning",
                     description="Finite Example 5: two stakeholders tune an agent's temperature to a user state "
                     "that only the platform sees; agents tuned alike crowd each other out")


def state_coordination() -> BayesGame:
    """Two agents pick a message format (json, prose); the users are developers (prior 0.6), for whom matching
    on json pays 3 and on prose 1, or consumers (0.4), the other way round; a mismatch pays 0."""
    match = np.array([[[3.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 3.0]]])   # [state, a_1, a_2]
    return BayesGame([0.6, 0.4], np.stack([match, match], axis=1), players=("P1", "P2"),
                     designs=(("json", "prose"),) * 2, states=("developers", "consumers"), name="state_coordination",
                     description="Two-state coordination: which message format pays depends on users only the "
                     "platform sees")


BAYES_CATALOG: dict[str, Callable[[dict[str, str]], BayesGame]] = {
    "persuasion": _no_params(persuasion),
    "agent_tuning": _no_params(agent_tuning),
    "state_coordination": _no_params(state_coordination),
}


def is_state_game_spec(spec: str) -> bool:
    """Whether ``spec`` names a built-in game with states (files tell by their ``states`` key instead)."""
    return not looks_like_file(spec) and parse_spec(spec)[0] in BAYES_CATALOG


def load_any(spec: str) -> DesignGame | BayesGame:
    """What ``load_game`` loads, or a game with states: a BAYES_CATALOG name or a JSON file with ``states``."""
    from envs.io import read_any_json  # local, as in load_game

    if is_state_game_spec(spec):
        name, params = parse_spec(spec)
        return BAYES_CATALOG[name](params)
    if looks_like_file(spec) and spec.lower().endswith(".json"):
        return read_any_json(spec)
    return load_game(spec)
