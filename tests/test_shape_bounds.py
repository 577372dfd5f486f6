"""Bounds on policies that offer levels between the arms, under a stated monotone shape."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from coarseopt.evaluation.bounds import imbens_manski
from coarseopt.evaluation.folds import EvaluationFold, evaluate_folds
from coarseopt.exceptions import ShapeWarning
from coarseopt.study.evaluate import check_shape, interpolation_check, shape_bounds

ARMS = np.array([0.0, 0.2, 0.4])
MARGIN = 0.5


def _mean_outcome(x, t):
    """Expected sales at discount t: increasing and concave in t, heterogeneous in x."""
    return 10.0 * (1.0 + x) * (1.0 - np.exp(-4.0 * (1 + x) * t)) + 5.0


def _unit_value(levels):
    levels = np.asarray(levels, dtype=np.float64)
    return MARGIN - levels, np.zeros_like(levels)   # profit = (margin - t) * sales


def _policy(x):
    """Offers 0.1 to low x, 0.3 to high x (both between the arms), 0.4 to the top decile."""
    return np.where(x < 0.5, 0.1, np.where(x < 0.9, 0.3, 0.4))


def _true_value(n=400_000, seed=99):
    x = np.random.default_rng(seed).uniform(size=n)
    t = _policy(x)
    return float(((MARGIN - t) * _mean_outcome(x, t)).mean()), float((MARGIN * _mean_outcome(x, 0.0)).mean())


def _draw(rng, n, shares):
    x = rng.uniform(size=n)
    action = rng.choice(ARMS, size=n, p=shares)
    y = rng.poisson(_mean_outcome(x, action)).astype(np.float64)
    return x, action, y


@pytest.mark.parametrize("shares", [(1 / 3, 1 / 3, 1 / 3), (0.6, 0.3, 0.1)], ids=["equal", "unequal"])
def test_bounds_contain_the_truth_and_the_interval_covers_it(shares):
    truth, control = _true_value()
    rng = np.random.default_rng(3)
    R, n = 1000, 2000
    lows, highs, covered, lift_cov = [], [], [], []
    for _ in range(R):
        x, action, y = _draw(rng, n, shares)
        pol = _policy(x)
        profit = np.interp(action, ARMS, MARGIN - ARMS) * y
        fold = EvaluationFold(y=profit, action=action, policies={"control": np.zeros(n), "p": pol})
        values, _, _ = evaluate_folds([fold], baseline="control", skip={"p": "between arms"})
        raw = EvaluationFold(y=y, action=action, policies={"control": np.zeros(n), "p": pol})
        b = shape_bounds(raw, "p", values["control"], arm_levels=ARMS, unit_value=_unit_value, shape="monotone",
                         value_method="snipw", alpha=0.05)
        lows.append(b["value_lower"])
        highs.append(b["value_upper"])
        covered.append(b["value_ci_low"] <= truth <= b["value_ci_high"])
        lift_cov.append(b["lift_ci_low"] <= truth - control <= b["lift_ci_high"])
    assert np.mean(lows) < truth < np.mean(highs)
    assert np.mean(covered) >= 0.95 and np.mean(lift_cov) >= 0.95, (np.mean(covered), np.mean(lift_cov))


def test_imbens_manski_against_its_definition():
    from scipy.stats import norm

    lo, hi, c = imbens_manski(1.0, 0.2, 1.5, 0.3, alpha=0.1)
    ratio = 0.5 / 0.3
    assert norm.cdf(c + ratio) - norm.cdf(-c) == pytest.approx(0.9, abs=1e-9)
    assert (lo, hi) == pytest.approx((1.0 - c * 0.2, 1.5 + c * 0.3))
    assert norm.ppf(0.9) < c < norm.ppf(0.95)


def test_decreasing_means_contradict_a_monotone_shape():
    rng = np.random.default_rng(0)
    n = 3000
    action = rng.choice(ARMS, size=n)
    y = rng.normal(loc=np.where(action == 0.2, 3.0, 5.0), size=n)   # a dip at 0.2
    raw = EvaluationFold(y=y, action=action, policies={})
    with pytest.warns(ShapeWarning, match="contradicted"):
        check_shape(raw, ARMS, "monotone")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShapeWarning)
        y_ok = rng.normal(loc=np.interp(action, ARMS, [1.0, 2.0, 3.0]), size=n)
        assert check_shape(EvaluationFold(y=y_ok, action=action, policies={}), ARMS, "monotone") is None


def test_interpolation_check_by_hand():
    action = np.array([0.0, 0.0, 0.2, 0.2, 0.4, 0.4])
    y = np.array([1.0, 3.0, 5.0, 7.0, 9.0, 11.0])
    pred = np.tile([2.0, 5.0, 10.0], (6, 1))
    tab = interpolation_check(y, action, pred, ARMS)
    row = tab.iloc[0]
    assert row["arm"] == 0.2 and row["measured"] == 6.0 and row["predicted"] == 5.0
    assert row["interpolated"] == pytest.approx(6.0)            # halfway between 2 and 10
    assert row["measured_se"] == pytest.approx(np.std([5.0, 7.0], ddof=1) / np.sqrt(2))
