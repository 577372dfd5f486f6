"""Giving customers their offered treatment, with the study's share bounds kept.

Once a set of offered treatments ``S`` is chosen, who gets which one depends on whether the
study bounded the segment sizes (``min_share`` / ``max_share``):

- **no bounds**: every customer gets the most profitable offered treatment,
  ``a(i) = argmax_{j in S} P_ij``;
- **bounds, a batch of customers** (held-out customers, tomorrow's file): the batch is
  assigned by the transportation problem

  .. math::

      \\max \\sum_{i, j \\in S} P_{ij} x_{ij} \\quad\\text{s.t.}\\quad \\sum_j x_{ij} = 1,\\;
      lo_j \\le \\sum_i x_{ij} \\le hi_j,\\; x \\ge 0,

  with ``lo_j = ceil(min_share_j * n)`` and ``hi_j = floor(max_share_j * n)`` on the batch,
  so its shares meet the bounds exactly (its vertices are integral: the constraint matrix
  is totally unimodular);
- **bounds, one customer at a time** (a stream, or a batch too small for the bounds to be
  met in whole customers): the transport's dual potentials ``phi`` learned on the
  training customers give ``a(i) = argmax_{j in S} (P_ij - phi_j)``. ``phi_j > 0`` only
  where the upper bound binds, ``phi_j < 0`` only where the lower bound binds (the power
  cells of semi-discrete optimal transport; Zhang & Misra, *Coarse Personalization*,
  arXiv 2204.05793; Peyré & Cuturi, *Computational Optimal Transport*, 2019, ch. 5). New
  customers drawn from the training population then meet the bounds approximately, with
  an error of order ``1/sqrt(n)`` in each share.

The transport is solved as a linear program by HiGHS (interior point with crossover, which
ends on a vertex); its column duals are the potentials.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .exceptions import InfeasibleProblemError, ProblemError, SolverError

__all__ = ["assign_offered", "assign_within_budget", "transport_potentials", "share_counts", "solve_transport"]


def _offered_columns(offered: Any, m: int) -> np.ndarray:
    if hasattr(offered, "offered") and hasattr(offered, "assignment"):  # a SolveResult
        offered = offered.offered
    cols = np.asarray(offered).reshape(-1)
    if cols.size == 0 or not np.issubdtype(cols.dtype, np.integer):
        raise ProblemError(
            f"'offered' must be a non-empty list of column indices of 'profit' (or a SolveResult); got {offered!r}."
        )
    if cols.min() < 0 or cols.max() >= m or np.unique(cols).size != cols.size:
        raise ProblemError(
            f"'offered' must hold distinct column indices in 0..{m - 1}; got {cols.tolist()}."
        )
    return cols.astype(np.intp)


def _share(name: str, value: Any, m: int, cols: np.ndarray) -> np.ndarray | None:
    """A share bound as one float per offered column (``value`` scalar or one per column)."""
    if value is None:
        return None
    try:
        s = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProblemError(f"'{name}' must be a number or one number per column; got {value!r}.") from None
    if s.ndim == 0:
        s = np.full(m, float(s))
    if s.shape != (m,):
        raise ProblemError(f"'{name}' must be a float or an array of shape ({m},), one per column; got shape {s.shape}.")
    if not np.isfinite(s).all() or (s < 0).any() or (s > 1).any():
        raise ProblemError(f"'{name}' must lie in [0, 1]; got {value!r}.")
    return s[cols]


def share_counts(n: int, min_share: Any, max_share: Any) -> tuple[np.ndarray, np.ndarray]:
    """Share bounds of the offered columns as whole numbers of customers out of ``n``.

    ``lo = ceil(min_share * n)``, ``hi = floor(max_share * n)`` (the rounding of
    :class:`coarseopt.CoarseProblem`). Both arguments are arrays aligned with the offered
    columns (or None).
    """
    s = len(min_share) if min_share is not None else len(max_share)
    lo = np.zeros(s, dtype=np.int64) if min_share is None else np.ceil(np.asarray(min_share) * n - 1e-9).astype(np.int64)
    hi = np.full(s, n, dtype=np.int64) if max_share is None else np.floor(np.asarray(max_share) * n + 1e-9).astype(np.int64)
    return lo, np.minimum(hi, n)


def solve_transport(sub: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The transportation problem of the module docstring on ``sub`` (n, s).

    Returns
    -------
    pos : ndarray of int, shape (n,)
        Position (0..s-1) of each row's column; the counts lie in ``[lo, hi]``.
    phi : ndarray of float, shape (s,)
        Dual potentials (profit units): ``argmax_j (sub_ij - phi_j)`` is an optimal
        assignment up to ties.

    Raises
    ------
    InfeasibleProblemError
        ``sum(lo) > n`` or ``sum(hi) < n``.
    """
    from scipy import sparse
    from scipy.optimize import linprog

    n, s = sub.shape
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if lo.sum() > n or hi.sum() < n:
        raise InfeasibleProblemError(
            f"the share bounds cannot hold {n} customers: they need at least {int(lo.sum())} and allow at most "
            f"{int(hi.sum())}. Assign a larger batch, or give potentials for one-at-a-time assignment."
        )
    if s == 1:
        return np.zeros(n, dtype=np.intp), np.zeros(1)
    # HiGHS works to absolute tolerances: subtract each row's best value (a constant per row,
    # absorbed by the row's dual) and divide by the spread so profits of any scale are solved
    # as accurately as profits of order one. Column duals are unchanged up to the scale.
    shifted = sub - sub.max(axis=1, keepdims=True)
    spread = float(-shifted.min()) or 1.0
    c = -(shifted / spread).reshape(-1)  # variable (i, t) at i * s + t
    ones = np.ones(n * s)
    a_eq = sparse.csr_matrix((ones, (np.repeat(np.arange(n), s), np.arange(n * s))), shape=(n, n * s))
    a_col = sparse.csr_matrix((ones, (np.tile(np.arange(s), n), np.arange(n * s))), shape=(s, n * s))
    res = linprog(
        c, A_ub=sparse.vstack([a_col, -a_col]).tocsr(), b_ub=np.concatenate([hi, -lo]), A_eq=a_eq,
        b_eq=np.ones(n), bounds=(0, 1), method="highs-ipm",  # crossover ends on an (integral) vertex
    )
    if res.status != 0:
        raise SolverError(f"the transport LP failed (HiGHS status {res.status}): {res.message}")
    x = res.x.reshape(n, s)
    pos = x.argmax(axis=1)
    counts = np.bincount(pos, minlength=s)
    if (counts < lo).any() or (counts > hi).any():  # a fractional vertex would be a HiGHS failure
        raise SolverError(f"the transport LP returned counts {counts.tolist()} outside [{lo.tolist()}, {hi.tolist()}].")
    marg = res.ineqlin.marginals  # d(min objective) / d(b_ub): <= 0
    phi = spread * (marg[s:] - marg[:s])  # + where the upper bound binds, - where the lower does
    return pos.astype(np.intp), phi


def transport_potentials(profit: Any, offered: Any, *, min_share: Any = None, max_share: Any = None) -> np.ndarray:
    """The dual potentials ``phi`` (one per offered column) of the transport on ``profit``.

    Computed on the customers a policy was learned on (a study's training customers, with
    the problem's share bounds), they let :func:`assign_offered` give one new customer at a
    time ``argmax_j (P_ij - phi_j)``.

    Parameters
    ----------
    profit : array-like of shape (n, m)
        Estimated profit of the customers the policy was learned on.
    offered : SolveResult or sequence of int
        The offered column indices (``result.offered``).
    min_share, max_share : float or array-like of shape (m,), optional
        The share bounds the policy was solved with.

    Returns
    -------
    ndarray of float, shape (len(offered),)
        Zeros when there are no bounds (the pointwise argmax).
    """
    P = np.asarray(profit, dtype=np.float64)
    cols = _offered_columns(offered, P.shape[1])
    lo_s, hi_s = _share("min_share", min_share, P.shape[1], cols), _share("max_share", max_share, P.shape[1], cols)
    if lo_s is None and hi_s is None:
        return np.zeros(cols.size)
    lo, hi = share_counts(P.shape[0], lo_s, hi_s)
    return solve_transport(P[:, cols], lo, hi)[1]


def assign_offered(
    profit: Any,
    offered: Any,
    *,
    min_share: Any = None,
    max_share: Any = None,
    potentials: Any = None,
    method: str = "auto",
) -> np.ndarray:
    """The column each customer gets among ``offered``, keeping share bounds.

    Parameters
    ----------
    profit : array-like of shape (n, m)
        Estimated profit of each customer (rows) under every column.
    offered : SolveResult or sequence of int
        Offered column indices.
    min_share, max_share : float or array-like of shape (m,), optional
        Share bounds on every offered column, as in :class:`coarseopt.CoarseProblem`.
    potentials : array-like of shape (len(offered),), optional
        Dual potentials from :func:`transport_potentials` on the training customers.
    method : {"auto", "transport", "potentials"}, default "auto"
        ``"transport"``: solve the batch (shares exact); ``"potentials"``: one customer at a
        time, ``argmax_j (P_ij - phi_j)`` (shares approximately right); ``"auto"``: no
        bounds, the best offered column; bounds, the batch transport when the bounds can be
        met in whole customers of this batch, else the potentials (an error without them).

    Returns
    -------
    ndarray of int, shape (n,)
        Column indices (each one of ``offered``). Ties go to the first offered column.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[3.0, 1.0, 0.0], [2.0, 1.5, 0.0], [1.0, 0.0, 0.5], [4.0, 0.0, 0.0]])
    >>> assign_offered(P, [0, 1]).tolist()
    [0, 0, 0, 0]
    >>> assign_offered(P, [0, 1], max_share=0.5).tolist()
    [0, 1, 1, 0]
    """
    if method not in ("auto", "transport", "potentials"):
        raise ProblemError(
            f"The 'method' parameter of assign_offered must be one of ['auto', 'transport', 'potentials']. "
            f"Got {method!r} instead."
        )
    P = np.asarray(profit, dtype=np.float64)
    if P.ndim != 2:
        raise ProblemError(f"'profit' must be an (n, m) array; got shape {P.shape}.")
    cols = _offered_columns(offered, P.shape[1])
    sub = P[:, cols]
    lo_s, hi_s = _share("min_share", min_share, P.shape[1], cols), _share("max_share", max_share, P.shape[1], cols)
    phi = None
    if potentials is not None:
        phi = np.asarray(potentials, dtype=np.float64).reshape(-1)
        if phi.shape != (cols.size,) or not np.isfinite(phi).all():
            raise ProblemError(
                f"'potentials' must hold {cols.size} finite numbers, one per offered column; got {potentials!r}."
            )
    n = P.shape[0]
    if method == "potentials":
        if phi is None:
            raise ProblemError("method='potentials' needs 'potentials' (see transport_potentials).")
        return cols[(sub - phi).argmax(axis=1)]
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    if lo_s is None and hi_s is None:
        return cols[sub.argmax(axis=1)]
    lo, hi = share_counts(n, lo_s, hi_s)
    if method == "transport" or phi is None or lo.sum() <= n <= hi.sum():
        return cols[solve_transport(sub, lo, hi)[0]]
    return cols[(sub - phi).argmax(axis=1)]  # bounds not reachable in whole customers of this batch


def assign_within_budget(profit: Any, cost: Any, offered: Any, budget: float, *, price: float | None = None,
                         over_budget: str = "raise") -> np.ndarray:
    """The column each customer gets among ``offered`` with ``sum_i cost[i, a(i)] <= budget``.

    A batch (held-out customers, tomorrow's file) is assigned as the solvers assign their own
    customers (:func:`coarseopt.pricing.price_assignment`): each customer takes
    ``argmax_{j in offered} P_ij - lambda c_ij`` at the smallest price ``lambda`` whose
    assignment fits, then what the budget leaves goes to the upgrades with the best profit per
    extra cost. One customer at a time (``price`` given, e.g. the price the policy was learned
    with): ``argmax_j P_ij - price c_ij``, which meets the budget per customer only on average.

    Parameters
    ----------
    profit, cost : array-like of shape (n, m)
        Estimated profit and cost of each customer (rows) under every column.
    offered : SolveResult or sequence of int
        Offered column indices.
    budget : float
        The most the batch may spend (ignored when ``price`` is given).
    price : float, optional
        Assign at this price instead of solving the batch.
    over_budget : {"raise", "cheapest"}, default "raise"
        A batch whose cheapest offered columns already cost more than ``budget``: an error,
        or each customer's cheapest offered column (the least the batch can spend; ties:
        the more profitable), with a warning.

    Returns
    -------
    ndarray of int, shape (n,)
        Column indices (each one of ``offered``).

    Raises
    ------
    InfeasibleProblemError
        With ``over_budget="raise"``: even the cheapest offered column of every customer
        costs more than ``budget``.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[3.0, 1.0], [2.0, 1.5], [1.0, 0.0]])
    >>> C = np.array([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0]])
    >>> assign_within_budget(P, C, [0, 1], budget=2.0).tolist()
    [0, 1, 1]
    """
    from .pricing import price_assignment, priced_positions

    P = np.asarray(profit, dtype=np.float64)
    C = np.asarray(cost, dtype=np.float64)
    if C.shape != P.shape:
        raise ProblemError(f"'cost' must have the shape of 'profit' {P.shape}; got {C.shape}.")
    if over_budget not in ("raise", "cheapest"):
        raise ProblemError(f"'over_budget' must be 'raise' or 'cheapest'; got {over_budget!r}.")
    cols = _offered_columns(offered, P.shape[1])
    if price is not None:
        return cols[priced_positions(P[:, cols], C[:, cols], float(price))[0]]
    priced = price_assignment(P[:, cols], C[:, cols], float(budget))
    if priced is not None:
        return cols[priced.pos]
    cheapest = float(C[:, cols].min(axis=1).sum())
    if over_budget == "raise":
        raise InfeasibleProblemError(
            f"'budget' = {budget:g} is below the cheapest spend of these {P.shape[0]} customers among the offered "
            f"columns ({cheapest:g}); raise the budget, or pass over_budget='cheapest' to give each customer "
            "its cheapest offered treatment."
        )
    warnings.warn(f"the budget {budget:g} is below the cheapest spend of these {P.shape[0]} customers among the "
                  f"offered columns ({cheapest:g}): each gets its cheapest offered treatment.", stacklevel=2)
    sub = C[:, cols]
    lowest = sub == sub.min(axis=1, keepdims=True)
    return cols[np.where(lowest, P[:, cols], -np.inf).argmax(axis=1)]
