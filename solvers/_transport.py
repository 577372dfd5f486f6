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

__all__ = ["bounded_assignment"]


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
