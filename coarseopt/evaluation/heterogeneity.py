r"""Is there heterogeneity worth targeting? Calibration and rank-based diagnostics.

Personalization pays only if a model *ranks* customers by their incremental profit. Given
predictions ``s_j(x)`` of the incremental profit of arm ``j`` over the control, made by a
model that did not see these customers' outcomes (held-out or out-of-fold), and the
randomized experiment those customers took part in, this module measures how much of the
predicted heterogeneity is real.

Every diagnostic rests on one **doubly robust score** per customer and arm (Robins, Rotnitzky
& Zhao 1994; as in grf's ``get_scores``):

.. math::

    \Gamma_{ij} = \hat\mu_j(x_i) - \hat\mu_c(x_i)
        + \frac{1\{A_i = j\}}{e_i} (Y_i - \hat\mu_j(x_i))
        - \frac{1\{A_i = c\}}{e_i} (Y_i - \hat\mu_c(x_i)),

with ``c`` the control, ``Y`` the realized profit, ``e_i`` the probability of the arm
customer ``i`` received (a given propensity column, else each arm's share of the customers
analysed) and ``mu_j`` an outcome model of arm ``j`` cross-fitted on these customers (each
customer's prediction comes from a model fitted on the other folds). ``E[Gamma_ij | x] =
tau_j(x)`` whatever ``mu`` is, because the propensities are known.

- **Calibration** (best linear predictor; Chernozhukov, Demirer, Duflo & Fernandez-Val,
  *Generic Machine Learning Inference on Heterogeneous Treatment Effects in Randomized
  Experiments*, 2018/2023, section 3; grf's ``test_calibration``): least squares of
  ``Gamma_ij`` on ``mean(s_j)`` and ``s_j(x_i) - mean(s_j)`` without intercept, HC3 standard
  errors. ``blp_het`` (the second coefficient) is 1 when the predicted differences are right
  on average and 0 when they carry no information; ``blp_het_p`` is the one-sided p-value of
  ``H0: blp_het <= 0``. ``blp_ate`` (the first) is 1 when the mean prediction is right. This
  is the doubly robust form of the BLP regression (the scores replace the weighted
  regression on ``T - e``), which handles several arms and unequal known propensities alike.
- **GATES** (same paper, section 4): the mean of ``Gamma_ij`` within quantile groups of
  ``s_j`` (quintiles by default), with normal intervals, and the difference top minus bottom.
- **RATE** (Yadlowsky, Fleming, Shah, Brunskill & Wager, *Evaluating Treatment Prioritization
  Rules via Rank-Weighted Average Treatment Effects*, JASA 2024; grf's
  ``rank_average_treatment_effect``): sort customers by ``s_j`` descending; the targeting
  operator characteristic ``TOC(q)`` is the mean score of the top ``q`` minus the mean score of
  all; ``AUTOC = int_0^1 TOC(q) dq`` and ``Qini = int_0^1 q TOC(q) dq`` (discretized at
  ``q = i / n`` as grf does; tied priorities share the mean score of their tie group, which
  is the expectation over random tie-breaking). All are zero when the effect does not vary
  with the priority. Standard errors come from the influence function of a rank-weighted
  mean (see :func:`rank_weighted`), not from a bootstrap: deterministic and fast.

Each diagnostic is computed for every non-control arm (priority ``s_j``) and for the
**best predicted arm vs control** (priority ``max_j s_j``, score ``Gamma`` of that arm): the
ranking a coarse policy actually uses.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..tabular import jsonable
from ._data import EvaluationError, ExperimentData, check_alpha
from .estimators import Context, check_outcome_model, share_term

__all__ = [
    "BEST",
    "heterogeneity",
    "gates",
    "toc_curves",
    "rank_weighted",
    "study_heterogeneity",
    "heterogeneity_verdict",
]

#: Row label of the "treat each customer with their best predicted arm" priority.
BEST = "best predicted arm vs control"

#: Fractions at which :func:`toc_curves` evaluates the TOC by default.
DEFAULT_Q = tuple(np.round(np.arange(0.05, 1.0001, 0.05), 2))


# ----------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Scores:
    """Per customer and row (arm, then the best-arm priority): priority and DR score."""

    labels: list
    priority: np.ndarray  # (n, r)
    gamma: np.ndarray  # (n, r)
    n: int
    shares: np.ndarray  # (n, r) influence of estimated arm shares on mean(gamma) (zeros if given)


def _profit_outcome(experiment: Any, economics: Any) -> np.ndarray:
    if economics is None:
        return np.asarray(experiment.y, dtype=np.float64)
    a, c = economics.unit_value(list(experiment.arms), numeric=experiment.is_numeric)
    return a[experiment.arm_index] * experiment.y - c[experiment.arm_index]


def _propensity(experiment: Any) -> np.ndarray:
    """A given propensity column, else each arm's share of the customers analysed."""
    if getattr(experiment, "propensity", None) is not None:
        return np.asarray(experiment.propensity_received, dtype=np.float64)
    counts = np.bincount(experiment.arm_index, minlength=len(experiment.arms)).astype(np.float64)
    return (counts / experiment.n)[experiment.arm_index]


def _match_column(arm: Any, columns: list, numeric: bool) -> int | None:
    for j, col in enumerate(columns):
        if col == arm or str(col) == str(arm):
            return j
    if numeric:
        for j, col in enumerate(columns):
            try:
                if np.isclose(float(col), float(arm)):
                    return j
            except (TypeError, ValueError):
                continue
    return None


def _predictions(experiment: Any, predicted_profit: Any) -> tuple[list, np.ndarray]:
    """The non-control arms with a prediction and their predicted lift over the control."""
    import pandas as pd

    from ..estimation import Experiment

    if not isinstance(experiment, Experiment):
        raise EvaluationError(
            f"'experiment' must be a coarseopt.Experiment (outcomes, arms, features); got {type(experiment).__name__}."
        )
    if hasattr(predicted_profit, "profit") and not isinstance(predicted_profit, pd.DataFrame):
        predicted_profit = predicted_profit.profit  # a ProfitEstimate
    if not isinstance(predicted_profit, pd.DataFrame):
        raise EvaluationError(
            "'predicted_profit' must be a pandas DataFrame (customers x arms, columns named by the arms); "
            f"got {type(predicted_profit).__name__}."
        )
    if predicted_profit.shape[0] != experiment.n:
        raise EvaluationError(
            f"'predicted_profit' has {predicted_profit.shape[0]} rows but the experiment has {experiment.n} "
            "customers: give one row per customer of the experiment, in its order."
        )
    index = experiment.data.index
    if not predicted_profit.index.equals(index):
        if predicted_profit.index.has_duplicates or not predicted_profit.index.sort_values().equals(
            index.sort_values()
        ):
            raise EvaluationError(
                "The index of 'predicted_profit' does not match the experiment's customers (the index of its "
                "data); predict the experiment's customers (e.g. estimate.predict(experiment).profit)."
            )
        predicted_profit = predicted_profit.loc[index]
    columns = list(predicted_profit.columns)
    P = predicted_profit.to_numpy(dtype=np.float64, na_value=np.nan)
    c = _match_column(experiment.control, columns, experiment.is_numeric)
    base = P[:, c] if c is not None else np.zeros(experiment.n)
    labels, cols = [], []
    for j, arm in enumerate(experiment.arms):
        if j == experiment.control_index:
            continue
        col = _match_column(arm, columns, experiment.is_numeric)
        if col is not None:
            labels.append(arm)
            cols.append(P[:, col] - base)
    if not labels:
        raise EvaluationError(
            f"'predicted_profit' has no column for any non-control arm of the experiment "
            f"(arms {list(experiment.arms)}, control {experiment.control!r}; columns {columns[:10]}). "
            "Name the columns by the arms."
        )
    S = np.column_stack(cols)
    bad = ~np.isfinite(S)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise EvaluationError(
            f"'predicted_profit' holds {int(bad.sum())} NaN or infinite values (first in row {row}); every "
            "customer needs a prediction for every arm."
        )
    return labels, S


def _scores(
    experiment: Any,
    predicted_profit: Any,
    economics: Any = None,
    outcome_model: Any = None,
    cv: int = 5,
    seed: int | None = 0,
) -> Scores:
    labels, S = _predictions(experiment, predicted_profit)
    if isinstance(cv, bool) or not isinstance(cv, numbers.Integral) or cv < 2:
        raise EvaluationError(f"The 'cv' argument must be an integer >= 2 (folds of the outcome model); got {cv!r}.")
    model = check_outcome_model(outcome_model)
    y = _profit_outcome(experiment, economics)
    e = _propensity(experiment)
    arm_of = {a: j for j, a in enumerate(experiment.arms)}
    data = ExperimentData(
        y=y, action=np.asarray(experiment.arm_index, dtype=np.int64), e=e,
        labels=np.asarray(experiment.arms, dtype=object), design="rba", X=experiment.X.to_numpy(dtype=np.float64),
        shares_estimated=getattr(experiment, "propensity", None) is None,
    )
    ctx = Context(data, outcome_model=model, cv=cv, seed=seed)
    n = experiment.n
    A = data.action
    rows = np.arange(n)
    best = np.r_[[arm_of[a] for a in labels]][S.argmax(axis=1)]
    codes = [np.full(n, arm_of[a]) for a in labels] + [best]
    control = np.full(n, experiment.control_index)
    mu_c = ctx.mu(control)
    t_c = (A == control) * (y - mu_c)
    gamma, shares = [], []
    for arm in codes:
        mu = ctx.mu(arm)
        t = (A == arm) * (y - mu)
        gamma.append(mu - mu_c + (t - t_c) / e)
        shares.append(share_term(ctx, t) - share_term(ctx, t_c))
    priority = np.column_stack([S, S[rows, S.argmax(axis=1)]])
    return Scores(labels=[*labels, BEST], priority=priority, gamma=np.column_stack(gamma), n=n,
                  shares=np.column_stack(shares))


# ----------------------------------------------------------------------------- RATE machinery
def _constant(priority: np.ndarray) -> bool:
    """Whether the predictions are the same for everyone (up to rounding): no ranking."""
    return bool(np.ptp(priority) <= 1e-12 * max(1.0, float(np.abs(priority).max())))


def _autoc_weights(n: int) -> np.ndarray:
    """``c_r = (H_n - H_{r-1} - 1) / n``: AUTOC = sum_r c_r Gamma_(r)."""
    inv = 1.0 / np.arange(1, n + 1)
    tail = np.cumsum(inv[::-1])[::-1]  # H_n - H_{r-1}
    return (tail - 1.0) / n


def _qini_weights(n: int) -> np.ndarray:
    """``c_r = (n - r + 1) / n^2 - (n + 1) / (2 n^2)``: Qini = sum_r c_r Gamma_(r)."""
    r = np.arange(1, n + 1)
    return ((n - r + 1) - (n + 1) / 2.0) / n**2


def _toc_weights(n: int, q: float) -> np.ndarray:
    """TOC(q) = mean of the top ``q n`` scores (the last one fractionally, as grf) minus the mean."""
    K = q * n
    full = int(math.floor(K + 1e-9))
    c = np.zeros(n)
    c[:full] = 1.0
    if full < n and K - full > 1e-9:
        c[full] = K - full
    return c / K - 1.0 / n


def rank_weighted(priority: Any, gamma: Any, weights: Any) -> tuple[float, float]:
    r"""A rank-weighted mean ``sum_r c_r Gamma_(r)`` and its standard error.

    ``Gamma_(r)`` is the score of the customer with the r-th highest priority; tied
    priorities share the mean weight of their positions (the expectation over random
    tie-breaking). With ``c_r = phi(r / n) / n`` this estimates ``theta = E[Gamma phi(U)]``,
    ``U`` the customer's quantile from the top. Its influence function has two parts (the
    Hajek projection of a rank statistic): the customer's own weighted score, and the shift of
    everyone ranked below when the customer joins the sample,

    .. math::

        \psi_k = n c_{r_k} \Gamma_k + n \sum_{i: r_i > r_k} (c_{r_i + 1} - c_{r_i}) m_{r_i},

    where ``m_r`` is the mean score near rank ``r`` (a moving average over ``sqrt(n)``
    ranks, estimating ``E[Gamma | U]``). The standard error is ``sd(psi) / sqrt(n)``. When
    the effect does not vary with the priority the two parts combine to
    ``(Gamma_k - E Gamma) phi(U_k)``.

    Parameters
    ----------
    priority, gamma : array-like (n,)
        Priority (larger = treat first) and doubly robust score of each customer.
    weights : array-like (n,)
        ``c_r`` for the sorted positions ``r = 1..n``.

    Returns
    -------
    (estimate, se)

    Examples
    --------
    >>> import numpy as np
    >>> from coarseopt.evaluation.heterogeneity import rank_weighted
    >>> est, se = rank_weighted([3.0, 2.0, 1.0], [1.0, 0.0, -1.0], np.array([1.0, 0.0, -1.0]))
    >>> est
    2.0
    """
    priority = np.asarray(priority, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    return _rank_weighted(priority, gamma, np.asarray(weights, dtype=np.float64)[None, :])[0]


def _rank_weighted(priority: np.ndarray, gamma: np.ndarray, C: np.ndarray) -> list[tuple[float, float]]:
    """:func:`rank_weighted` for several weight vectors (rows of ``C``) on one ranking."""
    n = priority.shape[0]
    order = np.argsort(-priority, kind="stable")
    p, g = priority[order], gamma[order]
    block = np.cumsum(np.r_[True, p[1:] != p[:-1]]) - 1
    sizes = np.bincount(block)
    ends = np.cumsum(sizes) - 1  # sorted position of each tie block's last member
    h = max(1, int(math.ceil(math.sqrt(n))))
    cs = np.r_[0.0, np.cumsum(g)]
    hi = np.minimum(n, np.arange(n) + (h + 1) // 2)
    lo = np.maximum(0, hi - h)
    hi = np.minimum(n, lo + h)
    m = (cs[hi] - cs[lo]) / (hi - lo)  # local mean score around each rank
    out = []
    for c in C:
        cbar = (np.bincount(block, weights=c) / sizes)[block]
        est = float(np.dot(cbar, g))
        dc = np.r_[np.diff(cbar), 0.0]
        below = np.r_[np.cumsum((n * dc * m)[::-1])[::-1], 0.0]  # below[r]: sum over positions >= r
        psi = n * cbar * g + below[ends[block] + 1]
        d = psi - psi.mean()
        se = math.sqrt(float(np.dot(d, d)) / (n * (n - 1))) if n > 1 else float("nan")
        out.append((est, se))
    return out


def _rank_stats(priority: np.ndarray, gamma: np.ndarray, qs: Any = ()) -> tuple[tuple, tuple, list]:
    """(AUTOC, se), (Qini, se) and [(TOC(q), se) for q in qs] of one priority."""
    n = priority.shape[0]
    if _constant(priority):  # a constant priority ranks no one: every curve is exactly zero
        return (0.0, 0.0), (0.0, 0.0), [(0.0, 0.0) for _ in qs]
    C = np.vstack([_autoc_weights(n), _qini_weights(n)] + [_toc_weights(n, float(q)) for q in qs])
    res = _rank_weighted(priority, gamma, C)
    return res[0], res[1], res[2:]


# ----------------------------------------------------------------------------- BLP and GATES
def _blp(priority: np.ndarray, gamma: np.ndarray, shares: np.ndarray | None = None) -> dict:
    """Least squares of the scores on ``[mean(s), s - mean(s)]`` with HC3 standard errors;
    the measured average lift ``mean(gamma)`` with the influence of estimated arm shares
    (``shares``) in its standard error, as step 3's doubly robust values."""
    from scipy import stats

    n = priority.shape[0]
    sbar = float(priority.mean())
    dev = priority - sbar
    ate = float(gamma.mean())
    nan = float("nan")
    psi = gamma - ate + (0.0 if shares is None else shares)
    out = {"mean_predicted": sbar, "ate": ate, "ate_se": math.sqrt(float(np.dot(psi, psi)) / (n * (n - 1)))}
    if _constant(priority):
        return out | {"blp_ate": ate / sbar if sbar else nan,
                      "blp_ate_se": out["ate_se"] / abs(sbar) if sbar else nan,
                      "blp_het": nan, "blp_het_se": nan, "blp_het_p": nan}
    X = np.column_stack([np.full(n, sbar if sbar != 0 else 1.0), dev])
    XtX_inv = np.linalg.inv(X.T @ X)
    beta = XtX_inv @ (X.T @ gamma)
    resid = gamma - X @ beta
    lev = np.einsum("ij,jk,ik->i", X, XtX_inv, X)
    u = resid / np.clip(1.0 - lev, 1e-12, None)
    meat = (X * (u**2)[:, None]).T @ X
    V = XtX_inv @ meat @ XtX_inv
    se = np.sqrt(np.diag(V))
    t = beta[1] / se[1] if se[1] > 0 else nan
    p = float(stats.t.sf(t, df=n - 2)) if math.isfinite(t) else nan
    blp_ate, blp_ate_se = (float(beta[0]), float(se[0])) if sbar != 0 else (nan, nan)
    return out | {"blp_ate": blp_ate, "blp_ate_se": blp_ate_se, "blp_het": float(beta[1]),
                  "blp_het_se": float(se[1]), "blp_het_p": p}


def _groups(priority: np.ndarray, groups: int) -> np.ndarray:
    """Quantile group (0 = lowest predictions) of each customer; ties share a group."""
    from scipy.stats import rankdata

    n = priority.shape[0]
    if _constant(priority):
        return np.zeros(n, dtype=np.int64)
    r = rankdata(priority, method="average")
    return np.minimum(groups - 1, np.floor(groups * (r - 0.5) / n).astype(np.int64))


def _gates(priority: np.ndarray, gamma: np.ndarray, groups: int, z: float) -> list[dict]:
    g = _groups(priority, groups)
    rows = []
    for k in range(groups):
        sel = g == k
        cnt = int(sel.sum())
        if cnt == 0:
            continue
        est = float(gamma[sel].mean())
        se = float(gamma[sel].std(ddof=1) / math.sqrt(cnt)) if cnt > 1 else float("nan")
        rows.append({"group": k + 1, "customers": cnt, "predicted": float(priority[sel].mean()),
                     "measured": est, "measured_se": se, "ci_low": est - z * se, "ci_high": est + z * se})
    return rows


def _check_groups(groups: Any, n: int) -> int:
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or not 2 <= groups <= max(2, n // 2):
        raise EvaluationError(
            f"The 'groups' argument must be an integer in [2, n / 2] (quantile groups of the predictions, e.g. 5); "
            f"got {groups!r}."
        )
    return int(groups)


def _check_q(q: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(DEFAULT_Q if q is None else q, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all() or (arr <= 0).any() or (arr > 1).any():
        raise EvaluationError(
            f"The 'q' argument must be fractions in (0, 1] (the share of customers treated first); got {q!r}."
        )
    return np.unique(arr)


# ----------------------------------------------------------------------------- public functions
def heterogeneity(
    experiment: Any,
    predicted_profit: Any,
    *,
    economics: Any = None,
    groups: int = 5,
    alpha: float = 0.05,
    outcome_model: Any = None,
    cv: int = 5,
    seed: int | None = 0,
):
    """Is there heterogeneity worth targeting, and is the model calibrated?

    Parameters
    ----------
    experiment : coarseopt.Experiment
        The randomized experiment of the customers evaluated (held-out or out-of-fold: their
        outcomes must not have trained the model).
    predicted_profit : pandas.DataFrame or ProfitEstimate
        ``(n, m)`` predicted incremental profit over the control, one row per customer of
        ``experiment`` (same index), columns named by the arms (the control's column is
        optional; when present it is subtracted). Columns that are not arms (grid levels
        between arms) are ignored: no data can check them.
    economics : coarseopt.Economics, optional
        Turns the experiment's outcome into profit (as in :func:`coarseopt.estimate_profit`);
        ``None``: the outcome already is profit.
    groups : int, default 5
        Quantile groups of the predictions for GATES (``gates_top_bottom``).
    alpha : float, default 0.05
        For the intervals (``*_ci_low``, ``*_ci_high``).
    outcome_model : None, "linear", "mean" or a scikit-learn regressor
        The cross-fitted outcome model of the doubly robust scores (default: linear in the
        experiment's features).
    cv : int, default 5
        Folds of the outcome model.
    seed : int or None, default 0
        Fold assignment.

    Returns
    -------
    pandas.DataFrame
        One row per non-control arm with a prediction (indexed by the arm's label) and a row
        ``"best predicted arm vs control"``. Columns: ``customers``, ``mean_predicted`` (mean
        predicted lift), ``ate``, ``ate_se`` (measured average lift, doubly robust),
        ``blp_ate``, ``blp_ate_se`` (1 = the mean prediction is right), ``blp_het``,
        ``blp_het_se``, ``blp_het_p`` (calibration slope; one-sided p-value of
        ``H0: blp_het <= 0``), ``autoc``, ``autoc_se``, ``autoc_ci_low``, ``autoc_ci_high``,
        ``qini``, ``qini_se``, ``qini_ci_low``, ``qini_ci_high``, ``gates_top_bottom``,
        ``gates_top_bottom_se`` (top minus bottom quantile group). See the module docstring
        for the definitions.

    Examples
    --------
    >>> import coarseopt as co
    >>> df, truth = co.datasets.make_promotions(4000, seed=0)            # doctest: +SKIP
    >>> tab = co.evaluation.heterogeneity(test_exp, est.predict(test_exp).profit)  # doctest: +SKIP
    >>> tab[["blp_het", "blp_het_se", "blp_het_p", "autoc", "autoc_se"]]  # doctest: +SKIP
    """
    alpha = check_alpha(alpha)
    sc = _scores(experiment, predicted_profit, economics, outcome_model, cv, seed)
    groups = _check_groups(groups, sc.n)
    return _table(sc, groups, alpha)


def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2))


def _table(sc: Scores, groups: int, alpha: float):
    import pandas as pd

    z = _z(alpha)
    rows = []
    for j, label in enumerate(sc.labels):
        s, g = sc.priority[:, j], sc.gamma[:, j]
        row = {"customers": sc.n} | _blp(s, g, sc.shares[:, j])
        (autoc, autoc_se), (qini, qini_se), _ = _rank_stats(s, g)
        row.update(autoc=autoc, autoc_se=autoc_se, autoc_ci_low=autoc - z * autoc_se,
                   autoc_ci_high=autoc + z * autoc_se, qini=qini, qini_se=qini_se,
                   qini_ci_low=qini - z * qini_se, qini_ci_high=qini + z * qini_se)
        gt = _gates(s, g, groups, z)
        if len(gt) >= 2:
            row["gates_top_bottom"] = gt[-1]["measured"] - gt[0]["measured"]
            row["gates_top_bottom_se"] = math.hypot(gt[-1]["measured_se"], gt[0]["measured_se"])
        else:
            row["gates_top_bottom"] = row["gates_top_bottom_se"] = float("nan")
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index(sc.labels, name="arm", dtype=object))


def gates(
    experiment: Any,
    predicted_profit: Any,
    *,
    economics: Any = None,
    groups: int = 5,
    alpha: float = 0.05,
    outcome_model: Any = None,
    cv: int = 5,
    seed: int | None = 0,
):
    """Sorted group average treatment effects: predicted and measured lift per quantile group.

    Customers are grouped by quantile of each priority (group 1 = the lowest predicted lift,
    ``groups`` = the highest; tied predictions share a group). In each group: the mean
    predicted lift and the measured lift (mean doubly robust score) with a normal interval.
    Arguments as :func:`heterogeneity`.

    Returns
    -------
    pandas.DataFrame
        Long form: ``arm``, ``group``, ``customers``, ``predicted``, ``measured``,
        ``measured_se``, ``ci_low``, ``ci_high``.
    """
    alpha = check_alpha(alpha)
    sc = _scores(experiment, predicted_profit, economics, outcome_model, cv, seed)
    return _gates_table(sc, _check_groups(groups, sc.n), alpha)


def _gates_table(sc: Scores, groups: int, alpha: float):
    import pandas as pd

    z = _z(alpha)
    rows = [{"arm": label} | r for j, label in enumerate(sc.labels)
            for r in _gates(sc.priority[:, j], sc.gamma[:, j], groups, z)]
    return pd.DataFrame(rows)


def toc_curves(
    experiment: Any,
    predicted_profit: Any,
    *,
    q: Any = None,
    economics: Any = None,
    alpha: float = 0.05,
    outcome_model: Any = None,
    cv: int = 5,
    seed: int | None = 0,
):
    """Targeting operator characteristic curves with pointwise intervals.

    ``TOC(q)``: the measured lift of the customers with the top ``q`` share of predicted lift
    minus the measured lift of all customers (Yadlowsky et al. 2024). A flat curve at zero:
    the ranking finds no one who responds more than average.

    Parameters
    ----------
    q : array-like of fractions in (0, 1], optional
        Default 0.05, 0.10, ..., 1.
    Other arguments as :func:`heterogeneity`.

    Returns
    -------
    pandas.DataFrame
        Long form: ``arm``, ``q``, ``toc``, ``se``, ``ci_low``, ``ci_high`` (pointwise).
    """
    alpha = check_alpha(alpha)
    qs = _check_q(q)
    sc = _scores(experiment, predicted_profit, economics, outcome_model, cv, seed)
    return _toc_table(sc, qs, alpha)


def _toc_table(sc: Scores, qs: np.ndarray, alpha: float):
    import pandas as pd

    z = _z(alpha)
    rows = []
    for j, label in enumerate(sc.labels):
        _, _, tocs = _rank_stats(sc.priority[:, j], sc.gamma[:, j], qs)
        for qq, (est, se) in zip(qs, tocs):
            rows.append({"arm": label, "q": float(qq), "toc": est, "se": se, "ci_low": est - z * se,
                         "ci_high": est + z * se})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the study's summary
def heterogeneity_verdict(label: Any, row: Any, alpha: float = 0.05) -> str:
    """One sentence from the calibration test and the AUTOC of one row of :func:`heterogeneity`.

    "Heterogeneity detected" when the calibration test rejects ``blp_het <= 0`` at level
    ``alpha``; ``±`` is the half-width of the ``1 - alpha`` interval.

    Examples
    --------
    >>> row = {"blp_het": 0.12, "blp_het_se": 0.15, "blp_het_p": 0.21, "autoc": 0.01, "autoc_se": 0.01,
    ...        "mean_predicted": 0.8, "ate": 0.4, "ate_se": 0.1}
    >>> heterogeneity_verdict("Mens E-Mail", row)  # doctest: +NORMALIZE_WHITESPACE
    "No detected heterogeneity in Mens E-Mail's effect: calibration slope 0.12 ± 0.29 (one-sided p = 0.21),
    AUTOC 0.01 ± 0.02; mean predicted lift 0.8 vs measured 0.4 ± 0.2."
    """
    z = _z(alpha)
    if label == BEST:
        what = "the best predicted arm's effect"
    else:
        what = f"{label}'s effect" if isinstance(label, str) else f"arm {label:g}'s effect"
    p = row["blp_het_p"]
    measured = (f"mean predicted lift {row['mean_predicted']:.3g} vs measured {row['ate']:.3g} "
                f"± {z * row['ate_se']:.2g}.")
    if not math.isfinite(p):
        return f"No ranking to test in {what}: the predictions do not vary across customers; {measured}"
    if p < alpha:
        head = f"Heterogeneity detected in {what}"
    else:
        head = f"No detected heterogeneity in {what}"
    return (
        f"{head}: calibration slope {row['blp_het']:.2f} ± {z * row['blp_het_se']:.2f} (one-sided p = {p:.3g}), "
        f"AUTOC {row['autoc']:.3g} ± {z * row['autoc_se']:.2g}; {measured}"
    )


def study_heterogeneity(
    experiment: Any,
    predicted_profit: Any,
    *,
    economics: Any = None,
    groups: int = 5,
    q: Any = None,
    alpha: float = 0.05,
    outcome_model: Any = None,
    cv: int = 5,
    seed: int | None = 0,
) -> dict:
    """Everything the study reports about heterogeneity, as JSON-able numbers and sentences.

    Returns
    -------
    dict
        ``alpha``, ``customers``; ``verdict`` (the sentence of the best-predicted-arm row),
        ``verdicts`` (one sentence per row), ``table`` (records of :func:`heterogeneity`,
        with ``arm``), ``gates`` (records of :func:`gates`) and ``toc`` (records of
        :func:`toc_curves`). Arm labels are kept as numbers or strings.
    """
    alpha = check_alpha(alpha)
    qs = _check_q(q)
    sc = _scores(experiment, predicted_profit, economics, outcome_model, cv, seed)
    groups = _check_groups(groups, sc.n)
    tab = _table(sc, groups, alpha)
    verdicts = {jsonable(label): heterogeneity_verdict(label, tab.loc[label], alpha) for label in tab.index}

    def records(df) -> list:
        return [{k: jsonable(v) for k, v in r.items()} for r in df.to_dict(orient="records")]

    table = tab.reset_index()
    return {
        "alpha": alpha,
        "customers": sc.n,
        "verdict": verdicts[BEST],
        "verdicts": verdicts,
        "table": records(table),
        "gates": records(_gates_table(sc, groups, alpha)),
        "toc": records(_toc_table(sc, qs, alpha)),
    }
