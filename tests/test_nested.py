"""Nested cross-fitting with shared fits: the same estimates as fitting each one alone, and
nothing learned without fold f ever depends on fold f's outcomes."""

from __future__ import annotations

import numpy as np
import pytest

import coarseopt as co
from coarseopt.estimation import nested_cross_fit, stratified_folds


def _experiment(y_shift=None, n=1200, seed=3):
    df, truth = co.datasets.make_promotions(n, seed=seed)
    if y_shift is not None:
        df = df.assign(sales=df["sales"] + y_shift)
    return co.Experiment(df, outcome="sales", treatment="discount", features=truth.features), truth


def _linear():
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def test_stratified_folds_balance_every_arm():
    exp, _ = _experiment()
    folds = stratified_folds(exp.arm_index, 5, seed=0)
    for a in range(len(exp.arms)):
        counts = np.bincount(folds[exp.arm_index == a], minlength=5)
        assert counts.max() - counts.min() <= 1


def test_shared_fits_equal_separate_estimates():
    exp, truth = _experiment()
    folds = stratified_folds(exp.arm_index, 4, seed=1)
    whole, without = nested_cross_fit(exp, truth.economics, "t", folds=folds, base_estimator=_linear(), grid=5)
    alone = co.estimate_profit(exp, truth.economics, "t", base_estimator=_linear(), grid=5, folds=folds)
    np.testing.assert_allclose(whole.profit.to_numpy(), alone.profit.to_numpy(), rtol=1e-10, atol=1e-10)
    for f, est in enumerate(without):
        rows = np.flatnonzero(folds != f)
        sep = co.estimate_profit(exp.subset(rows), truth.economics, "t", base_estimator=_linear(), grid=5,
                                 folds=folds[rows])
        np.testing.assert_allclose(est.profit.to_numpy(), sep.profit.to_numpy(), rtol=1e-10, atol=1e-10)


def test_nothing_without_fold_f_depends_on_its_outcomes():
    exp, truth = _experiment()
    folds = stratified_folds(exp.arm_index, 3, seed=2)
    shift = np.where(folds == 0, 1000.0, 0.0)     # change only fold 0's outcomes, hugely
    exp2, _ = _experiment(y_shift=shift)
    _, a = nested_cross_fit(exp, truth.economics, "t", folds=folds, base_estimator=_linear())
    whole_b, b = nested_cross_fit(exp2, truth.economics, "t", folds=folds, base_estimator=_linear())
    np.testing.assert_allclose(a[0].profit.to_numpy(), b[0].profit.to_numpy())
    held = exp.subset(np.flatnonzero(folds == 0))
    np.testing.assert_allclose(a[0].predict(held).profit.to_numpy(),
                               b[0].predict(exp2.subset(np.flatnonzero(folds == 0))).profit.to_numpy())
    assert not np.allclose(a[1].profit.to_numpy(), b[1].profit.to_numpy())   # fold 0 trains fold 1's


def test_folds_must_be_complete():
    exp, truth = _experiment(n=600)
    with pytest.raises(co.estimation.LearnerError, match="F >= 3"):
        nested_cross_fit(exp, folds=np.arange(exp.n) % 2)
