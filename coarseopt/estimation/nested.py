"""Nested cross-fitting with shared model fits, for the cross-fitted study.

The study splits customers into ``F`` folds. The policy it deploys is learned from the
estimate on *all* customers (cross-fitted over the ``F`` folds: each customer's profit is
predicted by the model fitted without that customer's fold). The policy whose value it
reports for fold ``f`` must be learned without fold ``f``: from the estimate on the other
folds, itself cross-fitted over them. Fitted naively that is ``F`` estimates of ``F - 1``
fits plus one of ``F``: ``F (F + 1)`` fits. Every model needed is fitted on "all folds but
one" or "all folds but two", so ``F + F (F - 1) / 2`` fits serve them all (15 instead of 30
for five folds), and every prediction stays out of fold:

* the all-customer estimate predicts fold ``g`` with the model fitted without ``g``;
* the estimate without fold ``f`` predicts its customers of fold ``g`` with the model fitted
  without ``f`` and ``g``, and new customers (fold ``f`` itself) by the mean of those models,
  none of which saw fold ``f``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._errors import LearnerError
from .economics import Economics
from .estimate import ProfitEstimate, estimate_profit, resolve_learner
from .experiment import Experiment

__all__ = ["nested_cross_fit", "stratified_folds"]


def stratified_folds(arm_index: np.ndarray, n_folds: int, seed: int | None = 0) -> np.ndarray:
    """Fold ``0..n_folds-1`` of every customer: a seeded split stratified by arm (each arm's
    customers spread as evenly as possible over the folds)."""
    from sklearn.model_selection import StratifiedKFold

    arm_index = np.asarray(arm_index)
    counts = np.bincount(arm_index)
    if counts[counts > 0].min() < n_folds:
        raise LearnerError(
            f"An arm has {int(counts[counts > 0].min())} customer(s), fewer than the {n_folds} folds: every fold needs "
            "customers of every arm. Lower the number of folds or merge rare arms."
        )
    folds = np.empty(arm_index.shape[0], dtype=np.intp)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for f, (_, rows) in enumerate(splitter.split(np.zeros(arm_index.shape[0]), arm_index)):
        folds[rows] = f
    return folds


def nested_cross_fit(
    experiment: Experiment,
    economics: Economics | None = None,
    learner: Any = None,
    *,
    folds: np.ndarray,
    base_estimator: Any = None,
    grid: Any = None,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    refit: bool = False,
) -> tuple:
    """The estimate on all customers and, for every fold, the estimate without it.

    Parameters
    ----------
    experiment : Experiment
    economics, learner, base_estimator, grid, random_state
        As in :func:`coarseopt.estimate_profit`.
    folds : ndarray of int, shape (n,)
        Fold ``0..F-1`` of every customer (``F >= 3``, so that every estimate without a fold
        is itself cross-fitted); see :func:`stratified_folds`.
    n_jobs : int or None
        Model fits run in parallel (joblib; each fit single-threaded).
    refit : bool, default False
        Also fit one model on every customer, in the same parallel batch, and return its
        estimate (``cv=None``: the model to deploy for new customers; its predictions of these
        customers are in sample).

    Returns
    -------
    (ProfitEstimate, sequence of ProfitEstimate)
        The all-customer estimate (cross-fitted over ``folds``) and, at position ``f``, the
        estimate on the customers outside fold ``f`` (rows in their order in the experiment),
        cross-fitted over the remaining folds; its ``predict`` never uses fold ``f``. The
        sequence assembles each estimate from the shared fits when indexed (keep it while you
        need it). With ``refit=True`` a third item: the estimate of the model fitted on every
        customer.
    """
    from joblib import Parallel, delayed

    from .learners import fit_fold, make_learner

    folds = np.asarray(folds)
    F = int(folds.max()) + 1
    if F < 3 or set(np.unique(folds).tolist()) != set(range(F)):
        raise LearnerError(f"'folds' must label every customer with 0..F-1, F >= 3; got labels {np.unique(folds)[:10]}.")
    base = make_learner(resolve_learner(learner, experiment), base_estimator,
                        control=experiment.control, random_state=random_state)
    arm_values = np.asarray(experiment.arms, dtype=np.float64 if experiment.is_numeric else object)
    treatment = arm_values[experiment.arm_index]
    X, y, prop = experiment.X, experiment.y, experiment.propensity_received
    # Excluded fold sets: {f} for the all-customer estimate, {f, g} for the nested ones, none
    # for the refit (first: the longest fit).
    excluded = [()] * refit + [(f,) for f in range(F)] + [(f, g) for f in range(F) for g in range(f + 1, F)]
    fits = Parallel(n_jobs=n_jobs)(
        delayed(fit_fold)(base, X.iloc[rows], treatment[rows], y[rows], prop[rows])
        for rows in (np.flatnonzero(~np.isin(folds, ex)) for ex in excluded)
    )
    model = dict(zip(excluded, fits))
    common = dict(economics=economics, learner=learner, base_estimator=base_estimator, grid=grid,
                  random_state=random_state)
    whole = estimate_profit(experiment, folds=folds, _fitted=[model[(f,)] for f in range(F)], **common)

    def without(f: int) -> ProfitEstimate:
        rows = np.flatnonzero(folds != f)
        inner = [model[(min(f, g), max(f, g))] for g in range(F) if g != f]
        return estimate_profit(experiment.subset(rows), folds=folds[rows], _fitted=inner, **common)

    if not refit:
        return whole, _Lazy(without, F)
    return whole, _Lazy(without, F), estimate_profit(experiment, cv=None, _fitted=[model[()]], **common)


class _Lazy(Sequence):
    """The estimates without each fold, assembled from the shared fits when asked for (one at a
    time: at millions of customers each holds several (n, m) matrices)."""

    def __init__(self, make: Any, n: int) -> None:
        self._make, self._n = make, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, f: int) -> ProfitEstimate:
        if not -self._n <= f < self._n:
            raise IndexError(f)
        return self._make(f % self._n)
