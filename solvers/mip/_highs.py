"""Pass a :class:`Formulation` to HiGHS as arrays (``highspy``), solve, and read back what
is known: whether a solution exists, its values, the proven bound, and why HiGHS stopped.

Building large models through a modeling layer costs more than solving them (the
aggregated model of a million individuals has a few thousand rows, but the Python objects
to describe a million-row classic model take minutes). This path hands the very arrays of
the formulation to ``Highs.passModel``.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coarseopt.exceptions import OptionError, SolverError
from coarseopt.solver import Solution

from ._formulation import Formulation

__all__ = ["BackendResult", "solve_highs", "check_options", "HIGHS_TERMINATION"]


@dataclass
class BackendResult:
    """What a backend reports, with the two facts kept apart: ``has_solution`` (is there
    a feasible point in ``col_value``?) and ``termination`` (why did it stop?)."""

    has_solution: bool
    termination: str
    col_value: np.ndarray | None = None
    objective: float | None = None
    bound: float | None = None
    proven: bool = False
    raw_status: str = ""
    message: str = ""
    stats: dict = field(default_factory=dict)

    #: Relative gap below which a proven bound makes the incumbent ``optimal``.
    OPTIMAL_GAP = 1e-6
    #: A bound this far below the incumbent (relative) is the backend's tolerance, not an error.
    BOUND_SLACK = 1e-7

    def no_solution(self, extras: dict) -> Solution:
        """The Solution of a run that ended without a feasible point."""
        status = "time_limit" if self.termination == "time_limit" else "error"
        return Solution(status=status, termination=self.termination, extras=extras,
                        message=f"{self.raw_status}: no solution found. {self.message}".strip())

    def status_of(self, objective: float) -> tuple[str, float | None, str]:
        """``(status, bound, message)`` for an incumbent worth ``objective`` (the model's
        units): a bound below the incumbent by more than the backend's tolerance is dropped
        (and said), ``optimal`` needs a proven gap of at most ``OPTIMAL_GAP``."""
        message = self.raw_status
        bound = self.bound
        if bound is not None and bound < objective:
            if objective - bound <= self.BOUND_SLACK * max(1.0, abs(bound)):
                bound = objective  # the backend's bound, to within its tolerances
            else:
                message += f"; the backend's bound {bound:.10g} is below the objective and was dropped"
                bound = None
        gap = None if bound is None else (bound - objective) / max(1.0, abs(bound))
        if self.proven and gap is not None and gap <= self.OPTIMAL_GAP:
            status = "optimal"
        elif self.termination == "time_limit":
            status = "time_limit"
        else:
            status = "feasible"
            if self.termination == "error":
                message += f" ({self.message})"
        return status, bound, message

    def status_in_units(self, objective: float, raw: float, scale: float, shift: float) -> tuple[str, float | None, str]:
        """:meth:`status_of` for an incumbent worth ``objective`` in normalized units and
        ``raw`` in the profit's (``raw = objective * scale + shift``), the bound mapped back to
        the profit's units (:func:`in_profit_units`)."""
        status, bound, message = self.status_of(objective)
        return in_profit_units(status, bound, message, raw, scale, shift)


def in_profit_units(status: str, bound: float | None, message: str, raw: float, scale: float,
                    shift: float) -> tuple[str, float | None, str]:
    """A normalized bound (profits shifted and divided by ``scale``) in the profit's units,
    for an incumbent worth ``raw`` there: rounding in the change of units is absorbed (a
    proven optimum keeps its proof); ``optimal`` only when bound and ``raw`` meet to 1e-6 in
    the profit's units (the shift can cancel most of the value)."""
    if bound is None:
        return status, bound, message
    bound = bound * scale + shift
    if bound < raw and (status == "optimal" or raw - bound <= 1e-9 * max(1.0, abs(raw), abs(shift))):
        bound = raw
    if status == "optimal" and (bound - raw) / max(1.0, abs(bound)) > 1e-6:
        status = "feasible"
        message = (message + "; " if message else "") + (
            "optimal to the backend's tolerance in normalized units, not to 1e-6 in the profit's units")
    return status, bound, message


#: HiGHS model status -> coarseopt termination (why it stopped).
HIGHS_TERMINATION = {
    "kOptimal": "converged",
    "kInfeasible": "infeasible",
    "kUnboundedOrInfeasible": "infeasible",
    "kUnbounded": "error",
    "kObjectiveBound": "objective_limit",
    "kObjectiveTarget": "objective_limit",
    "kTimeLimit": "time_limit",
    "kIterationLimit": "iteration_limit",
    "kSolutionLimit": "solution_limit",
    "kInterrupt": "interrupted",
    "kHighsInterrupt": "interrupted",
    "kMemoryLimit": "memory_limit",
    "kModelEmpty": "converged",
    "kUnknown": "error",
    "kNotset": "error",
    "kLoadError": "error",
    "kModelError": "error",
    "kPresolveError": "error",
    "kSolveError": "error",
    "kPostsolveError": "error",
}


def check_options(options: dict | None) -> None:
    """Raise :class:`OptionError` for an option HiGHS rejects, before any work is done."""
    if not options:
        return
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for key, value in options.items():
        _set_option(h, key, value)


def _set_option(h: Any, key: str, value: Any) -> None:
    import highspy

    status = h.setOptionValue(key, value)
    if status != highspy.HighsStatus.kOk:
        raise OptionError(
            f"HiGHS rejected the option {key!r} = {value!r} (passed through 'backend_options'). "
            "See the HiGHS options reference for valid names and ranges."
        )


def solve_highs(
    form: Formulation,
    *,
    time_limit: float | None,
    mip_gap: float,
    threads: int | None,
    seed: int | None,
    backend_options: dict | None = None,
    start: np.ndarray | None = None,
    relax: bool = False,
    verbose: bool = False,
) -> BackendResult:
    """Solve ``form`` with HiGHS (``relax=True``: its LP relaxation).

    The bound returned is HiGHS's dual bound (``mip_dual_bound``; the optimal LP value for a
    relaxation), in the units of the objective (constant included).
    """
    import highspy

    h = highspy.Highs()
    _set_option(h, "output_flag", bool(verbose))
    if time_limit is not None and math.isfinite(time_limit):
        _set_option(h, "time_limit", float(max(time_limit, 0.01)))
    _set_option(h, "mip_rel_gap", float(mip_gap))
    if threads is not None:
        _set_option(h, "threads", int(threads))
    if seed is not None:
        _set_option(h, "random_seed", int(seed) % 2147483647)
    for key, value in (backend_options or {}).items():
        _set_option(h, key, value)

    inf = highspy.kHighsInf
    a = form.matrix.tocsr()
    a.sort_indices()
    integrality = np.where(form.integer & (not relax), 1, 0).astype(np.int32)
    status = h.passModel(
        form.num_col, form.num_row, int(a.nnz), int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMaximize), float(form.constant),
        np.ascontiguousarray(form.cost, dtype=np.float64),
        np.ascontiguousarray(form.col_lower, dtype=np.float64),
        np.ascontiguousarray(form.col_upper, dtype=np.float64),
        np.ascontiguousarray(np.where(np.isfinite(form.row_lower), form.row_lower, -inf), dtype=np.float64),
        np.ascontiguousarray(np.where(np.isfinite(form.row_upper), form.row_upper, inf), dtype=np.float64),
        a.indptr[:-1].astype(np.int32), a.indices.astype(np.int32), a.data.astype(np.float64),
        integrality,
    )
    if status == highspy.HighsStatus.kError:
        raise SolverError(f"HiGHS refused the {form.kind} model ({form.num_col} columns, {form.num_row} rows).")
    if start is not None and not relax:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    model_status = h.getModelStatus()
    raw = str(model_status).split(".")[-1]
    termination = HIGHS_TERMINATION.get(raw, "error")
    info = h.getInfo()
    has_solution = int(info.primal_solution_status) == int(highspy.SolutionStatus.kSolutionStatusFeasible)
    col_value = np.asarray(h.getSolution().col_value) if has_solution else None
    objective = float(info.objective_function_value) if has_solution else None
    if relax:
        bound = objective if raw == "kOptimal" else None
    else:
        db = float(info.mip_dual_bound)
        bound = db if math.isfinite(db) and abs(db) < 1e300 else None
    proven = raw == "kOptimal"
    stats = {"mip_nodes": int(info.mip_node_count), "simplex_iterations": int(info.simplex_iteration_count)}
    return BackendResult(
        has_solution=has_solution, termination=termination, col_value=col_value, objective=objective,
        bound=bound, proven=proven, raw_status=f"HiGHS {raw}", message=h.modelStatusToString(model_status),
        stats=stats,
    )


@contextmanager
def stop_at(h: Any, deadline: float | None):
    """While the block runs, HiGHS's interrupt callbacks (simplex, interior point, MIP) stop
    its solve once ``time.perf_counter()`` passes ``deadline``: they fire far more often than
    HiGHS checks its own time limit (seldom while presolving or solving a large root LP). The
    solve then ends with status ``kInterrupt``, its incumbent and bound valid."""
    if deadline is None or not hasattr(h, "cbMipInterrupt"):
        yield
        return

    def interrupt(event) -> None:
        if time.perf_counter() >= deadline:
            event.interrupt()

    kinds = ("cbSimplexInterrupt", "cbIpmInterrupt", "cbMipInterrupt")
    try:
        for kind in kinds:
            getattr(h, kind).subscribe(interrupt)
    except Exception:  # an older highspy without these callbacks: its own time limit only
        yield
        return
    try:
        yield
    finally:
        for kind in kinds:
            try:
                getattr(h, kind).unsubscribe(interrupt)
            except Exception:  # pragma: no cover - best effort
                pass


def new_master(threads: Any, seed: Any, backend_options: dict | None, verbose: bool) -> tuple[Any, Any]:
    """``(highspy, Highs)``: a persistent HiGHS instance for a master problem, with the
    solver's ``threads``, ``seed``, ``backend_options`` and log choice."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(verbose))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    if seed is not None:
        h.setOptionValue("random_seed", int(seed) % 2147483647)
    for key, value in (backend_options or {}).items():
        _set_option(h, key, value)
    return highspy, h


def run_master(hs: Any, h: Any, time_limit: float | None, *, integer: bool, mip_gap: float = 1e-9,
               start: np.ndarray | None = None) -> tuple[str, Any, np.ndarray | None, np.ndarray | None]:
    """One solve of a persistent master within ``time_limit`` seconds (None: none):
    ``(status, info, x, column duals)`` (``x`` None without a feasible solution, the duals
    None without valid ones). HiGHS measures an LP's time limit from the creation of the
    instance, across runs, but a MIP's from the start of its run; its interrupt callbacks
    also stop it at the deadline (:func:`stop_at`)."""
    if time_limit is None:
        limit = hs.kHighsInf
    else:
        limit = max(time_limit, 0.01) + (0.0 if integer else h.getRunTime())
    h.setOptionValue("time_limit", float(limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    if start is not None:
        sol = hs.HighsSolution()
        sol.col_value = start.tolist()
        sol.value_valid = True
        h.setSolution(sol)
    with stop_at(h, None if time_limit is None else time.perf_counter() + max(time_limit, 0.01)):
        h.run()
    status = str(h.getModelStatus()).split(".")[-1]
    if status == "kInterrupt":  # our deadline callback: a time limit
        status = "kTimeLimit"
    info = h.getInfo()
    feasible = int(info.primal_solution_status) == int(hs.SolutionStatus.kSolutionStatusFeasible)
    sol = h.getSolution()
    x = np.asarray(sol.col_value) if feasible else None
    d = np.asarray(sol.col_dual) if feasible and sol.dual_valid else None
    return status, info, x, d
