"""Comparing several policies at once: all pairs or each against a champion, with a joint
covariance and multiplicity-adjusted p-values."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._data import EvaluationError, build, check_alpha
from .compare import METHODS, check_method, interval_fields, make_context
from .estimators import PAIR_ESTIMATORS, VALUE_ESTIMATORS, hajek_mean
from .results import MultipleComparison

__all__ = ["compare_many", "holm", "bonferroni", "maxt_adjust", "ADJUSTMENTS"]

ADJUSTMENTS = ("holm", "bonferroni", "maxt", "none")


def holm(p_values: Any) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values.

    With the p-values sorted ``p_(1) <= ... <= p_(m)``, the adjusted value of the ``j``-th is
    ``max_{l <= j} min(1, (m - l + 1) p_(l))``. Rejecting where it is ``<= alpha``
    controls the family-wise error rate at ``alpha`` under any dependence.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj_sorted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj_sorted
    return out


def bonferroni(p_values: Any) -> np.ndarray:
    """Bonferroni-adjusted p-values ``min(1, m p)``."""
    p = np.asarray(p_values, dtype=np.float64)
    return np.minimum(1.0, p.size * p)


def maxt_adjust(t: np.ndarray, cov: np.ndarray, alpha: float, n_draws: int, seed: int | None) -> tuple[np.ndarray, float]:
    """Single-step max-|t| adjustment from the joint normal law of the estimates.

    ``p_adj_k = P(max_j |Z_j| >= |t_k|)`` with ``Z ~ N(0, R)``, ``R`` the correlation
    matrix; the critical value ``c`` with ``P(max |Z| <= c) = 1 - alpha`` gives
    simultaneous intervals ``estimate +- c se``. Computed from ``n_draws`` seeded draws.
    """
    sd = np.sqrt(np.diag(cov))
    ok = sd > 0
    R = np.eye(t.size)
    R[np.ix_(ok, ok)] = cov[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    vals, vecs = np.linalg.eigh(R)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_draws, t.size)) @ root.T
    M = np.sort(np.abs(Z).max(axis=1))
    exceed = 1.0 - np.searchsorted(M, np.abs(t), side="left") / n_draws
    crit = float(np.quantile(M, 1.0 - alpha))
    return np.clip(exceed, 1.0 / n_draws, 1.0), crit


def _policies_dict(policies: Any) -> dict[str, Any]:
    import pandas as pd

    if isinstance(policies, pd.DataFrame):
        return {str(c): policies[c] for c in policies.columns}
    if isinstance(policies, dict):
        return {str(k): v for k, v in policies.items()}
    raise EvaluationError(
        "The 'policies' argument must be a dict {name: recommended actions} or a DataFrame with one column per "
        f"policy; got {type(policies).__name__}."
    )


def compare_many(
    y: Any,
    action: Any,
    policies: Any,
    *,
    design: str = "rba",
    propensity: Any = None,
    assigned: Any = None,
    reference: str | None = None,
    method: str = "disagreement",
    adjust: str = "holm",
    alpha: float = 0.05,
    X: Any = None,
    outcome_model: Any = None,
    cv: int = 5,
    seed: int | None = 0,
    poststratify: bool | None = None,
    n_draws: int = 200_000,
) -> MultipleComparison:
    """Compare several targeting policies on the same customers.

    Parameters
    ----------
    y, action : array-like of shape (n,)
        As in :func:`compare_policies`.
    policies : dict or DataFrame
        ``{name: recommended actions}`` (each as accepted by :func:`compare_policies`), or a
        DataFrame with one column per policy.
    design, propensity, X, outcome_model, cv, poststratify
        As in :func:`compare_policies`. Under ``design="rbp"`` customers were randomized
        to the policies: ``assigned`` names each customer's policy and ``propensity`` is
        None (equal chances) or ``{name: probability}``.
    reference : str, optional
        A champion: compare every other policy with it (``V(other) - V(reference)``).
        Default: all pairs, ``V(first) - V(second)`` in the order given.
    method : str, default "disagreement"
        Any estimator of :data:`METHODS`.
    adjust : {"holm", "bonferroni", "maxt", "none"}, default "holm"
        Multiplicity adjustment of the p-values. ``"holm"`` (Holm 1979) controls the
        family-wise error rate under any dependence; ``"maxt"`` uses the joint covariance
        (a single-step max-|t| test, Hothorn, Bretz & Westfall 2008), is less
        conservative when the estimates are correlated, and adds simultaneous intervals.
    alpha : float, default 0.05
    seed, n_draws
        Seed of the cross-fitting folds and of the ``"maxt"`` draws; number of draws.

    Returns
    -------
    MultipleComparison
        ``table`` (one row per comparison), ``cov`` (joint covariance of the estimates),
        ``values`` (each policy's value).

    Notes
    -----
    Estimates computed from the same customers are correlated. With per-customer influence
    values ``psi_{ik}`` of comparison ``k`` the joint covariance is
    ``Psi' Psi / (n (n - 1))``. The naive method treats every policy's mean as an
    independent sample, so its covariance is ``C diag(se_j^2) C'`` for the contrast matrix
    ``C``.
    """
    import pandas as pd

    method = check_method(method, METHODS)
    adjust = check_method(adjust, ADJUSTMENTS, "adjust")
    alpha = check_alpha(alpha)
    pols = _policies_dict(policies)
    names = list(pols)
    if len(names) < 2:
        raise EvaluationError(f"The 'policies' argument must hold at least two policies; got {len(names)}.")
    if reference is None:
        pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    else:
        if str(reference) not in pols:
            raise EvaluationError(f"The 'reference' argument {reference!r} is not a policy; use one of {names!r}.")
        r = names.index(str(reference))
        pairs = [(i, r) for i in range(len(names)) if i != r]
    exp, codes = build(y, action, pols, design=design, propensity=propensity, assigned=assigned, X=X)
    ctx = make_context(exp, outcome_model=outcome_model, cv=cv, seed=seed, poststratify=poststratify)
    n = exp.n
    K = len(pairs)
    est = np.empty(K)
    # Values of every policy (Hajek, or doubly robust with method="dr").
    value_method = "dr" if method == "dr" else "snipw"
    values = [VALUE_ESTIMATORS[value_method](ctx, codes[k]) for k in names]
    if method == "naive":
        means, variances = [], []
        for j, k in enumerate(names):
            w = (exp.group == j) / exp.group_prob if exp.design == "rbp" else (exp.action == codes[k]) * ctx.w
            if not w.any():
                raise EvaluationError(f"Policy {k!r} has no customer in its sample; the naive estimate is undefined.")
            m_j, _, v_j = hajek_mean(exp.y, w)
            means.append(m_j)
            variances.append(v_j)
        C = np.zeros((K, len(names)))
        for row, (i, j) in enumerate(pairs):
            C[row, i], C[row, j] = 1.0, -1.0
        est = C @ np.asarray(means)
        cov = C @ np.diag(variances) @ C.T
    else:
        Psi = np.empty((n, K))
        for row, (i, j) in enumerate(pairs):
            e = PAIR_ESTIMATORS[method](ctx, codes[names[i]], codes[names[j]], (i, j))
            est[row] = e.estimate
            Psi[:, row] = e.psi
        cov = Psi.T @ Psi / (n * (n - 1))
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    rows = []
    for row, (i, j) in enumerate(pairs):
        rows.append(
            {"policy_a": names[i], "policy_b": names[j]}
            | interval_fields(float(est[row]), float(se[row]), alpha)
            | {"n_disagree": int((codes[names[i]] != codes[names[j]]).sum())}
        )
    table = pd.DataFrame(rows)
    p = table["p_value"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, est / np.where(se > 0, se, 1.0), 0.0)
    if adjust == "holm":
        table["p_adjusted"] = holm(p)
    elif adjust == "bonferroni":
        table["p_adjusted"] = bonferroni(p)
    elif adjust == "none":
        table["p_adjusted"] = p
    else:
        padj, crit = maxt_adjust(t, cov, alpha, int(n_draws), seed)
        table["p_adjusted"] = padj
        table["sim_ci_low"] = est - crit * se
        table["sim_ci_high"] = est + crit * se
    table["reject"] = table["p_adjusted"] <= alpha
    labels = [f"{names[i]} - {names[j]}" for i, j in pairs]
    cov_df = pd.DataFrame(cov, index=labels, columns=labels)
    values_df = pd.DataFrame(
        {
            "policy": names,
            "value": [v.estimate for v in values],
            "se": [v.se for v in values],
            "method": value_method,
        }
    )
    return MultipleComparison(
        table=table, cov=cov_df, values=values_df, method=method, design=exp.design, adjust=adjust, alpha=alpha
    )
