"""Estimators of policy values and of differences between two policies.

Notation (Simester, Timoshenko & Zoumpoulis, *Efficiently evaluating targeting policies:
improving on champion vs. challenger experiments*, Management Science 66(8), 2020): customer ``i`` has
outcome ``Y_i``, received action ``A_i`` with known probability ``e_i = P(A_i | x_i)``;
policies recommend ``a_i`` and ``b_i``. Write ``R^a_i = 1{A_i = a_i}``, ``w_i = 1 / e_i``,
``D_i = 1{a_i != b_i}``. The estimand is ``Delta = E[Y(a(X)) - Y(b(X))]``, the difference in
mean outcome per customer of the population.

Every estimator returns its point estimate and a per-customer *influence value* ``psi_i``
(``mean(psi) = 0``) such that ``estimate - Delta ~ mean(psi)``; the variance estimate is
``sum(psi^2) / (n (n - 1))``. Estimates computed on the same customers are then jointly
normal with covariance ``Psi' Psi / (n (n - 1))``, which is how several comparisons get a
joint covariance (see :func:`coarseopt.evaluation.compare_many`).

The estimators are registered by name in :data:`PAIR_ESTIMATORS` and
:data:`VALUE_ESTIMATORS`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._data import EvaluationError, EvaluationWarning, ExperimentData, SupportError

#: Below this many customers in an arm of a disagreement cell the variance estimate rests on
#: too few outcomes to trust, and :class:`EvaluationWarning` says so.
FEW = 5

__all__ = ["Estimate", "Context", "PAIR_ESTIMATORS", "VALUE_ESTIMATORS", "variance_of", "hajek_mean"]


@dataclass
class Estimate:
    """A point estimate, its influence values, and (rarely) a variance that is not theirs."""

    estimate: float
    psi: np.ndarray
    variance: float | None = None
    extras: dict = field(default_factory=dict)

    @property
    def var(self) -> float:
        return variance_of(self.psi) if self.variance is None else float(self.variance)

    @property
    def se(self) -> float:
        """The standard error, ``sqrt(var)`` (0 where rounding makes the variance negative)."""
        return float(np.sqrt(max(self.var, 0.0)))


def variance_of(psi: np.ndarray) -> float:
    """``sum(psi^2) / (n (n - 1))``: the variance of a mean whose influence values are ``psi``."""
    n = psi.shape[0]
    return float(np.dot(psi, psi) / (n * (n - 1)))


def hajek_mean(y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Self-normalized weighted mean ``sum w y / sum w``, its influence values and its
    stand-alone variance ``sum (w (y - m))^2 / (sum w)^2 * r / (r - 1)`` (``r`` = number of
    customers with positive weight), the variance a two-sample analysis would report."""
    n = y.shape[0]
    S = float(w.sum())
    m = float(np.dot(w, y) / S)
    r = w * (y - m)
    count = int(np.count_nonzero(w))
    var = float(np.dot(r, r) / S**2) * (count / (count - 1) if count > 1 else np.inf)
    return m, n * r / S * small_sample(count, n), var


def small_sample(count: int | np.ndarray, n: int) -> float | np.ndarray:
    """``sqrt((r / (r - 1)) / (n / (n - 1)))``: scales the influence values of a mean over
    ``r`` of ``n`` customers so that their variance ``sum(psi^2) / (n (n - 1))`` divides
    by ``r - 1``, not ``n - 1``: the usual degrees-of-freedom correction, which matters for
    the small cells of rare arms."""
    r = np.maximum(np.asarray(count, dtype=np.float64), 2.0)
    out = np.sqrt((r / (r - 1.0)) * ((n - 1.0) / n))
    return float(out) if np.ndim(out) == 0 else out


# ----------------------------------------------------------------------------- context
class Context:
    """The data of one evaluation, the options, and the cross-fitted outcome model (cached)."""

    def __init__(
        self,
        exp: ExperimentData,
        *,
        outcome_model: Any = None,
        cv: int = 5,
        seed: int | None = 0,
        poststratify: bool | None = None,
    ) -> None:
        self.exp = exp
        self.w = 1.0 / exp.e
        self.outcome_model = outcome_model
        self.cv = cv
        self.seed = seed
        self.poststratify = (exp.design == "rba") if poststratify is None else bool(poststratify)
        self._mu: dict[int, np.ndarray] = {}

    # ---------------------------------------------------------------- outcome model
    def mu(self, actions: np.ndarray) -> np.ndarray:
        """Cross-fitted ``mu(x_i, actions_i)``: predictions of the outcome of customer ``i``
        under ``actions_i`` from models fitted on the other folds (on the customers of
        those folds who received that action)."""
        needed = [int(c) for c in np.unique(actions) if int(c) not in self._mu]
        if needed:
            self._fit(needed)
        out = np.empty(self.exp.n)
        for c in np.unique(actions):
            rows = actions == c
            out[rows] = self._mu[int(c)][rows]
        return out

    def _fit(self, codes: list[int]) -> None:
        exp = self.exp
        n = exp.n
        X = exp.X if exp.X is not None else np.zeros((n, 0))
        model = self.outcome_model
        if model is None:
            model = "linear" if X.shape[1] else "mean"
        rng = np.random.default_rng(self.seed)
        folds = rng.permutation(n) % self.cv
        for c in codes:
            pred = np.empty(n)
            received = exp.action == c
            for f in range(self.cv):
                test = folds == f
                train = ~test & received
                pred[test] = _fit_predict(model, X[train], exp.y[train], X[test], exp.y[~test])
            self._mu[c] = pred


def _fit_predict(model: Any, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    if ytr.size == 0:
        # No customer of the training folds received this action: predict the overall mean
        # (the doubly robust score then reduces to inverse-probability weighting).
        return np.full(Xte.shape[0], float(fallback.mean()))
    if isinstance(model, str):
        if model == "mean" or Xtr.shape[1] == 0:
            return np.full(Xte.shape[0], float(ytr.mean()))
        Z = np.column_stack([np.ones(ytr.size), Xtr])
        beta = np.linalg.lstsq(Z, ytr, rcond=None)[0]
        return np.column_stack([np.ones(Xte.shape[0]), Xte]) @ beta
    from sklearn.base import clone

    est = clone(model)
    est.fit(Xtr, ytr)
    return np.asarray(est.predict(Xte), dtype=np.float64).ravel()


OUTCOME_MODELS = ("linear", "mean")


def check_outcome_model(model: Any) -> Any:
    if model is None or (isinstance(model, str) and model in OUTCOME_MODELS):
        return model
    if hasattr(model, "fit") and hasattr(model, "predict"):
        return model
    raise EvaluationError(
        f"The 'outcome_model' argument must be None, 'linear', 'mean' or a scikit-learn regressor (with fit and "
        f"predict); got {model!r}."
    )


# ----------------------------------------------------------------------------- values
def share_term(ctx: Context, t: np.ndarray) -> np.ndarray:
    r"""The influence of estimated shares on an estimator ``mean(f_i)`` whose every term
    is ``w_i t_i`` plus parts free of ``e``.

    With ``e_a = n_a / n`` (no propensity given), ``d f / d e_a`` summed over customers and
    the influence ``1{A_i = a} - e_a`` of ``e_a`` give ``-w_i g_{A_i} + sum_a g_a`` with
    ``g_a`` the mean of ``t`` over the customers who received ``a``. Zero when the
    propensities were given (known design probabilities).
    """
    exp = ctx.exp
    if not exp.shares_estimated:
        return np.zeros(exp.n)
    k = int(exp.action.max()) + 1
    counts = np.bincount(exp.action, minlength=k)
    g = np.bincount(exp.action, weights=t, minlength=k) / np.maximum(counts, 1)
    return -ctx.w * g[exp.action] + g.sum()


def value_ipw(ctx: Context, p: np.ndarray) -> Estimate:
    """Horvitz-Thompson: ``V = mean(R^p w Y)``."""
    t = (ctx.exp.action == p) * ctx.exp.y
    s = ctx.w * t
    est = float(s.mean())
    return Estimate(est, s - est + share_term(ctx, t))


def value_snipw(ctx: Context, p: np.ndarray) -> Estimate:
    """Self-normalized (Hajek): ``V = sum R^p w Y / sum R^p w``."""
    R = ctx.exp.action == p
    wp = R * ctx.w
    if not wp.any():
        raise SupportError("No customer received the action the policy recommends; its value cannot be estimated.")
    m, psi, _ = hajek_mean(ctx.exp.y, wp)
    return Estimate(m, psi + share_term(ctx, R * (ctx.exp.y - m) * ctx.exp.n / wp.sum()))


def value_dr(ctx: Context, p: np.ndarray) -> Estimate:
    """Doubly robust (augmented IPW): ``V = mean(mu(x, p) + R^p w (Y - mu(x, p)))`` with a
    cross-fitted outcome model ``mu``."""
    mu = ctx.mu(p)
    t = (ctx.exp.action == p) * (ctx.exp.y - mu)
    s = mu + ctx.w * t
    est = float(s.mean())
    return Estimate(est, s - est + share_term(ctx, t))


#: Estimators of a single policy value ``V(p) = E[Y(p(X))]``: name -> function(ctx, codes).
VALUE_ESTIMATORS: dict[str, Callable[[Context, np.ndarray], Estimate]] = {
    "ipw": value_ipw,
    "snipw": value_snipw,
    "dr": value_dr,
}


# ----------------------------------------------------------------------------- differences
def _difference(method: str) -> Callable[[Context, np.ndarray, np.ndarray, tuple[int, int]], Estimate]:
    value = VALUE_ESTIMATORS[method]

    def diff(ctx: Context, a: np.ndarray, b: np.ndarray, groups: tuple[int, int]) -> Estimate:
        va, vb = value(ctx, a), value(ctx, b)
        return Estimate(va.estimate - vb.estimate, va.psi - vb.psi, extras={"value_a": va.estimate, "value_b": vb.estimate})

    diff.__doc__ = f"``V_hat(a) - V_hat(b)`` with the {method!r} value estimator and the joint (paired) variance."
    return diff


def diff_naive(ctx: Context, a: np.ndarray, b: np.ndarray, groups: tuple[int, int]) -> Estimate:
    """Difference of the two policies' aggregate mean outcomes, analysed as two independent samples.

    RBP: the mean outcome of the customers assigned to each policy. RBA: the mean outcome of
    the customers whose received action is the one the policy recommends (weighted by
    ``1 / e`` when assignment probabilities differ, so the means are unbiased). The reported
    variance is ``se_a^2 + se_b^2``, which is right under RBP (disjoint groups) and
    overstated under RBA, where customers on whom the policies agree inform both means.
    """
    exp = ctx.exp
    if exp.design == "rbp":
        wa = (exp.group == groups[0]) / exp.group_prob
        wb = (exp.group == groups[1]) / exp.group_prob
    else:
        wa = (exp.action == a) * ctx.w
        wb = (exp.action == b) * ctx.w
    if not wa.any() or not wb.any():
        raise SupportError("One of the policies has no customer in its sample; the naive estimate is undefined.")
    ma, psa, var_a = hajek_mean(exp.y, wa)
    mb, psb, var_b = hajek_mean(exp.y, wb)
    return Estimate(
        ma - mb,
        psa - psb,
        variance=var_a + var_b,
        extras={"value_a": ma, "value_b": mb, "se_a": float(np.sqrt(var_a)), "se_b": float(np.sqrt(var_b))},
    )


def _cells(ctx: Context, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Cell index of every disagreeing customer (-1 for agreeing ones), and the cells' keys.

    Post-stratified cells where fewer than :data:`FEW` customers received one of the two
    recommended actions (small cells of rare arms: their means, and above all their
    variances, rest on a handful of outcomes) are collapsed into one residual cell (key
    ``-1``, last), which :func:`diff_disagreement` values by Horvitz-Thompson.
    """
    D = a != b
    L = int(max(a.max(), b.max())) + 1
    cell = np.full(a.shape[0], -1, dtype=np.int64)
    if ctx.poststratify:
        keys, inv = np.unique(a[D] * L + b[D], return_inverse=True)
        act = ctx.exp.action[D]
        n_a = np.bincount(inv, weights=act == a[D], minlength=keys.size)
        n_b = np.bincount(inv, weights=act == b[D], minlength=keys.size)
        bad = np.minimum(n_a, n_b) < FEW
        if bad.any() and not bad.all():
            good = np.flatnonzero(~bad)
            remap = np.full(keys.size, good.size, dtype=np.int64)
            remap[good] = np.arange(good.size)
            keys, inv = np.append(keys[good], -1), remap[inv]
        elif bad.all():
            keys, inv = np.array([-1], dtype=np.int64), np.zeros(int(D.sum()), dtype=np.int64)
    else:
        keys, inv = np.zeros(1 if D.any() else 0, dtype=np.int64), np.zeros(int(D.sum()), dtype=np.int64)
    cell[D] = inv
    return cell, keys, L


def diff_disagreement(ctx: Context, a: np.ndarray, b: np.ndarray, groups: tuple[int, int]) -> Estimate:
    r"""Disagreement (post-stratified) estimator.

    Customers on whom the policies agree contribute exactly zero to ``Delta``. Let cells
    ``c`` partition the disagreement set (by the pair ``(a_i, b_i)`` when post-stratifying,
    the default under RBA; one cell otherwise, the default under RBP), ``n_c`` their sizes:

    .. math::

        \hat\Delta = \sum_c \frac{n_c}{n}\,(\hat m_{c,a} - \hat m_{c,b}),\qquad
        \hat m_{c,a} = \frac{\sum_{i \in c} R^a_i w_i Y_i}{\sum_{i \in c} R^a_i w_i}

    (Hajek means; plain means when probabilities are constant within a cell). Its
    influence value is ``D_i delta_{c_i} - Delta + n_c w_i (R^a_i (Y_i - m_{c,a}) /
    S_{c,a} - R^b_i (Y_i - m_{c,b}) / S_{c,b})``: the variance of the cell shares (the
    population estimand) plus the within-cell sampling variance. It is the paired variance:
    no customer is counted as if drawn twice.
    """
    exp = ctx.exp
    n = exp.n
    cell, keys, L = _cells(ctx, a, b)
    n_dis = int((cell >= 0).sum())
    if n_dis == 0:
        return Estimate(0.0, np.zeros(n), extras={"share": 0.0, "n_cells": 0, "effect_disagree": float("nan")})
    # Cells too small to stratify (key -1) are valued by Horvitz-Thompson, which needs no
    # customer of either action in them: sum over them of (R^a - R^b) w Y / n.
    residual = np.zeros(n, dtype=bool)
    if keys.size and keys[-1] == -1:
        residual = cell == keys.size - 1
        cell = np.where(residual, -1, cell)
        keys = keys[:-1]
    t_res = residual * ((exp.action == a).astype(float) - (exp.action == b)) * exp.y
    h_res = ctx.w * t_res
    est_res = float(h_res.mean())
    D = cell >= 0
    if not D.any():
        return Estimate(est_res, h_res - est_res + share_term(ctx, t_res),
                        extras={"share": n_dis / n, "n_cells": 0, "effect_disagree": est_res * n / n_dis,
                                "residual_share": float(residual.mean())})
    C = keys.size
    ra = (exp.action == a) & D
    rb = (exp.action == b) & D
    wa, wb = ra * ctx.w, rb * ctx.w
    idx = np.where(D, cell, 0)
    n_c = np.bincount(cell[D], minlength=C).astype(float)
    Sa = np.bincount(idx, weights=wa, minlength=C)
    Sb = np.bincount(idx, weights=wb, minlength=C)
    empty = (Sa == 0) | (Sb == 0)
    if empty.any():
        c = int(np.flatnonzero(empty)[0])
        if ctx.poststratify and keys[c] >= 0:
            ka, kb = divmod(int(keys[c]), L)
            where = f"the cell where policy_a recommends {exp.labels[ka]!r} and policy_b {exp.labels[kb]!r}"
            missing = exp.labels[ka] if Sa[c] == 0 else exp.labels[kb]
        else:
            where, missing = "the disagreement set", "policy_a's action" if Sa[c] == 0 else "policy_b's action"
        raise SupportError(
            f"In {where} ({int(n_c[c])} customers) no customer received {missing!r}, so the difference there "
            "cannot be estimated. Use more customers, poststratify=False, or method='ipw' / 'dr'."
        )
    ma = np.bincount(idx, weights=wa * exp.y, minlength=C) / Sa
    mb = np.bincount(idx, weights=wb * exp.y, minlength=C) / Sb
    delta = ma - mb
    est_cells = float(np.dot(n_c, delta) / n)
    psi = np.full(n, -est_cells) + h_res - est_res + share_term(ctx, t_res)
    est = est_cells + est_res
    d = idx[D]
    ca = small_sample(np.bincount(idx, weights=ra, minlength=C), n)
    cb = small_sample(np.bincount(idx, weights=rb, minlength=C), n)
    psi[D] += delta[d] + n_c[d] * (
        ca[d] * wa[D] * (exp.y[D] - ma[d]) / Sa[d] - cb[d] * wb[D] * (exp.y[D] - mb[d]) / Sb[d]
    )
    arm_counts = np.minimum(np.bincount(idx, weights=ra, minlength=C), np.bincount(idx, weights=rb, minlength=C))
    if arm_counts.min() < FEW:
        c = int(np.argmin(arm_counts))
        where = "the disagreement set" if keys[c] >= 0 else "the cells merged for lack of customers"
        if ctx.poststratify and keys[c] >= 0:
            ka, kb = divmod(int(keys[c]), L)
            where = f"the cell where policy_a recommends {exp.labels[ka]!r} and policy_b {exp.labels[kb]!r}"
        warnings.warn(
            f"In {where} only {int(arm_counts[c])} customers received one of the two actions: the standard error "
            "rests on very few outcomes and the normal interval may be too narrow. Use more customers or "
            "poststratify=False.",
            EvaluationWarning,
            stacklevel=3,
        )
    return Estimate(
        est,
        psi,
        extras={
            "share": n_dis / n,
            "n_cells": C,
            "effect_disagree": est * n / n_dis,
            "min_cell_arm": int(arm_counts.min()),
            "residual_share": float(residual.mean()),
        },
    )


def diff_regression(ctx: Context, a: np.ndarray, b: np.ndarray, groups: tuple[int, int]) -> Estimate:
    r"""Regression-adjusted disagreement estimator.

    On the disagreeing customers who received one of the two recommended actions, weighted
    least squares (weights ``w_i = 1 / e_i``) of ``Y`` on ``T_i = R^a_i``, cell indicators
    (see :func:`diff_disagreement`) and the covariates ``X``:

    .. math:: Y_i = \tau T_i + \sum_c \gamma_c 1\{c_i = c\} + X_i'\beta + \varepsilon_i,
              \qquad \hat\Delta = \hat p_D \hat\tau .

    With inverse-probability weights the weighted share of ``T = 1`` is one half in every
    cell, so ``tau`` is the effect among disagreeing customers averaged by cell size. The
    variance is heteroskedasticity-robust (HC1 sandwich) for ``tau`` plus
    ``tau^2 p_D (1 - p_D) / n`` for the estimated share (the two are uncorrelated).
    """
    exp = ctx.exp
    n = exp.n
    cell, keys, _ = _cells(ctx, a, b)
    D = cell >= 0
    n_dis = int(D.sum())
    if n_dis == 0:
        return Estimate(0.0, np.zeros(n), extras={"share": 0.0})
    ra = exp.action == a
    use = D & (ra | (exp.action == b))
    m = int(use.sum())
    C = keys.size
    T = ra[use].astype(float)
    Z = [T[:, None], np.eye(C)[cell[use]]]
    if exp.X is not None:
        Z.append(exp.X[use])
    Z = np.column_stack(Z)
    if not (0 < T.sum() < m):
        raise SupportError(
            "Among the customers on whom the policies disagree, no one received policy_a's action or no one "
            "received policy_b's: the regression cannot compare them. Use more customers."
        )
    yv, wv = exp.y[use], ctx.w[use]
    sw = np.sqrt(wv)
    coef, _, rank, _ = np.linalg.lstsq(Z * sw[:, None], yv * sw, rcond=None)
    M = (Z * wv[:, None]).T @ Z
    g = np.linalg.pinv(M)[:, 0]
    resid = yv - Z @ coef
    k = int(rank)
    hc1 = np.sqrt(m / (m - k)) if m > k else np.inf
    tau = float(coef[0])
    share = n_dis / n
    h = np.zeros(n)
    h[use] = n * (Z @ g) * wv * resid * hc1
    psi = share * h + tau * (D - share)
    return Estimate(share * tau, psi, extras={"share": share, "effect_disagree": tau, "n_regression": m, "n_params": k})


#: Estimators of ``Delta = V(a) - V(b)``: name -> function(ctx, a_codes, b_codes, rbp_groups).
PAIR_ESTIMATORS: dict[str, Callable[[Context, np.ndarray, np.ndarray, tuple[int, int]], Estimate]] = {
    "disagreement": diff_disagreement,
    "naive": diff_naive,
    "regression": diff_regression,
    "ipw": _difference("ipw"),
    "snipw": _difference("snipw"),
    "dr": _difference("dr"),
}

#: One line per estimator, for tables and error messages.
DESCRIPTIONS = {
    "disagreement": "disagreement set only, post-stratified by recommended pair, paired variance",
    "naive": "difference of aggregate means, two independent samples",
    "regression": "disagreement set, WLS on indicator + cells + covariates, HC1 variance",
    "ipw": "inverse propensity weighting (Horvitz-Thompson), paired variance",
    "snipw": "self-normalized IPW (Hajek), paired variance",
    "dr": "doubly robust (AIPW) with a cross-fitted outcome model",
}
