"""Properties every solver must have, checked on random small problems (hypothesis).

Profits are small integers stored as floats, so every sum is exact and the properties can be
asserted with equality where they are exact facts.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import brute_force
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import coarseopt as co
from coarseopt.exceptions import InfeasibleProblemError

SOLVERS = co.available_solvers()
EXACT = [s for s in SOLVERS if co.get_solver(s).exact]
HEURISTIC = [s for s in SOLVERS if not co.get_solver(s).exact]
SHARES = [s for s in SOLVERS if co.get_solver(s).supports_shares]
# Solvers that search over every column (not restricted to arms or to feature segments).
FULL_SEARCH = EXACT + ["local-search"]
PROPS = settings(max_examples=25, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@st.composite
def profits(draw, max_n=10, max_m=6):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    values = draw(st.lists(st.integers(-20, 20), min_size=n * m, max_size=n * m))
    return np.array(values, dtype=float).reshape(n, m)


def problem_of(profit, k, **kwargs):
    n, m = profit.shape
    features = np.column_stack([np.arange(n, dtype=float), profit.argmax(axis=1).astype(float)])
    return co.CoarseProblem(profit, k, features=features, arms=list(range(m)),
                            treatments=np.arange(m, dtype=float), **kwargs)


def solve_all(problem, names):
    return {name: co.solve(problem, name, seed=0) for name in names}


@PROPS
@given(profit=profits(), k=st.integers(1, 4))
def test_feasible_objective_recomputes_and_bounds_hold(profit, k):
    problem = problem_of(profit, k)
    optimum = brute_force(profit, k)
    for name, result in solve_all(problem, SOLVERS).items():
        assert 1 <= result.offered.size <= min(k, problem.m), name
        assert np.isin(result.assignment, result.offered).all(), name
        assert result.objective == profit[np.arange(problem.n), result.assignment].sum(), name
        assert result.objective <= optimum, name
        if result.bound is not None:
            assert result.bound >= result.objective, name
            assert result.bound >= optimum, name  # a proven bound bounds the optimum too
        if result.status == "optimal":
            assert result.objective == optimum, name
        if name in EXACT:
            assert result.status == "optimal" and result.objective == optimum, name


@PROPS
@given(profit=profits(), k=st.integers(1, 3))
def test_exact_at_least_heuristic(profit, k):
    problem = problem_of(profit, k)
    exact = co.solve(problem, "enumerate").objective
    for name in HEURISTIC:
        assert co.solve(problem, name, seed=0).objective <= exact, name


@PROPS
@given(profit=profits(), k=st.integers(1, 3))
def test_monotone_in_k(profit, k):
    problem = problem_of(profit, k)
    for name in EXACT:
        assert co.solve(problem.with_k(k + 1), name).objective >= co.solve(problem, name).objective, name
    # a heuristic warm-started from its k-solution cannot lose when k grows
    small = co.solve(problem, "local-search")
    large = co.solve(problem.with_k(k + 1), "local-search", init=small.offered.tolist())
    assert large.objective >= small.objective


@PROPS
@given(profit=profits(), extra=st.integers(0, 2))
def test_k_at_least_m_is_full_personalization(profit, extra):
    problem = problem_of(profit, profit.shape[1] + extra)
    row_max = profit.max(axis=1).sum()
    for name in FULL_SEARCH:
        result = co.solve(problem, name, seed=0)
        assert result.objective == row_max, name
        assert result.recovery == pytest.approx(1.0) or row_max == 0, name
        assert result.status == "optimal", name  # the bound (row maxima) proves it


@PROPS
@given(profit=profits(), k=st.integers(1, 3), data=st.data())
def test_invariant_to_permuting_individuals(profit, k, data):
    perm = np.array(data.draw(st.permutations(range(profit.shape[0]))), dtype=np.intp)
    problem, shuffled = problem_of(profit, k), problem_of(profit[perm], k)
    for name in FULL_SEARCH:
        a, b = co.solve(problem, name, seed=0), co.solve(shuffled, name, seed=0)
        assert a.objective == b.objective, name
        if name in EXACT:
            continue
        # the swap search only sees column sums: the same offered set
        assert a.offered.tolist() == b.offered.tolist(), name


@PROPS
@given(profit=profits(max_n=8, max_m=4), k=st.integers(1, 3),
       lo=st.sampled_from([None, 0.1, 0.25, 0.4]), hi=st.sampled_from([None, 0.5, 0.75, 1.0]))
def test_share_bounds_respected(profit, k, lo, hi):
    assume(lo is not None or hi is not None)
    try:
        problem = problem_of(profit, k, min_share=lo, max_share=hi)
    except InfeasibleProblemError:
        assume(False)
    optimum = co.solve(problem, "enumerate")
    for name in SHARES:
        result = co.solve(problem, name, seed=0)
        if result.status == "infeasible":
            assert optimum.status == "infeasible", name
            continue
        counts = np.bincount(result.assignment, minlength=problem.m)[result.offered]
        assert (counts >= problem.min_count[result.offered]).all(), name
        assert (counts <= problem.max_count[result.offered]).all(), name
        assert result.objective <= optimum.objective + 1e-9, name


@PROPS
@given(profit=profits(max_n=30, max_m=8), k=st.integers(1, 4), seed=st.integers(0, 3))
def test_local_search_deterministic_for_a_seed(profit, k, seed):
    problem = problem_of(profit, k)
    a = co.solve(problem, "local-search", seed=seed, sample_size=5, restarts=4)
    b = co.solve(problem, "local-search", seed=seed, sample_size=5, restarts=4)
    assert a.offered.tolist() == b.offered.tolist() and a.objective == b.objective
    assert dict(a.extras) == dict(b.extras)
