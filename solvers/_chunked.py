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

import contextlib
import math
import time
from typing import Any, Sequence

import numpy as np

from coarseopt.solver import Solution

from .local_search import _check_init, _Engine, _group_sum, _multistart, best_two, swap_terms

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
#: Entries per sub-block of a bound pass (its per-row sorts amortize Python overhead better).
_BOUND_ELEMENTS = 1 << 19
#: The bound evaluates the master's aggregated multipliers every this many iterations (and
#: at the last): each costs one threshold per active cut and row, recomputed from the data.
_AGGREGATE_EVERY = 4
#: Gains within this relative distance of the best are ties (lowest index wins).
_TIE = 1e-12


# ---------------------------------------------------------------------- map-reduce plumbing
def _row_blocks(profit: Any) -> list:
    """The row blocks of a dask array as a list of ``Delayed`` (whole rows each)."""
    if len(profit.chunks[1]) != 1:
        profit = profit.rechunk({1: -1})
    return list(profit.to_delayed().ravel())


def _sub_blocks(block: np.ndarray, elements: int = _SUB_ELEMENTS):
    """``(start, float64 rows)`` over a chunk, about ``elements`` entries at a time."""
    n, m = block.shape
    rows = max(1, elements // max(1, m))
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
    return best_two(_sub_blocks(block), offered, block.shape[0])


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
    return swap_terms(_sub_blocks(block), state, s, block.shape[1], cand)


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
        """Greedy addition up to ``k`` treatments, as in memory (with ``rng``: each step
        adds the best of ``ceil(log2(m / k))`` random candidates)."""
        offered = [] if start is None else [int(j) for j in start]
        sample = max(1, math.ceil(math.log2(max(self.m / k, 1.0))))
        while len(offered) < k:
            if offered and self.expired():
                break
            mask = np.ones(self.m, dtype=bool)
            mask[offered] = False
            cand = np.flatnonzero(mask)
            if rng is not None and sample < cand.size:  # the "sample greedy" construction
                cand = np.sort(rng.choice(cand, size=sample, replace=False))
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
    """``local-search`` on a lazy problem, with the in-memory solver's search and random draws.

    The multistart runs on the first nested sample of individuals and the multilevel
    refinement on the larger ones, exactly as in memory; a level (or the whole problem)
    is loaded into memory when it holds at most ``_IN_MEMORY_ELEMENTS`` entries and is
    otherwise searched by map-reduce passes over the dask rows it selects. The final swap
    descent and the bound always run as map-reduce passes over every individual. Same seed,
    same offered set as in memory.
    """
    from . import local_search as ls

    with ls._one_blas_thread() if hasattr(ls, "_one_blas_thread") else contextlib.nullcontext():
        return _search(problem, context, params)


#: Largest sample (rows x columns) the lazy local search loads into memory; larger samples
#: are searched chunk by chunk.
_IN_MEMORY_ELEMENTS = 1 << 26


def _engine_for(profit: Any, rows: np.ndarray | None, deadline: float | None):
    """An in-memory engine on the selected rows when they are few, else a chunked one."""
    n, m = (int(s) for s in profit.shape)
    size = n if rows is None else rows.size
    if size * m <= _IN_MEMORY_ELEMENTS:
        sub = profit if rows is None else profit[rows]
        return _Engine(np.ascontiguousarray(sub.compute(), dtype=np.float64), deadline)
    return ChunkedEngine(profit if rows is None else profit[rows], deadline)


def _search(problem: Any, context: Any, p: dict) -> Solution:
    from . import local_search as ls

    n, m, k = problem.n, problem.m, problem.k_effective
    init = None if p.get("init") is None else _check_init(np.asarray(p["init"], dtype=np.intp), m, problem.k)
    rng = context.rng
    deadline = context.deadline
    restarts = ls._DEFAULT_RESTARTS if p.get("restarts") is None else p["restarts"]
    sample = p.get("sample_size") or max(1000, ls._SAMPLE_ELEMENTS // m, 100 * k)
    full = ChunkedEngine(problem.profit, deadline)
    extras: dict[str, Any] = {"sample_size": min(n, sample), "chunks": len(full._blocks)}
    if k >= m:
        start = np.arange(m, dtype=np.intp)
        search_stats: dict = {"restarts": 0, "relinks": 0, "improvements": 0, "generations": 0}
    else:
        # Nested uniform samples, each _LEVEL_GROWTH times the last, every individual last
        # (the draws of the in-memory solver, in the same order).
        growth = ls._LEVEL_GROWTH
        sizes = [sample]
        while sizes[-1] < n:
            sizes.append(min(n, sizes[-1] * growth))
        perm = rng.permutation(n) if len(sizes) > 1 else None
        engines = [
            full if size >= n and i > 0
            else _engine_for(problem.profit, None if size >= n else np.sort(perm[:size]), deadline)
            for i, size in enumerate(sizes)
        ]
        ranked, search_stats = _multistart(
            engines[0], k, rng, restarts=restarts, improvement=p.get("improvement", "best"),
            path_relinking=p.get("path_relinking", True), elite_size=p.get("elite_size", 10), init=init,
        )
        for eng in engines[1:-1]:
            improved: dict = {}
            for offered in ranked[: ls._CARRY]:
                res, value, _ = eng.descend(offered, "best")
                improved.setdefault(tuple(np.sort(res)), value)
            ranked = [np.array(key) for key in sorted(improved, key=improved.get, reverse=True)]
        start = ranked[0]
        if len(engines) > 1:
            extras["levels"] = sizes
            extras["sample_passes"] = sum(e.passes for e in engines[:-1])
            extras["sample_swaps"] = sum(e.swaps for e in engines[:-1])
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


# ---------------------------------------------------------------------- Lloyd / OT alternation
def _block_segment_sums(block: np.ndarray, offered: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Assign each row of the block to its best offered column (ties: the first) and return
    the per-segment column sums of the profit (``|S| x m``), the segment sizes and the
    block's objective."""
    s, m = offered.size, block.shape[1]
    sums = np.zeros((s, m))
    counts = np.zeros(s, dtype=np.int64)
    total = 0.0
    for _, blk in _sub_blocks(block):
        sub = blk[:, offered]
        pos = sub.argmax(axis=1)
        total += float(sub[np.arange(sub.shape[0]), pos].sum())
        sums += _group_sum(pos, blk, s)
        counts += np.bincount(pos, minlength=s)
    return sums, counts, total


def segment_column_sums(profit: Any, offered: Sequence[int]) -> tuple[np.ndarray, np.ndarray, float]:
    """One map-reduce pass of the Lloyd / OT alternation over a dask array.

    Every individual is assigned to its most profitable offered treatment (the transport
    step with free segment masses, ties to the first offered column); each segment ``r``
    then reports ``sum_{i in segment r} P_i`` for every column (the support step moves atom
    ``r`` to the argmax of that row).

    Parameters
    ----------
    profit : dask.array.Array of shape (n, m)
    offered : sequence of int
        The current atoms (column indices), in segment order.

    Returns
    -------
    sums : ndarray of shape (len(offered), m)
        Per-segment column sums of the profit.
    counts : ndarray of int, shape (len(offered),)
        Segment sizes.
    objective : float
        ``sum_i max_{j in offered} P_ij``.
    """
    offered = np.asarray(offered, dtype=np.intp)
    parts = _compute([_delayed(_block_segment_sums)(blk, offered) for blk in _row_blocks(profit)])
    sums = _fsum_parts([p[0] for p in parts])
    counts = np.sum([p[1] for p in parts], axis=0)
    total = _fsum_parts([p[2] for p in parts])
    return sums, counts, total


def _block_gains_over(block: np.ndarray, base_cols: np.ndarray) -> np.ndarray:
    """``sum_i max(0, P_ij - base_i)`` over the block for every column, with ``base_i`` the
    best of ``base_cols`` for row ``i`` (its worst profit when ``base_cols`` is empty)."""
    out = np.zeros(block.shape[1])
    for _, blk in _sub_blocks(block):
        base = blk[:, base_cols].max(axis=1) if base_cols.size else blk.min(axis=1)
        d = blk - base[:, None]
        np.maximum(d, 0.0, out=d)
        out += d.sum(axis=0)
    return out


def _gains_over(blocks: list, base_cols: np.ndarray) -> np.ndarray:
    base_cols = np.asarray(base_cols, dtype=np.intp)
    return _fsum_parts(_compute([_delayed(_block_gains_over)(blk, base_cols) for blk in blocks]))


def chunked_lloyd(
    profit: Any,
    atoms: Sequence[int],
    *,
    max_iter: int = 100,
    deadline: float | None = None,
) -> tuple[np.ndarray, float, dict]:
    """The Lloyd / OT alternation of :func:`coarseopt_solvers.ot.lloyd` on a dask array, one
    map-reduce pass per round.

    Transport step (free segment masses): each individual goes to its best atom (ties: the
    first). Support step: the atoms move to the distinct columns maximizing
    ``sum_r sum_{i in C_r} P[i, t_r]``, a ``k x m`` linear assignment on the per-segment
    column sums returned by the pass (:func:`segment_column_sums`); an atom whose segment is
    empty is re-seeded where it adds the most (one more pass). Stops when the objective no
    longer increases (a fixed point), after ``max_iter`` rounds or at ``deadline``.

    Parameters
    ----------
    profit : dask.array.Array of shape (n, m)
    atoms : sequence of int
        Starting atoms (distinct column indices).
    max_iter : int, default 100
        At most this many rounds.
    deadline : float, optional
        A ``time.perf_counter()`` value checked between rounds.

    Returns
    -------
    atoms : ndarray of int
        Sorted offered columns of the best round.
    objective : float
        ``sum_i max_{j in atoms} P_ij``.
    info : dict
        ``iterations``, ``converged``, ``reseeded``.
    """
    from .ot import _TOL, _support_step

    blocks = _row_blocks(profit)
    atoms = np.array(atoms, dtype=np.intp)
    best_atoms, best_value = atoms.copy(), -np.inf
    converged, reseeded, it = False, 0, 0
    while True:
        sums, counts, value = segment_column_sums(profit, atoms)
        if value <= best_value + _TOL * max(1.0, abs(value)):
            converged = True
            break
        best_atoms, best_value = atoms.copy(), value
        if it >= max_iter or (deadline is not None and time.perf_counter() >= deadline):
            break
        it += 1
        new = _support_step(sums)
        empty = np.flatnonzero(counts == 0)
        if empty.size:  # re-seed atoms that serve nobody where they add the most
            keep = np.setdiff1d(np.arange(atoms.size), empty)
            for r in empty:
                gain = _gains_over(blocks, new[keep])
                gain[new[keep]] = -np.inf
                new[r] = int(np.argmax(_snap_ties(gain, np.isfinite(gain), 0.0)))
                keep = np.append(keep, r)
                reseeded += 1
        if np.array_equal(np.sort(new), np.sort(atoms)):
            converged = True
            break
        atoms = new
    return np.sort(best_atoms), best_value, {"iterations": it, "converged": converged, "reseeded": reseeded}


# ---------------------------------------------------------------------- Lagrangian bound
def _block_rowstats(block: np.ndarray, m: int) -> tuple[float, np.ndarray, float]:
    """Sum of row maxima, counts of each row's best column and sum of (row max - row min)."""
    rowmax_sum = 0.0
    counts = np.zeros(m, dtype=np.int64)
    spread = 0.0
    for _, blk in _sub_blocks(block):
        mx = blk.max(axis=1)
        rowmax_sum += float(mx.sum())
        counts += np.bincount(blk.argmax(axis=1), minlength=m)
        spread += float((mx - blk.min(axis=1)).sum())
    return rowmax_sum, counts, spread


def _thresholds(q: np.ndarray, ys: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """``sum_s weights[s] * u(y_s)`` for the rows of the shifted block ``q``; ``u_i(y)`` is
    the value of the column at which ``y`` summed over i's columns in decreasing order of
    profit first reaches 1 (see ``_bounds``). Only the columns with ``y_j > 0`` can be that
    column: a sparse ``y`` (an offered set's indicator) sorts only those; dense ones share one
    sort of the block."""
    rows = np.arange(q.shape[0])
    u = np.zeros(q.shape[0])
    full = None
    for y, w in zip(ys, weights):
        support = np.flatnonzero(y > 0)
        if 4 * support.size <= q.shape[1]:
            qs = q[:, support]
            order = np.argsort(-qs, axis=1, kind="stable")
            v = np.take_along_axis(qs, order, axis=1)
            c = np.cumsum(y[support][order], axis=1)
        else:
            if full is None:
                order_all = np.argsort(-q, axis=1, kind="stable")
                full = (order_all, np.take_along_axis(q, order_all, axis=1))
            order, v = full
            c = np.cumsum(y[order], axis=1)
        idx = (c >= 1.0 - 1e-12).argmax(axis=1)
        u += w * v[rows, idx]
    return u


def _block_lagrangian(block: np.ndarray, ys: list[np.ndarray], weights: list[float], with_g: bool) -> tuple:
    """For ``u = sum_s w_s u(y_s)`` on the row-shifted block: ``sum u``, ``sum |u|``,
    ``rho(u)`` (m,) and, when ``with_g`` (a single ``y``), the block's share of ``G(y)``."""
    m = block.shape[1]
    sum_u, sum_abs, g = 0.0, 0.0, 0.0
    rho = np.zeros(m)
    for _, blk in _sub_blocks(block, _BOUND_ELEMENTS):
        q = blk - blk.max(axis=1, keepdims=True)
        u = _thresholds(q, ys, weights)
        sum_u += float(u.sum())
        sum_abs += float(np.abs(u).sum())
        d = np.maximum(q - u[:, None], 0.0)
        rho += d.sum(axis=0)
        if with_g:
            g += float(u.sum() + (d * ys[0][None, :]).sum())
    return sum_u, sum_abs, rho, g


def _block_multipliers(block: np.ndarray, ys: list[np.ndarray], weights: list[float]) -> np.ndarray:
    out = np.empty(block.shape[0])
    for lo, blk in _sub_blocks(block):
        mx = blk.max(axis=1)
        out[lo : lo + blk.shape[0]] = _thresholds(blk - mx[:, None], ys, weights) + mx
    return out


class _LevelBundle:
    """Cuts ``t <= a_s + r_s . y`` of the concave dual function ``G`` over
    ``Y = {y in [0, 1]^m : sum y <= k}``, the master LP (the model's maximum and the cut
    weights) and the level projection of a level bundle method (Lemaréchal, Nemirovskii &
    Nesterov, Math. Programming 69, 1995). Each cut keeps the prices ``y`` that made it."""

    def __init__(self, m: int, k: int, scale: float, max_cuts: int) -> None:
        self.m, self.k, self.scale, self.max_cuts = m, k, scale, max_cuts
        self.a: list[float] = []
        self.r: list[np.ndarray] = []
        self.y: list[np.ndarray] = []
        self.age: list[int] = []

    def add(self, a: float, r: np.ndarray, y: np.ndarray) -> None:
        self.a.append(a / self.scale)  # scaled: the LP tolerances are absolute
        self.r.append(np.asarray(r) / self.scale)
        self.y.append(np.asarray(y, dtype=np.float64).copy())
        self.age.append(0)

    @staticmethod
    def _linprog(c, a_ub, b_ub, bounds):
        from scipy.optimize import linprog

        return linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")

    def model_max(self) -> tuple[float, np.ndarray, np.ndarray] | None:
        """``max_{y in Y} min_s (a_s + r_s . y)``: value, maximizer and cut weights."""
        m, s = self.m, len(self.a)
        c = np.zeros(m + 1)
        c[-1] = -1.0
        a_ub = np.zeros((s + 1, m + 1))
        a_ub[:s, :m] = -np.array(self.r)
        a_ub[:s, -1] = 1.0
        a_ub[s, :m] = 1.0
        res = self._linprog(c, a_ub, np.concatenate([self.a, [self.k]]), [(0.0, 1.0)] * m + [(None, None)])
        if res.status != 0:
            return None
        lam = np.maximum(-np.asarray(res.ineqlin.marginals[:s]), 0.0)
        if lam.sum() <= 0:
            return None
        lam /= lam.sum()
        for t in range(s):
            self.age[t] = 0 if lam[t] > 1e-12 else self.age[t] + 1
        return float(-res.fun) * self.scale, res.x[:m], lam

    def project(self, center: np.ndarray, level: float) -> np.ndarray | None:
        """The point of ``{y in Y : model(y) >= level}`` nearest ``center`` (max-norm)."""
        m, s = self.m, len(self.a)
        c = np.zeros(m + 1)
        c[-1] = 1.0
        block = np.zeros((s, m + 1))
        block[:, :m] = -np.array(self.r)
        eye = np.eye(m)
        cap = np.zeros((1, m + 1))
        cap[0, :m] = 1.0
        a_ub = np.vstack([block, np.hstack([eye, -np.ones((m, 1))]), np.hstack([-eye, -np.ones((m, 1))]), cap])
        b_ub = np.concatenate([np.array(self.a) - level / self.scale, center, -center, [self.k]])
        res = self._linprog(c, a_ub, b_ub, [(0.0, 1.0)] * m + [(0.0, None)])
        return None if res.status != 0 else res.x[:m]

    def prune(self) -> None:
        """Drop long-inactive cuts once there are too many."""
        while len(self.a) > self.max_cuts:
            t = int(np.argmax(self.age))
            if self.age[t] == 0:
                t = 0
            for lst in (self.a, self.r, self.y, self.age):
                del lst[t]


def _incumbent(incumbent: Any, offered: Any, m: int) -> tuple[float | None, np.ndarray | None]:
    value = None
    if incumbent is not None:
        if isinstance(incumbent, (int, float, np.integer, np.floating)) and not isinstance(incumbent, bool):
            value = float(incumbent)
        else:
            offered = incumbent if offered is None else offered
    if offered is not None:
        offered = np.unique(np.asarray(offered, dtype=np.intp).reshape(-1))
        if offered.size == 0 or offered.min() < 0 or offered.max() >= m:
            raise ValueError(f"'offered' must list column indices in [0, {m}); got {offered.tolist()[:20]}.")
    return value, offered


class _Recipe:
    """Multipliers ``u = sum_s w_s u(y_s)`` given by column prices: ``m`` numbers per cut
    instead of ``n``, recomputed block by block where the data lives."""

    def __init__(self, ys: list[np.ndarray], weights: list[float]) -> None:
        self.ys = [np.asarray(y, dtype=np.float64) for y in ys]
        self.weights = [float(w) for w in weights]


def _evaluate(blocks: list, recipe: _Recipe, k: int, with_g: bool = False) -> tuple:
    """``(L(u) shifted, rho(u), sum|u|, G(y), sum u)`` of a recipe, one map-reduce pass."""
    parts = _compute([_delayed(_block_lagrangian)(blk, recipe.ys, recipe.weights, with_g) for blk in blocks])
    sum_u = _fsum_parts([p[0] for p in parts])
    sum_abs = _fsum_parts([p[1] for p in parts])
    rho = _fsum_parts([p[2] for p in parts])
    g = _fsum_parts([p[3] for p in parts])
    top = math.fsum(np.sort(rho)[::-1][:k])
    return sum_u + top, rho, sum_abs, g, sum_u


def chunked_lagrangian_value(profit: Any, k: int, y: Sequence[float]) -> float:
    """The Lagrangian bound ``L(u(y))`` of the multipliers defined by column prices ``y``
    (``m`` numbers in [0, 1] summing to at least 1), one pass over a dask array: a valid
    upper bound on the best objective with at most ``k`` offered treatments."""
    blocks = _row_blocks(profit)
    m = int(profit.shape[1])
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (m,) or not np.isfinite(y).all() or (y < 0).any() or y.sum() < 1.0 - 1e-12:
        raise ValueError(f"'y' must hold m = {m} prices >= 0 summing to at least 1; got {y.tolist()[:10]}.")
    offset = _fsum_parts([p[0] for p in _compute([_delayed(_block_rowstats)(b, m) for b in blocks])])
    value, _, sum_abs, _, _ = _evaluate(blocks, _Recipe([y], [1.0]), min(int(k), m))
    return value + offset + 8 * np.finfo(float).eps * (abs(offset) + sum_abs + abs(value))


def chunked_lagrangian_bound(
    profit: Any,
    k: int,
    *,
    incumbent: Any = None,
    offered: Any = None,
    deadline: float | None = None,
    target_gap: float | None = None,
    max_iter: int | None = None,
    tol: float = 1e-9,
):
    """The Lagrangian (LP) bound of :func:`coarseopt_solvers._bounds.lagrangian_bound`,
    computed block by block over a dask array.

    The same level bundle method on the ``m`` column prices ``y``; each iteration is one
    map-reduce pass returning ``G(y)``, ``rho(u(y))`` and ``sum_i u_i(y)``; every
    ``_AGGREGATE_EVERY`` iterations (and at the last) one more pass evaluates the aggregated
    multipliers ``u_bar = sum_s lambda_s u(y_s)`` of the master problem.
    Multipliers are never shipped: a cut stores its ``y`` and each block recomputes
    ``u(y)`` from its own rows. The returned bound is ``L(u)`` of the returned multipliers,
    recomputed from the data, with a rounding guard.

    Parameters
    ----------
    profit : dask.array.Array of shape (n, m)
    k : int
    incumbent : float or array-like of int, optional
        The best known objective, or its offered columns (the starting prices).
    offered : array-like of int, optional
        The incumbent's columns, when ``incumbent`` is a value.
    deadline : float, optional
        A ``time.perf_counter()`` value; the bound found so far is returned.
    target_gap : float, optional
        Stop once ``(bound - incumbent) / max(1, |bound|) <= target_gap``.
    max_iter : int, optional
        Bundle iterations (default 200).
    tol : float, default 1e-9
        Stop when the bound is within this relative distance of the dual lower estimate.

    Returns
    -------
    coarseopt_solvers._bounds.LagrangianBound
        ``multipliers`` is a lazy dask array with the row chunks of ``profit``.
    """
    import dask.array as da

    from ._bounds import LagrangianBound

    blocks = _row_blocks(profit)
    n, m = (int(s) for s in profit.shape)
    k = min(int(k), m)
    max_iter = 200 if max_iter is None else int(max_iter)
    inc_value, inc_offered = _incumbent(incumbent, offered, m)
    stats = _compute([_delayed(_block_rowstats)(b, m) for b in blocks])
    off = _fsum_parts([p[0] for p in stats])
    counts = np.sum([p[1] for p in stats], axis=0)
    spread = _fsum_parts([p[2] for p in stats]) / n
    chunks = (profit.chunks[0],) if len(profit.chunks[1]) == 1 else (profit.rechunk({1: -1}).chunks[0],)

    def result(recipe: _Recipe, bound: float, sum_abs: float, it: int, history, lp_lower, termination):
        u = da.map_blocks(
            _block_multipliers, profit if len(profit.chunks[1]) == 1 else profit.rechunk({1: -1}),
            recipe.ys, recipe.weights, drop_axis=1, dtype=np.float64, chunks=chunks,
        )
        guard = 8 * np.finfo(float).eps * (abs(off) + sum_abs + abs(bound))
        return LagrangianBound(bound=float(bound + off + guard), multipliers=u, iterations=it, history=history,
                               lp_lower=float(lp_lower + off), termination=termination)

    if inc_offered is not None and inc_value is None:
        inc_value = segment_column_sums(profit, inc_offered)[2]
    if k == m:  # full personalization is attained: u = row maxima
        y = np.ones(m)
        value, _, sum_abs, _, _ = _evaluate(blocks, _Recipe([y], [1.0]), k)
        return result(_Recipe([y], [1.0]), value, sum_abs, 0, [value + off], value, "converged")

    if inc_offered is None:
        inc_offered = np.argsort(-counts, kind="stable")[:k]
    y = np.zeros(m)
    y[inc_offered[:k]] = 1.0
    if inc_offered.size < k:
        rest = [j for j in np.argsort(-counts, kind="stable") if y[j] == 0]
        y[rest[: k - inc_offered.size]] = 1.0

    bundle = _LevelBundle(m, k, scale=max(spread, 1e-12) * n, max_cuts=max(4 * m, 60))
    unit = min(1.0, max(spread * n, np.finfo(float).tiny))  # tolerance floor, as in lagrangian_bound
    best = (np.inf, None, 0.0)  # (shifted bound, recipe, sum|u|)
    history: list[float] = []
    best_g, best_y = -np.inf, y.copy()
    termination = "iteration_limit"

    def consider(recipe: _Recipe, with_g: bool = False):
        nonlocal best
        val, rho, sum_abs, g, sum_u = _evaluate(blocks, recipe, k, with_g)
        if val < best[0]:
            best = (val, recipe, sum_abs)
        return val, rho, g, sum_u

    def stop_gap(b: float) -> bool:
        if target_gap is None or inc_value is None:
            return False
        return (b + off - inc_value) / max(unit, abs(b + off)) <= target_gap

    it = 0
    while True:
        if stop_gap(best[0]):
            termination = "target_gap"
            break
        if it >= max_iter:
            break
        if deadline is not None and time.perf_counter() >= deadline and best[1] is not None:
            termination = "time_limit"
            break
        it += 1
        recipe = _Recipe([y], [1.0])
        _, r_y, g_y, sum_u = consider(recipe, with_g=True)
        if g_y > best_g:
            best_g, best_y = g_y, y.copy()
        bundle.add(sum_u, r_y, y.copy())
        master = bundle.model_max()
        if master is not None:
            model_value, y_model, lam = master
            active = lam > 1e-12
            if active.sum() > 1 and (it % _AGGREGATE_EVERY == 0 or it >= max_iter):
                consider(_Recipe([ys for ys, a in zip(bundle.y, active) if a], list(lam[active])))
            upper = min(model_value, best[0])
        else:
            y_model, upper = None, best[0]
        history.append(best[0] + off)
        if best[0] - best_g <= tol * max(unit, abs(best[0] + off)):
            termination = "converged"
            break
        level = best_g + 0.5 * (upper - best_g)
        nxt = bundle.project(best_y, level)
        if nxt is None:
            nxt = y_model if y_model is not None else best_y
        y = np.clip(nxt, 0.0, 1.0)
        if y.sum() < 1.0:
            y = np.clip(y + (1.0 - y.sum()) / m, 0.0, 1.0)
        bundle.prune()
    return result(best[1], best[0], best[2], it, history, best_g, termination)


# ---------------------------------------------------------------------- Parquet input
def profit_from_parquet(path: Any, columns: Sequence[str] | None = None, *, dtype: Any = np.float64):
    """A lazy ``(n, m)`` profit matrix from a Parquet dataset (one row per individual, one
    column per treatment), read partition by partition with ``dask.dataframe``.

    Parameters
    ----------
    path : str or path-like
        A Parquet file or a directory of Parquet files.
    columns : sequence of str, optional
        The treatment columns, in order (default: every column).
    dtype : numpy dtype, default float64
        Storage dtype of the array (float32 halves memory traffic).

    Returns
    -------
    dask.array.Array
        Row chunks = the dataset's partitions, with known sizes; pass it to
        :class:`coarseopt.CoarseProblem`.
    """
    import dask.dataframe as dd

    frame = dd.read_parquet(path, columns=list(columns) if columns is not None else None)
    return frame.to_dask_array(lengths=True).astype(dtype)
