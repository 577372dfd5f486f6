"""Solver discovery through entry points, option checking and third-party registration."""

from __future__ import annotations

import numpy as np
import pytest

import coarseopt as co
from coarseopt.exceptions import OptionError, SolverError, UnknownSolverError
from coarseopt.registry import ENTRY_POINT_GROUP
from coarseopt.solver import Option, Solution, Solver, check_int

@pytest.fixture(autouse=True)
def _private_registry(monkeypatch):
    """Solvers registered by a test disappear after it."""
    from coarseopt import registry

    monkeypatch.setattr(registry, "_EXTRA", dict(registry._EXTRA))
    monkeypatch.setattr(registry, "_LOADED", dict(registry._LOADED))


PROFIT = np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]])


def test_builtin_solvers_are_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert {"enumerate", "local-search", "mip", "ot", "grid-search", "kmeans-features",
            "kmeans-preferences"} <= names
    assert set(co.available_solvers()) <= set(co.registered_solvers())
    assert co.available_solvers() == sorted(co.available_solvers())


def test_builtin_classes_resolve():
    from coarseopt_solvers.enumerate import EnumerateSolver
    from coarseopt_solvers.local_search import LocalSearchSolver

    assert co.get_solver("enumerate") is EnumerateSolver
    assert co.get_solver("local-search") is LocalSearchSolver
    assert EnumerateSolver.exact and not LocalSearchSolver.exact
    assert not LocalSearchSolver.supports_shares


def test_unknown_solver_lists_registered_ones():
    with pytest.raises(UnknownSolverError, match=r"Unknown solver 'simplex'.*enumerate.*local-search"):
        co.solve(co.CoarseProblem(PROFIT, k=1), "simplex")
    with pytest.raises(ValueError):
        co.get_solver("simplex")
    with pytest.raises(UnknownSolverError, match="must be a solver name"):
        co.get_solver(3)


def test_unknown_option_lists_valid_ones():
    with pytest.raises(OptionError, match=r"Unknown option\(s\) \['restart'\].*Valid options: .*restarts"):
        co.solve(co.CoarseProblem(PROFIT, k=1), "local-search", restart=3)
    with pytest.raises(OptionError, match=r"Valid options: max_knapsack, max_lp, max_work"):
        co.solve(co.CoarseProblem(PROFIT, k=1), "enumerate", verbose=True)


@pytest.mark.parametrize(
    "options, pattern",
    [
        ({"restarts": 0}, r"'restarts' option of solver 'local-search' must be an int in the range \[1"),
        ({"restarts": 2.5}, r"'restarts'.*Got 2.5"),
        ({"improvement": "worst"}, r"'improvement'.*must be one of \['best', 'first'\].*'worst'"),
        ({"path_relinking": "yes"}, r"'path_relinking'.*must be a bool"),
        ({"init": "abc"}, r"'init'.*sequence of column indices"),
        ({"init": [0, 0]}, r"'init'.*must not repeat"),
        ({"init": [-1]}, r"'init'.*>= 0"),
        ({"elite_size": 0}, r"'elite_size'"),
        ({"sample_size": -5}, r"'sample_size'"),
    ],
)
def test_invalid_option_values(options, pattern):
    with pytest.raises(OptionError, match=pattern):
        co.solve(co.CoarseProblem(PROFIT, k=1), "local-search", **options)


def test_invalid_init_for_the_problem():
    problem = co.CoarseProblem(PROFIT, k=1)
    with pytest.raises(OptionError, match=r"'init' holds column indices outside \[0, 3\)"):
        co.solve(problem, "local-search", init=[5])
    with pytest.raises(OptionError, match=r"'init' offers 2 treatments, more than k = 1"):
        co.solve(problem, "local-search", init=[0, 1])


@pytest.mark.parametrize("bad", [{"time_limit": -1}, {"time_limit": "soon"}, {"seed": 1.5}, {"seed": True}])
def test_invalid_solve_arguments(bad):
    with pytest.raises(OptionError):
        co.solve(co.CoarseProblem(PROFIT, k=1), "local-search", **bad)


def test_solve_needs_a_problem():
    with pytest.raises(TypeError, match="CoarseProblem"):
        co.solve(PROFIT, "local-search")


class _BestColumn(Solver):
    """A third-party plugin: offer the single column with the largest total profit."""

    name = "test-best-column"
    exact = False
    options = {"skip": Option(0, check_int(0), "columns to ignore from the left")}

    def _solve(self, problem, context):
        totals = np.asarray(problem.profit).sum(axis=0)
        totals[: self.params["skip"]] = -np.inf
        return Solution(offered=[int(totals.argmax())], status="feasible", extras={"totals": totals})


class _Liar(Solver):
    name = "test-liar"

    def _solve(self, problem, context):
        return Solution(offered=[0], status="optimal")  # no bound: the base must refuse


class _Overfull(Solver):
    name = "test-overfull"

    def _solve(self, problem, context):
        return Solution(offered=list(range(problem.m)), status="feasible")


def test_third_party_solver_through_solve():
    co.register_solver(_BestColumn, replace=True)
    assert "test-best-column" in co.registered_solvers()
    assert "test-best-column" in co.available_solvers()
    problem = co.CoarseProblem(PROFIT, k=1)
    result = co.solve(problem, "test-best-column")
    # column sums 4, 4, 6
    assert result.offered.tolist() == [2] and result.objective == 6.0
    assert result.status == "feasible" and result.solver == "test-best-column"
    assert result.extras["totals"].tolist() == [4.0, 4.0, 6.0]
    # skipping every column leaves argmax at column 0 (sum 4)
    assert co.solve(problem, "test-best-column", skip=3).objective == 4.0
    with pytest.raises(OptionError, match="Valid options: skip"):
        co.solve(problem, "test-best-column", skp=1)


def test_register_refuses_to_shadow():
    with pytest.raises(ValueError, match="already registered"):
        co.register_solver(_BestColumn, name="enumerate")
    with pytest.raises(TypeError, match="Solver subclass"):
        co.register_solver(object)


def test_base_refuses_unproven_optimality_and_too_many_treatments():
    co.register_solver(_Liar, replace=True)
    co.register_solver(_Overfull, replace=True)
    problem = co.CoarseProblem(PROFIT, k=1)
    with pytest.raises(SolverError, match="optimality without a matching bound"):
        co.solve(problem, "test-liar")
    with pytest.raises(SolverError, match="more than k = 1"):
        co.solve(problem, "test-overfull")


def test_read_pmed(pmed1_path):
    problem = co.read_pmed(pmed1_path)
    assert (problem.n, problem.m, problem.k) == (100, 100, 5)
    assert np.all(np.diag(problem.profit) == 0.0)
    assert np.all(problem.profit <= 0.0)
    np.testing.assert_array_equal(problem.profit, problem.profit.T)  # shortest paths are symmetric


def test_read_pmed_last_cost_wins(tmp_path):
    # edge 1-2 listed twice, the second time reversed and cheaper: the last cost (4) wins
    path = tmp_path / "tiny.txt"
    path.write_text("3 3 1\n1 2 10\n2 3 1\n2 1 4\n")
    problem = co.read_pmed(path)
    dist = -problem.profit
    assert dist[0, 1] == 4.0 and dist[0, 2] == 5.0 and dist[1, 2] == 1.0
    path.write_text("3 3 1\n1 2 4\n2 3 1\n2 1 10\n")  # now the expensive cost is the last one
    dist = -co.read_pmed(path).profit
    assert dist[0, 1] == 10.0 and dist[0, 2] == 11.0
    # k = 1: vertex 2 (index 1) is the median, cost 4 + 0 + 1 in the first file
    path.write_text("3 3 1\n1 2 10\n2 3 1\n2 1 4\n")
    result = co.solve(co.read_pmed(path), "enumerate")
    assert -result.objective == 5.0 and result.offered.tolist() == [1]


def test_read_pmed_rejects_garbage(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("not a pmed file\n")
    with pytest.raises(co.ProblemError, match="not an OR-Library p-median file"):
        co.read_pmed(path)
