"""The hand-checked bank of ``conformance.py`` against every available solver.

New solvers join automatically: the parameters come from ``co.available_solvers()``.
- exact solvers must reach the optimum with status ``optimal``;
- heuristics must return a feasible result no better than the optimum, and may only say
  ``optimal`` when their bound proves it;
- solvers without share support must refuse share-bounded cases with
  :class:`UnsupportedProblemError`.
"""

from __future__ import annotations

import numpy as np
import pytest
from conformance import ALL_CASES, CASES, SHARE_CASES, make_problem

import coarseopt as co
from coarseopt.exceptions import UnsupportedProblemError

SOLVERS = co.available_solvers()
TOL = 1e-7


def _check_result(problem, result, name):
    """Feasibility facts every result must satisfy, whatever the solver."""
    assert result.solver == name
    assert result.has_solution
    assert result.assignment.shape == (problem.n,)
    assert set(np.unique(result.assignment)) <= set(result.offered.tolist())
    assert 1 <= result.offered.size <= problem.k
    assert np.all(np.diff(result.offered) > 0)
    profit = np.asarray(problem.profit)
    recomputed = profit[np.arange(problem.n), result.assignment].sum()
    assert result.objective == pytest.approx(recomputed, rel=1e-12, abs=1e-9)
    assert result.shares.sum() == pytest.approx(1.0)
    if problem.has_share_bounds:
        counts = np.bincount(result.assignment, minlength=problem.m)[result.offered]
        assert np.all(counts >= problem.min_count[result.offered])
        assert np.all(counts <= problem.max_count[result.offered])
    if result.bound is not None:
        assert result.bound >= result.objective - TOL * max(1.0, abs(result.bound))


def test_bank_is_not_empty():
    assert len(CASES) >= 10 and len(SHARE_CASES) >= 3
    assert "enumerate" in SOLVERS and "local-search" in SOLVERS


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_conformance(solver, case):
    problem = make_problem(case)
    cls = co.get_solver(solver)
    if case.shares and not cls.supports_shares:
        with pytest.raises(UnsupportedProblemError, match="share"):
            co.solve(problem, solver, seed=0)
        return
    result = co.solve(problem, solver, seed=0)
    _check_result(problem, result, solver)
    scale = max(1.0, abs(case.optimum))
    assert result.objective <= case.optimum + TOL * scale, "better than the proven optimum: a bug"
    if cls.exact:
        assert result.status == "optimal"
        assert result.objective == pytest.approx(case.optimum, rel=1e-12, abs=1e-9)
        assert result.bound == pytest.approx(case.optimum, rel=1e-9, abs=1e-9)
        assert result.gap == pytest.approx(0.0, abs=1e-9)
    else:
        assert result.status in ("feasible", "optimal")
        if result.status == "optimal":
            # a heuristic may say so only when its own bound proves it
            assert result.bound is not None
            assert result.bound == pytest.approx(result.objective, rel=1e-9, abs=1e-9)
            assert result.objective == pytest.approx(case.optimum, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("case", [c for c in CASES], ids=lambda c: c.name)
def test_local_search_hits_every_optimum(case):
    """The swap local search is exact on every unbounded case of the bank."""
    result = co.solve(make_problem(case), "local-search", seed=0)
    assert result.objective == pytest.approx(case.optimum, rel=1e-12, abs=1e-9)
    assert result.status in ("feasible", "optimal")
    assert result.extras["local_optimum"] is True


def test_full_personalization_is_proven_by_row_maxima():
    """When every row gets its best column the heuristic's bound proves optimality."""
    case = next(c for c in CASES if c.name == "k-above-m")
    result = co.solve(make_problem(case), "local-search")
    assert result.status == "optimal"
    assert result.gap == 0.0


@pytest.mark.parametrize("solver", SOLVERS)
def test_dataframe_labels_survive_every_solver(solver):
    import pandas as pd

    case = next(c for c in CASES if c.name == "three-groups-k2")
    base = make_problem(case)
    frame = pd.DataFrame(case.profit, columns=[f"t{j}" for j in range(5)], index=[f"c{i}" for i in range(6)])
    problem = co.CoarseProblem(frame, case.k, features=base.features, arms=["t0", "t1", "t2", "t3", "t4"],
                               treatments=base.treatments)
    result = co.solve(problem, solver, seed=0)
    assert list(result.assignment_series().index) == list(frame.index)
    assert set(result.offered_labels) <= set(frame.columns)
    assert result.objective <= case.optimum + TOL
