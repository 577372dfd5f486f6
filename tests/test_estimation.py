"""Tests of step 1: experiments, economics, CATE learners, cross-fitting and profit estimates."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.utils import estimator_checks as checks

import coarseopt as co
from coarseopt.estimation import (
    CrossFitLearner,
    DRLearner,
    EconomicsError,
    ExperimentError,
    LearnerError,
    SLearner,
    TLearner,
    XLearner,
    train_test_split_experiment,
)

FAST = HistGradientBoostingRegressor(max_iter=40, max_leaf_nodes=8, min_samples_leaf=40, random_state=0)
LEARNER_CLASSES = [SLearner, TLearner, XLearner, DRLearner, CrossFitLearner]


# ---------------------------------------------------------------------- fixtures
def _labelled(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(size=n)
    arm = rng.choice(["ctrl", "a", "b"], size=n)
    effect = np.where(arm == "a", 1.0 + x1, np.where(arm == "b", 2.0 * x2, 0.0))
    y = 3.0 + x1 + effect + rng.normal(scale=0.1, size=n)
    city = rng.choice(["north", "south"], size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "city": city, "arm": arm, "y": y}, index=np.arange(n) + 1000)


@pytest.fixture(scope="module")
def promotions():
    df, truth = co.datasets.make_promotions(8000, seed=11)
    return df, truth


# ---------------------------------------------------------------------- Experiment
def test_experiment_basic_attributes():
    df = _labelled()
    exp = co.Experiment(df, outcome="y", treatment="arm", features=["x1", "x2", "city"], control="ctrl")
    assert exp.arms == ("a", "b", "ctrl") and exp.control_index == 2 and not exp.is_numeric
    assert exp.feature_names == ["x1", "x2", "city=north", "city=south"]
    assert list(exp.X.index) == list(df.index)
    np.testing.assert_allclose(exp.X["city=north"] + exp.X["city=south"], 1.0)
    shares = exp.arm_counts / exp.n
    np.testing.assert_allclose(exp.propensity_received, shares.to_numpy()[exp.arm_index])
    # New data is encoded with the experiment's categories; an unseen one gives zeros.
    new = df.head(3).assign(city=["north", "east", "south"])
    enc = exp.encode(new)
    np.testing.assert_array_equal(enc[["city=north", "city=south"]].to_numpy(), [[1, 0], [0, 0], [0, 1]])


def test_experiment_numeric_levels_default_control():
    df, truth = co.datasets.make_promotions(400, seed=0)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    assert exp.is_numeric and exp.control == 0.0
    np.testing.assert_allclose(exp.levels, truth.arms)
    exp2 = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features, control=0.1)
    assert exp2.control == pytest.approx(0.1)


@pytest.mark.parametrize(
    "change, kwargs, match",
    [
        (lambda d: d, {"outcome": "nope"}, "'outcome' column 'nope' is not in 'data'"),
        (lambda d: d.assign(y=d["y"].where(d.index != 1003)), {}, "missing or infinite"),
        (lambda d: d.assign(y=1.0), {}, "constant"),
        (lambda d: d.assign(x2=0.5), {}, r"constant in 'data'.*drop them"),
        (lambda d: d.assign(x1=d["x1"].where(d.index != 1001)), {}, "Impute"),
        (lambda d: d, {"control": None}, "'control' is required"),
        (lambda d: d, {"control": "zzz"}, "not an arm"),
        (lambda d: d, {"arms": ["a", "b", "c", "ctrl"]}, r"\['c'\].*no customers"),
        (lambda d: d, {"categorical": "error"}, "Feature 'city' is not numeric"),
        (lambda d: d.assign(arm="a"), {"control": "a"}, "single arm"),
        (lambda d: d.assign(arm=d["arm"].where(d.index != 1002)), {}, "treatment column 'arm' has 1 missing"),
        (lambda d: d.assign(p=0.0), {"propensity": "p"}, "probabilities in \\(0, 1\\]"),
        (lambda d: d, {"features": "x1"}, "list of column names"),
        (lambda d: d, {"features": ["x1", "y"]}, "must not contain the outcome"),
    ],
)
def test_experiment_errors_name_the_problem(change, kwargs, match):
    args = {"outcome": "y", "treatment": "arm", "features": ["x1", "x2", "city"], "control": "ctrl"}
    args.update(kwargs)
    with pytest.raises(ExperimentError, match=match):
        co.Experiment(change(_labelled()), **args)


def test_experiment_error_is_a_value_error():
    with pytest.raises(ValueError):
        co.Experiment(np.zeros((3, 3)), outcome="y", treatment="a", features=["x"])


# ---------------------------------------------------------------------- Economics
def test_economics_profit_formula():
    econ = co.Economics(margin=0.3, cost={"a": 0.1}, proportional_cost={"b": 0.05})
    a, c = econ.unit_value(["a", "b", "ctrl"], numeric=False)
    np.testing.assert_allclose(a, [0.3, 0.25, 0.3])
    np.testing.assert_allclose(c, [0.1, 0.0, 0.0])
    np.testing.assert_allclose(econ.profit([10.0, 20.0], "a"), [2.9, 5.9])


def test_economics_numeric_levels_interpolate_and_level_cost():
    econ = co.Economics(margin=0.5, cost={0.0: 0.0, 0.2: 1.0}, proportional_cost="level")
    a, c = econ.unit_value([0.0, 0.1, 0.2], numeric=True)
    np.testing.assert_allclose(a, [0.5, 0.4, 0.3])
    np.testing.assert_allclose(c, [0.0, 0.5, 1.0])
    f = co.Economics(margin=lambda t: 1.0 - t)
    np.testing.assert_allclose(f.unit_value([0.25], numeric=True)[0], [0.75])


@pytest.mark.parametrize(
    "kwargs, treatments, numeric, match",
    [
        ({"margin": "high"}, ["a"], False, "'margin' parameter"),
        ({"cost": {"zzz": 1.0}}, ["a", "ctrl"], False, "arm\\(s\\) \\['zzz'\\]"),
        ({"proportional_cost": "level"}, ["a", "ctrl"], False, "numeric treatment levels"),
        ({"margin": {0.0: 1.0}}, [0.0, 0.2], True, r"not for level\(s\) \[0.2\]"),
        ({"proportional_cost": "depth"}, [0.0], True, "'proportional_cost' parameter"),
    ],
)
def test_economics_errors(kwargs, treatments, numeric, match):
    with pytest.raises(EconomicsError, match=match):
        co.Economics(**kwargs).unit_value(treatments, numeric=numeric)


# ---------------------------------------------------------------------- learners: conventions
API_CHECKS = [
    checks.check_estimator_cloneable,
    checks.check_estimator_repr,
    checks.check_no_attributes_set_in_init,
    checks.check_parameters_default_constructible,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_do_not_raise_errors_in_init_or_set_params,
]


@pytest.mark.parametrize("cls", LEARNER_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_learners_pass_sklearn_api_checks(cls, check):
    check(cls.__name__, cls())


def _xty(n=400, seed=0, labels=("c", "t1", "t2")):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    arm = np.asarray(labels)[rng.integers(0, len(labels), n)]
    tau = {"c": 0.0, "t1": 1.0, "t2": -1.0}
    y = X[:, 0] + np.array([tau.get(a, 0.0) for a in arm]) * (1 + X[:, 1])
    return X, arm, y


@pytest.mark.parametrize("cls", [SLearner, TLearner, XLearner, DRLearner], ids=lambda c: c.__name__)
def test_learner_fit_predict_clone_pickle(cls):
    X, arm, y = _xty()
    learner = cls(LinearRegression(), control="c")
    with pytest.raises(NotFittedError):
        learner.predict_outcome(X)
    fitted = learner.fit(X, arm, y)
    assert fitted is learner
    assert list(learner.arms_) == ["c", "t1", "t2"] and learner.control_index_ == 0
    assert learner.n_features_in_ == 3
    mu = learner.predict_outcome(X)
    tau = learner.effect(X)
    assert mu.shape == tau.shape == (400, 3)
    np.testing.assert_allclose(tau[:, 0], 0.0)
    np.testing.assert_allclose(learner.predict(X), tau)
    again = pickle.loads(pickle.dumps(learner))
    np.testing.assert_allclose(again.predict_outcome(X), mu)
    fresh = clone(learner)
    assert not hasattr(fresh, "arms_") and fresh.get_params()["control"] == "c"
    with pytest.raises(ValueError, match="features"):
        learner.predict_outcome(X[:, :2])


@pytest.mark.parametrize("cls", [TLearner, XLearner, DRLearner], ids=lambda c: c.__name__)
def test_learners_recover_noise_free_linear_effects(cls):
    # y is linear in x within each arm; a linear base model recovers the effects exactly.
    X, arm, y = _xty(n=600, seed=1)
    tau = cls(LinearRegression(), control="c").fit(X, arm, y).effect(X)
    np.testing.assert_allclose(tau[:, 1], 1 + X[:, 1], atol=1e-8)
    np.testing.assert_allclose(tau[:, 2], -(1 + X[:, 1]), atol=1e-8)


def test_learner_with_classifier_base_model_predicts_probabilities():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 2))
    arm = rng.integers(0, 2, 800)
    y = (rng.random(800) < 1 / (1 + np.exp(-(X[:, 0] + arm)))).astype(int)
    for cls in (TLearner, SLearner, XLearner, DRLearner):
        kwargs = {"final_estimator": LinearRegression()} if cls in (XLearner, DRLearner) else {}
        mu = cls(LogisticRegression(), **kwargs).fit(X, arm, y).predict_outcome(X)
        assert mu.shape == (800, 2)
        if cls in (TLearner, SLearner):
            assert ((mu >= 0) & (mu <= 1)).all()
        assert mu[:, 1].mean() > mu[:, 0].mean()


def test_learner_errors_name_the_argument():
    X, arm, y = _xty()
    with pytest.raises(LearnerError, match="classifier but the outcome is continuous"):
        TLearner(LogisticRegression()).fit(X, arm, y)
    with pytest.raises(LearnerError, match="'control' parameter"):
        TLearner(LinearRegression(), control="zzz").fit(X, arm, y)
    with pytest.raises(LearnerError, match="'treatment' must be 1-D"):
        TLearner(LinearRegression()).fit(X, arm[:10], y)
    with pytest.raises(LearnerError, match="'final_estimator' parameter must be a regressor"):
        XLearner(final_estimator=LogisticRegression()).fit(X, arm, y)
    with pytest.raises(LearnerError, match="'cv' parameter of DRLearner"):
        DRLearner(LinearRegression(), cv=1).fit(X, arm, y)
    with pytest.raises(LearnerError, match="'treatment_encoding' parameter"):
        SLearner(LinearRegression(), treatment_encoding="bad").fit(X, arm, y)
    with pytest.raises(LearnerError, match="'cv' parameter must be an int"):
        CrossFitLearner(TLearner(LinearRegression()), cv=1).fit(X, arm, y)


def test_cross_fitting_predictions_are_out_of_fold():
    # A 1-nearest-neighbour model reproduces every training outcome in sample; out of fold
    # it cannot, because a customer's fold model never saw that customer.
    X, arm, y = _xty(n=300, seed=2)
    y = y + np.random.default_rng(0).normal(size=300)
    learner = TLearner(KNeighborsRegressor(n_neighbors=1))
    rows = np.arange(300)
    own = lambda mu: mu[rows, np.unique(arm, return_inverse=True)[1]]  # noqa: E731
    insample = CrossFitLearner(learner, cv=None).fit(X, arm, y)
    np.testing.assert_allclose(own(insample.oof_outcome_), y)
    cf = CrossFitLearner(learner, cv=5, random_state=0).fit(X, arm, y)
    assert len(cf.estimators_) == 5 and set(cf.folds_) == set(range(5))
    assert np.mean(np.isclose(own(cf.oof_outcome_), y)) < 0.05
    # Each prediction is the fold model's.
    for f in range(5):
        rows_f = np.flatnonzero(cf.folds_ == f)
        np.testing.assert_allclose(cf.oof_outcome_[rows_f], cf.estimators_[f].predict_outcome(X[rows_f]))
    # New customers get the average of the fold models.
    mean = np.mean([e.predict_outcome(X[:7]) for e in cf.estimators_], axis=0)
    np.testing.assert_allclose(cf.predict_outcome(X[:7]), mean)


# ---------------------------------------------------------------------- estimate_profit
def test_estimate_profit_labelled_arms_end_to_end():
    df = _labelled(n=900)
    exp = co.Experiment(df, outcome="y", treatment="arm", features=["x1", "x2", "city"], control="ctrl")
    econ = co.Economics(margin=0.5, cost={"a": 0.2, "b": 0.1})
    est = co.estimate_profit(exp, econ, learner="t", base_estimator=LinearRegression(), cv=3)
    assert list(est.profit.columns) == ["a", "b", "ctrl"]
    assert list(est.profit.index) == list(df.index)
    np.testing.assert_allclose(est.profit["ctrl"], 0.0)
    # profit = 0.5 * (outcome - outcome of control) - cost
    expected_a = 0.5 * (est.outcome["a"] - est.outcome["ctrl"]) - 0.2
    np.testing.assert_allclose(est.profit["a"], expected_a)
    assert est.treatments is None and est.arms == ("a", "b", "ctrl") and est.out_of_fold
    problem = est.to_problem(k=2)
    assert isinstance(problem, co.CoarseProblem)
    assert (problem.n, problem.m, problem.k) == (900, 3, 2)
    assert list(problem.arms) == [0, 1, 2] and problem.features.shape == (900, 4)
    result = co.solve(problem, "enumerate")
    assign = est.assign(result)
    assert set(assign.unique()) <= {est.profit.columns[j] for j in result.offered}
    np.testing.assert_allclose(est.value(assign) * 900, result.objective)
    np.testing.assert_array_equal(co.estimation.policy_for(["a", "ctrl"], est), est.assign(["ctrl", "a"]))


def test_estimate_profit_grid_between_numeric_arms(promotions):
    df, truth = promotions
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, learner="s", base_estimator=FAST, grid=[0.05, 0.25, 0.3])
    np.testing.assert_allclose(est.treatments, [0.0, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4])
    np.testing.assert_array_equal(est.arm_columns, [0, 2, 3, 5, 6])
    # Outcomes are linear between neighbouring arms; profit applies (0.5 - d) to them.
    out = est.outcome.to_numpy()
    np.testing.assert_allclose(out[:, 1], 0.5 * (out[:, 0] + out[:, 2]))
    np.testing.assert_allclose(out[:, 4], 0.5 * (out[:, 3] + out[:, 5]))
    prof = (0.5 - est.treatments)[None, :] * out - 0.5 * out[:, [0]]
    np.testing.assert_allclose(est.profit.to_numpy(), prof)
    problem = est.to_problem(3, max_share=0.9)
    np.testing.assert_allclose(problem.treatments, est.treatments)
    np.testing.assert_array_equal(problem.arms, est.arm_columns)
    assert problem.max_share is not None
    with pytest.raises(ExperimentError, match="outside the arms' range"):
        co.estimate_profit(exp, truth.economics, base_estimator=FAST, grid=[0.5])
    est9 = co.estimate_profit(exp, truth.economics, learner="s", base_estimator=FAST, grid=9, cv=None)
    np.testing.assert_allclose(est9.treatments, np.linspace(0, 0.4, 9))
    assert not est9.out_of_fold


def test_estimate_profit_argument_errors():
    df = _labelled(n=300)
    exp = co.Experiment(df, outcome="y", treatment="arm", features=["x1", "x2"], control="ctrl")
    with pytest.raises(ExperimentError, match="'grid' needs numeric"):
        co.estimate_profit(exp, grid=5)
    with pytest.raises(LearnerError, match="'learner' parameter must be one of"):
        co.estimate_profit(exp, learner="z")
    with pytest.raises(ExperimentError, match="must be a coarseopt Experiment"):
        co.estimate_profit(df)
    with pytest.raises(EconomicsError, match="'economics' must be"):
        co.estimate_profit(exp, economics={"margin": 1})


@pytest.mark.parametrize("learner", ["t", "s", "x", "dr"])
def test_arm_effects_agree_with_truth_within_standard_errors(promotions, learner):
    # AIPW of each arm's mean incremental profit is unbiased with known propensities:
    # it must lie within 4 standard errors of the sample's true mean effect.
    df, truth = promotions
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, learner=learner, base_estimator=FAST, cv=3)
    tab = est.arm_effects
    true_mean = truth.profit.to_numpy()[:, truth.arm_columns].mean(axis=0)
    treated = tab.index != 0.0
    z = (tab["aipw"].to_numpy() - true_mean)[treated] / tab["aipw_se"].to_numpy()[treated]
    assert (np.abs(z) < 4).all(), z
    assert (tab["customers"].sum(), tab.loc[0.0, "aipw"]) == (len(df), 0.0)


def test_policy_learned_on_train_beats_best_single_treatment_on_heldout_truth(promotions):
    df, truth = promotions
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    train, test = train_test_split_experiment(exp, test_size=0.5, random_state=0)
    est = co.estimate_profit(train, truth.economics, learner="s", base_estimator=FAST, grid=9)
    result = co.solve(est.to_problem(k=3), "enumerate")
    held = est.predict(test)
    assert not held.out_of_fold and held.profit.shape == (test.n, 9)
    assign = held.assign(result)
    rows = df.index.get_indexer(test.data.index)
    true_p = truth.profit_at(held.treatments, rows)
    learned = true_p[np.arange(test.n), held.profit.columns.get_indexer(assign)].mean()
    best_single = true_p.mean(axis=0).max()
    full = true_p.max(axis=1).mean()
    assert best_single < learned <= full


def test_policy_value_is_unbiased_for_a_policy_fixed_in_advance(promotions):
    df, truth = promotions
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    train, test = train_test_split_experiment(exp, test_size=0.5, random_state=1)
    est = co.estimate_profit(train, truth.economics, learner="t", base_estimator=FAST, cv=3)
    result = co.solve(est.to_problem(k=2), "enumerate")
    held = est.predict(test)
    assign = held.assign(result)
    value = held.policy_value(assign)
    rows = df.index.get_indexer(test.data.index)
    p = truth.profit.to_numpy()[rows]
    truth_value = p[np.arange(test.n), truth.profit.columns.get_indexer(assign)].mean()
    assert value.n == test.n and value.se > 0
    assert abs(value.estimate - truth_value) < 4 * value.se
    lo, hi = value.ci
    assert lo < value.estimate < hi
    with pytest.raises(ExperimentError, match="needs the customers' outcomes"):
        est.predict(df.iloc[:5]).policy_value(pd.Series([0.0] * 5))


def test_policy_value_refuses_levels_between_arms(promotions):
    df, truth = promotions
    exp = co.Experiment(df.iloc[:2000], outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, learner="s", base_estimator=FAST, grid=9, cv=2)
    with pytest.raises(ExperimentError, match="can only value arms"):
        est.policy_value(pd.Series(0.05, index=est.profit.index))
    with pytest.raises(ExperimentError, match="not a treatment of this estimate"):
        est.assign([0.07])


def test_train_test_split_experiment_is_stratified():
    exp = co.Experiment(_labelled(n=900), outcome="y", treatment="arm", features=["x1"], control="ctrl")
    train, test = train_test_split_experiment(exp, test_size=0.25, random_state=0)
    assert (train.n, test.n) == (675, 225)
    assert set(train.data.index).isdisjoint(test.data.index)
    np.testing.assert_allclose(test.arm_counts / test.n, exp.arm_counts / exp.n, atol=0.01)
    assert train.feature_names == exp.feature_names and test.control == "ctrl"
    with pytest.raises(ExperimentError, match="'test_size' parameter"):
        train_test_split_experiment(exp, test_size=1.5)


def test_hillstrom_pipeline_small_sample():
    df = co.datasets.load_hillstrom().sample(6000, random_state=0)
    features = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]
    exp = co.Experiment(df, outcome="spend", treatment="segment", features=features, control="No E-Mail")
    econ = co.Economics(margin=0.3, cost={"Mens E-Mail": 0.10, "Womens E-Mail": 0.10})
    est = co.estimate_profit(exp, econ, learner="t", base_estimator=FAST, cv=3)
    assert list(est.profit.columns) == ["Mens E-Mail", "No E-Mail", "Womens E-Mail"]
    result = co.solve(est.to_problem(k=1), "enumerate")
    assert result.offered.size == 1
    conv = co.Experiment(df, outcome="conversion", treatment="segment", features=features, control="No E-Mail")
    est_c = co.estimate_profit(conv, co.Economics(margin=30.0, cost=0.1), learner="t",
                               base_estimator=LogisticRegression(max_iter=500), cv=3)
    mu = est_c.outcome.to_numpy()
    assert ((mu >= 0) & (mu <= 1)).all()


def test_slearner_level_monotonic_constraint(promotions):
    df, truth = promotions
    X, t, y = df[truth.features].iloc[:3000], df["discount"].iloc[:3000], df["sales"].iloc[:3000]
    mu = SLearner(FAST, level_monotonic=1).fit(X, t, y).predict_outcome(X)
    assert (np.diff(mu, axis=1) >= -1e-9).all()
    with pytest.raises(LearnerError, match="'monotonic_cst' parameter"):
        SLearner(LinearRegression(), level_monotonic=1).fit(X, t, y)
    Xl, arm, yl = _xty()
    with pytest.raises(LearnerError, match="needs numeric arms"):
        SLearner(FAST, level_monotonic=1).fit(Xl, arm, yl)
    with pytest.raises(LearnerError, match="'level_monotonic' parameter"):
        SLearner(FAST, level_monotonic=2).fit(X, t, y)


def test_fold_spread_measures_disagreement_between_fold_models():
    df = _labelled(n=600)
    exp = co.Experiment(df, outcome="y", treatment="arm", features=["x1", "x2"], control="ctrl")
    est = co.estimate_profit(exp, learner="t", base_estimator=LinearRegression(), cv=3)
    spread = est.fold_spread()
    assert spread.shape == est.profit.shape and list(spread.index) == list(df.index)
    np.testing.assert_allclose(spread["ctrl"], 0.0)
    # Noise sd 0.1 and ~130 customers per arm and fold: linear fits agree closely, but not exactly.
    assert (spread[["a", "b"]].to_numpy() > 0).all() and spread[["a", "b"]].to_numpy().max() < 0.1
    manual = np.std([m.effect(est.features) for m in est.learner.estimators_], axis=0, ddof=1)
    np.testing.assert_allclose(spread.to_numpy(), manual, atol=1e-12)
    insample = co.estimate_profit(exp, learner="t", base_estimator=LinearRegression(), cv=None)
    with pytest.raises(ExperimentError, match="cv >= 2"):
        insample.fold_spread()


def test_estimation_benchmark_smoke(tmp_path):
    # The benchmark runner on a tiny instance: its rows and report keep working.
    from benchmarks.estimation import promotions, report

    rows = promotions(seed=0, n_train=1200, n_test=800, k=3, learners=("s",))
    methods = {r["method"] for r in rows}
    assert {"truth", "s", "s-arms-only", "s-in-sample", "true-arms-linear-interpolation"} <= methods
    for r in rows:
        if "recovery" in r:
            assert 0 < r["recovery"] <= 1 + 1e-9  # nothing beats the true-optimal coarse policy
    meta = {"command": "test", "commit": None, "machine": {}}
    text = report(meta, rows)
    assert "| s |" in text and "Reference points" in text


def test_default_learner_is_s_for_levels_and_t_for_labels(promotions):
    df, truth = promotions
    exp = co.Experiment(df.iloc[:1500], outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, base_estimator=FAST, cv=2)
    assert isinstance(est.learner.estimators_[0], SLearner)
    lab = co.Experiment(_labelled(n=300), outcome="y", treatment="arm", features=["x1"], control="ctrl")
    est = co.estimate_profit(lab, base_estimator=LinearRegression(), cv=2)
    assert isinstance(est.learner.estimators_[0], TLearner)
    assert isinstance(co.estimate_profit(lab, learner="AUTO", cv=2).learner.estimators_[0], TLearner)


@pytest.mark.parametrize("learner", ["t", "dr"])
def test_known_unequal_propensities_are_used(learner):
    # Customers with x > 0 get the treatment with probability 0.8, others 0.2; the outcome
    # rises with x, so ignoring the design would bias the arm comparison upward. The AIPW
    # estimate with the propensity column must cover the true effect (1.0) within 4 SE.
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.normal(size=n)
    p_treat = np.where(x > 0, 0.8, 0.2)
    treated = rng.random(n) < p_treat
    y = 2.0 * x + 1.0 * treated + rng.normal(size=n)
    df = pd.DataFrame({"x": x, "arm": np.where(treated, "mail", "none"), "y": y,
                       "p": np.where(treated, p_treat, 1 - p_treat)})
    exp = co.Experiment(df, outcome="y", treatment="arm", features=["x"], control="none", propensity="p")
    est = co.estimate_profit(exp, learner=learner, base_estimator=LinearRegression(), cv=3)
    row = est.arm_effects.loc["mail"]
    assert abs(row["aipw"] - 1.0) < 4 * row["aipw_se"]
    naive = y[treated].mean() - y[~treated].mean()
    assert naive - 1.0 > 8 * row["aipw_se"]  # the design matters here
    assert abs(est.profit["mail"].mean() - 1.0) < 4 * row["aipw_se"]
