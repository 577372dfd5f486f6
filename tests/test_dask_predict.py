"""``ProfitEstimate.predict`` on a dask DataFrame: partition by partition, the in-memory
predictions, and a lazy profit matrix that the chunked solvers take as it is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dask.array as da
import dask.dataframe as dd
import distributed  # noqa: F401

import coarseopt as co  # noqa: E402

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def promotions():
    """A smooth (numeric-level) estimate with a grid between arms, and new customers."""
    df, truth = co.datasets.make_promotions(3000, seed=0)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, grid=9, cv=2)
    new, _ = co.datasets.make_promotions(1500, seed=1)
    new.index = pd.RangeIndex(10_000, 10_000 + len(new))
    return est, new


@pytest.fixture(scope="module")
def labelled():
    """Labelled arms, a T-learner and a categorical feature (one-hot encoded)."""
    rng = np.random.default_rng(3)
    n = 1500

    def frame(n, rng):
        x = rng.normal(size=n)
        region = rng.choice(["north", "south", "east"], n)
        return pd.DataFrame({"x": x, "age": rng.uniform(18, 80, n), "region": region})

    df = frame(n, rng)
    arm = rng.choice(["none", "mail", "call"], n)
    lift = np.where(arm == "mail", 1.0 + df["x"], 0.0) + np.where(arm == "call", 2.0 * (df["region"] == "south"), 0.0)
    df["arm"] = arm
    df["spend"] = 5.0 + lift + rng.normal(0, 1.0, n)
    exp = co.Experiment(df, outcome="spend", treatment="arm", features=["x", "age", "region"], control="none")
    est = co.estimate_profit(exp, co.Economics(margin=0.5, cost={"mail": 0.1, "call": 0.8}), learner="t", cv=2)
    return est, frame(900, rng)


def test_predict_over_partitions_equals_in_memory(promotions):
    est, new = promotions
    want = est.predict(new).profit
    for parts in (1, 3, 7):
        lp = est.predict(dd.from_pandas(new, npartitions=parts))
        assert isinstance(lp, co.estimation.LazyProfit)
        assert lp.shape == want.shape and not np.isnan(lp.profit.chunks[0]).any()
        assert len(lp.profit.chunks[0]) == parts and sum(lp.profit.chunks[0]) == len(new)
        got = lp.profit.compute()
        np.testing.assert_allclose(got, want.to_numpy(), rtol=1e-12, atol=1e-12)
        frame = lp.frame.compute()
        assert frame.index.equals(want.index)
        assert list(frame.columns) == [str(c) for c in want.columns]
        assert list(lp.columns) == list(want.columns)
    # the arm columns and levels come along
    np.testing.assert_array_equal(lp.treatments, est.treatments)
    assert lp.arm_columns.tolist() == est.arm_columns.tolist()


def test_predict_labelled_arms_with_categories_per_partition(labelled):
    est, new = labelled
    want = est.predict(new).profit
    # sorted by region: some partitions hold a single category, yet encode to every column
    ordered = new.sort_values("region", kind="stable")
    ddf = dd.from_pandas(ordered, npartitions=4, sort=False)
    got = est.predict(ddf)
    assert ddf.partitions[0].compute()["region"].nunique() == 1
    np.testing.assert_allclose(got.profit.compute(), want.loc[ordered.index].to_numpy(), rtol=1e-12, atol=1e-12)
    assert got.frame.compute().index.equals(ordered.index)
    assert list(got.columns) == list(want.columns) == ["call", "mail", "none"]


def test_predict_handles_empty_partitions(promotions):
    est, new = promotions
    ddf = dd.from_pandas(new, npartitions=4)
    cut = len(ddf.partitions[0]) + 100
    start = new.index[cut]
    kept = ddf.map_partitions(lambda p: p[p.index >= start])  # the first partition becomes empty
    lp = est.predict(kept)
    assert sum(lp.profit.chunks[0]) == len(new) - cut and len(lp.profit.chunks[0]) == 3
    np.testing.assert_allclose(lp.profit.compute(), est.predict(new.iloc[cut:]).profit.to_numpy(),
                               rtol=1e-12, atol=1e-12)


def test_predict_refuses_missing_feature_columns_at_once(promotions):
    est, new = promotions
    ddf = dd.from_pandas(new.drop(columns=[est.encoder.features[0]]), npartitions=2)
    with pytest.raises(co.estimation.ExperimentError, match="lacks the feature"):
        est.predict(ddf)


def test_pipeline_estimate_predict_lazily_then_solve(promotions):
    """estimate -> predict on a dask DataFrame -> solve chunk by chunk == the in-memory pipeline."""
    est, new = promotions
    eager = est.predict(new).to_problem(k=3)
    lp = est.predict(dd.from_pandas(new, npartitions=3))
    problem = lp.to_problem(k=3)  # every pass predicts again: fine for a few passes
    assert problem.is_lazy and problem.n == len(new)
    got = co.solve(problem, "mip")
    want = co.solve(eager, "mip")
    assert got.status == want.status == "optimal" and got.extras["lazy"] == "chunked preprocessing"
    assert got.offered.tolist() == want.offered.tolist()
    # many passes (local search, ot): predict once, keep the blocks where they are
    problem = co.CoarseProblem(lp.profit.persist(), k=3, treatments=lp.treatments)
    np.testing.assert_array_equal(problem.treatments, eager.treatments)
    for name, options in [("local-search", {}), ("ot", {"bound_iter": 5})]:
        got = co.solve(problem, name, seed=0, **options)
        want = co.solve(eager, name, seed=0, **options)
        assert got.offered.tolist() == want.offered.tolist(), name
        assert got.objective == pytest.approx(want.objective, rel=1e-11), name
        np.testing.assert_array_equal(got.assignment, want.assignment)


def test_predict_on_a_local_cluster(promotions):
    est, new = promotions
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    try:
        with distributed.Client(cluster):
            lp = est.predict(dd.from_pandas(new.iloc[:1200], npartitions=4))
            arr = lp.profit.persist()  # predicted on the workers, kept there
            got = arr.compute()
            res = co.solve(co.CoarseProblem(arr, k=2, treatments=lp.treatments), "mip")
    finally:
        cluster.close()
    eager = est.predict(new.iloc[:1200])
    np.testing.assert_allclose(got, eager.profit.to_numpy(), rtol=1e-12, atol=1e-12)
    want = co.solve(eager.to_problem(k=2), "mip")
    assert res.offered.tolist() == want.offered.tolist() and res.status == "optimal"
