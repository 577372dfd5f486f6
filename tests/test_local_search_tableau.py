"""The incremental swap terms (``SwapTableau``), the per-row column order, lazy greedy
addition, and time limits on Euclidean p-median instances."""

from __future__ import annotations

import time

import numpy as np
import pytest

import coarseopt as co
import coarseopt_solvers.heuristics.swap as S
import coarseopt_solvers.kernels.tableau as T
from coarseopt_solvers.kernels import InMemorySource, best_two
from coarseopt_solvers.kernels.greedy import greedy_add
from coarseopt_solvers.kernels.tableau import ColumnOrder, SwapTableau
from coarseopt_solvers.local_search import swap_local_search

from coarseopt_benchmarks.instances import euclidean_pmed


def f(profit, offered):
    return float(profit[:, list(offered)].max(axis=1).sum())


def brute_deltas(profit, offered, cols):
    """``f(S - offered[r] + cols[t]) - f(S)``; NaN where ``cols[t]`` is offered."""
    base = f(profit, offered)
    out = np.full((len(offered), len(cols)), np.nan)
    for r in range(len(offered)):
        for t, j in enumerate(cols):
            if j not in offered:
                trial = list(offered)
                trial[r] = j
                out[r, t] = f(profit, trial) - base
    return out


def random_profit(rng, n, m, trial):
    # integer profits in a small range: many ties (between best and second best too)
    return rng.integers(0, 4, (n, m)).astype(float) if trial % 2 else rng.normal(size=(n, m))


@pytest.mark.parametrize("variant", range(6))
def test_tableau_matches_brute_force_across_swaps(variant, monkeypatch):
    """G + E equals the brute-force change of every swap, and ``best()`` the masked argmax
    (ties: lowest position, then lowest column), after each of a sequence of swaps; with and
    without the column order, dense and sparse terms, incremental and full updates, column
    subsets, k from 1 to m - 1."""
    monkeypatch.setattr(T, "FULL_FRACTION", [0.0, 0.25, 1.0][variant % 3])
    monkeypatch.setattr(T, "FULL_FRACTION_SPARSE", [0.0, 0.6, 1.0][variant % 3])
    monkeypatch.setattr(T, "ONEHOT_GROUPS", [8, 1, 3][variant % 3])
    rng = np.random.default_rng(variant)
    for trial in range(40):
        n, m = int(rng.integers(1, 25)), int(rng.integers(2, 12))
        profit = random_profit(rng, n, m, trial)
        s = int(rng.integers(max(1, m - 2), m)) if trial % 3 == 0 else int(rng.integers(1, m))  # k near m too
        offered = np.sort(rng.choice(m, s, replace=False))
        cols = None if trial % 4 else np.sort(rng.choice(m, int(rng.integers(1, m + 1)), replace=False))
        order = ColumnOrder(profit) if (variant + trial) % 2 else None
        tab = SwapTableau(profit, offered, cols=cols, order=order)
        for _ in range(6):
            c = np.arange(m) if cols is None else cols
            expected = brute_deltas(profit, tab.offered, c)
            ok = ~np.isnan(expected)
            np.testing.assert_allclose(tab.deltas()[ok], expected[ok], atol=1e-9)
            np.testing.assert_array_equal(tab.b1, profit[:, tab.offered].max(axis=1))
            for got, want in zip(tab.state(), best_two([(0, profit)], tab.offered, n)):
                np.testing.assert_array_equal(got, want)
            if cols is None:
                d = tab.deltas()
                d[:, tab.offered] = -np.inf
                r, j = np.unravel_index(int(d.argmax()), d.shape)
                assert tab.best() == (r, j, d[r, j])
            outside = np.setdiff1d(c, tab.offered)
            if outside.size == 0:
                break
            tab.swap(int(rng.integers(s)), int(rng.choice(outside)))
            assert tab.total() == pytest.approx(f(profit, tab.offered))


def test_column_order_reads_the_entries_above():
    rng = np.random.default_rng(0)
    profit = rng.integers(0, 5, (30, 9)).astype(float)
    order = ColumnOrder(profit)
    rows = np.arange(30)
    cols = rng.integers(0, 9, 30)
    ii, jj, v = order.above(rows, cols)
    np.testing.assert_array_equal(v, profit[ii, jj])
    for i in rows:
        got = set(jj[ii == i].tolist())
        above = {j for j in range(9) if profit[i, j] > profit[i, cols[i]]}
        tied_lower = {j for j in range(9) if profit[i, j] == profit[i, cols[i]] and j < cols[i]}
        assert got == above | tied_lower
    np.testing.assert_array_equal(order.best, profit.max(axis=1))


def test_lazy_greedy_equals_greedy():
    rng = np.random.default_rng(3)
    for trial in range(60):
        n, m = int(rng.integers(1, 30)), int(rng.integers(1, 14))
        profit = rng.integers(-3, 4, (n, m)).astype(float) if trial % 2 else rng.normal(size=(n, m))
        src = InMemorySource(profit)
        k = int(rng.integers(1, m + 1))
        start = () if trial % 3 else tuple(rng.choice(m, min(k, 2), replace=False).tolist())
        assert greedy_add(src, k, start=start, lazy=True) == greedy_add(src, k, start=start)


def test_euclidean_instances():
    problem, points = euclidean_pmed(120, 7, seed=5, layout="clustered")
    again, _ = euclidean_pmed(120, 7, seed=5, layout="clustered")
    dist = -np.asarray(problem.profit)
    assert problem.n == problem.m == 120 and problem.k == 7 and points.shape == (120, 2)
    np.testing.assert_array_equal(problem.profit, again.profit)
    np.testing.assert_allclose(dist, dist.T)
    assert np.all(np.diag(dist) == 0.0) and dist.min() >= 0.0
    uniform, _ = euclidean_pmed(120, 7, seed=5)
    assert not np.array_equal(uniform.profit, problem.profit)
    with pytest.raises(ValueError):
        euclidean_pmed(10, 2, layout="grid")


def test_local_search_many_treatments_is_a_local_optimum(monkeypatch):
    """k > 8 and n m > 2^15 (incremental terms, column order after 4 k swaps): a local
    optimum under swaps, checked by the full pass of the plain descent."""
    problem, _ = euclidean_pmed(200, 12, seed=1, layout="uniform")
    result = co.solve(problem, "local-search", seed=0, restarts=4)
    profit = np.ascontiguousarray(problem.profit)
    assert result.extras["swaps"] > 0
    assert result.objective == pytest.approx(f(profit, result.offered))
    monkeypatch.setattr(S, "TABLEAU_MIN_ELEMENTS", 1 << 40)  # the full pass per swap
    offered, value = swap_local_search(profit, 12, result.offered)
    assert value == pytest.approx(result.objective) and set(offered) == set(result.offered)


@pytest.mark.parametrize("solver", ["mip", "local-search"])
def test_time_limit_returns_a_solution_with_a_bound(solver):
    """A short time limit on an instance neither solver finishes in it: a valid offered set,
    a bound above its objective, and a wall time near the limit (a generous sanity check)."""
    problem, _ = euclidean_pmed(700, 10, seed=700, layout="uniform")
    limit = 1.0
    start = time.perf_counter()
    result = co.solve(problem, solver, time_limit=limit, seed=0)
    wall = time.perf_counter() - start
    assert result.status in ("time_limit", "optimal", "feasible")
    assert result.offered.size == 10 and np.unique(result.offered).size == 10
    assert result.bound is not None and result.bound >= result.objective - 1e-9 * abs(result.objective)
    assert result.objective == pytest.approx(f(np.asarray(problem.profit), result.offered))
    assert wall < 10 * limit + 5.0
