"""Hypothesis-driven fuzzing of problem construction and of every available solver.

Every generated case must end in one of two ways: a correct result (checked against an
independent brute-force oracle) or a clear error (a :class:`coarseopt.CoarseoptError`, with
a message that names what is wrong). Never a crash deep in a backend, never a silently wrong
answer. The inputs are hostile on purpose: NaN, inf, empty, one row, one column, duplicate
and unicode labels, huge and tiny magnitudes, ties, ``k > m``, shares that cannot be met,
wrong dtypes.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import coarseopt as co
from coarseopt import cli, config
from coarseopt.exceptions import CoarseoptError, InfeasibleProblemError, ProblemError

SOLVERS = co.available_solvers()
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same cases on every CI run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------------- strategies
SPECIAL = [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e150, -1e150, 1e9, -1e9]
NONFINITE = [np.nan, np.inf, -np.inf]


def _values(allow_nonfinite: bool) -> st.SearchStrategy[float]:
    parts = [
        st.integers(-3, 3).map(float),  # ties
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        st.sampled_from(SPECIAL),
    ]
    if allow_nonfinite:
        parts.append(st.sampled_from(NONFINITE))
    return st.one_of(*parts)


@st.composite
def profit_matrices(draw, max_n: int = 7, max_m: int = 5, allow_nonfinite: bool = True):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    magnitude = draw(st.sampled_from(["mixed", "small-int", "tiny", "huge"]))
    if magnitude == "small-int":
        vals = st.integers(-2, 2).map(float)
    elif magnitude == "tiny":
        vals = st.floats(-1e-12, 1e-12, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-300)
    elif magnitude == "huge":
        vals = st.floats(-1e200, 1e200, allow_nan=False)
    else:
        vals = _values(allow_nonfinite)
    flat = draw(st.lists(vals, min_size=n * m, max_size=n * m))
    return np.array(flat, dtype=np.float64).reshape(n, m)


def _brute_force(profit: np.ndarray, k: int, min_share=None, max_share=None) -> float | None:
    """The optimum by exhaustive search over offered sets (and, with share bounds, over every
    assignment): None when no assignment meets the bounds."""
    n, m = profit.shape
    if min_share is None and max_share is None:
        r = min(k, m)
        return max(float(profit[:, list(s)].max(axis=1).sum()) for s in itertools.combinations(range(m), r))
    lo = np.zeros(m) if min_share is None else np.broadcast_to(np.asarray(min_share, float), (m,))
    hi = np.ones(m) if max_share is None else np.broadcast_to(np.asarray(max_share, float), (m,))
    assignments = np.array(list(itertools.product(range(m), repeat=n)), dtype=np.intp)
    counts = np.stack([(assignments == j).sum(axis=1) for j in range(m)], axis=1)
    used = counts > 0
    share = counts / n
    ok = (used.sum(axis=1) <= k) & ((~used) | ((share >= lo - 1e-9) & (share <= hi + 1e-9))).all(axis=1)
    if not ok.any():
        return None
    values = profit[np.arange(n), assignments[ok]].sum(axis=1)
    return float(values.max())


def _tol(profit: np.ndarray) -> float:
    """Rounding allowance for sums of ``n`` entries of this matrix."""
    return 1e-9 * float(np.abs(profit).max()) * profit.shape[0] + 1e-300


def _assert_clear(exc: BaseException) -> None:
    assert isinstance(exc, CoarseoptError), f"not a coarseopt error: {type(exc).__name__}: {exc}"
    text = str(exc)
    assert text and "\n" not in text.strip(), f"unclear message: {text!r}"


@st.composite
def side_data(draw, n: int, m: int) -> dict:
    """Arms (a nonempty subset of the columns) and features (n x 2) for the baselines that
    need them; the other solvers ignore both."""
    arms = draw(st.lists(st.integers(0, m - 1), min_size=1, max_size=m, unique=True))
    flat = draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: round(v, 3)),
                         min_size=2 * n, max_size=2 * n))
    return {"arms": sorted(arms), "features": np.array(flat, dtype=np.float64).reshape(n, 2)}


def _must_solve(name: str, shares: bool) -> bool:
    """Every solver solves a problem with arms and features; only share bounds may be refused
    (by a solver that does not support them)."""
    return not shares or co.get_solver(name).supports_shares


def _solve_or_clear_error(problem: co.CoarseProblem, name: str):
    try:
        return co.solve(problem, solver=name, time_limit=20, seed=0, progress=False)
    except co.SolverError:  # a solver bug, never acceptable
        raise
    except CoarseoptError as exc:  # e.g. a baseline that needs features, or shares unsupported
        _assert_clear(exc)
        assert not isinstance(exc, RuntimeError)
        return None


def _check_result(result, profit, k, optimum, exact: bool) -> None:
    tol = _tol(profit)
    n = profit.shape[0]
    assert result.status in ("optimal", "feasible", "time_limit", "infeasible")
    if optimum is None:  # infeasible share bounds
        assert result.status in ("infeasible", "time_limit") and not result.has_solution
        return
    if result.status == "infeasible":
        pytest.fail(f"{result.solver} says infeasible, but the optimum is {optimum}")
    if not result.has_solution:
        assert result.status == "time_limit"
        return
    a = np.asarray(result.assignment)
    assert a.shape == (n,)
    assert set(np.unique(a)) <= set(result.offered.tolist())
    assert 1 <= result.offered.size <= k
    recomputed = float(profit[np.arange(n), a].sum())
    assert abs(result.objective - recomputed) <= tol
    assert result.objective <= optimum + tol, (result.objective, optimum)
    if result.bound is not None:
        assert result.bound >= optimum - tol, (result.bound, optimum)
    if result.status == "optimal" or (exact and result.status != "time_limit"):
        assert result.objective >= optimum - tol, (result.solver, result.objective, optimum)


# ---------------------------------------------------------------------- construction
@FUZZ
@given(profit=profit_matrices(), k=st.integers(-1, 8))
def test_problem_accepts_valid_and_refuses_invalid(profit, k):
    finite = np.isfinite(profit).all()
    too_big = finite and np.abs(profit).max() * profit.shape[0] > 1e300
    try:
        problem = co.CoarseProblem(profit, k=k)
    except ProblemError as exc:
        _assert_clear(exc)
        assert (not finite) or k < 1 or too_big, f"valid input refused: {exc}"
        return
    assert finite and k >= 1 and not too_big
    assert (problem.n, problem.m, problem.k) == (profit.shape[0], profit.shape[1], k)
    np.testing.assert_array_equal(problem.profit, profit)


BAD_K = [0, -3, 1.5, 2.0, "2", None, True, np.float64(2.0), [2], float("nan")]


@pytest.mark.parametrize("k", BAD_K, ids=repr)
def test_bad_k_is_refused_with_its_value(k):
    with pytest.raises(ProblemError, match="'k'"):
        co.CoarseProblem(np.ones((3, 2)), k=k)


def test_numpy_integer_k_is_accepted():
    assert co.CoarseProblem(np.ones((3, 2)), k=np.int64(2)).k == 2


BAD_PROFIT = {
    "empty rows": np.zeros((0, 3)),
    "empty columns": np.zeros((3, 0)),
    "1-D": np.ones(4),
    "3-D": np.ones((2, 2, 2)),
    "scalar": 3.0,
    "ragged": [[1.0, 2.0], [3.0]],
    "strings": np.array([["1", "2"]]),
    "objects": np.array([[1.0, None]], dtype=object),
    "complex": np.array([[1 + 1j, 2.0]]),
    "bool": np.array([[True, False]]),
    "datetime": np.array([["2020-01-01", "2020-01-02"]], dtype="datetime64[D]"),
    "timedelta": np.array([[1, 2]], dtype="timedelta64[s]"),
    "nan": np.array([[np.nan, 1.0]]),
    "inf": np.array([[1.0, -np.inf]]),
    "overflowing sum": np.array([[1e308, 0.0], [1e308, 0.0]]),
    "None": None,
    "series": pd.Series([1.0, 2.0]),
    "duplicate labels": pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]),
    "duplicate NaN labels": pd.DataFrame([[1.0, 2.0]], columns=[np.nan, np.nan]),
    "text column": pd.DataFrame({"a": ["x"], "b": [1.0]}),
    "categorical column": pd.DataFrame({"a": pd.Categorical([1.0, 2.0]), "b": [1.0, 2.0]}),
    "missing in nullable column": pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": [1.0, 2.0]}),
    "complex column": pd.DataFrame({"a": [1 + 2j], "b": [1.0]}),
}


@pytest.mark.parametrize("name", sorted(BAD_PROFIT))
def test_bad_profit_is_refused_clearly(name):
    with pytest.raises(ProblemError) as info:
        co.CoarseProblem(BAD_PROFIT[name], k=1)
    _assert_clear(info.value)
    assert "profit" in str(info.value)


@pytest.mark.parametrize(
    "profit",
    [np.array([[1, 2]], dtype=np.uint8), np.array([[1.0, 2.0]], dtype=np.float16),
     np.array([[2**40, 1]], dtype=np.int64), np.array([[1.0, 2.0]], dtype=np.float32)],
    ids=["uint8", "float16", "int64", "float32"],
)
def test_other_real_dtypes_are_converted(profit):
    problem = co.CoarseProblem(profit, k=1)
    assert problem.profit.dtype == np.float64
    assert co.solve(problem, solver="enumerate").offered.tolist() == [int(np.argmax(profit[0]))]


@FUZZ
@given(
    labels=st.lists(
        st.one_of(st.text(min_size=0, max_size=6), st.integers(-5, 5), st.sampled_from(["日本", "é", "🙂", " ", ""])),
        min_size=1, max_size=5,
    ),
    data=st.data(),
)
def test_dataframe_labels_are_kept_or_duplicates_refused(labels, data):
    m = len(labels)
    n = data.draw(st.integers(1, 4))
    values = np.arange(n * m, dtype=float).reshape(n, m) % 5
    frame = pd.DataFrame(values, columns=labels)
    distinct = len(set(labels)) == len(labels)
    if not distinct:
        with pytest.raises(ProblemError, match="distinct"):
            co.CoarseProblem(frame, k=1)
        return
    problem = co.CoarseProblem(frame, k=min(2, m))
    assert problem.treatment_labels == tuple(labels)
    result = co.solve(problem, solver="enumerate")
    assert result.offered_labels == [labels[j] for j in result.offered]
    assert list(result.assignment_series().index) == list(frame.index)
    assert "\n" in result.summary()  # readable with any label


# ---------------------------------------------------------------------- share bounds
share_value = st.one_of(st.none(), st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.5, 1 / 3]))


@FUZZ
@given(
    profit=profit_matrices(max_n=5, max_m=3, allow_nonfinite=False),
    k=st.integers(1, 4),
    min_share=share_value,
    max_share=share_value,
)
def test_share_bounds_are_feasible_exactly_when_an_assignment_exists(profit, k, min_share, max_share):
    assume(np.abs(profit).max() * profit.shape[0] <= 1e300)
    optimum = _brute_force(profit, k, min_share, max_share)
    try:
        problem = co.CoarseProblem(profit, k=k, min_share=min_share, max_share=max_share)
    except InfeasibleProblemError as exc:
        _assert_clear(exc)
        assert optimum is None, f"refused as infeasible, but {optimum} is achievable: {exc}"
        return
    result = co.solve(problem, solver="enumerate")
    _check_result(result, profit, k, optimum, exact=True)


@pytest.mark.parametrize(
    "kwargs",
    [dict(min_share=-0.1), dict(max_share=1.5), dict(min_share=np.nan), dict(min_share=[0.1, 0.2]),
     dict(max_share="half"), dict(min_share=[[0.1, 0.1, 0.1]])],
    ids=repr,
)
def test_bad_share_arguments_are_refused(kwargs):
    with pytest.raises(ProblemError) as info:
        co.CoarseProblem(np.ones((4, 3)), k=2, **kwargs)
    _assert_clear(info.value)
    assert next(iter(kwargs)) in str(info.value)


# ---------------------------------------------------------------------- every solver
@pytest.mark.parametrize("solver", SOLVERS)
@FUZZ
@given(profit=profit_matrices(max_n=6, max_m=5, allow_nonfinite=False), k=st.integers(1, 6), data=st.data())
def test_every_solver_is_correct(solver, profit, k, data):
    assume(np.abs(profit).max() * profit.shape[0] <= 1e300)
    problem = co.CoarseProblem(profit, k=k, **data.draw(side_data(*profit.shape)))
    result = _solve_or_clear_error(problem, solver)
    assert result is not None, f"{solver} refused a plain problem with arms and features"
    optimum = _brute_force(profit, k)
    _check_result(result, profit, k, optimum, exact=co.get_solver(solver).exact)
    if k >= profit.shape[1] and result.status == "optimal":
        assert result.objective >= float(profit.max(axis=1).sum()) - _tol(profit)


@pytest.mark.parametrize("solver", SOLVERS)
@FUZZ
@given(
    profit=profit_matrices(max_n=5, max_m=3, allow_nonfinite=False),
    k=st.integers(1, 3),
    min_share=share_value,
    max_share=share_value,
    data=st.data(),
)
def test_every_solver_with_share_bounds(solver, profit, k, min_share, max_share, data):
    assume(np.abs(profit).max() * profit.shape[0] <= 1e300)
    try:
        problem = co.CoarseProblem(profit, k=k, min_share=min_share, max_share=max_share,
                                   **data.draw(side_data(*profit.shape)))
    except InfeasibleProblemError:
        return  # the construction property is checked above
    result = _solve_or_clear_error(problem, solver)
    bounded = min_share is not None or max_share is not None
    if result is None:
        assert not _must_solve(solver, bounded), f"{solver} refused a problem it supports"
        return
    optimum = _brute_force(profit, k, min_share, max_share)
    if optimum is not None and result.has_solution:
        shares = np.bincount(result.assignment, minlength=profit.shape[1]) / profit.shape[0]
        used = shares > 0
        lo = 0.0 if min_share is None else min_share
        hi = 1.0 if max_share is None else max_share
        assert (shares[used] >= lo - 1e-9).all() and (shares[used] <= hi + 1e-9).all()
    if optimum is None and result.has_solution:
        pytest.fail(f"{solver} returned a solution to a problem with no feasible assignment")
    _check_result(result, profit, k, optimum, exact=co.get_solver(solver).exact)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    "profit",
    [np.array([[5.0]]), np.array([[1.0, 2.0, 3.0]]), np.array([[1.0], [2.0], [3.0]]), np.zeros((4, 3)),
     np.full((3, 3), -7.0)],
    ids=["1x1", "one row", "one column", "all zero", "all equal"],
)
@pytest.mark.parametrize("k", [1, 2, 10])
def test_degenerate_shapes(solver, profit, k):
    n, m = profit.shape
    problem = co.CoarseProblem(profit, k=k, arms=list(range(m)), features=np.arange(2.0 * n).reshape(n, 2))
    result = _solve_or_clear_error(problem, solver)
    assert result is not None, f"{solver} refused a plain problem with arms and features"
    _check_result(result, profit, k, _brute_force(profit, k), exact=co.get_solver(solver).exact)


@pytest.mark.parametrize(("solver", "missing"), [("grid-search", "arms"), ("kmeans-features", "features")])
def test_baselines_refuse_a_problem_without_their_data(solver, missing):
    with pytest.raises(co.UnsupportedProblemError, match=f"'{missing}' is None") as info:
        co.solve(co.CoarseProblem(np.eye(3), k=1), solver=solver)
    _assert_clear(info.value)


def test_unknown_options_and_names_are_refused():
    problem = co.CoarseProblem(np.eye(3), k=1)
    with pytest.raises(co.OptionError, match="max_work"):
        co.solve(problem, solver="enumerate", no_such_option=1)
    for name in ["os:system", "builtins.eval", "coarseopt_solvers.enumerate:EnumerateSolver", "", "ENUMERATE"]:
        with pytest.raises(co.UnknownSolverError, match="Registered solvers"):
            co.solve(problem, solver=name)
    with pytest.raises(co.UnknownSolverError):
        co.solve(problem, solver=None)


@pytest.mark.parametrize("time_limit", [0, -1, float("nan"), "1", True])
def test_bad_time_limit_is_refused(time_limit):
    with pytest.raises(co.OptionError, match="time_limit"):
        co.solve(co.CoarseProblem(np.eye(2), k=1), solver="enumerate", time_limit=time_limit)


def test_tiny_profits_are_not_called_optimal_on_a_loose_bound():
    """A gap that is large relative to the profits must not pass as optimal because the
    profits are far below 1 in magnitude."""

    class Loose(co.Solver):
        name = "loose-test"

        def _solve(self, problem, context):
            return co.Solution(offered=[0], status="feasible", bound=float(problem.profit.max(axis=1).sum()))

    profit = np.array([[1e-12, 0.0], [0.0, 1e-12]])
    result = Loose().solve(co.CoarseProblem(profit, k=1))
    assert result.status == "feasible"
    assert math.isclose(result.objective, 1e-12)


# ---------------------------------------------------------------------- configs

_TOML_SCALARS = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(max_size=12), st.sampled_from(["ot", "mip", "os:system", "__import__('os')", "hillstrom", "level", ""]),
)
_TOML_VALUES = st.recursive(
    _TOML_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def raw_configs(draw):
    """Documents mixing real sections and keys with wrong ones, wrong types and odd values."""
    raw: dict = {}
    sections = list(config.SCHEMA) + ["bogus", "Solve", ""]
    for section in draw(st.lists(st.sampled_from(sections), max_size=4, unique=True)):
        keys = list(config.SCHEMA.get(section, {})) + ["nope", "k ", "ｋ"]
        if draw(st.integers(0, 9)) == 0:
            raw[section] = draw(_TOML_SCALARS)  # a value where a section belongs
            continue
        raw[section] = {key: draw(_TOML_VALUES) for key in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True))}
    return raw


def _assert_config_error(exc: BaseException) -> None:
    assert isinstance(exc, config.ConfigError), f"{type(exc).__name__}: {exc}"
    assert str(exc) and "\n" not in str(exc), repr(str(exc))


@FUZZ
@given(raw=raw_configs())
def test_config_documents_load_or_raise_one_config_error(raw):
    try:
        cfg = config.parse_config(raw, source="fuzz.toml", check_files=True, check_solver=True)
    except Exception as exc:  # noqa: BLE001 - the property is about the exception class
        _assert_config_error(exc)
        return
    assert cfg.solve["solver"] in co.available_solvers()
    assert all(isinstance(k, int) and k >= 1 for k in cfg.solve["k"])


@FUZZ
@given(text=st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from([
        "[solve]", "k = 0", "k = [1, 2]", "k = 2.5", "solver = 'ot'", "solver = \"os:system\"", "[data]",
        "path = 'missing.csv'", "dataset = 'promotions'", "n = -1", "time_limit = inf", "seed = 1e400",
        "[solve.options]", "restarts = 'many'", "x = 1", "[[solve]]", "k = [", "\u00e9 = 1", "[split]",
        "test_size = 1.0", "max_share = nan",
    ]), max_size=8).map("\n".join),
))
def test_config_files_load_or_raise_one_config_error(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "study.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config.load_config(path)
    except Exception as exc:  # noqa: BLE001
        _assert_config_error(exc)


@pytest.mark.parametrize(
    "name", ["os:system", "builtins:eval", "coarseopt_solvers.enumerate:EnumerateSolver", "__import__('os')", "ENUMERATE"]
)
def test_config_solver_names_resolve_only_to_registered_plugins(name):
    with pytest.raises(config.ConfigError, match="unknown solver"):
        config.parse_config({"solve": {"solver": name}})


# ---------------------------------------------------------------------- CSV inputs to the CLI

_CELLS = st.one_of(
    st.integers(-5, 5).map(str), st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e308", "1e-320", "abc", "日本", "1,5", " 2 ", "TRUE", "0x10"]),
)


@st.composite
def csv_texts(draw):
    m = draw(st.integers(0, 4))
    n = draw(st.integers(0, 5))
    header = draw(st.lists(st.sampled_from(["a", "b", "a", "é", "日本", "", "1", "t 1", '"q"']), min_size=m, max_size=m))
    rows = [",".join(draw(st.lists(_CELLS, min_size=m, max_size=m))) for _ in range(n)]
    return "\n".join([",".join(header)] + rows) + ("\n" if draw(st.booleans()) else "")


@settings(FUZZ, max_examples=60)
@given(text=csv_texts(), k=st.integers(1, 3))
def test_cli_solve_on_hostile_csv_exits_cleanly(text, k, tmp_path_factory):
    import contextlib
    import io

    path = tmp_path_factory.mktemp("csv") / "profit.csv"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["solve", str(path), "-k", str(k), "--solver", "local-search", "-q"])
    err = err.getvalue().strip()
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("coarseopt solve: error:") and "\n" not in err, err
        assert "Traceback" not in err


def test_cli_refuses_duplicate_csv_labels(tmp_path):
    import contextlib
    import io

    path = tmp_path / "profit.csv"
    path.write_text("a,a,b\n1,2,3\n4,5,1\n", encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = cli.main(["solve", str(path), "-k", "1", "--solver", "local-search", "-q"])
    assert code == 2 and "'a'" in err.getvalue()
