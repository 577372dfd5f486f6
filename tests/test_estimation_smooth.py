"""The smooth S-learner (``learner="smooth"``, ``SLearner(level_model="logit")``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.utils import estimator_checks as checks

import coarseopt as co
from coarseopt.estimation import LearnerError, SLearner, TLearner, make_learner

FAST = HistGradientBoostingRegressor(max_iter=30, max_leaf_nodes=7, min_samples_leaf=40, random_state=0)
LEVELS = np.array([0.0, 0.1, 0.2, 0.3, 0.4])


def _logit_data(n=4000, seed=0):
    """A purchase that is logistic in the level, intercept and slope linear in x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    d = LEVELS[rng.integers(0, LEVELS.size, n)]
    a = -1.5 + 0.8 * x[:, 0]
    b = 6.0 + 3.0 * x[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-(a + b * d)))).astype(float)
    return x, d, y, a, b


def test_name_and_default_for_numeric_levels():
    learner = make_learner("smooth")
    assert isinstance(learner, SLearner) and learner.level_model == "logit"
    assert make_learner("s").level_model == "free"
    df, truth = co.datasets.make_promotions(1500, seed=3)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, base_estimator=FAST, cv=2)
    assert est.learner.estimators_[0].level_model == "logit"
    lab = pd.DataFrame({"x1": np.arange(300.0) % 7, "arm": np.repeat(["a", "b", "ctrl"], 100),
                        "y": np.arange(300.0) % 5})
    exp_lab = co.Experiment(lab, outcome="y", treatment="arm", features=["x1"], control="ctrl")
    est = co.estimate_profit(exp_lab, base_estimator=LinearRegression(), cv=2)
    assert isinstance(est.learner.estimators_[0], TLearner)
    with pytest.raises(LearnerError, match="numeric arms"):
        co.estimate_profit(exp_lab, learner="smooth", cv=2)


def test_recovers_a_logistic_response_to_the_level():
    x, d, y, a, b = _logit_data()
    model = SLearner(FAST, level_model="logit").fit(x, d, y)
    mu = model.predict_outcome(x)
    truth = 1 / (1 + np.exp(-(a[:, None] + b[:, None] * LEVELS[None, :])))
    assert np.abs(mu - truth).mean() < 0.04
    # each customer's curve is a logistic function of the level: monotone, no steps from noise
    assert model.event_model_ is not None
    steps = np.diff(mu, axis=1)
    assert ((steps >= -1e-12).all(axis=1) | (steps <= 1e-12).all(axis=1)).all()
    # the free S-learner with the same base model is further from the truth
    free = SLearner(FAST).fit(x, d, y).predict_outcome(x)
    assert np.abs(mu - truth).mean() < np.abs(free - truth).mean()


def test_profit_closer_to_truth_than_free_s_learner():
    df, truth = co.datasets.make_promotions(4000, seed=4)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    err = {}
    for name in ("s", "smooth"):
        est = co.estimate_profit(exp, truth.economics, learner=name, base_estimator=FAST, grid=9, cv=2)
        true = truth.profit_at(est.treatments)
        err[name] = float(np.abs(est.profit.to_numpy() - true).mean())
    assert err["smooth"] < err["s"]


def test_outcome_never_zero_is_the_free_model():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 2))
    d = LEVELS[rng.integers(0, LEVELS.size, 600)]
    y = 5.0 + x[:, 0] + 3.0 * d + rng.normal(scale=0.1, size=600)
    smooth = SLearner(LinearRegression(), level_model="logit").fit(x, d, y)
    free = SLearner(LinearRegression()).fit(x, d, y)
    assert smooth.event_model_ is None
    np.testing.assert_allclose(smooth.predict_outcome(x), free.predict_outcome(x))


def test_all_zero_outcome_predicts_zero():
    x, d, *_ = _logit_data(n=300, seed=5)
    model = SLearner(FAST, level_model="logit").fit(x, d, np.zeros(300))
    assert model.event_model_ is None
    np.testing.assert_array_equal(model.predict_outcome(x), 0.0)


def test_binary_outcome_with_a_classifier_base_model():
    x, d, y, a, b = _logit_data(n=2000, seed=2)
    mu = SLearner(LogisticRegression(), level_model="logit").fit(x, d, y).predict_outcome(x)
    assert ((mu > 0) & (mu < 1)).all()


def test_deterministic_and_cloneable():
    x, d, y, *_ = _logit_data(n=1500, seed=3)
    learner = SLearner(FAST, level_model="logit", n_knots=4, C=0.5)
    p1 = clone(learner).fit(x, d, y).predict_outcome(x)
    p2 = clone(learner).fit(x, d, y).predict_outcome(x)
    np.testing.assert_array_equal(p1, p2)
    assert clone(learner).get_params()["level_model"] == "logit"


@pytest.mark.parametrize("check", [checks.check_estimator_cloneable, checks.check_get_params_invariance,
                                   checks.check_set_params, checks.check_no_attributes_set_in_init])
def test_sklearn_api_checks(check):
    check("SLearner", SLearner(level_model="logit"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"level_model": "spline"}, "'level_model' parameter"),
        ({"level_model": "logit", "level_monotonic": 1}, "level_monotonic applies"),
        ({"level_model": "logit", "n_knots": 1}, "'n_knots' parameter"),
        ({"level_model": "logit", "C": 0.0}, "'C' parameter"),
        ({"level_model": "logit", "treatment_encoding": "onehot"}, "numeric arms"),
    ],
)
def test_parameter_errors(kwargs, match):
    x, d, y, *_ = _logit_data(n=300, seed=4)
    with pytest.raises(LearnerError, match=match):
        SLearner(FAST, **kwargs).fit(x, d, y)
