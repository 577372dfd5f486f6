"""Tests of the bundled Hillstrom data and the synthetic promotion experiment."""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

import numpy as np
import pandas as pd
import pytest

import coarseopt as co
from coarseopt.datasets import HILLSTROM_SHA256


def test_hillstrom_bundled_file_has_published_checksum():
    raw = gzip.decompress(resources.files("coarseopt").joinpath("data", "hillstrom.csv.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == HILLSTROM_SHA256


def test_load_hillstrom_shape_and_arms():
    df = co.datasets.load_hillstrom()
    assert df.shape == (64000, 12)
    assert list(df.columns) == [
        "recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel",
        "segment", "visit", "conversion", "spend",
    ]
    counts = df["segment"].value_counts()
    assert set(counts.index) == {"Mens E-Mail", "Womens E-Mail", "No E-Mail"}
    # Randomized with probability 1/3 each: every count within 4 binomial SE of n/3.
    se = np.sqrt(64000 * (1 / 3) * (2 / 3))
    assert (abs(counts - 64000 / 3) < 4 * se).all()
    assert not df.isna().any().any()


def test_make_promotions_shapes_and_determinism():
    df, truth = co.datasets.make_promotions(500, seed=3)
    df2, truth2 = co.datasets.make_promotions(500, seed=3)
    pd.testing.assert_frame_equal(df, df2)
    np.testing.assert_array_equal(truth.profit.to_numpy(), truth2.profit.to_numpy())
    assert df.shape == (500, 9)
    assert truth.profit.shape == (500, 17) and truth.outcome.shape == (500, 17)
    assert list(truth.profit.index) == list(df.index)
    np.testing.assert_allclose(truth.grid[truth.arm_columns], truth.arms)
    np.testing.assert_allclose(truth.profit.iloc[:, 0], 0.0)  # the control column
    assert set(df["discount"].unique()) <= set(truth.arms)
    assert set(truth.features) <= set(df.columns)
    other, _ = co.datasets.make_promotions(500, seed=4)
    assert not other.equals(df)


def test_make_promotions_truth_functions_agree_with_matrix():
    _, truth = co.datasets.make_promotions(300, seed=0, grid=[0.05, 0.15])
    np.testing.assert_allclose(truth.grid, [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(truth.profit_at(truth.grid), truth.profit.to_numpy())
    rows = [0, 5, 7]
    np.testing.assert_allclose(truth.profit_at([0.1], rows)[:, 0], truth.profit.iloc[rows, 2])
    # The economics object turns expected sales into the same profit.
    econ = truth.economics
    manual = econ.profit_matrix(truth.outcome.to_numpy(), truth.grid, numeric=True)
    np.testing.assert_allclose(manual - manual[:, [0]], truth.profit.to_numpy())
    best = truth.best_level()
    assert best.shape == (300,) and (best >= 0).all() and (best <= 0.4).all()
    # The best level on a fine grid is at least as good as every grid column.
    fine = np.array([truth.profit_at([b], [i])[0, 0] for i, b in enumerate(best)])
    assert (fine >= truth.profit.to_numpy().max(axis=1) - 1e-9).all()


def test_make_promotions_outcome_matches_truth_per_arm():
    df, truth = co.datasets.make_promotions(20000, seed=1)
    for j, level in zip(truth.arm_columns, truth.arms):
        in_arm = (df["discount"] == level).to_numpy()
        observed = df.loc[in_arm, "sales"]
        expected = truth.outcome.to_numpy()[in_arm, j].mean()
        se = observed.std(ddof=1) / np.sqrt(in_arm.sum())
        assert abs(observed.mean() - expected) < 4 * se


def test_make_promotions_personalization_matters():
    _, truth = co.datasets.make_promotions(5000, seed=0)
    p = truth.profit.to_numpy()
    best_single = p.mean(axis=0).max()
    full = p.max(axis=1).mean()
    assert full > 1.2 * best_single  # heterogeneous: personalizing pays
    best = truth.best_level()
    assert np.unique(np.round(best, 2)).size > 10


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "'n' parameter"),
        ({"n": 10, "arms": (0.1, 0.2)}, "include 0"),
        ({"n": 10, "arms": (0.0, 0.6)}, "below margin"),
        ({"n": 10, "grid": 1}, "'grid'"),
        ({"n": 10, "grid": [0.9]}, "'grid'"),
    ],
)
def test_make_promotions_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        co.datasets.make_promotions(**kwargs)
