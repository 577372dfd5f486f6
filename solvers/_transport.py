"""Exact assignment to a fixed offered set under segment-size bounds.

Given offered treatments ``S`` and bounds ``lo_j <= |{i : a(i) = j}| <= hi_j`` this is the
transportation problem

    max sum_{i, j in S} P_ij x_ij  s.t.  sum_j x_ij = 1,  lo_j <= sum_i x_ij <= hi_j,  x >= 0,

whose constraint matrix is totally unimodular: a vertex solution is integral. Solved here
as a linear program with HiGHS (through SciPy); meant for the small instances on which
exhaustive search is used. Large instances use the dual (power-cell) method of the ``ot``
solver.
"""

from __future__ import annotations

import numpy as np

from coarseopt.exceptions import SolverError

from coarseopt.pricing import repair

__all__ = ["bounded_assignment", "budgeted_assignment"]


def bounded_assignment(
    profit: np.ndarray, offered: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[float, np.ndarray] | None:
    """Best assignment of every row to one of ``offered`` with column counts in [lo, hi].

    Returns ``(objective, assignment)`` or None when the bounds cannot be met.
    """
    from scipy import sparse  # heavy: loaded on first use
    from scipy.optimize import linprog

    offered = np.asarray(offered, dtype=np.intp)
    n, s = profit.shape[0], offered.size
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    if lo.sum() > n or hi.sum() < n:
        return None
    # HiGHS works to absolute tolerances (~1e-7): subtract each row's best value (every row
    # is assigned exactly once, so the optimum does not move) and divide by the spread, so
    # that tiny, huge or offset profits are solved as accurately as profits of order one.
    sub = profit[:, offered] - profit[:, offered].max(axis=1, keepdims=True)
    spread = float(-sub.min()) or 1.0
    c = -(sub / spread).reshape(-1)  # variable (i, t) at i * s + t
    rows = np.repeat(np.arange(n), s)
    a_eq = sparse.csr_matrix((np.ones(n * s), (rows, np.arange(n * s))), shape=(n, n * s))
    cols = np.tile(np.arange(s), n)
    a_col = sparse.csr_matrix((np.ones(n * s), (cols, np.arange(n * s))), shape=(s, n * s))
    res = linprog(
        c,
        A_ub=sparse.vstack([a_col, -a_col]).tocsr(),
        b_ub=np.concatenate([hi, -lo]),
        A_eq=a_eq,
        b_eq=np.ones(n),
        bounds=(0, 1),
        method="highs-ds",  # simplex: returns a vertex, which is integral here
    )
    if res.status == 2:
        return None
    if res.status != 0:
        raise SolverError(f"transport LP failed (HiGHS status {res.status}): {res.message}")
    x = res.x.reshape(n, s)
    assignment = offered[x.argmax(axis=1)]
    obj = float(np.take_along_axis(profit, assignment[:, None], axis=1).sum())
    return obj, assignment


def budgeted_assignment(
    profit: np.ndarray, cost: np.ndarray, budget: float, lo: np.ndarray | None = None,
    hi: np.ndarray | None = None, time_limit: float | None = None,
) -> tuple[np.ndarray, float, float, bool] | None:
    """Best assignment of every row to one of the columns of ``profit`` (an offered set's
    sub-matrix) with ``sum_i cost[i, a(i)] <= budget`` and, optionally, column counts in
    ``[lo, hi]``: the multiple-choice knapsack (with transport rows). It is ``mip``'s classic
    model with every column offered (:func:`~coarseopt_solvers.mip._formulation.classic`),
    solved by HiGHS; meant for small instances: exhaustive search, and ``ot``'s assignment
    when share bounds and a budget meet.

    Returns ``(pos, value, upper, proven)`` (the column position of each row, its profit, an
    upper bound on the best value and whether HiGHS proved it optimal), or None when no
    assignment meets the constraints (or none was found within ``time_limit``).
    """
    from .mip import _formulation as F  # the package imports this module: loaded on first use
    from .mip._highs import solve_highs

    n, s = profit.shape
    # HiGHS works to absolute tolerances: rows shifted by their best value and divided by the
    # spread (the optimum does not move), the budget row divided by its scale.
    rowmax = profit.max(axis=1)
    spread = float((rowmax[:, None] - profit).max()) or 1.0
    scale = max(float(budget), float(cost.max(initial=0.0)), 1e-300)
    side = F.SideConstraints(forced=np.arange(s), cost=cost / scale, budget=budget / scale,
                             min_count=None if lo is None else np.asarray(lo), max_count=None if hi is None else np.asarray(hi))
    form = F.classic((profit - rowmax[:, None]) / spread, s, side)
    res = solve_highs(form, time_limit=time_limit, mip_gap=1e-9, threads=1, seed=0)
    if not res.has_solution:
        if res.termination in ("infeasible", "time_limit"):
            return None
        raise SolverError(f"budgeted assignment MIP failed ({res.raw_status}): {res.message}")
    xa, xb = form.columns["x"]
    pos = res.col_value[xa:xb].reshape(n, s).argmax(axis=1)
    value = float(np.take_along_axis(profit, pos[:, None], axis=1).sum())
    upper = float(rowmax.sum() + spread * res.bound) if res.bound is not None else np.inf
    proven = res.proven
    spend = float(np.take_along_axis(cost, pos[:, None], axis=1).sum())
    if spend > budget + 1e-12 * max(1.0, budget):  # within HiGHS's tolerance, over in exact arithmetic
        if lo is not None:
            return None
        pos = repair(profit, cost, pos, budget)
        if pos is None:
            return None
        value, proven = float(np.take_along_axis(profit, pos[:, None], axis=1).sum()), False
    return pos, value, max(upper, value), proven
