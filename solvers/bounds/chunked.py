"""The Lagrangian (LP) bound over a chunked (dask) profit matrix, block by block.

``L(u) = sum_i u_i + top_k rho(u)`` is a valid upper bound for any multipliers ``u``; each
block returns its share of ``rho(u)`` and of ``sum_i u_i``. The multipliers of a block are a
function of the ``m`` column prices ``y`` of the bundle method, ``u_i(y)``, so they are
recomputed where the block lives instead of being shipped (see
:mod:`coarseopt_solvers.bounds.memory` for the in-memory bound and the math).

Per-block results are reduced with exact sums (:mod:`coarseopt_solvers.kernels.source`), so
neither the number of workers nor the order in which blocks finish changes a result.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .bundle import DualRun, LagrangianBound, LevelBundle, incumbent_args, maximize_dual
from ..kernels.blocks import offered_value, row_blocks
from ..kernels.limits import BOUND_ELEMENTS, CACHE_ELEMENTS
from ..kernels.source import dask_row_blocks, fsum_parts, map_reduce

__all__ = ["chunked_lagrangian_bound", "chunked_lagrangian_value"]

#: The bound evaluates the master's aggregated multipliers every this many iterations (and
#: at the last): each costs one threshold per active cut and row, recomputed from the data.
_AGGREGATE_EVERY = 4


def _block_offered_value(block: np.ndarray, offered: np.ndarray) -> float:
    return offered_value(row_blocks(block, CACHE_ELEMENTS), offered)


def _block_rowstats(block: np.ndarray, m: int) -> tuple[float, np.ndarray, float, int]:
    """Sum of row maxima, counts of each row's best column, sum of (row max - row min), rows."""
    rowmax_sum = 0.0
    counts = np.zeros(m, dtype=np.int64)
    spread = 0.0
    for _, blk in row_blocks(block, CACHE_ELEMENTS):
        mx = blk.max(axis=1)
        rowmax_sum += float(mx.sum())
        counts += np.bincount(blk.argmax(axis=1), minlength=m)
        spread += float((mx - blk.min(axis=1)).sum())
    return rowmax_sum, counts, spread, block.shape[0]


def _thresholds(q: np.ndarray, ys: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """``sum_s weights[s] * u(y_s)`` for the rows of the shifted block ``q``; ``u_i(y)`` is
    the value of the column at which ``y`` summed over i's columns in decreasing order of
    profit first reaches 1 (see ``memory``). Only the columns with ``y_j > 0`` can be that
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
    for _, blk in row_blocks(block, BOUND_ELEMENTS):
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
    for lo, blk in row_blocks(block, CACHE_ELEMENTS):
        mx = blk.max(axis=1)
        out[lo : lo + blk.shape[0]] = _thresholds(blk - mx[:, None], ys, weights) + mx
    return out


class _Recipe:
    """Multipliers ``u = sum_s w_s u(y_s)`` given by column prices: ``m`` numbers per cut
    instead of ``n``, recomputed block by block where the data lives."""

    def __init__(self, ys: list[np.ndarray], weights: list[float]) -> None:
        self.ys = [np.asarray(y, dtype=np.float64) for y in ys]
        self.weights = [float(w) for w in weights]


def _evaluate(blocks: list, recipe: _Recipe, k: int, with_g: bool = False) -> tuple:
    """``(L(u) shifted, rho(u), sum|u|, G(y), sum u)`` of a recipe, one map-reduce pass."""
    parts = map_reduce(_block_lagrangian, blocks, recipe.ys, recipe.weights, with_g)
    sum_u = fsum_parts([p[0] for p in parts])
    sum_abs = fsum_parts([p[1] for p in parts])
    rho = fsum_parts([p[2] for p in parts])
    g = fsum_parts([p[3] for p in parts])
    top = math.fsum(np.sort(rho)[::-1][:k])
    return sum_u + top, rho, sum_abs, g, sum_u


def chunked_lagrangian_value(profit: Any, k: int, y: Sequence[float]) -> float:
    """The Lagrangian bound ``L(u(y))`` of the multipliers defined by column prices ``y``
    (``m`` numbers in [0, 1] summing to at least 1), one pass over a dask array: a valid
    upper bound on the best objective with at most ``k`` offered treatments."""
    blocks = dask_row_blocks(profit)
    m = int(profit.shape[1])
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (m,) or not np.isfinite(y).all() or (y < 0).any() or y.sum() < 1.0 - 1e-12:
        raise ValueError(f"'y' must hold m = {m} prices >= 0 summing to at least 1; got {y.tolist()[:10]}.")
    offset = fsum_parts([p[0] for p in map_reduce(_block_rowstats, blocks, m)])
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
    """The Lagrangian (LP) bound of :func:`coarseopt_solvers.bounds.lagrangian_bound`,
    computed block by block over a dask array.

    The same driver and level bundle (:func:`coarseopt_solvers.bounds.bundle.maximize_dual`, the
    same stopping rules) on the ``m`` column prices ``y``, with one aggregated cut per
    evaluation; each iteration is one map-reduce pass returning ``G(y)``, ``rho(u(y))`` and
    ``sum_i u_i(y)``; every ``_AGGREGATE_EVERY`` iterations (and at the last) one more pass
    evaluates the aggregated multipliers ``u_bar = sum_s lambda_s u(y_s)`` of the master
    problem. Multipliers are never shipped: a cut stores its ``y`` and each block recomputes
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
        Stop when the bound is within this relative distance of the dual lower estimate or
        proves the incumbent optimal.

    Returns
    -------
    coarseopt_solvers.bounds.LagrangianBound
        ``multipliers`` is a lazy dask array with the row chunks of ``profit``.
    """
    import dask.array as da

    blocks = dask_row_blocks(profit)
    n, m = (int(s) for s in profit.shape)
    k = min(int(k), m)
    max_iter = 200 if max_iter is None else int(max_iter)
    inc_value, inc_offered = incumbent_args(incumbent, offered, m)
    oracle = _ChunkedOracle(blocks, m, k)
    if inc_offered is not None and inc_value is None:
        inc_value = fsum_parts(map_reduce(_block_offered_value, blocks, inc_offered))
    whole = profit if len(profit.chunks[1]) == 1 else profit.rechunk({1: -1})

    def result(run: DualRun) -> LagrangianBound:
        recipe, sum_abs = run.handle
        u = da.map_blocks(_block_multipliers, whole, recipe.ys, recipe.weights, drop_axis=1, dtype=np.float64,
                          chunks=(whole.chunks[0],))
        off = oracle.offset
        guard = 8 * np.finfo(float).eps * (abs(off) + sum_abs + abs(run.value))
        return LagrangianBound(bound=float(run.value + off + guard), multipliers=u, iterations=run.iterations,
                               history=run.history, lp_lower=float(run.lp_lower + off), termination=run.termination)

    if k == m:  # full personalization is attained: u = row maxima
        _, _, g, handle, value = oracle.cut(np.ones(m))
        return result(DualRun(value, handle, g, [value + oracle.offset], 0, "converged"))
    y = np.zeros(m)
    if inc_offered is None:
        inc_offered = np.argsort(-oracle.counts, kind="stable")[:k]
    y[inc_offered[:k]] = 1.0
    if inc_offered.size < k:
        rest = [j for j in np.argsort(-oracle.counts, kind="stable") if y[j] == 0]
        y[rest[: k - inc_offered.size]] = 1.0
    bundle = LevelBundle(m, k, 1, scale=max(oracle.spread, 1e-12) * n, max_cuts=max(4 * m, 60))
    bundle.deadline = deadline
    unit = min(1.0, max(oracle.spread * n, np.finfo(float).tiny))  # tolerance floor, as in lagrangian_bound
    return result(maximize_dual(oracle, bundle, y, max_iter=max_iter, deadline=deadline, tol=tol, level=0.5,
                                unit=unit, incumbent=inc_value, target_gap=target_gap))


class _ChunkedOracle:
    """Evaluations of the Lagrangian over the row blocks, one aggregated cut each; the
    multipliers ``u = sum_s w_s u(y_s)`` are identified by their prices (a :class:`_Recipe`)."""

    def __init__(self, blocks: list, m: int, k: int) -> None:
        self.blocks, self.k = blocks, k
        stats = map_reduce(_block_rowstats, blocks, m)
        self.offset = fsum_parts([p[0] for p in stats])
        self.counts = np.sum([p[1] for p in stats], axis=0)
        self.spread = fsum_parts([p[2] for p in stats]) / sum(int(p[3]) for p in stats)

    def cut(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, tuple, float]:
        recipe = _Recipe([y], [1.0])
        value, rho, sum_abs, g, sum_u = _evaluate(self.blocks, recipe, self.k, with_g=True)
        return np.array([sum_u]), rho[None, :], g, (recipe, sum_abs), value

    def combine(self, lam: np.ndarray, handles: list, it: int, last: bool) -> tuple[tuple, float] | None:
        """Every ``_AGGREGATE_EVERY`` iterations (and at the last), one pass for the
        aggregated multipliers of the master's cut weights."""
        active = lam[:, 0] > 1e-12
        if active.sum() <= 1 or not (it % _AGGREGATE_EVERY == 0 or last):
            return None
        recipe = _Recipe([h[0].ys[0] for h, a in zip(handles, active) if a], list(lam[active, 0]))
        value, _, sum_abs, _, _ = _evaluate(self.blocks, recipe, self.k)
        return (recipe, sum_abs), value
