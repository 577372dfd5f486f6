"""The baseline solvers: grid-search, kmeans-features, kmeans-preferences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import coarseopt as co
from coarseopt.exceptions import OptionError, UnsupportedProblemError
from coarseopt_solvers.baselines import predict_segments

BASELINES = ["grid-search", "kmeans-features", "kmeans-preferences"]


def _brute(profit, columns, k):
    best = -np.inf
    for s in itertools.combinations(columns, min(k, len(columns))):
        best = max(best, profit[:, list(s)].max(axis=1).sum())
    return best


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    n, m = 300, 12
    features = rng.normal(size=(n, 3))
    peak = np.clip(0.5 + 0.3 * features[:, 0] + 0.05 * rng.normal(size=n), 0, 1)
    t = np.linspace(0, 1, m)
    profit = 1.0 - (t[None, :] - peak[:, None]) ** 2 * 4 + 0.1 * rng.normal(size=(n, m))
    return profit, features


def test_registered_and_available():
    names = co.available_solvers()
    for name in BASELINES:
        assert name in names


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_grid_search_is_best_subset_of_arms(data, k):
    profit, _ = data
    arms = [0, 3, 6, 9, 11]
    r = co.solve(co.CoarseProblem(profit, k=k, arms=arms), solver="grid-search")
    assert set(r.offered.tolist()) <= set(arms)
    assert r.objective == pytest.approx(_brute(profit, arms, k), rel=1e-12)
    assert r.status == "feasible" and r.bound is None  # optimal within arms only: no proof


def test_grid_search_with_every_column_is_proven(data):
    profit, _ = data
    r = co.solve(co.CoarseProblem(profit[:, :6], k=2, arms=list(range(6))), solver="grid-search")
    assert r.status == "optimal"
    assert r.objective == pytest.approx(_brute(profit[:, :6], range(6), 2))


def test_grid_search_greedy_fallback_is_feasible_and_close(data):
    profit, _ = data
    arms = list(range(12))
    exact = _brute(profit, arms, 4)
    r = co.solve(co.CoarseProblem(profit, k=4, arms=arms), solver="grid-search", max_sets=10)
    assert r.status == "feasible" and r.bound is None
    assert "greedy" in r.message
    assert r.objective <= exact + 1e-9
    assert r.objective >= 0.99 * exact


def test_grid_search_needs_arms(data):
    profit, _ = data
    with pytest.raises(UnsupportedProblemError, match="arms"):
        co.solve(co.CoarseProblem(profit, k=2), solver="grid-search")


def test_kmeans_features_needs_features(data):
    profit, _ = data
    with pytest.raises(UnsupportedProblemError, match="features"):
        co.solve(co.CoarseProblem(profit, k=2), solver="kmeans-features")


def test_unknown_option_names_valid_ones(data):
    profit, features = data
    with pytest.raises(OptionError, match="n_init"):
        co.solve(co.CoarseProblem(profit, k=2, features=features), solver="kmeans-features", bogus=1)
    with pytest.raises(OptionError, match="assign"):
        co.solve(co.CoarseProblem(profit, k=2), solver="kmeans-preferences", assign="nearest")


@pytest.mark.parametrize("name", ["kmeans-features", "kmeans-preferences"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_kmeans_segment_policy(data, name, k):
    profit, features = data
    problem = co.CoarseProblem(profit, k=k, features=features)
    r = co.solve(problem, solver=name, seed=1)
    assert r.status == "feasible" and r.bound is None and r.gap is None
    assert 1 <= r.offered.size <= k
    seg = np.asarray(r.extras["segment"])
    treat = np.asarray(r.extras["segment_treatment"])
    np.testing.assert_array_equal(r.assignment, treat[seg])
    # each segment's treatment is the best single treatment for that segment
    for s in np.unique(seg):
        assert treat[s] == profit[seg == s].sum(axis=0).argmax()
    # the segment policy applied to the same individuals reproduces the assignment
    points = features if name == "kmeans-features" else profit
    np.testing.assert_array_equal(predict_segments(r, points), r.assignment)
    # seeded: the same seed gives the same answer
    again = co.solve(problem, solver=name, seed=1)
    np.testing.assert_array_equal(again.assignment, r.assignment)
    # 'best' reassignment within the same offered set is never worse
    best = co.solve(problem, solver=name, seed=1, assign="best")
    np.testing.assert_array_equal(best.offered, r.offered)
    assert best.objective >= r.objective - 1e-9


def test_kmeans_features_recovers_feature_driven_segments():
    rng = np.random.default_rng(0)
    n = 400
    group = rng.integers(0, 3, n)
    features = np.c_[group * 10.0 + rng.normal(size=n), rng.normal(size=n) - 5.0 * group]
    profit = np.eye(3)[group] * 5 + 0.1 * rng.normal(size=(n, 3))
    r = co.solve(co.CoarseProblem(profit, k=3, features=features), solver="kmeans-features")
    np.testing.assert_array_equal(r.assignment, group)
    assert r.recovery > 0.99


def test_kmeans_preferences_regret_and_minibatch(data):
    profit, _ = data
    r = co.solve(co.CoarseProblem(profit, k=3), solver="kmeans-preferences", on="regret", minibatch_above=100)
    assert "MiniBatchKMeans" in r.message and r.extras["clustered_on"] == "regret curves"
    np.testing.assert_array_equal(predict_segments(r, profit), r.assignment)
    assert r.objective <= _brute(profit, range(profit.shape[1]), 3) + 1e-9


def test_k_at_least_n_does_not_fail():
    profit = np.array([[1.0, 0.0], [0.0, 1.0]])
    r = co.solve(co.CoarseProblem(profit, k=5), solver="kmeans-preferences")
    assert r.objective == pytest.approx(2.0)


def test_predict_segments_rejects_other_results(data):
    profit, _ = data
    r = co.solve(co.CoarseProblem(profit, k=2, arms=[0, 5]), solver="grid-search")
    with pytest.raises(ValueError, match="kmeans"):
        predict_segments(r, profit)


class _Clock:
    def __init__(self, out: bool):
        self.out = out

    def out_of_time(self) -> bool:
        return self.out


def test_lloyd_by_slices_is_one_fit_and_stops_at_the_time_limit():
    """The k-means baselines fit Lloyd ten iterations at a time (checking the time limit in
    between): the same centres and labels as one fit; out of time, it stops after a slice."""
    from sklearn.cluster import KMeans

    from coarseopt_solvers.baselines import KMEANS_SLICE, _fit_by_slices

    x = np.random.default_rng(3).normal(size=(3000, 4))  # no clear clusters: many iterations
    ref = KMeans(n_clusters=6, n_init=1, max_iter=300, random_state=0).fit(x)
    assert ref.n_iter_ > KMEANS_SLICE["KMeans"]  # the fit spans several slices
    model, cut = _fit_by_slices(KMeans, x, 6, 0, 300, {}, _Clock(False))
    assert not cut
    np.testing.assert_allclose(model.cluster_centers_, ref.cluster_centers_, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(model.labels_, ref.labels_)
    model, cut = _fit_by_slices(KMeans, x, 6, 0, 300, {}, _Clock(True))
    assert cut and model.n_iter_ == KMEANS_SLICE["KMeans"]
