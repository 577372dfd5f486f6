"""Atoms off the treatment grid: refining the offered levels with a profit function.

When the treatments carry numeric levels ``T`` (shape ``(m,)`` or ``(m, d)``) and the caller
supplies ``profit_fn(levels) -> (n, q)`` (the profit of every individual at any level, e.g.
from the fitted demand model), the support step of the Lloyd alternation can move an atom
to any level, not only to a grid point (Zhang & Misra, *Coarse Personalization*, arXiv
2204.05793: the treatment space is continuous). Each atom ``r`` with segment ``C_r`` solves

.. math::

    \\max_{t \\in B_r} \\sum_{i \\in C_r} \\mathrm{profit\\_fn}(t)_i

over a box ``B_r`` spanning the neighbouring grid levels of its grid optimum, by a zooming
search: a 9-point grid over the box (per coordinate, in turn, when ``d > 1``), then the box
shrinks around the best point, six times. Segments are then reassigned to their best
refined atom (without share bounds; with share bounds the segments are kept, so the shares
stay exactly as on the grid) and the two steps repeat while the total profit increases.

What is exact and what is not: the grid solution (and its certified bound) is unchanged;
the refinement only ever increases the total profit computed by ``profit_fn`` (the grid
levels are among the candidates), but the refined levels are local optima of a
derivative-free search, not certified optima over the continuum.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from coarseopt.exceptions import OptionError

__all__ = ["refine_offgrid"]

_POINTS = 9
_ZOOMS = 6
_ROUNDS = 10


def _call(profit_fn: Callable, levels: np.ndarray, n: int, one_d: bool) -> np.ndarray:
    arg = levels[:, 0] if one_d else levels
    try:
        out = np.asarray(profit_fn(arg), dtype=np.float64)
    except Exception as exc:
        raise OptionError(
            f"The 'profit_fn' option of solver 'ot' failed on levels of shape {arg.shape}: {exc!r}. "
            "It must map an array of q levels to an (n, q) array of profits."
        ) from exc
    if out.shape != (n, levels.shape[0]):
        raise OptionError(
            f"The 'profit_fn' option of solver 'ot' must return an array of shape (n, q) = "
            f"({n}, {levels.shape[0]}) for {levels.shape[0]} levels; got shape {out.shape}."
        )
    if not np.isfinite(out).all():
        raise OptionError("The 'profit_fn' option of solver 'ot' returned NaN or infinite profits.")
    return out


def _neighbour_box(grid: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per coordinate: the previous and next distinct grid values around ``level``."""
    lo = level.copy()
    hi = level.copy()
    for c in range(grid.shape[1]):
        values = np.unique(grid[:, c])
        below = values[values < level[c]]
        above = values[values > level[c]]
        lo[c] = below.max() if below.size else level[c]
        hi[c] = above.min() if above.size else level[c]
    return lo, hi


def _refine_atom(profit_fn, center, lo, hi, rows, n, one_d) -> tuple[np.ndarray, float]:
    best = center.copy()
    best_val = float(_call(profit_fn, best[None, :], n, one_d)[rows, 0].sum())
    lo, hi = lo.copy(), hi.copy()
    for _ in range(_ZOOMS):
        for c in range(best.size):
            if hi[c] <= lo[c]:
                continue
            cand = np.repeat(best[None, :], _POINTS, axis=0)
            cand[:, c] = np.linspace(lo[c], hi[c], _POINTS)
            vals = _call(profit_fn, cand, n, one_d)[rows].sum(axis=0)
            t = int(np.argmax(vals))
            if vals[t] > best_val:
                best, best_val = cand[t].copy(), float(vals[t])
            width = (hi[c] - lo[c]) / (_POINTS - 1)
            lo[c] = max(lo[c], best[c] - width)
            hi[c] = min(hi[c], best[c] + width)
    return best, best_val


def refine_offgrid(
    profit_fn: Callable,
    problem: Any,
    offered: np.ndarray,
    assignment: np.ndarray,
    *,
    fixed_segments: bool,
    deadline: float | None = None,
) -> dict:
    """Refine the offered levels off the grid; returns the facts for ``SolveResult.extras``.

    Returns
    -------
    dict with
        ``levels`` (``(s,)`` or ``(s, d)``: the refined level of each offered treatment, in
        the order of ``offered``), ``level_assignment`` (``(n,)``: position of each
        individual's level in ``levels``), ``offgrid_objective`` (total profit by
        ``profit_fn`` at the refined levels), ``grid_objective_fn`` (the same at the grid
        levels, a consistency check against the profit matrix), ``offgrid_rounds``.
    """
    grid = np.asarray(problem.treatments, dtype=np.float64)
    one_d = grid.ndim == 1
    grid2 = grid[:, None] if one_d else grid
    n = problem.n
    offered = np.asarray(offered, dtype=np.intp)
    levels = grid2[offered].copy()
    pos = np.searchsorted(offered, assignment)
    start_vals = _call(profit_fn, levels, n, one_d)
    grid_value = float(start_vals[np.arange(n), pos].sum())
    value = grid_value
    rounds = 0
    for _ in range(_ROUNDS):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        rounds += 1
        new_levels = levels.copy()
        for r in range(offered.size):
            rows = np.flatnonzero(pos == r)
            if rows.size == 0:
                continue
            lo, hi = _neighbour_box(grid2, grid2[offered[r]])
            new_levels[r], _ = _refine_atom(profit_fn, levels[r], lo, hi, rows, n, one_d)
        vals = _call(profit_fn, new_levels, n, one_d)
        new_pos = pos if fixed_segments else vals.argmax(axis=1)
        new_value = float(vals[np.arange(n), new_pos].sum())
        if new_value <= value + 1e-12 * max(1.0, abs(value)):
            break
        levels, pos, value = new_levels, new_pos, new_value
    return {
        "levels": levels[:, 0] if one_d else levels,
        "level_assignment": pos,
        "offgrid_objective": value,
        "grid_objective_fn": grid_value,
        "offgrid_rounds": rounds,
    }
