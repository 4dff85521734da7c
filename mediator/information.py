"""Information design (Section 3.4): the Gaussian prediction game of Example 5 and the finite
Bayes-correlated-equilibrium LP (Bergemann & Morris), with Bayesian persuasion as a special case.

As in `mediator.equilibria`, every answer is re-checked against its defining inequalities and
`CertificateError` is raised when the check fails.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from envs.game import DesignGame, GameError, PayoffTable
from mediator.equilibria import TOL, CertificateError, obedience_matrix


# =========================================================================== Example 5
# theta ~ N(0,1); u_i = -(a_i - theta)^2 / 2; v = (1/N) sum_i a_i theta - (rho/N^2) sum_{i != j} a_i a_j.
# Scheme: a_i = c theta + eta_i, eta_i = e_i - (1/(N-1)) sum_{j != i} e_j, e_i iid N(0, sigma^2).
#   Var(eta_i) = sigma^2 N/(N-1), sum_i eta_i = 0, Cov(theta, a_i) = c, Var(a_i) = c^2 + sigma^2 N/(N-1).
#   Obedience E[theta | a_i] = a_i  <=>  Cov(theta, a_i) = Var(a_i)  <=>  sigma^2 = c(1-c)(N-1)/N.
#   Then E[a_i^2] = c and E[(sum_i a_i)^2] = N^2 c^2, so E[v] = c + (rho/N^2)(N c - N^2 c^2)
#   = c(1 + rho/N) - rho c^2, maximised over [0, 1] at min(c*, 1), c* = 1/(2 rho) + 1/(2N).

Regime = Literal["interior", "full_disclosure_corner"]


@dataclass(frozen=True)
class GaussianScheme:
    """The recommendation a_i = c theta + e_i - (1/(N-1)) sum_{j != i} e_j, e_i ~ N(0, sigma2).

    ``regime`` is "interior" when c = c* = 1/(2 rho) + 1/(2N) <= 1, and "full_disclosure_corner"
    when c* > 1 makes sigma2 negative, so the best obedient scheme is c = 1, sigma2 = 0 (a_i = theta).
    """

    n: int
    rho: float
    c: float
    sigma2: float
    regime: Regime
    expected_objective: float

    @property
    def c_star(self) -> float:
        """The unconstrained maximiser 1/(2 rho) + 1/(2N) of E[v](c)."""
        return optimal_slope(self.n, self.rho)


def _check_n_rho(n, rho) -> tuple[int, float]:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if isinstance(rho, bool) or not isinstance(rho, numbers.Real) or not np.isfinite(rho) or rho <= 0:
        raise ValueError(f"rho must be a finite number > 0, got {rho!r}")
    return int(n), float(rho)


def _check_c(c) -> float:
    if not isinstance(c, numbers.Real) or not 0.0 <= c <= 1.0:
        raise ValueError(f"the scheme is obedient only for 0 <= c <= 1, got c={c!r}")
    return float(c)


def optimal_slope(n: int, rho: float) -> float:
    """c* = 1/(2 rho) + 1/(2N), the stationary point of E[v](c) (the paper's formula)."""
    n, rho = _check_n_rho(n, rho)
    return 1.0 / (2.0 * rho) + 1.0 / (2.0 * n)


def obedient_noise_variance(n: int, c: float) -> float:
    """sigma^2 = c(1-c)(N-1)/N: the noise making E[theta | a_i] = a_i (needs 0 <= c <= 1)."""
    n, _ = _check_n_rho(n, 1.0)
    c = _check_c(c)
    return c * (1.0 - c) * (n - 1) / n


def expected_objective(n: int, rho: float, c: float) -> float:
    """E[v] = c(1 + rho/N) - rho c^2 of the obedient scheme with slope c in [0, 1]."""
    n, rho = _check_n_rho(n, rho)
    c = _check_c(c)
    return c * (1.0 + rho / n) - rho * c * c


def full_disclosure_objective(n: int, rho: float) -> float:
    """E[v] for a_i = theta: 1 - rho (N-1)/N (the scheme with c = 1)."""
    n, rho = _check_n_rho(n, rho)
    return 1.0 - rho * (n - 1) / n


def no_disclosure_objective(n: int, rho: float) -> float:
    """E[v] for a_i = E[theta] = 0: zero (the scheme with c = 0)."""
    _check_n_rho(n, rho)
    return 0.0


def gaussian_prediction_scheme(n: int, rho: float) -> GaussianScheme:
    """The E[v]-maximising obedient scheme: c = min(c*, 1), sigma^2 = c(1-c)(N-1)/N."""
    n, rho = _check_n_rho(n, rho)
    c_star = optimal_slope(n, rho)
    c, regime = (c_star, "interior") if c_star <= 1.0 else (1.0, "full_disclosure_corner")
    return GaussianScheme(n, rho, c, obedient_noise_variance(n, c), regime, expected_objective(n, rho, c))


def gaussian_recommendations(scheme: GaussianScheme, theta: np.ndarray, e: np.ndarray) -> np.ndarray:
    """a_i = c theta + e_i - (1/(N-1)) sum_{j != i} e_j for theta (m,) and noise e (m, N)."""
    others = e.sum(axis=1, keepdims=True) - e
    return scheme.c * theta[:, None] + e - others / (scheme.n - 1)


def prediction_objective(a: np.ndarray, theta: np.ndarray, rho: float) -> np.ndarray:
    """v(a, theta) = (1/N) sum_i a_i theta - (rho/N^2) [(sum_i a_i)^2 - sum_i a_i^2], per row of a."""
    n = a.shape[1]
    total = a.sum(axis=1)
    return total * theta / n - rho / n**2 * (total**2 - (a**2).sum(axis=1))


def _ols(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column OLS of y (m,) on x (m, N): slopes, intercepts, their standard errors, residuals.

    Standard errors are the classical ones, s^2 / S_xx and s^2 (1/m + xbar^2 / S_xx) with
    s^2 = RSS / (m-2); they are exact here because (theta, a_i) is jointly Gaussian, so the
    residual variance does not depend on a_i.
    """
    m = x.shape[0]
    xc, yc = x - x.mean(axis=0), y - y.mean()
    sxx = (xc**2).sum(axis=0)
    slope = (xc * yc[:, None]).sum(axis=0) / sxx
    intercept = y.mean() - slope * x.mean(axis=0)
    resid = y[:, None] - intercept - slope * x
    s2 = (resid**2).sum(axis=0) / (m - 2)
    return {"slopes": slope, "intercepts": intercept, "slope_se": np.sqrt(s2 / sxx),
            "intercept_se": np.sqrt(s2 * (1.0 / m + x.mean(axis=0) ** 2 / sxx)), "residuals": resid}


def simulate_gaussian(scheme: GaussianScheme, samples: int,
                      rng: np.random.Generator | int | None = None) -> dict:
    """Monte Carlo of the scheme: objective mean +- standard error and per-player obedience fits.

    Returns ``theta`` (m,), ``recommendations`` (m, N), ``objective_mean``, ``objective_se``,
    ``slopes``/``intercepts`` of the regression of theta on a_i with ``slope_se``/``intercept_se``
    (obedience: slope 1, intercept 0) and ``deviation_gain``: player i's in-sample gain from the
    best response alpha_i + beta_i a_i fitted by that regression instead of a_i. Since theta and a_i
    are jointly Gaussian, E[theta | a_i] is affine and this is the best deviation of any form; the
    in-sample gain is >= 0 by construction and under obedience is about (1-c)/m (Var(theta|a_i)/m).
    """
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 3:
        raise ValueError(f"samples must be an integer >= 3, got {samples!r}")
    rng = np.random.default_rng(rng)
    theta = rng.standard_normal(samples)
    e = rng.normal(0.0, np.sqrt(scheme.sigma2), size=(samples, scheme.n))
    a = gaussian_recommendations(scheme, theta, e)
    v = prediction_objective(a, theta, scheme.rho)
    fit = _ols(a, theta)
    gain = 0.5 * (((a - theta[:, None]) ** 2).mean(axis=0) - (fit.pop("residuals") ** 2).mean(axis=0))
    return {"theta": theta, "recommendations": a, "samples": int(samples),
            "objective_mean": float(v.mean()), "objective_se": float(v.std(ddof=1) / np.sqrt(samples)),
            **fit, "deviation_gain": gain}


def check_gaussian_obedience(scheme: GaussianScheme, sim: dict, z: float = 5.0) -> None:
    """Raise CertificateError if some player's fitted slope (or intercept) is > z s.e. from 1 (0).

    An absolute floor TOL covers sigma = 0 (full disclosure), where the fit is exact and s.e. ~ 0.
    """
    slopes, intercepts = np.asarray(sim["slopes"]), np.asarray(sim["intercepts"])
    if slopes.shape != (scheme.n,):
        raise CertificateError(f"simulation has {slopes.shape} slopes for {scheme.n} players")
    bad_slope = np.abs(slopes - 1.0) > z * np.asarray(sim["slope_se"]) + TOL
    bad_int = np.abs(intercepts) > z * np.asarray(sim["intercept_se"]) + TOL
    if bad_slope.any():
        i = int(np.argmax(bad_slope))
        raise CertificateError(f"not obedient: player {i}'s slope E[theta|a_i]/a_i is {slopes[i]:.4g}, "
                               f"{abs(slopes[i] - 1) / max(sim['slope_se'][i], 1e-300):.3g} s.e. from 1")
    if bad_int.any():
        i = int(np.argmax(bad_int))
        raise CertificateError(f"not obedient: player {i}'s intercept is {intercepts[i]:.4g}, "
                               f"{abs(intercepts[i]) / max(sim['intercept_se'][i], 1e-300):.3g} s.e. from 0")


# =========================================================================== finite BCE LP
@dataclass(frozen=True, eq=False)
class BayesGame(PayoffTable):
    """A finite Bayesian game: prior mu (S,), payoffs u (S, n, k_1..k_n) with u[s, i][a] = u_i(s, a),
    and the mediator's objective v (S, k_1..k_n). Player i may have a single design (a dummy)."""

    prior: np.ndarray
    payoffs: np.ndarray
    objective: np.ndarray
    players: tuple[str, ...] | None = None
    designs: tuple[tuple[str, ...], ...] | None = None
    states: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        mu = np.array(self.prior, dtype=np.float64)
        u = np.array(self.payoffs, dtype=np.float64)
        v = np.array(self.objective, dtype=np.float64)
        if mu.ndim != 1 or mu.size == 0:
            raise GameError(f"prior must be a nonempty vector, got shape {mu.shape}")
        if not np.isfinite(mu).all() or (mu < 0).any() or abs(mu.sum() - 1.0) > 1e-9:
            raise GameError(f"prior must be nonnegative and sum to 1, got {mu.tolist()}")
        if u.ndim < 4 or u.shape[0] != mu.size or u.shape[1] != u.ndim - 2:
            raise GameError(f"payoffs must have shape (S={mu.size}, n, k_1, ..., k_n) with n >= 2, got {u.shape}")
        if v.shape != (mu.size, *u.shape[2:]):
            raise GameError(f"objective has shape {v.shape}, expected {(mu.size, *u.shape[2:])}")
        if not (np.isfinite(u).all() and np.isfinite(v).all()):
            raise GameError("payoffs and objective must be finite")
        n, shape = u.shape[1], u.shape[2:]
        players = tuple(f"P{i + 1}" for i in range(n)) if self.players is None else tuple(map(str, self.players))
        designs = (tuple(tuple(f"d{j}" for j in range(k)) for k in shape) if self.designs is None
                   else tuple(tuple(map(str, ds)) for ds in self.designs))
        states = tuple(f"s{s}" for s in range(mu.size)) if self.states is None else tuple(map(str, self.states))
        if len(players) != n or tuple(map(len, designs)) != shape or len(states) != mu.size:
            raise GameError("names must give n players, k_i designs per player and S states")
        for arr, name in ((mu / mu.sum(), "prior"), (u, "payoffs"), (v, "objective")):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "players", players)
        object.__setattr__(self, "designs", designs)
        object.__setattr__(self, "states", states)

    @property
    def n_states(self) -> int:
        return self.prior.size

    @property
    def n_players(self) -> int:
        return self.payoffs.shape[1]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.payoffs.shape[2:]

    def state_game(self, s: int) -> DesignGame:
        """The complete-information game u(s, .) in state s."""
        return DesignGame(self.players, self.designs, self.payoffs[s], name=f"state {self.states[s]}")


@dataclass(frozen=True, eq=False)
class BCEResult:
    """A Bayes correlated equilibrium: policy pi(a | s) of shape (S, k_1..k_n), E[v] and E[u_i]."""

    policy: np.ndarray
    prior: np.ndarray
    objective: float
    payoffs: np.ndarray

    @property
    def joint(self) -> np.ndarray:
        """x(s, a) = mu(s) pi(a | s)."""
        return self.prior.reshape(-1, *[1] * (self.policy.ndim - 1)) * self.policy

    def recommendation_probability(self, player: int, design: int) -> float:
        """P(player i is told d) = sum_s mu(s) sum_{a_-i} pi(d, a_-i | s)."""
        return float(np.take(self.joint, design, axis=1 + player).sum())

    def posterior(self, player: int, design: int) -> np.ndarray:
        """P(s | player i is told d), shape (S,) (NaN if d is never recommended)."""
        x = np.take(self.joint, design, axis=1 + player).reshape(self.prior.size, -1).sum(axis=1)
        return x / x.sum() if x.sum() > 0 else np.full_like(x, np.nan)


def bce_obedience_matrix(game: BayesGame) -> sp.csr_matrix:
    """Obedience rows G with G pi >= 0, pi flattened state-major over (s, a).

    Row (i, d, d') holds sum_s mu(s) sum_{a_-i} pi(d, a_-i | s) [u_i(s, d, a_-i) - u_i(s, d', a_-i)]:
    the complete-information CE rows of each state game (`obedience_matrix`) weighted by mu(s).
    """
    return sp.hstack([mu * obedience_matrix(game.state_game(s)) for s, mu in enumerate(game.prior)],
                     format="csr")


def _tol(game: BayesGame) -> float:
    return TOL * max(1.0, game.scale)


def check_bce(game: BayesGame, policy: np.ndarray) -> None:
    """Raise CertificateError unless pi(. | s) is a distribution for every state with mu(s) > 0
    and every obedience constraint holds (within TOL times the payoff scale)."""
    pi = np.asarray(policy, float)
    if pi.shape != (game.n_states, *game.shape):
        raise CertificateError(f"policy has shape {pi.shape}, expected {(game.n_states, *game.shape)}")
    flat = pi.reshape(game.n_states, -1)
    live = game.prior > 0
    if (flat[live] < -1e-9).any() or (np.abs(flat[live].sum(axis=1) - 1.0) > 1e-6).any():
        raise CertificateError("policy is not a probability distribution over profiles in every state")
    slack = bce_obedience_matrix(game) @ flat.ravel()
    if slack.min(initial=0.0) < -_tol(game):
        i, d, dp = _row_label(game, int(np.argmin(slack)))
        raise CertificateError(f"BCE obedience violated by {-slack.min():.3g}: {game.players[i]} told "
                               f"{game.designs[i][d]} gains by playing {game.designs[i][dp]}")


def _row_label(game: BayesGame, row: int) -> tuple[int, int, int]:
    for i, k in enumerate(game.shape):
        if row < k * (k - 1):
            d, dp = np.nonzero(~np.eye(k, dtype=bool))
            return i, int(d[row]), int(dp[row])
        row -= k * (k - 1)
    raise IndexError(row)


def bayes_correlated_equilibrium(game: BayesGame, sense: Literal["max", "min"] = "max") -> BCEResult:
    """The E[v]-maximising (or minimising) BCE, by linear programming (HiGHS).

    Variables pi(a | s) >= 0 for all states and profiles, sum_a pi(a | s) = 1 per state (also in
    zero-prior states, where pi is then arbitrary but still a distribution); objective
    sum_s mu(s) sum_a pi(a | s) v(s, a); obedience rows from `bce_obedience_matrix`.
    """
    S, K = game.n_states, game.n_profiles
    w = (game.prior[:, None] * game.objective.reshape(S, K)).ravel()
    g = bce_obedience_matrix(game)
    consistency = sp.kron(sp.eye(S), np.ones((1, K)), format="csr")
    res = linprog(-w if sense == "max" else w, A_ub=-g, b_ub=np.zeros(g.shape[0]),
                  A_eq=consistency, b_eq=np.ones(S), bounds=(0, None), method="highs")
    if res.status != 0:
        raise CertificateError(f"BCE LP failed: {res.message}")
    flat = np.where(res.x.reshape(S, K) > 1e-10, res.x.reshape(S, K), 0.0)
    pi = (flat / flat.sum(axis=1, keepdims=True)).reshape(S, *game.shape)
    check_bce(game, pi)
    result = _evaluate(game, pi)
    lp_value = -res.fun if sense == "max" else res.fun
    if abs(result.objective - lp_value) > TOL * max(1.0, float(np.abs(game.objective).max())):
        raise CertificateError(f"BCE value {result.objective:.9g} differs from the LP's {lp_value:.9g}")
    return result


def _evaluate(game: BayesGame, pi: np.ndarray) -> BCEResult:
    """E[v] = sum_s mu(s) sum_a pi(a|s) v(s,a) and E[u_i] likewise."""
    S = game.n_states
    x = game.prior[:, None] * pi.reshape(S, -1)                          # x(s, a) = mu(s) pi(a|s)
    payoffs = np.einsum("sa,sia->i", x, game.payoffs.reshape(S, game.n_players, -1))
    return BCEResult(pi, game.prior, float((x * game.objective.reshape(S, -1)).sum()), payoffs)


def persuasion(prior: Sequence[float], receiver_utility: np.ndarray, sender_utility: np.ndarray) -> BCEResult:
    """Single-receiver Bayesian persuasion (Kamenica-Gentzkow) as a BCE: the receiver (S, k) acts,
    the sender is a dummy second player with one design, and v(s, a) = sender_utility[s, a].

    The policy has shape (S, k, 1); ``payoffs`` are (receiver, sender) expected utilities.
    """
    ur = np.asarray(receiver_utility, float)
    us = np.asarray(sender_utility, float)
    if ur.ndim != 2 or us.shape != ur.shape:
        raise GameError(f"receiver and sender utilities must both have shape (S, k), got {ur.shape}, {us.shape}")
    game = BayesGame(prior, np.stack([ur, us], axis=1)[..., None], us[..., None],
                     players=("receiver", "sender"), designs=(tuple(f"a{j}" for j in range(ur.shape[1])), ("-",)))
    return bayes_correlated_equilibrium(game)
