"""Evaluating policies across folds: each fold's customers are evaluated with the policies
learned without them, and the folds' estimates are combined.

This is the evaluation step of the cross-fitted study (and, with one fold, of the holdout
study). In fold ``f`` (``n_f`` of the ``n`` customers) a policy's value or lift is estimated
from that fold's own experiment data, with influence values ``psi_{f,i}``. The folds'
estimates are combined by their sizes,

.. math:: \\hat\\theta = \\sum_f \\frac{n_f}{n} \\hat\\theta_f, \\qquad
          \\widehat{\\mathrm{Var}} = \\sum_f \\Big(\\frac{n_f}{n}\\Big)^2 \\widehat{\\mathrm{Var}}_f,

and two quantities (two policies' lifts, say) have covariance
``sum_f (n_f / n)^2 sum_i psi^a_{f,i} psi^b_{f,i} / (n_f (n_f - 1))``, which gives
simultaneous (max-|t|) intervals over a family of them.

**What it estimates.** With one policy per fold learned on the other folds, ``theta`` is the
mean over folds of the fold policies' true values (their lifts): the value of the policy the
learning procedure produces from ``(F - 1) / F`` of the customers, averaged over the ``F``
policies actually learned (a data-adaptive target, as in cross-validated targeted learning;
van der Laan & Luedtke 2015; Imai & Li 2023 study the same cross-fitting estimator for its
expectation over training sets). Every fold's estimate uses outcomes that its policy never
saw, so it is unbiased for its policy's value; the variance is the sum of the folds'
sampling variances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ._data import EvaluationError
from .compare import compare_policies, normal_interval
from .multiple import holm, maxt_adjust
from .value import policy_value

__all__ = ["EvaluationFold", "FoldEstimate", "stack", "variance_vector", "imai_li_variance", "combine_folds", "covariance", "simultaneous",
           "evaluate_folds", "compare_in_folds", "holm_adjusted"]


@dataclass
class EvaluationFold:
    """The customers of one fold and what each policy gives them.

    Attributes
    ----------
    y : (n_f,) realized outcome (profit) per customer
    action : (n_f,) the arm each customer received
    policies : mapping name -> (n_f,) action each policy recommends
    propensity : (n_f,) probability of the received arm, or None (each arm's share of the
        fold's customers: the one propensity rule)
    X : (n_f, p) covariates for the doubly robust and regression estimators, or None
    strata : (n_f,) labels of strata of fixed size (the folds of a stacked evaluation), or
        None: the variance is then that of stratified sampling (influence values centered
        within each stratum), since the folds' sizes are fixed by design, not drawn
    """

    y: np.ndarray
    action: np.ndarray
    policies: Mapping[str, np.ndarray]
    propensity: np.ndarray | None = None
    X: np.ndarray | None = None
    strata: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(np.asarray(self.y).shape[0])


def stack(folds: list[EvaluationFold]) -> EvaluationFold:
    """All folds as one: every customer keeps the recommendations of its own fold's policies.

    Evaluating the stacked fold is the cross-fitting estimator: the post-stratification
    cells (pairs of recommended actions) pool the folds' customers, which keeps them large
    enough for the normal approximation when an arm is rare; estimating each fold alone and
    combining (:func:`evaluate_folds` on the folds) has the same target but thin cells.
    """
    y = np.concatenate([np.asarray(f.y, dtype=np.float64) for f in folds])
    action = np.concatenate([np.asarray(f.action, dtype=object) for f in folds])
    policies = {name: np.concatenate([np.asarray(f.policies[name], dtype=object) for f in folds])
                for name in folds[0].policies}
    prop = None if any(f.propensity is None for f in folds) else np.concatenate([f.propensity for f in folds])
    X = None if any(f.X is None for f in folds) else np.concatenate([np.asarray(f.X) for f in folds])
    strata = np.concatenate([np.full(f.n, j) for j, f in enumerate(folds)])
    return EvaluationFold(y=y, action=action, policies=policies, propensity=prop, X=X, strata=strata)


def variance_vector(psi: np.ndarray, strata: np.ndarray | None, weight: float = 1.0) -> np.ndarray:
    """``g`` with ``sum(g^2)`` the variance of ``weight * mean`` of influence values ``psi``
    (``sum(g_a g_b)`` a covariance): ``psi / sqrt(n (n - 1))``, or with strata of fixed sizes
    ``n_s``, ``(psi - mean_s(psi)) sqrt(n_s / (n_s - 1)) / n``."""
    psi = np.asarray(psi, dtype=np.float64)
    n = psi.shape[0]
    if strata is None:
        return weight * psi / np.sqrt(n * (n - 1.0))
    codes, inv = np.unique(strata, return_inverse=True)
    size = np.bincount(inv).astype(np.float64)
    mean = np.bincount(inv, weights=psi) / size
    return weight * (psi - mean[inv]) * np.sqrt(size / np.maximum(size - 1.0, 1.0))[inv] / n


def imai_li_variance(psi: np.ndarray, strata: np.ndarray, x_everyone: np.ndarray) -> float:
    """Variance of a cross-fitted estimate whose fold policies differ (Imai & Li 2023, Thm. 3).

    ``theta_hat`` is the mean of the folds' estimates ``V_f`` (here the stacked estimate, whose
    fold ``f`` part is ``theta_hat + mean_{i in f} psi_i``). Its target is the expected value
    of the policy the procedure learns from ``(F - 1) / F`` of the customers, and

    ``Var = A - (F - 1) / F * min(S_F^2, A)``, ``A = W + tau^2``,

    with ``W`` the within-fold variance of one fold's estimate, ``S_F^2`` the sample variance
    of the fold estimates (which the folds' shared training data make positively correlated
    when the learned policies are unstable), and ``tau^2`` the variance of the fold policies'
    true values, estimated without bias from every fold policy applied to every customer:
    ``mean_f U(x_f) - U(mean_f x_f)`` with ``U(x) = ((sum x)^2 - sum x^2) / (n (n - 1))``
    an unbiased estimate of ``(E x)^2``. The ``min`` keeps the variance non-negative and can
    make it conservative.

    Parameters
    ----------
    psi : (n,) influence values of the stacked estimate
    strata : (n,) fold of every customer
    x_everyone : (F, n) per-customer inverse-propensity terms of each fold's policy (or
        policy difference) applied to every customer, ``1{A = policy_f(x)} y / e``
    """
    psi = np.asarray(psi, dtype=np.float64)
    labels, inv = np.unique(strata, return_inverse=True)
    F = labels.size
    size = np.bincount(inv).astype(np.float64)
    dev = np.bincount(inv, weights=psi) / size
    sf2 = float(np.var(dev, ddof=1))
    within = float(np.mean(np.bincount(inv, weights=(psi - dev[inv]) ** 2) / (size * (size - 1.0))))
    x = np.asarray(x_everyone, dtype=np.float64)
    n = x.shape[1]

    def u(v: np.ndarray) -> float:
        s = v.sum()
        return float((s * s - np.dot(v, v)) / (n * (n - 1.0)))

    tau2 = max(float(np.mean([u(row) for row in x])) - u(x.mean(axis=0)), 0.0)
    a = within + tau2
    return a - (F - 1.0) / F * min(sf2, a)


@dataclass
class FoldEstimate:
    """One quantity combined over folds: estimate, standard error and the folds' parts."""

    estimate: float
    se: float
    parts: list = field(default_factory=list)  # per fold: (weight, estimate, se, variance vector g)
    n_disagree: int = 0
    influence: np.ndarray | None = None  # one fold: its raw influence values

    def interval(self, alpha: float) -> tuple[float, float, float]:
        return normal_interval(self.estimate, self.se, alpha)


def combine_folds(parts: list[tuple[float, float, float, np.ndarray]], n_disagree: int = 0) -> FoldEstimate:
    """Combine ``(weight, estimate, se, g)`` of every fold (weights ``n_f / n``; ``g`` from
    :func:`variance_vector`, already weighted). The variance is ``sum w^2 se^2``, where ``se``
    is the fold's own (it differs from ``|g|`` only for estimators with a variance of their
    own, such as the naive one)."""
    est = float(sum(w * e for w, e, _, _ in parts))
    var = float(sum(w * w * s * s for w, _, s, _ in parts))
    return FoldEstimate(est, float(np.sqrt(max(var, 0.0))), parts, n_disagree)


def covariance(a: FoldEstimate, b: FoldEstimate) -> float:
    """Covariance of two combined quantities: the correlation of their folds' variance vectors
    times their standard errors (which may come from another variance estimator)."""
    if a is b:
        return a.se**2
    cross = sum(float(np.dot(ga, gb)) for (_, _, _, ga), (_, _, _, gb) in zip(a.parts, b.parts))
    na = np.sqrt(sum(float(np.dot(g, g)) for (_, _, _, g) in a.parts))
    nb = np.sqrt(sum(float(np.dot(g, g)) for (_, _, _, g) in b.parts))
    if na == 0 or nb == 0:
        return 0.0
    return cross / (na * nb) * a.se * b.se


def _part(fold: EvaluationFold, weight: float, result: Any) -> tuple[float, float, float, np.ndarray]:
    """``(weight, estimate, se, g)`` of one fold's result; with strata the standard error is
    the stratified one."""
    g = variance_vector(result.influence, fold.strata, weight)
    se = float(np.sqrt(np.dot(g, g))) / weight if fold.strata is not None else result.se
    return weight, float(result.estimate), se, g


def simultaneous(family: list[FoldEstimate], alpha: float, *, n_draws: int = 100_000, seed: int | None = 0):
    """Max-|t| adjusted p-values and the critical value of simultaneous intervals for a
    family of combined quantities (each tested against zero)."""
    m = len(family)
    cov = np.array([[covariance(family[i], family[j]) for j in range(m)] for i in range(m)])
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    est = np.array([q.estimate for q in family])
    t = np.where(se > 0, est / np.where(se > 0, se, 1.0), 0.0)
    return maxt_adjust(t, cov, alpha, n_draws, seed)


def evaluate_folds(
    folds: list[EvaluationFold],
    *,
    baseline: str,
    value_method: str = "snipw",
    method: str = "disagreement",
    alpha: float = 0.05,
    skip: Mapping[str, str] | None = None,
) -> tuple[dict[str, FoldEstimate], dict[str, FoldEstimate], dict[str, str]]:
    """Every policy's value and lift over ``baseline``, combined over folds.

    Parameters
    ----------
    folds : list of EvaluationFold
        Every fold holds the same policy names.
    baseline : str
        The policy every lift is measured against.
    value_method, method, alpha
        As in :func:`policy_value` and :func:`compare_policies`.
    skip : mapping name -> reason, optional
        Policies not to value (e.g. offering levels no customer was randomized to).

    Returns
    -------
    values, lifts : dict name -> FoldEstimate
    notes : dict name -> str, why a policy has no estimate
    """
    if not folds:
        raise EvaluationError("'folds' is empty: give at least one fold of customers.")
    n = sum(f.n for f in folds)
    names = list(folds[0].policies)
    notes = dict(skip or {})
    values: dict[str, FoldEstimate] = {}
    lifts: dict[str, FoldEstimate] = {}
    for name in names:
        if name in notes:
            continue
        vparts, lparts, disagree = [], [], 0
        try:
            for fold in folds:
                w = fold.n / n
                common = dict(propensity=fold.propensity, alpha=alpha, X=fold.X)
                v = policy_value(fold.y, fold.action, fold.policies[name], method=value_method, **common)
                vparts.append(_part(fold, w, v))
                if name != baseline:
                    c = compare_policies(fold.y, fold.action, fold.policies[name], fold.policies[baseline],
                                         method=method, **common)
                    lparts.append(_part(fold, w, c))
                    disagree += c.n_disagree
        except EvaluationError as exc:
            notes[name] = f"cannot be estimated on some fold: {str(exc).splitlines()[0]}"
            continue
        values[name] = combine_folds(vparts)
        if len(folds) == 1:
            values[name].influence = np.asarray(v.influence, dtype=np.float64)
        if name == baseline:
            lifts[name] = FoldEstimate(0.0, 0.0, [(f.n / n, 0.0, 0.0, np.zeros(f.n)) for f in folds], 0)
        else:
            lifts[name] = combine_folds(lparts, disagree)
            if len(folds) == 1:
                lifts[name].influence = np.asarray(c.influence, dtype=np.float64)
    return values, lifts, notes


def compare_in_folds(folds: list[EvaluationFold], pairs: list[tuple[str, str]], *, method: str = "disagreement",
                     alpha: float = 0.05) -> list[FoldEstimate]:
    """``V(a) - V(b)`` for every pair ``(a, b)`` of policy names, combined over folds."""
    n = sum(f.n for f in folds)
    out = []
    for a, b in pairs:
        parts, disagree = [], 0
        for fold in folds:
            c = compare_policies(fold.y, fold.action, fold.policies[a], fold.policies[b], method=method,
                                 propensity=fold.propensity, alpha=alpha, X=fold.X)
            parts.append(_part(fold, fold.n / n, c))
            disagree += c.n_disagree
        out.append(combine_folds(parts, disagree))
        if len(folds) == 1:
            out[-1].influence = np.asarray(c.influence, dtype=np.float64)
    return out


def holm_adjusted(family: list[FoldEstimate], alpha: float) -> np.ndarray:
    """Holm-adjusted two-sided p-values of a family of combined quantities."""
    return holm([q.interval(alpha)[2] for q in family])
