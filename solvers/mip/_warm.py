"""Feasible offered sets for the MIP: warm starts and completion of a short offered set.

The warm start is the ``local-search`` solver (greedy construction, swap descent, multistart
with path-relinking; Resende & Werneck 2004, 2007) run on the treatments that may be offered;
the MIP never returns a solution worse than it.
"""

from __future__ import annotations

import time

import numpy as np

from coarseopt.exceptions import CoarseoptError, OptionError
from coarseopt.problem import CoarseProblem
from coarseopt.registry import get_solver

from ..kernels.greedy import Candidates, greedy_add
from ..kernels.source import InMemorySource
from ..local_search import LocalSearchSolver

__all__ = ["objective_of", "greedy_complete", "warm_start", "given_columns"]


def objective_of(profit: np.ndarray, offered: np.ndarray) -> float:
    """``f(S) = sum_i max_{j in S} profit[i, j]`` (in row blocks)."""
    offered = np.asarray(offered, dtype=np.intp)
    total = 0.0
    step = max(1, 8_000_000 // max(1, offered.size))
    for s in range(0, profit.shape[0], step):
        total += float(profit[s : s + step, offered].max(axis=1).sum())
    return total


def greedy_complete(profit: np.ndarray, offered: np.ndarray, k: int, allowed: np.ndarray,
                    exclusive: np.ndarray | None = None) -> np.ndarray:
    """Add treatments to ``offered`` one at a time, each the one that raises ``f`` most,
    until ``k`` are offered or no allowed treatment can be added (exclusive pairs respected;
    :func:`~coarseopt_solvers.kernels.greedy.greedy_add` on the in-memory matrix).

    ``f`` is monotone, so a completed set is never worse than the one given.
    """
    source = InMemorySource(np.asarray(profit, dtype=np.float64))
    s = greedy_add(source, k, start=offered, candidates=Candidates(allowed, offered, exclusive))
    return np.array(sorted(s), dtype=np.intp)


def warm_start(profit: np.ndarray, k: int, allowed: np.ndarray, *, method: str, seed: int | None,
               deadline: float | None, also_ot: bool = False,
               ot_deadline: float | None = None) -> tuple[np.ndarray, float]:
    """An offered set from a heuristic on the ``allowed`` columns, and its objective.

    ``method`` is ``"local-search"`` (the ``local-search`` solver) or ``"greedy"`` (greedy
    construction only). With ``also_ot`` the ``ot`` solver runs too (until ``ot_deadline``)
    and the better of the two sets is returned.
    """
    sub = profit if allowed.size == profit.shape[1] else profit[:, allowed]
    kk = min(k, allowed.size)
    if method == "local-search":
        limit = None if deadline is None else max(deadline - time.perf_counter(), 0.01)
        res = LocalSearchSolver().solve(CoarseProblem(sub, kk), time_limit=limit, seed=seed, progress=False)
        offered = allowed[np.asarray(res.offered, dtype=np.intp)]
    else:
        offered = greedy_complete(profit, np.zeros(0, dtype=np.intp), kk, allowed)
    offered = np.sort(offered)
    value = objective_of(profit, offered)
    if method == "local-search" and also_ot:
        ot = _ot_start(sub, kk, seed, ot_deadline)
        if ot is not None:
            ot = np.sort(allowed[ot])
            ot_value = objective_of(profit, ot)
            if ot_value > value:
                offered, value = ot, ot_value
    return offered, value


def _ot_start(sub: np.ndarray, k: int, seed: int | None, deadline: float | None) -> np.ndarray | None:
    """The offered set of the ``ot`` solver (without its bound), or None when unavailable."""
    try:
        cls = get_solver("ot")
        solver = cls(bound=False)
    except (CoarseoptError, ImportError, TypeError):
        return None
    limit = None if deadline is None else deadline - time.perf_counter()
    if limit is not None and limit <= 0.05:
        return None
    res = solver.solve(CoarseProblem(sub, k), time_limit=limit, seed=seed, progress=False)
    return np.asarray(res.offered, dtype=np.intp) if res.has_solution else None


def now() -> float:
    return time.perf_counter()


def given_columns(ws: tuple, m: int, k: int) -> np.ndarray:
    """The columns of a ``warm_start`` given as indices, sorted and checked against the problem."""
    offered = np.unique(np.array(ws, dtype=np.intp))
    if offered.min() < 0 or offered.max() >= m or offered.size > k:
        raise OptionError(
            f"The 'warm_start' option of solver 'mip' lists columns {list(ws)}; they must be at most "
            f"k = {k} distinct indices in [0, {m})."
        )
    return offered
