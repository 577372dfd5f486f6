"""Feasible offered sets for the MIP: warm starts and completion of a short offered set.

The warm start is the ``local-search`` solver (greedy construction, swap descent, multistart
with path-relinking; Resende & Werneck 2004, 2007) run on the treatments that may be offered;
the MIP never returns a solution worse than it.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["objective_of", "greedy_complete", "warm_start"]


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
    until ``k`` are offered or no allowed treatment can be added (exclusive pairs respected).

    ``f`` is monotone, so a completed set is never worse than the one given.
    """
    s = [int(j) for j in offered]
    n = profit.shape[0]
    best = profit[:, s].max(axis=1) if s else np.full(n, -np.inf)
    while len(s) < k:
        cand = [int(j) for j in allowed if int(j) not in s]
        if exclusive is not None and exclusive.size:
            taken = set(s)
            cand = [j for j in cand if not any((a == j and b in taken) or (b == j and a in taken)
                                               for a, b in exclusive.tolist())]
        if not cand:
            break
        gains = np.maximum(profit[:, cand], best[:, None]).sum(axis=0)
        j = cand[int(np.argmax(gains))]
        s.append(j)
        best = np.maximum(best, profit[:, j])
    return np.array(sorted(s), dtype=np.intp)


def warm_start(profit: np.ndarray, k: int, allowed: np.ndarray, *, method: str, rng: np.random.Generator,
               deadline: float | None) -> tuple[np.ndarray, float]:
    """An offered set from a heuristic on the ``allowed`` columns, and its objective.

    ``method`` is ``"local-search"`` (swap local search from a greedy construction) or
    ``"greedy"`` (greedy construction only).
    """
    sub = profit if allowed.size == profit.shape[1] else profit[:, allowed]
    kk = min(k, allowed.size)
    if method == "local-search":
        try:
            from ..local_search import LocalSearchSolver
        except ImportError:  # pragma: no cover - the plugin ships with coarseopt
            method = "greedy"
    if method == "local-search":
        from coarseopt.problem import CoarseProblem

        limit = None if deadline is None else max(deadline - time.perf_counter(), 0.01)
        seed = int(rng.integers(2**31 - 1))
        res = LocalSearchSolver().solve(CoarseProblem(sub, kk), time_limit=limit, seed=seed, progress=False)
        offered = allowed[np.asarray(res.offered, dtype=np.intp)]
    else:
        offered = greedy_complete(profit, np.zeros(0, dtype=np.intp), kk, allowed)
    offered = np.sort(offered)
    return offered, objective_of(profit, offered)


def now() -> float:
    return time.perf_counter()
