"""Validation of :class:`coarseopt.CoarseProblem`: every bad input gets a specific error that
names the argument (and a subclass of ``ValueError``), every good input is kept faithfully."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import coarseopt as co
from coarseopt.exceptions import CoarseoptError, InfeasibleProblemError, ProblemError
from conftest import brute_force

GOOD = np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0], [2.0, 2.0, 0.0]])


# ---------------------------------------------------------------------- profit
@pytest.mark.parametrize(
    "profit, pattern",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), r"'profit' must be finite.*row 0, column 1"),
        (np.array([[1.0, 2.0], [np.inf, 1.0]]), r"'profit' must be finite.*row 1, column 0"),
        (np.array([[1.0, 2.0], [-np.inf, 1.0]]), r"'profit' must be finite"),
        (np.array([1.0, 2.0, 3.0]), r"'profit' must be 2-D.*\(3,\)"),
        (np.zeros((2, 2, 2)), r"'profit' must be 2-D.*\(2, 2, 2\)"),
        (np.zeros((0, 3)), r"'profit' needs at least one individual"),
        (np.zeros((3, 0)), r"'profit' needs at least one individual and one treatment"),
        (np.array([["a", "b"], ["c", "d"]]), r"'profit' must hold real numbers.*<U1"),
        (np.array([[1, None], [2, 3]], dtype=object), r"'profit' must hold real numbers.*object"),
        (np.array([[True, False], [False, True]]), r"'profit' must hold real numbers.*bool"),
        ([[1.0, 2.0], [3.0]], r"'profit' could not be read as an array"),
        (None, r"'profit' argument is required"),
        (pd.Series([1.0, 2.0]), r"'profit' must be 2-D"),
    ],
    ids=["nan", "inf", "-inf", "1d", "3d", "no-rows", "no-columns", "strings", "object", "bool",
         "ragged", "none", "series"],
)
def test_bad_profit(profit, pattern):
    with pytest.raises(ProblemError, match=pattern):
        co.CoarseProblem(profit, k=1)


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        co.CoarseProblem(np.array([[np.nan]]), k=1)
    assert issubclass(ProblemError, CoarseoptError)
    assert issubclass(InfeasibleProblemError, ProblemError)


def test_nan_count_in_message():
    p = GOOD.copy()
    p[1, 1] = p[2, 2] = np.nan
    with pytest.raises(ProblemError, match="found 2 NaN"):
        co.CoarseProblem(p, k=1)


def test_dataframe_duplicate_labels():
    df = pd.DataFrame(GOOD, columns=["a", "b", "a"])
    with pytest.raises(ProblemError, match=r"columns of 'profit'.*duplicated labels: \['a'\]"):
        co.CoarseProblem(df, k=1)


def test_dataframe_non_numeric_column():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    with pytest.raises(ProblemError, match=r"Every column of 'profit' must be numeric.*\['b'\]"):
        co.CoarseProblem(df, k=1)


def test_dataframe_with_nan():
    df = pd.DataFrame({"a": [1.0, np.nan], "b": [0.0, 1.0]})
    with pytest.raises(ProblemError, match="'profit' must be finite"):
        co.CoarseProblem(df, k=1)


def test_integer_profit_becomes_read_only_float():
    problem = co.CoarseProblem(np.array([[1, 2], [3, 4]], dtype=np.int32), k=1)
    assert problem.profit.dtype == np.float64
    assert not problem.profit.flags.writeable
    with pytest.raises(ValueError):
        problem.profit[0, 0] = 5.0


@pytest.mark.parametrize("kind", ["float64", "int", "fortran", "view", "dataframe", "read-only view"])
def test_the_callers_array_cannot_change_the_problem(kind):
    base = GOOD.copy()
    given = {
        "float64": base,
        "int": base.astype(np.int64),
        "fortran": np.asfortranarray(base),
        "view": base[:, :],
        "dataframe": pd.DataFrame(base, columns=["a", "b", "c"]),
        "read-only view": base.view(),
    }[kind]
    if kind == "read-only view":
        given.setflags(write=False)  # read-only, but its base is not: a copy is still needed
    problem = co.CoarseProblem(given, k=1, features=given)
    want = np.array(GOOD, dtype=np.float64)
    # Change every array the caller holds, past the problem's finite-value check.
    for arr in (base, given.to_numpy() if kind == "dataframe" else given):
        if arr.flags.writeable:
            arr[0, 0] = np.nan if arr.dtype.kind == "f" else -7
            arr[1, :] = -1e300 if arr.dtype.kind == "f" else 10**9
    if kind == "dataframe":
        given.iloc[0, 0] = np.nan
    np.testing.assert_array_equal(problem.profit, want)
    np.testing.assert_array_equal(problem.features, want)
    assert not problem.profit.flags.writeable and not problem.features.flags.writeable
    # the caller's array stays writable (nothing of theirs is frozen)
    assert base.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        problem.profit[0, 0] = 0.0
    assert co.solve(problem, "enumerate").objective == pytest.approx(brute_force(want, 1))


def test_a_read_only_array_is_kept_without_a_copy():
    frozen = GOOD.astype(np.float64)
    frozen.setflags(write=False)
    problem = co.CoarseProblem(frozen, k=1)
    assert np.shares_memory(problem.profit, frozen)
    np.testing.assert_array_equal(problem.profit, GOOD)


# ---------------------------------------------------------------------- k
@pytest.mark.parametrize("k", [0, -1, True, False, 2.0, "2", None, 1.5, np.float64(2.0)],
                         ids=["zero", "negative", "true", "false", "float", "str", "none", "frac", "npfloat"])
def test_bad_k(k):
    with pytest.raises(ProblemError, match=r"The 'k' parameter of CoarseProblem must be an int in the range \[1, inf\)"):
        co.CoarseProblem(GOOD, k=k)


def test_good_k_kinds():
    assert co.CoarseProblem(GOOD, k=np.int64(2)).k == 2
    big = co.CoarseProblem(GOOD, k=10)
    assert big.k == 10 and big.k_effective == 3


def test_with_k_validates_and_shares_data():
    problem = co.CoarseProblem(GOOD, k=1)
    other = problem.with_k(2)
    assert other.k == 2 and problem.k == 1
    assert other.profit is problem.profit
    with pytest.raises(ProblemError, match="'k'"):
        problem.with_k(0)


# ---------------------------------------------------------------------- shares
@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"min_share": 1.5}, r"'min_share' must lie in \[0, 1\]"),
        ({"min_share": -0.1}, r"'min_share' must lie in \[0, 1\]"),
        ({"max_share": 2.0}, r"'max_share' must lie in \[0, 1\]"),
        ({"max_share": np.nan}, r"'max_share' must lie in \[0, 1\]"),
        ({"min_share": [0.1, 0.2]}, r"'min_share' must be a float or an array of shape \(3,\)"),
        ({"max_share": [[0.5] * 3]}, r"'max_share' must be a float or an array of shape \(3,\)"),
        ({"min_share": "half"}, r"'min_share' must be a number or an array"),
    ],
    ids=["min>1", "min<0", "max>1", "max-nan", "min-shape", "max-shape", "min-str"],
)
def test_bad_share_values(kwargs, pattern):
    with pytest.raises(ProblemError, match=pattern):
        co.CoarseProblem(GOOD, k=2, **kwargs)


def test_min_above_max():
    with pytest.raises(InfeasibleProblemError, match=r"'min_share' and 'max_share'"):
        co.CoarseProblem(GOOD, k=2, min_share=0.6, max_share=0.4)


def test_max_share_too_small_for_k():
    # n = 4, max_share 0.25 -> at most 1 each, k = 2 treatments hold at most 2 of 4.
    with pytest.raises(InfeasibleProblemError, match=r"'max_share' is too small.*k = 2.*2 of the 4"):
        co.CoarseProblem(GOOD, k=2, max_share=0.25)


def test_infeasible_shares_are_value_errors():
    with pytest.raises(ValueError):
        co.CoarseProblem(GOOD, k=1, max_share=0.5)


def test_share_counts():
    # n = 4: min 0.3 -> ceil(1.2) = 2 individuals, max 0.6 -> floor(2.4) = 2.
    problem = co.CoarseProblem(GOOD, k=2, min_share=0.3, max_share=0.6)
    assert problem.has_share_bounds
    assert problem.min_count.tolist() == [2, 2, 2]
    assert problem.max_count.tolist() == [2, 2, 2]
    # exact shares are not lost to rounding: 0.25 * 4 = 1 exactly
    exact = co.CoarseProblem(GOOD, k=3, min_share=0.25, max_share=0.5)
    assert exact.min_count.tolist() == [1, 1, 1] and exact.max_count.tolist() == [2, 2, 2]


def test_share_bounds_recheck_with_k():
    problem = co.CoarseProblem(GOOD, k=2, max_share=0.5)
    with pytest.raises(InfeasibleProblemError, match="max_share"):
        problem.with_k(1)


def test_no_share_bounds():
    problem = co.CoarseProblem(GOOD, k=2)
    assert not problem.has_share_bounds
    assert problem.min_count is None and problem.max_count is None


# ---------------------------------------------------------------------- side information
@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"features": np.zeros((3, 2))}, r"'features' must have one row per individual: expected 4 rows"),
        ({"features": np.array([[np.nan]] * 4)}, r"'features' must be finite"),
        ({"features": np.array([["a"]] * 4)}, r"'features' must be numeric"),
        ({"features": pd.DataFrame({"x": ["a", "b", "c", "d"]})}, r"'features' must be numeric.*\['x'\]"),
        ({"treatments": [0.0, 1.0]}, r"'treatments' must have shape \(m,\) or \(m, d\) with m = 3"),
        ({"treatments": ["a", "b", "c"]}, r"'treatments' must be numeric"),
        ({"treatments": [0.0, np.nan, 1.0]}, r"'treatments' must be finite"),
        ({"arms": [0, 7]}, r"'arms'.*7"),
        ({"arms": ["nope"]}, r"'arms' must list column indices or labels.*'nope'"),
        ({"arms": []}, r"'arms' must name at least one column"),
        ({"arms": [1, 1]}, r"'arms' must not repeat a column"),
    ],
    ids=["features-rows", "features-nan", "features-str", "features-df-str", "treatments-len",
         "treatments-str", "treatments-nan", "arms-range", "arms-label", "arms-empty", "arms-dup"],
)
def test_bad_side_information(kwargs, pattern):
    with pytest.raises(ProblemError, match=pattern):
        co.CoarseProblem(GOOD, k=1, **kwargs)


def test_side_information_kept():
    problem = co.CoarseProblem(GOOD, k=2, treatments=[0.0, 0.1, 0.2], features=np.arange(4.0), arms=[2, 0])
    assert problem.treatments.tolist() == [0.0, 0.1, 0.2]
    assert problem.features.shape == (4, 1) and problem.feature_names == ("x0",)
    assert problem.arms.tolist() == [0, 2]


# ---------------------------------------------------------------------- labels
def test_dataframe_labels_kept_in_results():
    df = pd.DataFrame(GOOD, columns=["none", "10%", "20%"], index=["ann", "bob", "cy", "di"])
    features = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0]}, index=df.index)
    problem = co.CoarseProblem(df, k=1, arms=["none", "20%"], features=features)
    assert problem.treatment_labels == ("none", "10%", "20%")
    assert list(problem.index) == ["ann", "bob", "cy", "di"]
    assert problem.arms.tolist() == [0, 2]
    assert problem.feature_names == ("age",)
    assert problem.label(2) == "20%"
    result = co.solve(problem, "enumerate")
    # column sums 6, 6, 6: a three-way tie, enumerate keeps the first set
    assert result.objective == 6.0
    assert result.offered_labels == ["none"]
    series = result.assignment_series()
    assert list(series.index) == ["ann", "bob", "cy", "di"]
    assert set(series) == {"none"}
    assert result.segments()["treatment"].tolist() == ["none"]


def test_integer_column_labels_are_labels_not_positions():
    df = pd.DataFrame(GOOD, columns=[10, 20, 30])
    problem = co.CoarseProblem(df, k=1, arms=[30])
    assert problem.arms.tolist() == [2]


# ---------------------------------------------------------------------- helpers
def test_objective_and_best_assignment():
    problem = co.CoarseProblem(GOOD, k=2)
    assignment = problem.best_assignment([0, 1])
    # rows: 3 vs 0 -> 0; 0 vs 3 -> 1; 1 vs 1 -> tie, lowest column 0; 2 vs 2 -> 0
    assert assignment.tolist() == [0, 1, 0, 0]
    assert problem.objective(assignment) == 3.0 + 3.0 + 1.0 + 2.0
    assert problem.full_profit() == 3.0 + 3.0 + 2.0 + 2.0


def test_lazy_dask_problem():
    import dask.array as da
    lazy = co.CoarseProblem(da.from_array(GOOD, chunks=(2, 3)), k=2)
    assert lazy.is_lazy and (lazy.n, lazy.m) == (4, 3)
    assert lazy.full_profit() == 10.0
    bad = GOOD.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ProblemError, match="'profit' must be finite"):
        co.CoarseProblem(da.from_array(bad, chunks=(2, 3)), k=2)


def test_repr_mentions_size():
    text = repr(co.CoarseProblem(GOOD, k=2, min_share=0.25))
    assert "n=4" in text and "m=3" in text and "k=2" in text and "share" in text


def test_share_array_of_caller_stays_writable():
    share = np.array([0.0, 0.25, 0.25])
    co.CoarseProblem(GOOD, k=3, min_share=share)
    share[0] = 0.1  # must not raise


def test_lazy_objective_and_best_assignment_over_row_chunks():
    import dask.array as da
    rng = np.random.default_rng(0)
    profit = rng.normal(size=(50, 4))
    assignment = rng.integers(0, 4, 50)
    eager = co.CoarseProblem(profit, k=2)
    lazy = co.CoarseProblem(da.from_array(profit, chunks=(16, 4)), k=2)
    assert lazy.objective(assignment) == pytest.approx(eager.objective(assignment))
    assert lazy.best_assignment([1, 3]).tolist() == eager.best_assignment([1, 3]).tolist()
