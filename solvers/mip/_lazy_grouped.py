"""``mip`` on a lazy (dask) problem with a budget or share bounds: the grouped model, chunk by chunk.

A budget (or share bounds) constrains the assignment itself, so the model needs assignment
variables; but individuals with the same row are interchangeable, and the in-memory
``aggregated`` model keeps one row of integer counts per group of identical individuals
(same row after shifting by its maximum, and with a budget the same cost row; see
:func:`~coarseopt_solvers.mip._formulation.classic` with ``weights``). Finding the groups is a
map-reduce over the row blocks:

- **map**, one task per row block: shift each row by its maximum, append the cost row (a cost
  of shape ``(n, m)``; a cost per treatment is the same for everyone), and group the block's
  distinct rows (``numpy.unique``): their values, counts and each row's group;
- **reduce**, a tree of merges: concatenate, group again, add the counts and renumber each
  part's rows.

The merged groups are those of the in-memory grouping, in the same (sorted) order, so the
model is the in-memory ``aggregated`` model. It is solved by HiGHS in normalized units (the
shifted rows divided by the largest row spread), the warm start is the budgeted heuristic's
(when it can run), and each individual's treatment comes from its group's counts. Only the
groups (``g`` rows of ``2 m`` values) and one group index per individual are held in memory.

When the groups are more than :data:`LAZY_MODEL_ENTRIES` entries (``g`` times the allowed
treatments: the model's assignment variables), the matrix is loaded when it fits in memory
(the in-memory answer), else :class:`~coarseopt.exceptions.UnsupportedProblemError` names the
size and what to do. With ``formulation="auto"`` and groups that do not halve the rows, the
in-memory solver would use the classic model: the matrix is then loaded when it fits.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from coarseopt.solver import Solution

from ..kernels.source import compute_all, delayed
from . import _formulation as F
from ._highs import solve_highs

__all__ = ["solve_lazy_grouped", "chunked_identical_rows", "LAZY_MODEL_ENTRIES"]

#: Largest grouped model built from a lazy matrix: groups times allowed treatments (its
#: integer assignment variables). The grouping gives up beyond it.
LAZY_MODEL_ENTRIES = 2_000_000
#: Groupings merged by one task of the reduction tree.
_FAN_IN = 8


def _block_rows(block: np.ndarray, m: int, cap: int) -> dict | None:
    """The map step: the distinct rows of a block (profit shifted by its row maximum, then the
    cost columns when given), their counts, each row's group, and the block's constants."""
    block = np.asarray(block, dtype=np.float64)
    profit = block[:, :m]
    mx = profit.max(axis=1)
    data = block.copy()
    data[:, :m] -= mx[:, None]
    spread = float(-data[:, :m].min()) if data.size else 0.0
    rows, inverse, counts = np.unique(data, axis=0, return_inverse=True, return_counts=True)
    if rows.shape[0] * m > cap:
        return None
    return dict(rows=rows, counts=counts, inverse=[inverse.reshape(-1)], rowmax=[math.fsum(mx.tolist())],
                spread=spread)


def _merge_rows(parts: list, m: int, cap: int) -> dict | None:
    """The reduce step: group the parts' rows again, add their counts, renumber their rows."""
    if any(p is None for p in parts):
        return None
    if len(parts) == 1:
        return parts[0]
    rows, inverse, = np.unique(np.concatenate([p["rows"] for p in parts]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if rows.shape[0] * m > cap:
        return None
    counts = np.bincount(inverse, weights=np.concatenate([p["counts"] for p in parts]), minlength=rows.shape[0])
    renumbered, offset = [], 0
    for p in parts:
        local = inverse[offset : offset + p["rows"].shape[0]]
        offset += p["rows"].shape[0]
        renumbered.append(local[np.concatenate(p["inverse"])])
    return dict(rows=rows, counts=np.rint(counts).astype(np.int64), inverse=[np.concatenate(renumbered)],
                rowmax=[v for p in parts for v in p["rowmax"]], spread=max(p["spread"] for p in parts))


def _data_blocks(problem) -> tuple[list, bool]:
    """Row blocks of the profit, with the cost columns appended when the cost is per
    individual; and whether they are appended."""
    import dask.array as da

    profit = problem.profit
    if len(profit.chunks[1]) != 1:
        profit = profit.rechunk({1: -1})
    with_cost = problem.cost is not None and problem.cost_per_treatment is None and problem.budget is not None
    data = profit
    if with_cost:
        cost = problem.cost
        cost = cost.rechunk((profit.chunks[0], -1)) if hasattr(cost, "rechunk") else da.from_array(
            np.asarray(cost), chunks=(profit.chunks[0], -1))
        data = da.concatenate([profit.astype(np.float64), cost.astype(np.float64)], axis=1).rechunk({1: -1})
    return list(data.to_delayed().ravel()), with_cost


def chunked_identical_rows(problem, cap: int = LAZY_MODEL_ENTRIES) -> dict | None:
    """The groups of identical individuals of a lazy problem (see the module docstring):
    ``rows`` (g, m) of shifted profits (then ``cost`` (g, m) when it is per individual),
    ``counts`` (g,), ``inverse`` (n,), ``shift`` (``sum_i max_j P_ij``), ``spread`` (the
    largest row spread); None when there are more than ``cap / m`` groups."""
    import dask

    m = problem.m
    blocks, with_cost = _data_blocks(problem)
    merge = dask.delayed(_merge_rows, pure=True)
    level = [delayed(_block_rows)(blk, m, cap) for blk in blocks]
    while len(level) > _FAN_IN:
        level = [merge(level[i : i + _FAN_IN], m, cap) for i in range(0, len(level), _FAN_IN)]
    out = _merge_rows(compute_all(level), m, cap)
    if out is None:
        return None
    rows = out["rows"]
    return dict(rows=rows[:, :m], cost=rows[:, m:] if with_cost else None, counts=out["counts"],
                inverse=out["inverse"][0], shift=math.fsum(out["rowmax"]), spread=out["spread"], chunks=len(blocks))


def solve_lazy_grouped(solver, problem, context, side, in_memory) -> Solution:
    """``mip`` with a budget or share bounds on a lazy problem (``formulation`` ``auto`` or
    ``aggregated``): the grouped model built chunk by chunk; ``in_memory(why, extras)`` loads
    the matrix and solves as in memory (or refuses when it does not fit)."""
    p = solver.params
    n, m = problem.n, problem.m
    allowed = np.setdiff1d(np.arange(m), side.forbidden)
    extras: dict[str, Any] = {"formulation": "aggregated", "backend": "highs", "lazy": "chunked grouping"}
    t0 = time.perf_counter()
    cap = max(LAZY_MODEL_ENTRIES // max(1, allowed.size) * m, m)
    groups = chunked_identical_rows(problem, cap)
    extras["preprocess_seconds"] = time.perf_counter() - t0
    if groups is None:
        return in_memory(f"more than {LAZY_MODEL_ENTRIES // max(1, allowed.size):,} groups of identical individuals "
                         f"(a grouped model of more than {LAZY_MODEL_ENTRIES:,} assignment variables)", extras,
                         "Round the profits (and costs) so that individuals repeat, or use a solver that works "
                         "chunk by chunk (local-search, ot).")
    g = int(groups["counts"].size)
    extras.update(chunks=groups["chunks"], identical_groups=g)
    if p["formulation"] == "auto" and g > n // 2:
        return in_memory(f"{g:,} groups of identical individuals do not halve the {n:,} rows (the in-memory "
                         "choice is the classic model)", extras, None)
    scale = groups["spread"] if groups["spread"] > 0 and math.isfinite(groups["spread"]) else 1.0
    shift = groups["shift"]
    reps = groups["rows"] / scale if scale != 1.0 else groups["rows"]
    cost = None
    if side.budget is not None:
        cost = groups["cost"] if groups["cost"] is not None else np.broadcast_to(problem.cost_per_treatment, (g, m))
    counts, inverse = groups["counts"], groups["inverse"]
    form = F.classic(reps, problem.k, replace(side, cost=cost), weights=counts)
    extras["build_seconds"] = time.perf_counter() - t0
    extras["model"] = dict(form.stats)
    warm = None
    if side.budget is not None and p["warm_start"] is not False:
        warm = solver._budget_warm_start(problem, side, context, extras)
    left = context.time_left()
    start = None if warm is None else _start(form, warm[0], warm[2], allowed, inverse)
    t1 = time.perf_counter()
    result = solve_highs(form, time_limit=None if not math.isfinite(left) else max(left, 0.01), mip_gap=p["mip_gap"],
                         threads=p["threads"], seed=context.seed, backend_options=p["backend_options"], start=start,
                         verbose=p["verbose"])
    extras["solve_seconds"] = time.perf_counter() - t1
    extras["backend_status"] = result.raw_status
    extras.update(result.stats)
    return _decode(result, form, problem, allowed, counts, inverse, reps, warm, scale, shift, extras)


def _start(form, offered, assignment, allowed, inverse) -> np.ndarray:
    """The start vector of the grouped model for an assignment (counts per group)."""
    v = np.zeros(form.num_col)
    a, _ = form.columns["y"]
    v[a + np.asarray(offered, dtype=np.intp)] = 1.0
    xa, _ = form.columns["x"]
    t = np.searchsorted(allowed, np.asarray(assignment, dtype=np.intp))
    np.add.at(v, xa + inverse * allowed.size + t, 1.0)
    return v


def _decode(result, form, problem, allowed, counts, inverse, reps, warm, scale, shift, extras) -> Solution:
    """Each individual's treatment from its group's counts; the objective and bound back in
    the profit's units (as ``_denormalize`` does in memory)."""
    if result.termination == "infeasible" and not result.has_solution:
        return Solution(status="infeasible", termination="infeasible", extras=extras,
                        message="Infeasible: the budget, share bounds and treatment rules cannot all be met. "
                                "Relax them (mip on the loaded matrix names the family responsible).")
    assignment, objective = None, -np.inf
    if result.has_solution:
        xa, xb = form.columns["x"]
        x = np.maximum(np.rint(result.col_value[xa:xb].reshape(form.n, -1)), 0.0)
        x[np.arange(x.shape[0]), x.argmax(axis=1)] += counts - x.sum(axis=1)  # rounding: groups fully assigned
        assignment = F.expand_counts(x, inverse, allowed)
        objective = float((x * reps[:, allowed]).sum())
    used = warm is not None and (warm[1] - shift) / scale > objective + 1e-9 * max(1.0, abs(objective))
    if used:
        assignment, objective = np.asarray(warm[2], dtype=np.intp), (warm[1] - shift) / scale
    extras["used_warm_start"] = bool(used)
    if assignment is None:
        return result.no_solution(extras)
    status, bound, message = result.status_in_units(objective, problem.objective(assignment), scale, shift)
    return Solution(assignment=assignment, status=status, bound=bound, termination=result.termination,
                    message=message, extras=extras)
