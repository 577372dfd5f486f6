"""The ``Solver`` interface that every solver plugin implements.

A plugin subclasses :class:`Solver`, declares its options once in ``options`` and implements
one method, :meth:`Solver._solve`, which returns a :class:`Solution`. Everything else runs
once, here, in a fixed sequence (as in CVXPY's solving chain): option validation, problem
checks (share bounds supported? lazy data supported?), timing, the assignment derived from
the offered set where the plugin gives none, feasibility checks of what the plugin returned,
the objective recomputed from the assignment, the gap, and the frozen :class:`SolveResult`.

Example plugin::

    class BestSingle(Solver):
        name = "best-single"
        exact = False
        options = {"verbose": Option(False, check_bool, "print nothing")}

        def _solve(self, problem, context):
            j = int(problem.profit.sum(axis=0).argmax())
            return Solution(offered=[j], status="feasible")

registered through the entry-point group ``coarseopt.solvers``
(``best-single = "mypackage.module:BestSingle"``) or, in-process, by
:func:`coarseopt.register_solver`.
"""

from __future__ import annotations

import importlib.util
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from .exceptions import OptionError, SolverError, UnsupportedProblemError
from .problem import CoarseProblem
from .progress import progress_bar
from .result import STATUSES, SolveResult

__all__ = [
    "Solver",
    "materialize",
    "Solution",
    "SolveContext",
    "Option",
    "check_bool",
    "check_int",
    "check_float",
    "check_choice",
    "check_optional",
    "OPTIMALITY_TOL",
]

#: Relative tolerance under which a bound proves an objective optimal.
OPTIMALITY_TOL = 1e-9
#: Relative excess of a spend over the budget taken as rounding (sums in another order).
BUDGET_TOL = 1e-9


# ---------------------------------------------------------------------- options
@dataclass(frozen=True)
class Option:
    """A solver option: its default, a check that returns the normalized value or raises
    ``ValueError``/``TypeError`` with the allowed range, and a one-line description."""

    default: Any
    check: Callable[[Any], Any]
    doc: str = ""


def check_bool(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError("must be a bool")


def check_int(low: float = -np.inf, high: float = np.inf) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"must be an int in the range [{low}, {high}]")
        if not low <= value <= high:
            raise ValueError(f"must be an int in the range [{low}, {high}]")
        return int(value)

    return check


def check_float(low: float = -np.inf, high: float = np.inf) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"must be a number in the range [{low}, {high}]")
        if not (low <= float(value) <= high):
            raise ValueError(f"must be a number in the range [{low}, {high}]")
        return float(value)

    return check


def check_choice(*choices: Any) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in choices:
            raise ValueError(f"must be one of {list(choices)}")
        return value

    return check


def check_optional(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        return None if value is None else inner(value)

    return check


# ---------------------------------------------------------------------- plugin I/O
@dataclass
class Solution:
    """What a plugin's ``_solve`` returns.

    Give ``offered`` (column indices), ``assignment`` (one column per individual), or both.
    Without ``assignment`` each individual gets its best offered treatment (only valid when
    the problem has no share bounds and no budget). ``bound`` is a *proven* upper bound or None.
    """

    offered: Any = None
    assignment: Any = None
    status: str = "feasible"
    bound: float | None = None
    termination: str = "converged"
    message: str = ""
    extras: dict = field(default_factory=dict)


class SolveContext:
    """Run-time facts handed to ``_solve``: the deadline, a seeded random generator and
    a progress-bar factory that honours the user's ``progress`` choice."""

    def __init__(self, time_limit: float | None, seed: int | None, progress: bool | None) -> None:
        self.start = time.perf_counter()
        self.time_limit = time_limit
        self.deadline = None if time_limit is None else self.start + time_limit
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.progress = progress

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def time_left(self) -> float:
        """Seconds left before the time limit (``inf`` without one)."""
        return np.inf if self.deadline is None else self.deadline - time.perf_counter()

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def bar(self, total: int | None = None, desc: str = "", unit: str = "it"):
        """A progress bar (a no-op object when progress display is off)."""
        return progress_bar(total=total, desc=desc, unit=unit, enabled=self.progress)


# ---------------------------------------------------------------------- the interface
class Solver(ABC):
    """Base class of every solver plugin.

    Class attributes a plugin sets:

    ``name``
        The registered name (also the entry-point name).
    ``exact``
        Whether the method can prove optimality.
    ``options``
        ``{name: Option}``: every keyword the solver accepts.
    ``supports_shares``
        Whether ``min_share`` / ``max_share`` are honoured; otherwise a problem with share
        bounds is refused with :class:`UnsupportedProblemError`.
    ``supports_budget``
        Whether a ``budget`` (``sum_i cost[i, a(i)] <= budget``) is honoured; otherwise a
        problem with a budget is refused with :class:`UnsupportedProblemError`.
    ``supports_lazy``
        Whether a dask ``profit`` is processed chunk by chunk; otherwise it is loaded into
        memory first.
    ``requires``
        Importable module names the solver needs; :meth:`available` checks them without
        importing them.
    """

    name: ClassVar[str] = ""
    exact: ClassVar[bool] = False
    options: ClassVar[Mapping[str, Option]] = {}
    supports_shares: ClassVar[bool] = False
    supports_budget: ClassVar[bool] = False
    supports_lazy: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        self.params = self.check_options(options)

    @classmethod
    def available(cls) -> bool:
        """Whether the solver's dependencies can be imported (without importing them)."""
        return all(importlib.util.find_spec(mod) is not None for mod in cls.requires)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate user options against the declared ones; fill in defaults."""
        unknown = sorted(set(options) - set(cls.options))
        if unknown:
            valid = ", ".join(sorted(cls.options)) or "(none)"
            raise OptionError(
                f"Unknown option(s) {unknown} for solver {cls.name!r}. Valid options: {valid}."
            )
        params = {}
        for key, opt in cls.options.items():
            if key not in options:
                params[key] = opt.default
                continue
            try:
                params[key] = opt.check(options[key])
            except (TypeError, ValueError) as exc:
                raise OptionError(
                    f"The {key!r} option of solver {cls.name!r} {exc}. Got {options[key]!r} instead."
                ) from None
        return params

    @classmethod
    def describe_options(cls) -> str:
        """One line per option: name, default and description."""
        return "\n".join(f"{k} (default {o.default!r}): {o.doc}" for k, o in cls.options.items())

    # The fixed sequence -------------------------------------------------------------
    def solve(
        self,
        problem: CoarseProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = 0,
        progress: bool | None = None,
    ) -> SolveResult:
        """Solve ``problem`` and return a checked, frozen :class:`SolveResult`."""
        if not isinstance(problem, CoarseProblem):
            raise TypeError(
                f"solve() expects a coarseopt.CoarseProblem; got {type(problem).__name__}. "
                "Wrap your matrix: co.CoarseProblem(profit, k=...)."
            )
        if time_limit is not None:
            if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit > 0:
                raise OptionError(f"'time_limit' must be a positive number of seconds or None; got {time_limit!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise OptionError(f"'seed' must be an int or None; got {seed!r}.")
        if problem.has_share_bounds and not self.supports_shares:
            raise UnsupportedProblemError(
                f"Solver {self.name!r} cannot honour min_share / max_share. Use a solver that can "
                "(ot, mip) or drop the share bounds."
            )
        if problem.has_budget and not self.supports_budget:
            raise UnsupportedProblemError(
                f"Solver {self.name!r} cannot honour a budget. Use a solver that can (ot, local-search, mip, "
                "enumerate) or drop the budget."
            )
        if problem.is_lazy and not self.supports_lazy:
            problem = materialize(problem, self.name)
        context = SolveContext(time_limit, seed, progress)
        sol = self._solve(problem, context)
        return self._finish(problem, sol, context)

    @abstractmethod
    def _solve(self, problem: CoarseProblem, context: SolveContext) -> Solution:
        """The one method a plugin implements."""

    def _finish(self, problem: CoarseProblem, sol: Solution, context: SolveContext) -> SolveResult:
        if sol.status not in STATUSES:
            raise SolverError(f"Solver {self.name!r} returned unknown status {sol.status!r}.")
        full = problem.full_profit()
        common = dict(
            solver=self.name,
            termination=sol.termination,
            message=sol.message,
            full_profit=full,
            treatment_labels=problem.treatment_labels,
            index=problem.index,
            options=self.params,
            extras=sol.extras,
        )
        if sol.offered is None and sol.assignment is None:
            if sol.status not in ("infeasible", "error", "time_limit"):
                raise SolverError(f"Solver {self.name!r} returned status {sol.status!r} without a solution.")
            empty = np.zeros(0, dtype=np.intp)
            gap = None
            return SolveResult(
                status=sol.status, objective=float("nan"), bound=sol.bound, gap=gap, offered=empty,
                assignment=empty, shares=np.zeros(0), wall_time=context.elapsed(), **common,
            )
        if sol.assignment is None:
            if problem.has_share_bounds or problem.has_budget:
                raise SolverError(
                    f"Solver {self.name!r} must return an assignment when shares are bounded or a budget is set."
                )
            offered = np.unique(np.asarray(sol.offered, dtype=np.intp))
            assignment = problem.best_assignment(offered)
        else:
            assignment = np.asarray(sol.assignment, dtype=np.intp).reshape(-1)
        self._check_assignment(problem, assignment)
        offered, counts = np.unique(assignment, return_counts=True)
        if sol.offered is not None:
            claimed = np.unique(np.asarray(sol.offered, dtype=np.intp))
            if not np.isin(offered, claimed).all():
                raise SolverError(f"Solver {self.name!r} assigned individuals to treatments it does not offer.")
        if offered.size > problem.k:
            raise SolverError(f"Solver {self.name!r} offered {offered.size} treatments, more than k = {problem.k}.")
        if problem.has_share_bounds:
            lo, hi = problem.min_count[offered], problem.max_count[offered]
            if (counts < lo).any() or (counts > hi).any():
                raise SolverError(f"Solver {self.name!r} returned an assignment that violates the share bounds.")
        if problem.cost is not None:
            common["extras"] = {**sol.extras, "spend": self._check_spend(problem, assignment)}
        objective = problem.objective(assignment)
        bound = None if sol.bound is None else float(sol.bound)
        status = sol.status
        gap = None
        if bound is not None:
            scale = max(1.0, abs(bound))
            if bound < objective - 1e-6 * scale:
                raise SolverError(
                    f"Solver {self.name!r} reported bound {bound} below its own objective {objective}."
                )
            gap = max(0.0, (bound - objective) / scale)
            # Promote only on a gap that is small relative to the profits themselves: the
            # reported gap divides by max(1, |bound|), which would call any bound "tight" on
            # profits far below 1 in magnitude.
            rel = max(abs(bound), abs(objective), np.finfo(float).tiny)
            tight = bound - objective <= OPTIMALITY_TOL * 10 * rel
            if tight and status in ("feasible", "time_limit"):
                status = "optimal"  # the bound proves it
        if status == "optimal" and (gap is None or gap > 1e-6):
            raise SolverError(f"Solver {self.name!r} claimed optimality without a matching bound.")
        return SolveResult(
            status=status,
            objective=objective,
            bound=bound,
            gap=gap,
            offered=offered,
            assignment=assignment,
            shares=counts / problem.n,
            wall_time=context.elapsed(),
            **common,
        )

    def _check_spend(self, problem: CoarseProblem, assignment: np.ndarray) -> float:
        """What the assignment spends; a solver error when it exceeds the budget (beyond
        the rounding of a sum)."""
        spend = problem.spend(assignment)
        if problem.has_budget and spend > problem.budget + BUDGET_TOL * max(1.0, problem.budget):
            raise SolverError(
                f"Solver {self.name!r} returned an assignment that spends {spend:.10g}, over the budget "
                f"{problem.budget:.10g}."
            )
        return spend

    @staticmethod
    def _check_assignment(problem: CoarseProblem, assignment: np.ndarray) -> None:
        if assignment.shape != (problem.n,):
            raise SolverError(f"Assignment has shape {assignment.shape}; expected ({problem.n},).")
        if assignment.size and (assignment.min() < 0 or assignment.max() >= problem.m):
            raise SolverError("Assignment holds column indices outside [0, m).")


def materialize(problem: CoarseProblem, solver: str) -> CoarseProblem:
    """Load a lazy (dask) problem into memory for a solver that needs the whole matrix.

    The core does this before ``_solve`` for a solver without ``supports_lazy``; a plugin
    that handles some lazy problems itself calls it for the others.

    Raises
    ------
    UnsupportedProblemError
        When the matrix would take more than 60% of the available memory.
    """
    nbytes = problem.n * problem.m * 8 * (2 if hasattr(problem.cost, "compute") else 1)
    import psutil

    if nbytes > 0.6 * psutil.virtual_memory().available:
        raise UnsupportedProblemError(
            f"Solver {solver!r} needs the whole {problem.n} x {problem.m} profit matrix in memory "
            f"({nbytes / 2**30:.1f} GiB), more than is available. Use a solver that works chunk by "
            "chunk (local-search, ot) on a dask array."
        )
    new = object.__new__(CoarseProblem)
    new.__dict__.update(problem.__dict__)
    arr = np.ascontiguousarray(problem.profit.compute(), dtype=np.float64)
    arr.setflags(write=False)
    new.profit = arr
    if problem.cost is not None and hasattr(problem.cost, "compute"):  # a dask cost
        cost = np.ascontiguousarray(problem.cost.compute(), dtype=np.float64)
        cost.setflags(write=False)
        new.cost = cost
    return new
