"""The Lagrangian (LP) bound over a chunked (dask) profit matrix, block by block.

``L(u) = sum_i u_i + top_k rho(u)`` is a valid upper bound for any multipliers ``u``; each
block returns its share of ``rho(u)`` and of ``sum_i u_i``. The multipliers of a block are a
function of the ``m`` column prices ``y`` of the bundle method, ``u_i(y)``, so they are
recomputed where the block lives instead of being shipped (see
:mod:`coarseopt_solvers._bounds` for the in-memory bound and the math).

Per-block results are reduced with exact sums (:mod:`coarseopt_solvers.kernels.source`), so
neither the number of workers nor the order in which blocks finish changes a result.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
from scipy.optimize import linprog

from ._bounds import LagrangianBound
from .kernels.blocks import offered_value, row_blocks
from .kernels.limits import BOUND_ELEMENTS, CACHE_ELEMENTS
from .kernels.source import dask_row_blocks, fsum_parts, map_reduce

__all__ = ["chunked_lagrangian_bound", "chunked_lagrangian_value"]

#: The bound evaluates the master's aggregated multipliers every this many iterations (and
#: at the last): each costs one threshold per active cut and row, recomputed from the data.
_AGGREGATE_EVERY = 4


def _block_offered_value(block: np.ndarray, offered: np.ndarray) -> float:
    return offered_value(row_blocks(block, CACHE_ELEMENTS), offered)


def _block_rowstats(block: np.ndarray, m: int) -> tuple[float, np.ndarray, float]:
    """Sum of row maxima, counts of each row's best column and sum of (row max - row min)."""
    rowmax_sum = 0.0
    counts = np.zeros(m, dtype=np.int64)
    spread = 0.0
    for _, blk in row_blocks(block, CACHE_ELEMENTS):
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

    blocks = dask_row_blocks(profit)
    n, m = (int(s) for s in profit.shape)
    k = min(int(k), m)
    max_iter = 200 if max_iter is None else int(max_iter)
    inc_value, inc_offered = _incumbent(incumbent, offered, m)
    stats = map_reduce(_block_rowstats, blocks, m)
    off = fsum_parts([p[0] for p in stats])
    counts = np.sum([p[1] for p in stats], axis=0)
    spread = fsum_parts([p[2] for p in stats]) / n
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
        inc_value = fsum_parts(map_reduce(_block_offered_value, blocks, inc_offered))
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
