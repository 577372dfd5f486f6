"""The Pyomo model (the extensible reference) and solving it with any installed Pyomo solver.

:func:`build_pyomo` turns a :class:`Formulation` into a ``ConcreteModel`` with one named,
indexed component per family, so that user code can add business constraints before the
solve::

    model.y[j]        binary, 1 when treatment j is offered (j = 0..m-1)
    model.x[i, j]     classic model: share of individual i assigned to treatment j
    model.z[t]        radius models: 1 when no treatment of prefix set t is offered
    model.assign, model.link, model.chain, model.cardinality, model.exclusive,
    model.min_share, model.max_share, model.budget        constraint families
    model.profit      the objective (maximize)

:func:`solve_pyomo` runs a Pyomo solver on such a model and maps its status to the two
facts coarseopt reports: whether a solution exists and why the solver stopped.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from coarseopt.exceptions import OptionError, SolverUnavailableError

from ._formulation import Formulation
from ._highs import BackendResult

__all__ = ["build_pyomo", "solve_pyomo", "BACKENDS", "available_backends", "pyomo_solver_name"]

#: Backend name -> (Pyomo solver names to try, time-limit option, relative-gap option, threads option)
BACKENDS = {
    "highs": (("highs", "appsi_highs"), None, "mip_rel_gap", "threads"),
    "cbc": (("cbc",), "seconds", "ratioGap", "threads"),
    "glpk": (("glpk",), "tmlim", "mipgap", None),
    "gurobi": (("gurobi_direct", "gurobi"), "TimeLimit", "MIPGap", "Threads"),
    "scip": (("scip",), "limits/time", "limits/gap", "parallel/maxnthreads"),
    "cplex": (("cplex_direct", "cplex"), "timelimit", "mip_tolerances_mipgap", "threads"),
}


def _factory():
    import logging

    import pyomo.environ  # noqa: F401  (registers the solver plugins)
    from pyomo.opt import SolverFactory

    logging.getLogger("pyomo.solvers").setLevel(logging.ERROR)
    logging.getLogger("pyomo.opt").setLevel(logging.ERROR)
    return SolverFactory


def _is_available(name: str) -> bool:
    try:
        opt = _factory()(name)
        return bool(opt.available(exception_flag=False))
    except Exception:
        return False


def pyomo_solver_name(backend: str) -> str | None:
    """The first installed Pyomo solver behind ``backend`` (a key of :data:`BACKENDS` or any
    Pyomo solver name), or None."""
    names = BACKENDS[backend][0] if backend in BACKENDS else (backend,)
    for name in names:
        if _is_available(name):
            return name
    return None


def available_backends() -> list[str]:
    """The backends of :data:`BACKENDS` whose solver is installed."""
    return [b for b in BACKENDS if pyomo_solver_name(b) is not None]


def _row_expressions(form: Formulation, cols: list, start: int, stop: int):
    from pyomo.core.expr import LinearExpression

    a = form.matrix
    for r in range(start, stop):
        lo, hi = a.indptr[r], a.indptr[r + 1]
        idx = a.indices[lo:hi]
        yield r, LinearExpression(constant=0.0, linear_coefs=a.data[lo:hi].tolist(),
                                  linear_vars=[cols[c] for c in idx])


def build_pyomo(form: Formulation):
    """A Pyomo ``ConcreteModel`` of ``form``: same variables, rows and objective.

    The model carries ``model.formulation`` (the :class:`Formulation`) so that a solution
    can be decoded: ``[value(model.y[j]) for j in model.treatments]`` is the offered set.
    """
    import pyomo.environ as pyo
    from pyomo.core.expr import LinearExpression

    model = pyo.ConcreteModel(name=f"coarseopt_{form.kind}")
    model.treatments = pyo.Set(initialize=range(form.m), ordered=True)
    ya, yb = form.columns["y"]

    def y_bounds(model, j):
        return (float(form.col_lower[ya + j]), float(form.col_upper[ya + j]))

    model.y = pyo.Var(model.treatments, domain=pyo.Binary, bounds=y_bounds)
    cols: list = [model.y[j] for j in range(form.m)]
    if "x" in form.columns:
        xa, xb = form.columns["x"]
        pairs = [(int(i), int(j)) for i, j in form.x_index]
        model.pairs = pyo.Set(initialize=pairs, dimen=2, ordered=True)
        domain = pyo.Binary if form.integer[xa:xb].any() else pyo.UnitInterval
        model.x = pyo.Var(model.pairs, domain=domain, bounds=(0.0, 1.0))
        cols += [model.x[p] for p in pairs]
    if "z" in form.columns:
        za, zb = form.columns["z"]
        model.nodes = pyo.RangeSet(0, zb - za - 1)
        model.z = pyo.Var(model.nodes, bounds=(0.0, 1.0))
        cols += [model.z[t] for t in range(zb - za)]
    for name, (start, stop) in form.rows.items():
        lows, ups = form.row_lower, form.row_upper
        exprs = dict(_row_expressions(form, cols, start, stop))

        def rule(model, r, exprs=exprs, lows=lows, ups=ups):
            lo = None if not math.isfinite(lows[r]) else float(lows[r])
            hi = None if not math.isfinite(ups[r]) else float(ups[r])
            if lo is not None and lo == hi:
                return exprs[r] == lo
            return pyo.inequality(lo, exprs[r], hi)

        setattr(model, name, pyo.Constraint(range(start, stop), rule=rule))
    nz = np.flatnonzero(form.cost)
    model.profit = pyo.Objective(
        expr=LinearExpression(constant=float(form.constant), linear_coefs=form.cost[nz].tolist(),
                              linear_vars=[cols[c] for c in nz]),
        sense=pyo.maximize,
    )
    model.formulation = form
    model._coarseopt_columns = cols
    return model


#: Pyomo termination condition (name) -> coarseopt termination.
PYOMO_TERMINATION = {
    "optimal": "converged",
    "globallyOptimal": "converged",
    "locallyOptimal": "converged",
    "feasible": "converged",
    "maxTimeLimit": "time_limit",
    "maxIterations": "iteration_limit",
    "maxEvaluations": "iteration_limit",
    "minFunctionValue": "objective_limit",
    "minStepLength": "iteration_limit",
    "infeasible": "infeasible",
    "infeasibleOrUnbounded": "infeasible",
    "invalidProblem": "error",
    "intermediateNonInteger": "interrupted",
    "noSolution": "error",
    "unbounded": "error",
    "userInterrupt": "interrupted",
    "resourceInterrupt": "memory_limit",
    "licensingProblems": "error",
    "solverFailure": "error",
    "internalSolverError": "error",
    "error": "error",
    "other": "error",
    "unknown": "error",
}


def solve_pyomo(
    model: Any,
    backend: str,
    *,
    time_limit: float | None,
    mip_gap: float,
    threads: int | None,
    backend_options: dict | None = None,
    verbose: bool = False,
) -> BackendResult:
    """Solve a model from :func:`build_pyomo` (possibly extended by the user) with ``backend``."""
    import pyomo.environ as pyo

    name = pyomo_solver_name(backend)
    if name is None:
        raise SolverUnavailableError(
            f"The 'backend' option names {backend!r}, which is not installed. Available backends: "
            f"{', '.join(available_backends()) or '(none)'}."
        )
    opt = _factory()(name)
    _, time_key, gap_key, thread_key = BACKENDS.get(backend, ((), None, None, None))
    options: dict = {}
    if gap_key:
        options[gap_key] = mip_gap
    if threads is not None and thread_key:
        options[thread_key] = threads
    if time_limit is not None and math.isfinite(time_limit) and time_key:
        options[time_key] = max(1, math.ceil(time_limit)) if backend in ("glpk",) else float(max(time_limit, 0.01))
    options.update(backend_options or {})
    kwargs: dict = {"load_solutions": False, "tee": bool(verbose)}
    if time_limit is not None and math.isfinite(time_limit) and not time_key:
        kwargs["timelimit"] = float(max(time_limit, 0.01))
    if backend == "glpk" and "tmlim" in options:
        options["tmlim"] = int(options["tmlim"])
    try:
        results = opt.solve(model, options=options, **kwargs)
    except (ValueError, TypeError) as exc:
        raise OptionError(f"The {backend!r} backend rejected the options {options!r}: {exc}") from exc
    cond = str(results.solver.termination_condition).split(".")[-1]
    termination = PYOMO_TERMINATION.get(cond, "error")
    has_solution = len(getattr(results, "solution", [])) > 0 and termination != "infeasible"
    col_value = objective = None
    if has_solution:
        try:
            model.solutions.load_from(results)
        except Exception:
            has_solution = False
    if has_solution:
        cols = model._coarseopt_columns
        col_value = np.array([np.nan if v.value is None else float(v.value) for v in cols])
        objective = float(pyo.value(model.profit))
        if np.isnan(col_value[: model.formulation.m]).any():
            has_solution = False
    bound = results.problem.upper_bound
    bound = float(bound) if bound is not None and math.isfinite(float(bound)) else None
    return BackendResult(
        has_solution=has_solution, termination=termination, col_value=col_value, objective=objective,
        bound=bound, proven=cond in ("optimal", "globallyOptimal"), raw_status=f"{name} {cond}",
        message=str(getattr(results.solver, "termination_message", "") or ""),
    )
