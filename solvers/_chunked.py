"""Map-reduce versions of the heuristics and of the Lagrangian bound over a dask array.

A lazy :class:`~coarseopt.CoarseProblem` keeps ``profit`` as a dask array split into blocks of
whole rows (individuals). Every pass below maps one pure numpy function over the row blocks
(on the threads of this process, or on the workers of a ``dask.distributed`` cluster) and
reduces the small per-block results on the caller:

- **swap local search** (Whitaker 1983; Resende & Werneck 2007): each block keeps its
  individuals' best and second-best offered value and the position of the best one (the
  *state*, persisted where the block lives) and returns its share of the swap gains
  ``G_j = sum_i max(P_ij - b1_i, 0)`` and ``E_rj`` (a group sum over the individuals whose
  best treatment is ``r``): an ``|S| x m`` array, whatever the number of individuals;
- **Lloyd / optimal-transport alternation** (Zhang & Misra, *Coarse Personalization*,
  arXiv 2204.05793, the support step): each block assigns its individuals to their best
  offered treatment and returns, per segment, the column sums of the profit (``|S| x m``);
- **Lagrangian bound** ``L(u) = sum_i u_i + top_k rho(u)``: each block returns its share of
  ``rho(u)`` and of ``sum_i u_i``; the multipliers of a block are a function of the ``m``
  column prices ``y`` of the bundle method, ``u_i(y)``, so they are recomputed where the
  block lives instead of being shipped (see :mod:`coarseopt_solvers._bounds`).

**Determinism.** Per-block results are reduced in block order with exact (``math.fsum``)
sums of the block partials, so neither the number of workers nor the order in which blocks
finish changes a result; a different chunking changes sums only by float rounding. The
decisions made from those sums (which swap, which atom) treat values within a relative
``1e-12`` of the best as tied and take the lowest index, the rule of the in-memory
solvers, so the same seed gives the same offered set for every chunking, worker count and
run, and the same answer as the in-memory path.

Computation is in float64 whatever the storage dtype: a float32 dask array halves the disk
and memory traffic and changes nothing else.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np

from coarseopt.solver import Solution

from .local_search import _DEFAULT_RESTARTS, _SAMPLE_ELEMENTS, _check_init, _Engine, _group_sum, _multistart

__all__ = [
    "ChunkedEngine",
    "chunked_swap_local_search",
    "solve_local_search",
    "segment_column_sums",
    "chunked_lloyd",
    "chunked_lagrangian_bound",
    "chunked_lagrangian_value",
    "profit_from_parquet",
]

#: Entries per sub-block inside a chunk: keeps the float64 temporaries of a pass small.
_SUB_ELEMENTS = 1 << 16
#: Gains within this relative distance of the best are ties (lowest index wins).
_TIE = 1e-12


# ---------------------------------------------------------------------- map-reduce plumbing
def _row_blocks(profit: Any) -> list:
    """The row blocks of a dask array as a list of ``Delayed`` (whole rows each)."""
    if len(profit.chunks[1]) != 1:
        profit = profit.rechunk({1: -1})
    return list(profit.to_delayed().ravel())


def _sub_blocks(block: np.ndarray):
    """``(start, float64 rows)`` over a chunk, a few thousand entries at a time."""
    n, m = block.shape
    rows = max(1, _SUB_ELEMENTS // max(1, m))
    for lo in range(0, n, rows):
        yield lo, np.asarray(block[lo : lo + rows], dtype=np.float64)


def _fsum_parts(parts: Sequence[Any]) -> Any:
    """Exact sum of per-block partials (scalars or arrays of one shape), independent of
    their order: what makes a reduction deterministic across worker counts."""
    first = np.asarray(parts[0], dtype=np.float64)
    if first.ndim == 0:
        return math.fsum(float(p) for p in parts)
    stack = np.stack([np.asarray(p, dtype=np.float64).reshape(-1) for p in parts], axis=1)
    return np.array([math.fsum(row) for row in stack]).reshape(first.shape)


def _compute(tasks: list) -> list:
    import dask

    return list(dask.compute(*tasks)) if tasks else []


def _delayed(func):
    import dask

    return dask.delayed(func, pure=True)


def _snap_ties(gains: np.ndarray, valid: np.ndarray, value: float) -> np.ndarray:
    """Set every valid entry within the tie tolerance of the best valid entry to that best
    value, so that ``argmax`` takes the lowest index among near-ties (rounding noise from
    the order of a sum must not decide)."""
    if not valid.any():
        return gains
    best = gains[valid].max()
    tol = _TIE * max(1.0, abs(value), abs(best))
    near = valid & (gains >= best - tol)
    gains = gains.copy()
    gains[near] = best
    return gains


# ---------------------------------------------------------------------- per-block kernels
def _block_state(block: np.ndarray, offered: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best and second-best offered value of each row of the block and the position (in
    ``offered``) of the best one; ties: the first position."""
    n, s = block.shape[0], offered.size
    b1 = np.empty(n)
    b2 = np.full(n, -np.inf)
    pos = np.zeros(n, dtype=np.intp)
    for lo, blk in _sub_blocks(block):
        hi = lo + blk.shape[0]
        sub = blk[:, offered]
        if s == 1:
            b1[lo:hi] = sub[:, 0]
            continue
        p = sub.argmax(axis=1)
        rows = np.arange(sub.shape[0])
        b1[lo:hi] = sub[rows, p]
        sub[rows, p] = -np.inf
        b2[lo:hi] = sub.max(axis=1)
        pos[lo:hi] = p
    return b1, b2, pos


def _state_total(state: tuple) -> float:
    return float(state[0].sum())


def _block_add_gains(block: np.ndarray, b1: np.ndarray | None, cand: np.ndarray) -> np.ndarray:
    """``sum_i max(P_ij - b1_i, 0)`` over the block for the candidate columns (column sums
    when there is no offered set yet)."""
    out = np.zeros(cand.size)
    for lo, blk in _sub_blocks(block):
        sub = blk[:, cand]
        if b1 is None:
            out += sub.sum(axis=0)
        else:
            d = sub - b1[lo : lo + blk.shape[0], None]
            np.maximum(d, 0.0, out=d)
            out += d.sum(axis=0)
    return out


def _block_swap_gains(block: np.ndarray, state: tuple, s: int, cand: np.ndarray | None) -> tuple:
    """The block's share of ``G`` (candidates), ``E`` (``s x candidates``) and of the
    excess ``sum_i max(max_j P_ij - b1_i, 0)`` (when every column is a candidate)."""
    b1, b2, pos = state
    c = block.shape[1] if cand is None else cand.size
    gain_add = np.zeros(c)
    extra = np.zeros((s, c))
    excess = 0.0
    for lo, blk in _sub_blocks(block):
        hi = lo + blk.shape[0]
        sub = blk if cand is None else blk[:, cand]
        b1b = b1[lo:hi, None]
        d = sub - b1b
        if cand is None:
            excess += float(np.maximum(d.max(axis=1), 0.0).sum())
        gain_add += np.maximum(d, 0.0).sum(axis=0)
        np.minimum(d, 0.0, out=d)
        np.maximum(d, b2[lo:hi, None] - b1b, out=d)
        extra += _group_sum(pos[lo:hi], d, s)
    return gain_add, extra, excess


def _block_column(block: np.ndarray, j: int) -> np.ndarray:
    return np.asarray(block[:, j], dtype=np.float64)


# ---------------------------------------------------------------------- swap local search
class _ChunkedVector:
    """A per-individual vector held block by block where the blocks live (e.g. the best
    offered value of every individual); ``sum()`` is an exact reduction of block sums."""

    def __init__(self, states: list, index: int = 0) -> None:
        self.states = states
        self.index = index

    def sum(self) -> float:
        return _fsum_parts(_compute([_delayed(_state_total)(st) for st in self.states]))

    def compute(self) -> np.ndarray:
        parts = _compute([_delayed(_pick)(st, self.index) for st in self.states])
        return np.concatenate(parts)


def _pick(state: tuple, index: int) -> np.ndarray:
    return state[index]


class ChunkedEngine(_Engine):
    """The swap engine of ``local-search`` over a dask array, pass by pass as map-reduce.

    The per-individual state of an offered set (best and second-best value and the
    position of the best) stays with its row block (persisted on the cluster); a pass
    ships back only ``O(|S| m)`` numbers per block. The descent, the tolerance on gains
    and the bookkeeping are those of the in-memory engine.
    """

    def __init__(self, profit: Any, deadline: float | None = None) -> None:
        super().__init__(profit, deadline)
        self.lazy = True
        self._blocks = _row_blocks(profit)

    def state(self, offered: np.ndarray):
        import dask

        offered = np.asarray(offered, dtype=np.intp)
        tasks = [_delayed(_block_state)(blk, offered) for blk in self._blocks]
        states = list(dask.persist(*tasks))
        return _ChunkedVector(states), states, offered

    def add_gains(self, b1: Any, cand: np.ndarray) -> np.ndarray:
        cand = np.asarray(cand, dtype=np.intp)
        if b1 is None:
            tasks = [_delayed(_block_add_gains)(blk, None, cand) for blk in self._blocks]
        else:
            tasks = [
                _delayed(_block_add_gains)(blk, _delayed(_pick)(st, 0), cand)
                for blk, st in zip(self._blocks, b1.states)
            ]
        self.passes += 1
        return _fsum_parts(_compute(tasks))

    def swap_gains(self, st: tuple, s: int, cand: np.ndarray | None = None) -> np.ndarray:
        _, states, offered = st
        cand_arr = None if cand is None else np.asarray(cand, dtype=np.intp)
        parts = _compute(
            [_delayed(_block_swap_gains)(blk, state, s, cand_arr) for blk, state in zip(self._blocks, states)]
        )
        gain_add = _fsum_parts([p[0] for p in parts])
        extra = _fsum_parts([p[1] for p in parts])
        self.passes += 1
        gains = extra + gain_add[None, :]
        cols = np.arange(self.m) if cand_arr is None else cand_arr
        if cand_arr is None:
            excess = _fsum_parts([p[2] for p in parts])
            self.row_max_total = st[0].sum() + excess
        valid = np.broadcast_to(~np.isin(cols, offered)[None, :], gains.shape)
        return _snap_ties(gains, valid, 0.0)

    def column(self, j: int) -> np.ndarray:
        return np.concatenate(_compute([_delayed(_block_column)(blk, int(j)) for blk in self._blocks]))

    def greedy(self, k: int, start: np.ndarray | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Greedy addition (as in memory; the best-of-a-sample variant is not offered on
        chunks: the multistart runs on an in-memory subsample)."""
        offered = [] if start is None else [int(j) for j in start]
        while len(offered) < k:
            if offered and self.expired():
                break
            mask = np.ones(self.m, dtype=bool)
            mask[offered] = False
            cand = np.flatnonzero(mask)
            b1 = self.state(np.asarray(offered, dtype=np.intp))[0] if offered else None
            gains = self.add_gains(b1, cand)
            gains = _snap_ties(gains, np.ones(gains.shape, dtype=bool), 0.0)
            offered.append(int(cand[int(gains.argmax())]))
        return np.asarray(offered, dtype=np.intp)



def chunked_swap_local_search(
    profit: Any,
    k: int,
    offered: Sequence[int] | None = None,
    *,
    deadline: float | None = None,
) -> tuple[np.ndarray, float]:
    """Greedy construction + best-improvement swap descent on a dask array, block by block.

    The chunked counterpart of :func:`coarseopt_solvers.local_search.swap_local_search`
    (same moves, same tie rule); see the module docstring for the map-reduce.

    Parameters
    ----------
    profit : dask.array.Array of shape (n, m)
        Finite profits, any row chunking (columns are merged into whole rows).
    k : int
        At most ``k`` columns are offered.
    offered : sequence of int, optional
        Starting columns, completed greedily to ``min(k, m)``.
    deadline : float, optional
        A ``time.perf_counter()`` value; the descent stops at the first pass after it.

    Returns
    -------
    offered : ndarray of int
        Sorted column indices of a local optimum under swaps.
    objective : float
        ``sum_i max_{j in offered} profit[i, j]``.
    """
    m = int(profit.shape[1])
    start = None if offered is None else _check_init(np.asarray(offered), m, int(k), "offered")
    eng = ChunkedEngine(profit, deadline)
    s = eng.greedy(min(int(k), m), start)
    best, value, _ = eng.descend(s, "best")
    return np.sort(best), value


def solve_local_search(problem: Any, context: Any, params: dict) -> Solution:
    """``local-search`` on a lazy problem: the multistart on an in-memory sample (exactly as
    the in-memory solver draws it), then the final swap descent and the bound over every
    individual as map-reduce passes. Same seed, same answer as in memory."""
    p = params
    n, m, k = problem.n, problem.m, problem.k_effective
    init = None if p.get("init") is None else _check_init(np.asarray(p["init"], dtype=np.intp), m, problem.k)
    rng = context.rng
    deadline = context.deadline
    restarts = _DEFAULT_RESTARTS if p.get("restarts") is None else p["restarts"]
    sample = p.get("sample_size") or max(1000, _SAMPLE_ELEMENTS // m)
    full = ChunkedEngine(problem.profit, deadline)
    extras: dict[str, Any] = {"sample_size": min(n, sample), "chunks": len(full._blocks)}
    if k >= m:
        start = np.arange(m, dtype=np.intp)
        search_stats: dict = {"restarts": 0, "relinks": 0, "improvements": 0, "generations": 0}
    else:
        if n > sample:
            rows = np.sort(rng.choice(n, size=sample, replace=False))
            sub = problem.profit[rows].compute()
        else:  # small enough to hold: the multistart runs on it exactly as in memory
            sub = problem.profit.compute()
        eng = _Engine(np.ascontiguousarray(sub, dtype=np.float64), deadline)
        start, _, search_stats = _multistart(
            eng, k, rng, restarts=restarts, improvement=p.get("improvement", "best"),
            path_relinking=p.get("path_relinking", True), elite_size=p.get("elite_size", 10), init=init,
        )
        extras["sample_passes"] = eng.passes
        extras["sample_swaps"] = eng.swaps
    offered, value, converged = full.descend(start, "best")
    extras.update(search_stats)
    extras.update(passes=full.passes, swaps=full.swaps, final_swaps=full.swaps, local_optimum=converged)
    bound = full.row_max_total
    if bound is not None and bound < value:  # rounding in the block sums
        bound = value
    if converged:
        return Solution(offered=offered, status="feasible", bound=bound, termination="converged", extras=extras)
    return Solution(offered=offered, status="time_limit", bound=bound, termination="time_limit",
                    message="Stopped by the time limit before reaching a local optimum under swaps.",
                    extras=extras)
