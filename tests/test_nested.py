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


def test_refit_in_the_same_batch_equals_a_fit_on_every_customer():
    exp, truth = _experiment()
    folds = stratified_folds(exp.arm_index, 3, seed=1)
    _, _, refitted = nested_cross_fit(exp, truth.economics, "t", folds=folds, base_estimator=_linear(), grid=5,
                                      refit=True)
    alone = co.estimate_profit(exp, truth.economics, "t", base_estimator=_linear(), grid=5, cv=None)
    assert not refitted.out_of_fold
    np.testing.assert_allclose(refitted.profit.to_numpy(), alone.profit.to_numpy(), rtol=1e-10, atol=1e-10)
    new = exp.subset(np.arange(50))
    np.testing.assert_allclose(refitted.predict(new).profit.to_numpy(), alone.predict(new).profit.to_numpy(),
                               rtol=1e-10, atol=1e-10)


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


def test_fold_predictor_keeps_no_customer_data():
    """The study keeps each fold's estimate only to predict new customers: nothing of it may
    hold on to the fold's (n, m) matrices (an empty view would keep them all alive)."""
    from coarseopt.study.run import _predictor

    exp, truth = _experiment()
    est = co.estimate_profit(exp, truth.economics, "t", base_estimator=_linear(), grid=5)
    slim = _predictor(est)
    big = [est.profit, est.outcome, est.features, est.arm_outcome, exp.X, exp.data, exp.y,
           est.learner.oof_outcome_]
    small = [slim.profit, slim.outcome, slim.features, slim.arm_outcome, slim.encoder.X, slim.encoder.data,
             slim.encoder.y, slim.learner.oof_outcome_]
    for a, b in zip(big, small):
        assert len(b) == 0
        for x in (b.to_numpy() if hasattr(b, "to_numpy") else b,):
            assert not np.shares_memory(x, a.to_numpy() if hasattr(a, "to_numpy") else a)
            assert x.base is None or np.asarray(x.base).size == 0
    new = exp.subset(np.arange(40))
    np.testing.assert_allclose(slim.predict(new).profit.to_numpy(), est.predict(new).profit.to_numpy())
