"""The Lagrangian (LP) bound: validity, tightness (equals the LP bound), units, stopping rules."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.optimize import linprog

from coarseopt_solvers.bounds import LagrangianBound, lagrangian_bound, lagrangian_value


def _optimum(profit: np.ndarray, k: int) -> float:
    m = profit.shape[1]
    return max(float(profit[:, list(s)].max(axis=1).sum()) for s in itertools.combinations(range(m), min(k, m)))


def _lp_bound(profit: np.ndarray, k: int) -> float:
    """The LP relaxation of the classic formulation, solved directly by HiGHS."""
    n, m = profit.shape
    c = np.concatenate([-profit.ravel(), np.zeros(m)])
    a_eq = sparse.hstack([sparse.kron(sparse.identity(n), np.ones((1, m))), sparse.csr_matrix((n, m))])
    link = sparse.hstack([sparse.identity(n * m), -sparse.kron(np.ones((n, 1)), sparse.identity(m))])
    card = sparse.hstack([sparse.csr_matrix((1, n * m)), np.ones((1, m))])
    res = linprog(c, A_ub=sparse.vstack([link, card]).tocsr(), b_ub=np.r_[np.zeros(n * m), k],
                  A_eq=a_eq.tocsr(), b_eq=np.ones(n), bounds=(0, 1), method="highs")
    assert res.status == 0
    return -res.fun


@st.composite
def instances(draw):
    n = draw(st.integers(1, 25))
    m = draw(st.integers(1, 7))
    k = draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["normal", "integer", "ties"]))
    if kind == "normal":
        p = rng.normal(size=(n, m))
    elif kind == "integer":
        p = rng.integers(-5, 6, size=(n, m)).astype(float)
    else:
        p = rng.integers(0, 2, size=(n, m)).astype(float)
    return p, k


@settings(max_examples=40, deadline=None)
@given(instances())
def test_bound_is_valid_and_equals_lp(inst):
    profit, k = inst
    res = lagrangian_bound(profit, k, max_iter=300)
    opt = _optimum(profit, k)
    scale = max(1.0, abs(opt))
    assert res.bound >= opt - 1e-9 * scale
    assert res.bound == pytest.approx(_lp_bound(profit, min(k, profit.shape[1])), rel=1e-6, abs=1e-6)
    # the reported bound is L(u) of the reported multipliers
    assert lagrangian_value(profit, k, res.multipliers) <= res.bound + 1e-9 * scale
    assert res.lp_lower <= res.bound + 1e-9 * scale


def test_any_multipliers_give_a_valid_bound():
    rng = np.random.default_rng(3)
    profit = rng.normal(size=(30, 6))
    opt = _optimum(profit, 2)
    for _ in range(20):
        u = rng.normal(scale=2.0, size=30)
        assert lagrangian_value(profit, 2, u) >= opt - 1e-9


def test_history_is_non_increasing_and_start_is_the_incumbent():
    rng = np.random.default_rng(4)
    profit = rng.normal(size=(200, 12))
    res = lagrangian_bound(profit, 3, incumbent=[0, 1, 2], max_iter=30)
    h = np.asarray(res.history)
    assert (np.diff(h) <= 1e-9 * np.abs(h[1:])).all()
    assert res.iterations == len(res.history)


def test_large_row_offsets_cost_no_precision():
    rng = np.random.default_rng(5)
    profit = rng.normal(size=(300, 8))
    offsets = rng.uniform(1e8, 1e9, size=300)
    a = lagrangian_bound(profit, 3, max_iter=100)
    b = lagrangian_bound(profit + offsets[:, None], 3, max_iter=100)
    # equal up to the rounding of numbers of size sum(offsets) (a few ulps)
    ulps = 64 * np.finfo(float).eps * offsets.sum()
    assert b.bound - offsets.sum() == pytest.approx(a.bound, abs=ulps)
    assert b.iterations == a.iterations
    assert a.bound >= _optimum(profit, 3) - 1e-9


def test_pmed1_bound_proves_the_published_optimum():
    import coarseopt as co
    from benchmarks.instances import orlib

    (_, problem, opt), = orlib(["pmed1"])
    res = lagrangian_bound(problem.profit, problem.k, incumbent=-opt, max_iter=200)
    assert res.bound >= -opt - 1e-9
    assert res.gap(-opt) <= 1e-9  # the LP bound of pmed1 is tight
    assert res.termination == "converged"
    assert isinstance(res, LagrangianBound) and co is not None


def test_target_gap_stops_early():
    from benchmarks.instances import smooth_profit

    profit = smooth_profit(5000, 30, seed=2, noise=0.05)
    incumbent = float(profit[:, [3, 10, 17, 24]].max(axis=1).sum())
    res = lagrangian_bound(profit, 4, incumbent=incumbent, offered=[3, 10, 17, 24], target_gap=0.05)
    assert res.termination == "target_gap"
    assert res.gap(incumbent) <= 0.05
    assert res.bound >= incumbent


def test_past_deadline_still_returns_a_valid_bound():
    rng = np.random.default_rng(6)
    profit = rng.normal(size=(40, 6))
    res = lagrangian_bound(profit, 2, deadline=time.perf_counter() - 1.0)
    assert res.termination == "time_limit"
    assert res.bound >= _optimum(profit, 2) - 1e-9


def test_preparation_past_its_deadline_raises(monkeypatch):
    """``prepare_deadline``: a preparation (row blocks shifted and sorted) that cannot finish in
    time raises before any bound exists; without it the same call returns a valid bound."""
    import coarseopt_solvers.bounds.memory as B

    monkeypatch.setattr(B, "_BLOCK_ELEMENTS", 60)  # blocks of 10 rows: several blocks
    P = np.random.default_rng(5).normal(size=(50, 6))
    with pytest.raises(TimeoutError):
        lagrangian_bound(P, 2, prepare_deadline=time.perf_counter() - 1.0)
    res = lagrangian_bound(P, 2, deadline=time.perf_counter() - 1.0)
    assert res.bound >= lagrangian_value(P, 2, res.multipliers) - 1e-9


def test_full_personalization_when_k_reaches_m():
    rng = np.random.default_rng(7)
    profit = rng.normal(size=(50, 4))
    res = lagrangian_bound(profit, 9)
    assert res.bound == pytest.approx(profit.max(axis=1).sum())


def test_warm_start_from_multipliers():
    rng = np.random.default_rng(8)
    profit = rng.normal(size=(100, 10))
    first = lagrangian_bound(profit, 3, max_iter=200)
    again = lagrangian_bound(profit, 3, u0=first.multipliers, max_iter=1)
    assert again.bound <= first.bound + 1e-9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "'k'"),
        ({"k": 2, "max_iter": -1}, "'max_iter'"),
        ({"k": 2, "target_gap": -0.1}, "'target_gap'"),
        ({"k": 2, "incumbent": [0, 99]}, "'offered'"),
        ({"k": 2, "u0": np.zeros(3)}, "'u0'"),
    ],
)
def test_errors_name_the_argument(kwargs, match):
    profit = np.random.default_rng(0).normal(size=(10, 4))
    k = kwargs.pop("k")
    with pytest.raises(ValueError, match=match):
        lagrangian_bound(profit, k, **kwargs)


def test_non_finite_profit_is_refused():
    profit = np.ones((3, 3))
    profit[1, 1] = np.nan
    with pytest.raises(ValueError, match="'profit'"):
        lagrangian_bound(profit, 1)


def _check_thresholds(oracle, q, y):
    """u(y) and the per-group G(y) of ``oracle`` against their definitions on ``q``: u_i(y) is
    the entry of the column at which row i's prices, in decreasing entries, reach 1."""
    n = q.shape[0]
    u, g = oracle.thresholds(y)
    expect_u = np.empty(n)
    for i in range(n):
        o = np.argsort(-q[i], kind="stable")
        expect_u[i] = q[i, o[np.argmax(np.cumsum(y[o]) >= 1.0 - 1e-12)]]
    np.testing.assert_allclose(u, expect_u, rtol=0, atol=1e-12)
    gi = expect_u + np.maximum(q - expect_u[:, None], 0.0) @ y
    expect_g = [gi[a:b].sum() for a, b in zip(oracle.bounds[:-1], oracle.bounds[1:])]
    np.testing.assert_allclose(g, expect_g, rtol=1e-12, atol=1e-9)
    return u


def _check_rho(oracle, q, mult):
    """The per-group rho(u) of ``oracle`` against its definition on ``q``."""
    d = np.maximum(q - mult[:, None], 0.0)
    expect = np.array([d[a:b].sum(axis=0) for a, b in zip(oracle.bounds[:-1], oracle.bounds[1:])])
    np.testing.assert_allclose(oracle.rho(mult), expect, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dense_share", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("spread", [False, True])
def test_oracle_kernels_equal_their_dense_definitions(monkeypatch, dense_share, spread):
    """The thresholds u(y), G(y) and rho(u) that the bundle method evaluates on each row's
    sorted top entries (with a dense pass, a gathered pass or a scatter per block) equal
    their definitions computed on every column."""
    import coarseopt_solvers.bounds.memory as B

    monkeypatch.setattr(B, "_BLOCK_ELEMENTS", 7_000)  # blocks that cut across groups
    monkeypatch.setattr(B, "DENSE_SHARE", dense_share)
    monkeypatch.setattr(B, "SPARSE_MIN_COLUMNS", 0)
    rng = np.random.default_rng(3)
    n, m, k = 2_000, 40, 4
    profit = rng.normal(size=(n, m)) + np.sin(np.linspace(0, 3, m))[None, :] * rng.normal(size=(n, 1))
    oracle = B.Oracle(profit, k, max_groups=9)
    assert oracle.top < m and oracle.n_groups == 9
    q = profit[oracle.perm] - oracle.rowmax[:, None]
    y = np.zeros(m)
    support = rng.choice(m, 30 if spread else 6, replace=False)
    y[support] = rng.uniform(0.05, 1.0, support.size)
    y *= min(k, y.sum()) / y.sum()
    y = np.clip(y, 0.0, 1.0)
    u = _check_thresholds(oracle, q, y)
    wide = u < oracle.values[-1]
    assert wide.any() and not wide.all()  # both kinds of rows are exercised
    for mult in (u, 0.5 * u + 0.5 * oracle.thresholds(np.roll(y, 3))[0], u - rng.uniform(0, 1, n)):
        _check_rho(oracle, q, mult)


def test_deepened_ranks_evaluate_as_their_definitions(monkeypatch):
    """An evaluation that reads whole rows of many individuals (prices spread over more
    columns than the kept ranks) doubles the ranks, from 4 to 8 here, then to 16; the sorted
    entries are each row's largest, and u(y), G(y), rho(u) stay their definitions."""
    import coarseopt_solvers.bounds.memory as B

    monkeypatch.setattr(B, "_BLOCK_ELEMENTS", 6_000)
    monkeypatch.setattr(B, "SPARSE_MIN_COLUMNS", 0)
    monkeypatch.setattr(B, "DEEPEN_MIN_COLUMNS", 60)
    rng = np.random.default_rng(5)
    n, m, k = 1_800, 60, 5
    profit = rng.normal(size=(n, m)) + np.sin(np.linspace(0, 3, m))[None, :] * rng.normal(size=(n, 1))
    oracle = B.Oracle(profit, k, max_groups=6, top=4)
    q = profit[oracle.perm] - oracle.rowmax[:, None]
    y = np.full(m, k / m)  # every column priced at 1/12: a row's threshold lies at rank 12
    for ranks in (8, 16, 16):
        oracle.cut(y)
        assert oracle.top == ranks
        expect = -np.sort(-q, axis=1)[:, :ranks]
        np.testing.assert_array_equal(oracle.values[:ranks].T, expect)
        np.testing.assert_array_equal(np.take_along_axis(q, oracle.order[:ranks].T.astype(np.intp), axis=1), expect)
        u = _check_thresholds(oracle, q, y)
        _check_rho(oracle, q, u)
        _check_rho(oracle, q, u - rng.uniform(0, 1, n))
    y[: m // 2] = 0.0  # prices on half the columns, 1/6 each: rank 6 of those; ranks stay
    y *= k / y.sum()
    oracle.cut(y)
    assert oracle.top == 16
    _check_rho(oracle, q, _check_thresholds(oracle, q, y))
    # an oracle of fewer columns keeps its ranks (a pass over whole rows costs little more)
    narrow = B.Oracle(profit[:, :50], k, max_groups=6, top=4)
    monkeypatch.setattr(B, "DEEPEN_MIN_COLUMNS", 51)
    narrow.cut(np.full(50, k / 50))
    assert narrow.top == 4


def test_an_extended_oracle_equals_one_built_on_its_columns(monkeypatch):
    """An oracle on a subset of the columns, grown by ``extend`` (column generation), holds
    the sorted top entries of its columns and evaluates u(y), G(y) and rho(u) as their
    definitions on those columns (shifted by the whole row's maximum)."""
    import coarseopt_solvers.bounds.memory as B

    monkeypatch.setattr(B, "_BLOCK_ELEMENTS", 5_000)
    monkeypatch.setattr(B, "SPARSE_MIN_COLUMNS", 0)
    rng = np.random.default_rng(8)
    n, m, k = 1_500, 70, 3
    profit = rng.normal(size=(n, m)) + np.cos(np.linspace(0, 4, m))[None, :] * rng.normal(size=(n, 1))
    oracle = B.Oracle(profit, k, max_groups=7, columns=np.array([3, 30, 50, 9]))
    for new in ([4, 5, 60], [0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 40, 41]):
        oracle.extend(np.array(new))
    cols = oracle.columns
    assert cols.tolist() == [3, 30, 50, 9, 4, 5, 60, 0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 40, 41]
    q = profit[oracle.perm][:, cols] - profit.max(axis=1)[oracle.perm][:, None]
    np.testing.assert_array_equal(oracle.q, q)
    expect = -np.sort(-q, axis=1)[:, : oracle.top]
    np.testing.assert_array_equal(oracle.values[: oracle.top].T, expect)
    np.testing.assert_array_equal(np.take_along_axis(q, oracle.order[: oracle.top].T.astype(np.intp), axis=1), expect)
    y = np.zeros(cols.size)
    y[[0, 4, 9, 15]] = [0.9, 0.6, 0.8, 0.7]
    u = _check_thresholds(oracle, q, y)
    for mult in (u, u - rng.uniform(0, 2, n)):
        _check_rho(oracle, q, mult)


def test_top_entries_sorts_each_row():
    from coarseopt_solvers.kernels import top_entries

    rng = np.random.default_rng(2)
    block = rng.integers(0, 6, size=(300, 25)).astype(float)  # many ties
    for width in (1, 5, 12, 25):
        pos, vals = top_entries(block, width)
        np.testing.assert_array_equal(vals, -np.sort(-block, axis=1)[:, :width])
        np.testing.assert_array_equal(np.take_along_axis(block, pos, axis=1), vals)
        assert all(len(set(row)) == width for row in pos.tolist())
        same = vals[:, 1:] == vals[:, :-1]  # equal entries in column order
        assert (pos[:, 1:][same] > pos[:, :-1][same]).all()
    # rows with and without a tie at the width-th value, mixed; and continuous rows, where
    # the answer is unique
    block[::3] += rng.uniform(0, 0.1, size=block[::3].shape)
    smooth = rng.normal(size=(200, 141))
    for b in (block, smooth):
        for width in (1, 4, 12):
            pos, vals = top_entries(b, width)
            expected = np.argsort(-b, axis=1, kind="stable")[:, :width]
            np.testing.assert_array_equal(pos, expected)
            np.testing.assert_array_equal(vals, np.take_along_axis(b, expected, axis=1))


def test_block_passes_equal_their_whole_matrix_definitions():
    """Row blocks of any size (one row, uneven, one block) give what one pass over the
    whole matrix gives: each row's best offered value, the offered set's value, the gains."""
    from coarseopt_solvers.kernels import best_offered, gains_over, offered_value, row_blocks

    rng = np.random.default_rng(5)
    p = rng.normal(size=(257, 31)).astype(np.float32)  # float32 profits: the passes read float64
    offered = np.array([29, 3, 17])
    best = p[:, offered].astype(np.float64).max(axis=1)
    for elements in (1, 31 * 10 + 7, 31 * 257):
        np.testing.assert_array_equal(best_offered(row_blocks(p, elements), offered, 257), best)
        assert np.isclose(offered_value(row_blocks(p, elements), offered), best.sum(), rtol=1e-12)
        gains = gains_over(row_blocks(p, elements), best, 31)
        np.testing.assert_allclose(gains, np.maximum(p - best[:, None], 0.0).sum(axis=0), rtol=1e-12)


def test_carried_multipliers_equal_their_recipe():
    """The recipe ``oracle_bound`` leaves (prices and per-group weights of every term, across
    a warm-started second run on more columns) rebuilds its multipliers exactly: carried to
    an oracle on the same rows (other columns, another grouping) they are the returned
    multipliers, and on other rows they are the recipe's definition, computed here by hand
    (each row's group from its best initial column, u(y) at each term's prices)."""
    import coarseopt_solvers.bounds.memory as B

    rng = np.random.default_rng(21)
    n, m, k = 1_200, 50, 4
    profit = rng.normal(size=(n, m)) + np.sin(np.linspace(0, 5, m))[None, :] * rng.normal(size=(n, 1))
    offered = np.arange(k)
    src = B.Oracle(profit, k, max_groups=6, columns=np.arange(20))
    first = B.oracle_bound(src, k, incumbent=None, offered=offered, u0=None, y0=None, deadline=None, target_gap=None,
                           max_iter=15, progress=False, tol=1e-9)
    src.extend(np.arange(20, 30))
    res = B.oracle_bound(src, k, incumbent=None, offered=offered, u0=first.multipliers, y0=None, deadline=None,
                         target_gap=None, max_iter=5, progress=False, tol=1e-9, recipe0=src.last_recipe)
    recipe = src.last_recipe
    assert recipe is not None and len(recipe) > 1
    assert any(y.size == 20 for y, _ in recipe) and any(y.size == 30 for y, _ in recipe)  # both runs' terms
    y = recipe[-1][0]
    some = np.sort(rng.choice(n, 300, replace=False))
    np.testing.assert_array_equal(src.thresholds(y, some)[0], src.thresholds(y)[0][some])
    same_rows = B.Oracle(profit, k, max_groups=3, columns=np.r_[np.arange(30)[::-1], 40, 45])
    carried = same_rows.to_user(B.carry(src, recipe, same_rows))
    np.testing.assert_allclose(carried, res.multipliers, rtol=1e-12, atol=1e-12)
    # other rows: by hand
    other = rng.normal(size=(300, m)) + np.sin(np.linspace(0, 5, m))[None, :] * rng.normal(size=(300, 1))
    target = B.Oracle(other, k, columns=np.arange(30))
    got = target.to_user(B.carry(src, recipe, target))
    q = other[:, :30] - other.max(axis=1)[:, None]
    group = np.minimum(src.col_group[q[:, :20].argmax(axis=1)], src.n_groups - 1)
    expect = np.zeros(300)
    for y, w in recipe:
        yy = np.zeros(30)
        yy[: y.size] = y
        order = np.argsort(-q, axis=1, kind="stable")
        filled = np.cumsum(yy[order], axis=1)
        u_y = np.take_along_axis(q, order, axis=1)[np.arange(300), (filled >= 1.0 - 1e-12).argmax(axis=1)]
        expect += (1.0 if w is None else w[group]) * u_y
    np.testing.assert_allclose(got, expect + other.max(axis=1), rtol=1e-12, atol=1e-12)
    # block by block (an oracle per 40 rows), no oracle over every row: the same multipliers
    B_ELEMENTS = B._CARRY_BLOCK_ELEMENTS
    try:
        B._CARRY_BLOCK_ELEMENTS = 40 * m
        np.testing.assert_allclose(B.carry_to_rows(src, recipe, other, np.arange(30)), got, rtol=1e-12, atol=1e-12)
    finally:
        B._CARRY_BLOCK_ELEMENTS = B_ELEMENTS
