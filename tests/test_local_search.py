"""The ``local-search`` solver and its building blocks."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from conftest import brute_force

import coarseopt as co
from coarseopt.exceptions import OptionError, ProblemError
from coarseopt_solvers.heuristics.swap import SwapEngine
from coarseopt_solvers.kernels import InMemorySource, group_sum
from coarseopt_solvers.local_search import LocalSearchSolver, swap_local_search


def f(profit, offered):
    return float(np.asarray(profit)[:, list(offered)].max(axis=1).sum())


def assert_swap_local_optimum(profit, offered, tol=1e-9):
    """No exchange of one offered column for another column improves ``f``."""
    offered = list(offered)
    value = f(profit, offered)
    for r in range(len(offered)):
        for j in set(range(profit.shape[1])) - set(offered):
            trial = offered.copy()
            trial[r] = j
            assert f(profit, trial) <= value + tol * max(1.0, abs(value)), (offered, r, j)


# ---------------------------------------------------------------------- the swap formula
@pytest.mark.parametrize("s", [1, 2, 5, 30])
def test_swap_gains_match_brute_force(s):
    """Delta(j, r) = G_j + E_rj equals f(S - r + j) - f(S) for every swap, including the
    dense (s <= 8) and sparse (s > 8) group sums and s = 1 (no second best)."""
    rng = np.random.default_rng(s)
    profit = rng.normal(size=(300, 40))
    offered = np.sort(rng.choice(40, size=s, replace=False))
    eng = SwapEngine(InMemorySource(profit))
    eng.source.rows = 37  # several row blocks, the last one short
    gains = eng.swap_gains(eng.source.state(offered), s)
    base = f(profit, offered)
    for r in range(s):
        for j in range(40):
            if j in offered:
                continue
            trial = offered.copy()
            trial[r] = j
            assert gains[r, j] == pytest.approx(f(profit, trial) - base, abs=1e-9)
    assert eng.row_max_total == pytest.approx(profit.max(axis=1).sum())


def test_swap_gains_restricted_candidates():
    rng = np.random.default_rng(3)
    profit = rng.normal(size=(50, 12))
    offered = np.array([1, 4, 7])
    cand = np.array([0, 5, 11])
    eng = SwapEngine(InMemorySource(profit))
    full = eng.swap_gains(eng.source.state(offered), 3)
    part = eng.swap_gains(eng.source.state(offered), 3, cand)
    np.testing.assert_allclose(part, full[:, cand], atol=1e-12)


def test_add_gains_and_state():
    profit = np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]])
    eng = SwapEngine(InMemorySource(profit))
    np.testing.assert_array_equal(eng.source.add_gains(None, np.arange(3)), [4.0, 4.0, 6.0])
    b1, b2, pos = eng.source.state(np.array([2, 0]))
    assert b1.tolist() == [3.0, 2.0, 2.0] and b2.tolist() == [2.0, 0.0, 1.0] and pos.tolist() == [1, 0, 0]
    # adding column 0 to {2}: rows gain 1, 0, 0
    np.testing.assert_array_equal(eng.source.add_gains(np.array([2.0, 2.0, 2.0]), np.array([0, 1])), [1.0, 1.0])


def test_group_sum_paths_agree():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 7))
    for s in (1, 3, 8, 9, 60):
        pos = rng.integers(0, s, 200)
        expected = np.zeros((s, 7))
        np.add.at(expected, pos, values)
        np.testing.assert_allclose(group_sum(pos, values, s), expected, atol=1e-12)


# ---------------------------------------------------------------------- swap_local_search
def test_swap_local_search_example():
    profit = np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]])
    offered, value = swap_local_search(profit, 1)
    assert offered.tolist() == [2] and value == 6.0


def test_swap_local_search_escapes_the_greedy_trap():
    # greedy picks column 2 (sum 12) first; one swap reaches the optimum {0, 1} = 20
    profit = np.array([[10.0, 0.0, 6.0], [0.0, 10.0, 6.0]])
    offered, value = swap_local_search(profit, 2)
    assert offered.tolist() == [0, 1] and value == 20.0


@pytest.mark.parametrize("improvement", ["best", "first"])
@pytest.mark.parametrize("seed", range(4))
def test_swap_local_search_ends_in_local_optimum(improvement, seed):
    rng = np.random.default_rng(seed)
    profit = rng.normal(size=(80, 15))
    k = 2 + seed
    offered, value = swap_local_search(profit, k, rng=rng, improvement=improvement)
    assert offered.size == k and np.all(np.diff(offered) > 0)
    assert value == pytest.approx(f(profit, offered))
    assert_swap_local_optimum(profit, offered)


def test_swap_local_search_from_a_start():
    rng = np.random.default_rng(7)
    profit = rng.normal(size=(60, 10))
    offered, value = swap_local_search(profit, 3, offered=[9])  # completed greedily to 3
    assert offered.size == 3
    assert_swap_local_optimum(profit, offered)
    start_value = f(profit, [0, 1, 2])
    _, value = swap_local_search(profit, 3, offered=np.array([0, 1, 2]))
    assert value >= start_value


def test_swap_local_search_deadline_in_the_past():
    profit = np.random.default_rng(1).normal(size=(100, 20))
    offered, value = swap_local_search(profit, 4, deadline=time.perf_counter() - 1.0)
    assert 1 <= offered.size <= 4  # stops early, but with a valid set
    assert value == pytest.approx(f(profit, offered))


def test_swap_local_search_bad_input():
    with pytest.raises(ProblemError, match="'k'"):
        swap_local_search(np.ones((2, 2)), 0)
    with pytest.raises(ProblemError, match="'profit'"):
        swap_local_search(np.ones(3), 1)
    with pytest.raises(OptionError, match="'improvement'"):
        swap_local_search(np.ones((2, 2)), 1, improvement="steepest")
    with pytest.raises(OptionError, match="'offered' holds column indices outside"):
        swap_local_search(np.ones((2, 2)), 1, offered=[3])
    with pytest.raises(OptionError, match="more than k = 1"):
        swap_local_search(np.ones((2, 3)), 1, offered=[0, 1])


# ---------------------------------------------------------------------- the solver
def test_solver_class_contract():
    assert LocalSearchSolver.name == "local-search"
    assert LocalSearchSolver.exact is False
    assert LocalSearchSolver.supports_shares is False
    assert {"init", "improvement", "restarts", "path_relinking"} <= set(LocalSearchSolver.options)


def test_refuses_share_bounds():
    problem = co.CoarseProblem(np.eye(4), k=2, min_share=0.25)
    with pytest.raises(co.UnsupportedProblemError):
        co.solve(problem, "local-search")


def test_pmed1_optimum(pmed1_path):
    """OR-Library pmed1: the published (proven) optimum 5819 is reached."""
    result = co.solve(co.read_pmed(pmed1_path), "local-search", seed=0)
    assert -result.objective == 5819.0
    assert result.status == "feasible" and result.termination == "converged"


@pytest.mark.parametrize("seed", [0, 1])
def test_generalizes_to_random_pmed(seed):
    """Random Beasley-style instances (not tuned on): the exact optimum by enumeration."""
    from benchmarks.instances import beasley_pmed

    problem, _ = beasley_pmed(50, 3, seed=100 + seed)
    exact = co.solve(problem, "enumerate")
    result = co.solve(problem, "local-search", seed=seed)
    assert result.objective == exact.objective
    assert result.status == "feasible"  # no proof from a heuristic


def test_plain_descent_equals_function():
    rng = np.random.default_rng(11)
    profit = rng.normal(size=(70, 12))
    problem = co.CoarseProblem(profit, 4)
    result = co.solve(problem, "local-search", restarts=1, path_relinking=False)
    offered, value = swap_local_search(profit, 4)
    assert result.offered.tolist() == offered.tolist()
    assert result.objective == pytest.approx(value)
    assert result.extras["restarts"] == 1 and result.extras["relinks"] == 0


def test_multistart_no_worse_than_plain_descent():
    rng = np.random.default_rng(5)
    for _ in range(3):
        profit = rng.integers(0, 50, size=(40, 14)).astype(float)
        problem = co.CoarseProblem(profit, 3)
        plain = co.solve(problem, "local-search", restarts=1, path_relinking=False).objective
        strong = co.solve(problem, "local-search").objective
        assert plain <= strong <= brute_force(profit, 3)


def test_extras_and_bound():
    rng = np.random.default_rng(2)
    profit = rng.normal(size=(90, 10))
    result = co.solve(co.CoarseProblem(profit, 3), "local-search", restarts=6)
    for key in ("restarts", "relinks", "improvements", "passes", "swaps", "local_optimum", "sample_size"):
        assert key in result.extras
    assert result.extras["restarts"] == 6
    assert result.extras["local_optimum"] is True
    assert result.bound == pytest.approx(profit.max(axis=1).sum())
    assert result.gap == pytest.approx((result.bound - result.objective) / max(1.0, abs(result.bound)))
    assert result.status == "feasible"


def test_init_warm_start():
    rng = np.random.default_rng(4)
    profit = rng.integers(0, 30, size=(30, 8)).astype(float)
    problem = co.CoarseProblem(profit, 3)
    best = max(itertools.combinations(range(8), 3), key=lambda s: f(profit, s))
    result = co.solve(problem, "local-search", init=list(best), restarts=1, path_relinking=False)
    assert result.objective == f(profit, best)
    partial = co.solve(problem, "local-search", init=[best[0]], restarts=1)
    assert partial.offered.size == 3


def test_time_limit_returns_incumbent():
    profit = np.random.default_rng(0).normal(size=(2000, 30))
    result = co.solve(co.CoarseProblem(profit, 5), "local-search", time_limit=1e-9)
    assert result.status == "time_limit" and result.termination == "time_limit"
    assert result.has_solution and 1 <= result.offered.size <= 5
    assert result.extras["local_optimum"] is False


def test_subsampled_search_is_local_optimum_on_all_rows():
    rng = np.random.default_rng(9)
    profit = rng.normal(size=(3000, 12)) + rng.normal(size=(1, 12))
    result = co.solve(co.CoarseProblem(profit, 3), "local-search", sample_size=200, seed=1)
    assert result.extras["sample_size"] == 200
    assert result.extras["local_optimum"] is True
    assert_swap_local_optimum(profit, result.offered)


@pytest.mark.parametrize("n, subsampled", [(1900, False), (2100, True)])
def test_default_sample_sees_everyone_unless_n_is_twice_it(n, subsampled):
    """With the default sample (1,000 individuals here) the multistart runs on every
    individual up to twice that, on a subsample (then refined on all rows) above."""
    rng = np.random.default_rng(n)
    profit = rng.normal(size=(n, 300))
    result = co.solve(co.CoarseProblem(profit, 3), "local-search", restarts=2, seed=0)
    assert result.extras["sample_size"] == (1000 if subsampled else n)
    assert ("levels" in result.extras) is subsampled
    assert_swap_local_optimum(profit, result.offered)


def test_relinking_runs_both_ways():
    """The relinking result is the better of the descents from each direction's best path
    set, computed here one direction at a time (on this instance the path from the worse
    solution ends better); its value is its objective."""
    from coarseopt_solvers.heuristics.swap import relink_and_descend

    rng = np.random.default_rng(0)
    profit = -np.abs(rng.normal(size=(400, 1)) - rng.normal(size=(1, 60))) + 0.3 * rng.normal(size=(400, 60))
    eng = SwapEngine(InMemorySource(profit))
    a, b = np.array([9, 12, 22, 39, 42, 56]), np.array([1, 19, 30, 44, 45, 52])
    assert f(profit, a) > f(profit, b)
    got = relink_and_descend(eng, (a, f(profit, a)), (b, f(profit, b)))
    one_way = [eng.descend(eng.relink(s, g))[1] for s, g in ((a, b), (b, a))]
    assert one_way[1] > one_way[0] + 1.0
    assert got is not None and got[1] == pytest.approx(one_way[1], rel=1e-12)
    assert got[1] == pytest.approx(f(profit, got[0]), rel=1e-12)
    assert_swap_local_optimum(profit, got[0])
    assert relink_and_descend(eng, (a, 0.0), (np.array([9, 12, 22, 39, 42, 57]), 0.0)) is None  # one apart


def test_evolve_relinks_each_pair_once():
    """A generation relinks only the pairs of the elite not relinked before: after a first
    generation that brings in one new set, the second relinks the new set's two pairs only."""
    from coarseopt_solvers.heuristics.swap import ElitePool, evolve

    pool = ElitePool(3)
    for offered, value in (([0, 1], 1.0), ([2, 3], 2.0), ([4, 5], 3.0)):
        pool.add(np.array(offered), value)
    calls = []

    def relink_pair(a, b):
        calls.append((tuple(a[0].tolist()), tuple(b[0].tolist())))
        if len(calls) == 1:
            pool.add(np.array([0, 6]), 10.0)

    eng = SwapEngine(InMemorySource(np.zeros((2, 7))))
    assert evolve(eng, pool, relink_pair) == 2
    assert len(calls) == 5 and len(set(calls)) == 5
    assert set(calls[3:]) == {((0, 6), (2, 3)), ((0, 6), (4, 5))}


def test_first_improvement_option():
    rng = np.random.default_rng(8)
    profit = rng.normal(size=(120, 25))
    problem = co.CoarseProblem(profit, 4)
    result = co.solve(problem, "local-search", improvement="first", restarts=3)
    assert_swap_local_optimum(profit, result.offered)


def test_lazy_dask_matches_numpy():
    import dask.array as da
    rng = np.random.default_rng(6)
    profit = rng.normal(size=(500, 9))
    eager = co.solve(co.CoarseProblem(profit, 3), "local-search", sample_size=100, restarts=4)
    lazy = co.solve(co.CoarseProblem(da.from_array(profit, chunks=(128, 9)), 3), "local-search",
                    sample_size=100, restarts=4)
    assert lazy.offered.tolist() == eager.offered.tolist()
    assert lazy.objective == pytest.approx(eager.objective)


def test_single_column_and_single_row():
    one_col = co.solve(co.CoarseProblem(np.array([[1.0], [-2.0]]), 3), "local-search")
    assert one_col.offered.tolist() == [0] and one_col.objective == -1.0
    one_row = co.solve(co.CoarseProblem(np.array([[2.0, 7.0, -1.0]]), 1), "local-search")
    assert one_row.offered.tolist() == [1] and one_row.status == "optimal"  # bound = row max


def test_benchmark_runner_smoke(tmp_path):
    """The benchmark runner keeps working (its quick OR-Library part)."""
    import json

    from benchmarks import local_search as bench

    assert bench.main(["--quick", "--parts", "orlib", "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "local_search_quick.jsonl").read_text().splitlines()]
    assert rows[0]["part"] == "meta"
    quality = [r for r in rows if r["part"] == "orlib"]
    assert {r["instance"] for r in quality} == {"pmed1", "pmed6"}
    assert all(r["gap_pct"] >= 0 for r in quality)
    assert "| pmed1 |" in (tmp_path / "local_search_quick.md").read_text()
