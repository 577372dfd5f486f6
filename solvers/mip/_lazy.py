"""``mip`` on a lazy (dask) profit matrix: the aggregated model built chunk by chunk.

The aggregated radius model (see :mod:`coarseopt_solvers.mip._formulation`) needs, of the
data, only the individuals' top-``R`` orders and gap vectors, grouped by order (individuals
with the same order share one gap vector, the sum of theirs). That is a map-reduce:

- **map**, one task per row block (on the threads of this process, or the workers of a
  ``dask.distributed`` cluster): shift each row by its maximum (the normalization of the
  in-memory path), sort it (:func:`~coarseopt_solvers.mip._formulation._sorted_top`), group
  the block's rows by their top-``R`` order and sum their gap vectors
  (:func:`~coarseopt_solvers.mip._formulation._group_rows`); return the distinct orders,
  the summed gaps and the block's constants (``sum_i max_j P_ij``, the sum of the shifted
  best allowed profits, the largest row spread);
- **reduce**, a tree of merges (each concatenates a few groupings and groups them again with
  the same ``_group_rows``), the last one on the caller;
- the distinct prefix-set nodes are then built from the merged groups exactly as in memory
  (:func:`~coarseopt_solvers.mip._formulation.prefix_nodes`).

The merged groups are the in-memory groups in the same order (``_group_rows`` orders groups
by the hash of their order, whatever the rows they came from); only the gap sums are added in
another order, so the nodes, levels and chain rows are those of the in-memory model and the
coefficients equal up to float rounding, for every chunking and worker count (a merge tree
depends on the number of blocks only).

Sizes. A grouping of ``g`` orders over ``R`` levels holds ``g * R`` gaps (float64) and
orders (one byte per entry for ``m <= 256``). The preprocessing gives up as soon as a block or
a merge holds more than :data:`LAZY_GROUP_ENTRIES` entries (128 MiB of gaps): smooth profit
curves compress to a few hundred groups whatever ``n``, noisy ones hardly at all.

What ``mip`` does with a lazy problem (see :func:`solve_lazy`):

0. side constraints on the assignment (share bounds, a budget) with ``formulation`` ``auto``
   or ``aggregated``: the model on groups of identical individuals, built chunk by chunk
   (:mod:`._lazy_grouped`);
1. ``formulation`` ``classic``, ``radius`` or ``benders``, a Pyomo ``backend`` or a
   ``model_hook`` need the individuals in the model: the matrix is loaded into memory when
   it fits (60% of the available memory as float64, the rule of every solver that needs the
   whole matrix) and solved as in memory, else
   :class:`~coarseopt.exceptions.UnsupportedProblemError`;
2. otherwise the aggregated model is built chunk by chunk. With ``formulation="auto"`` and
   a model that does not aggregate (the rule of :func:`~coarseopt_solvers.mip._solver.auto_formulation`:
   more than 5,000 distinct prefix sets, or more than a fifth of the radius model's variables)
   the in-memory solver would use Benders decomposition: the matrix is then loaded when it fits (the in-memory answer); when
   it does not, the aggregated model is still solved up to :data:`LAZY_NODE_LIMIT` nodes;
3. when the preprocessing gives up (too many groups) or the model is too large, the matrix
   is loaded when it fits; when it does not, ``mip`` returns the chunked ``local-search``
   incumbent with the chunked Lagrangian bound (``extras["lazy_fallback"]`` says why): the
   status is ``optimal`` only when that bound proves it, else ``feasible`` (or
   ``time_limit``), never a claim without proof.

The model is solved by HiGHS in normalized units as in memory; the warm start follows the
in-memory rule (``warm_start="auto"``: only for a model with more than ``0.05 n m`` nonzeros)
and is the chunked ``local-search``; the preprocessing counts toward ``time_limit``. The
result gives the offered set only, like ``local-search`` on a lazy problem: each individual
is then assigned its best offered treatment by one pass over the blocks.
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from coarseopt.exceptions import UnsupportedProblemError
from coarseopt.solver import Solution, SolveContext, materialize

from ..bounds import chunked_lagrangian_bound
from ..heuristics.swap import search
from ..kernels.blocks import row_blocks
from ..kernels.limits import CACHE_ELEMENTS, improves
from ..kernels.greedy import Candidates, greedy_add
from ..kernels.source import ChunkedSource, compute_all, dask_row_blocks, delayed, fsum_parts
from ..local_search import LocalSearchSolver, swap_local_search
from . import _formulation as F
from ._highs import solve_highs
from ._lazy_grouped import solve_lazy_grouped
from ._policy import AUTO_WARM_MIN_N, auto_formulation
from ._side import diagnose_treatment_rules, resolve_side
from ._warm import given_columns

__all__ = ["solve_lazy", "chunked_prefix_sets", "LAZY_GROUP_ENTRIES", "LAZY_NODE_LIMIT"]

#: The chunked preprocessing gives up when a block or a merge holds more than this many
#: (group, level) entries: 2**24 gaps are 128 MiB as float64.
LAZY_GROUP_ENTRIES = 1 << 24
#: Largest aggregated model (distinct prefix sets) solved lazily when the matrix does not fit
#: in memory; beyond, the incumbent and the Lagrangian bound are returned.
LAZY_NODE_LIMIT = 200_000
#: Share of the available memory a matrix (as float64) may take to be loaded.
MEMORY_FRACTION = 0.6
#: Blocks merged by one task of the reduction tree.
_FAN_IN = 8
#: Entries of a block sorted and grouped at a time (float64 temporaries of a few MiB).
_GROUP_ELEMENTS = 1 << 20
#: Bundle iterations of the Lagrangian bound of the fallback (each one a pass over the data).
_FALLBACK_BOUND_ITER = 50


# ---------------------------------------------------------------------- map-reduce kernels
def _block_groups(block: np.ndarray, allowed: np.ndarray, R: int, cap: int) -> dict | None:
    """The map step on one row block: sorted top-``R`` orders grouped, gap vectors summed.

    Rows are shifted by their maximum first (as the in-memory ``mip`` does), so gaps and
    constants are those of the normalized model up to the final division by the spread.
    The block is sorted and grouped ``_GROUP_ELEMENTS`` entries at a time (bounded
    temporaries), then the groupings are merged. Returns None when the block has more than
    ``cap`` (group, level) entries.
    """
    parts = []
    for _, blk in row_blocks(block, _GROUP_ELEMENTS):
        part = _rows_groups(blk, allowed, R, cap)
        if part is None:
            return None
        parts.append(part)
        if len(parts) >= _FAN_IN:
            parts = [_merge_groups(parts, cap)]
            if parts[0] is None:
                return None
    return _merge_groups(parts, cap)


def _rows_groups(blk: np.ndarray, allowed: np.ndarray, R: int, cap: int) -> dict | None:
    """:func:`_block_groups` on float64 rows."""
    n, m = blk.shape
    mx = blk.max(axis=1)
    q = blk - mx[:, None]
    spread = float(-q.min()) if q.size else 0.0
    sub = q if allowed.size == m else q[:, allowed]
    del q
    order, vals = F._sorted_top(sub, R + 1)
    del sub
    shifted_best = float(vals[:, 0].sum())
    gaps = vals[:, :-1] - vals[:, 1:]
    del vals
    order = np.ascontiguousarray(order[:, :R])
    in_rows = True
    if R > 0 and n > 1:
        rep, inv = F._group_rows(order)
        g = rep.size
        if g * R > cap:
            return None
        if g < n:
            gsum = np.zeros((g, R))
            for c in range(R):
                gsum[:, c] = np.bincount(inv, weights=gaps[:, c], minlength=g)
            gaps, order, in_rows = gsum, order[rep], False
    elif n * R > cap:
        return None
    return dict(order=order, gaps=gaps, rows=n, in_rows=in_rows, rowmax=[float(mx.sum())],
                shifted=[shifted_best], spread=spread)


def _merge_groups(parts: list, cap: int) -> dict | None:
    """The reduce step: concatenate groupings (in block order) and group them again.

    When every part is still one group per row and no two rows share an order, the rows keep
    their order (as ``prefix_sets`` keeps an uncompressed matrix in row order); otherwise the
    groups come in ``_group_rows`` order, the order of the in-memory grouping.
    """
    if any(p is None for p in parts):
        return None
    if len(parts) == 1:
        return parts[0]
    order = np.concatenate([p["order"] for p in parts])
    gaps = np.concatenate([p["gaps"] for p in parts])
    rows = sum(p["rows"] for p in parts)
    R = order.shape[1]
    in_rows = all(p["in_rows"] for p in parts)
    if R > 0 and order.shape[0] > 1:
        rep, inv = F._group_rows(order)
        g = rep.size
        if g * R > cap:
            return None
        if not (in_rows and g == rows):
            gsum = np.zeros((g, R))
            for c in range(R):
                gsum[:, c] = np.bincount(inv, weights=gaps[:, c], minlength=g)
            gaps, order, in_rows = gsum, order[rep], False
    return dict(order=order, gaps=gaps, rows=rows, in_rows=in_rows,
                rowmax=[v for p in parts for v in p["rowmax"]],
                shifted=[v for p in parts for v in p["shifted"]],
                spread=max(p["spread"] for p in parts))


def _chunked_groups(profit: Any, allowed: np.ndarray, R: int, cap: int) -> tuple[dict | None, int]:
    """Map over the row blocks, reduce in a tree of ``_FAN_IN``-way merges (the last merge
    runs on the caller). Returns the merged grouping (None if it exceeded ``cap``) and the
    number of blocks."""
    import dask

    blocks = dask_row_blocks(profit)
    merge = dask.delayed(_merge_groups, pure=True)
    level = [delayed(_block_groups)(blk, allowed, R, cap) for blk in blocks]
    while len(level) > _FAN_IN:
        level = [merge(level[i : i + _FAN_IN], cap) for i in range(0, len(level), _FAN_IN)]
    parts = compute_all(level)
    return _merge_groups(parts, cap), len(blocks)


def _levels(m_allowed: int, k: int, full_range: bool) -> int:
    return m_allowed - 1 if full_range else max(0, m_allowed - min(k, m_allowed))


def _prefix_from_groups(groups: dict, allowed: np.ndarray, m: int, R: int, *, normalized: bool,
                        chunks: int) -> tuple[F.PrefixSets, float, float]:
    """The :class:`PrefixSets` of a merged grouping, in normalized units (gaps divided by the
    largest row spread, constant ``sum_i (max_allowed_i - max_i) / spread``) or in the
    profit's units; also returns the scale and the shift ``sum_i max_j P_ij``."""
    shift = math.fsum(groups["rowmax"])
    shifted = math.fsum(groups["shifted"])
    spread = groups["spread"]
    scale = spread if spread > 0 and math.isfinite(spread) else 1.0
    gaps = groups["gaps"]
    if normalized:
        gaps = gaps / scale if scale != 1.0 else gaps
        constant = shifted / scale
    else:
        constant = shift + shifted
    stats = {"individuals": int(groups["rows"]), "levels": R, "chunks": chunks}
    if R > 0:
        stats["groups"] = int(groups["order"].shape[0])
    order = groups["order"] if R > 0 else np.zeros((int(groups["rows"]), 0), dtype=np.intp)
    if R == 0:
        gaps = np.zeros((order.shape[0], 0))
    prefix = F.prefix_nodes(order, gaps, allowed, m, constant, R, stats, aggregate=True)
    return prefix, scale, shift


def chunked_prefix_sets(profit: Any, k: int, *, allowed: np.ndarray | None = None, full_range: bool = False,
                        max_entries: int = LAZY_GROUP_ENTRIES) -> F.PrefixSets | None:
    """:func:`~coarseopt_solvers.mip._formulation.prefix_sets` with ``aggregate=True`` on a
    dask array, as a map-reduce over its row blocks (see the module docstring).

    Parameters
    ----------
    profit : dask.array.Array of shape (n, m)
    k : int
    allowed : ndarray of int, optional
        Treatments that may be offered (default: all).
    full_range : bool, default False
        Keep every level ``r <= m' - 1`` (as ``prefix_sets``).
    max_entries : int, default LAZY_GROUP_ENTRIES
        Give up (return None) when a block or a merge holds more (group, level) entries.

    Returns
    -------
    PrefixSets or None
        In the profit's units: the same nodes, levels, groups and chain structure as
        ``prefix_sets(profit.compute(), k, aggregate=True, ...)``, coefficients and constant
        equal up to float rounding.
    """
    m = int(profit.shape[1])
    allowed = np.arange(m) if allowed is None else np.asarray(allowed, dtype=np.intp)
    R = _levels(allowed.size, k, full_range)
    groups, chunks = _chunked_groups(profit, allowed, R, int(max_entries))
    if groups is None:
        return None
    return _prefix_from_groups(groups, allowed, m, R, normalized=False, chunks=chunks)[0]


def _block_offered_value(block: np.ndarray, offered: np.ndarray) -> tuple[float, float]:
    """``sum_i max_{j in offered} P_ij`` over the block, in row-shifted units and as given."""
    shifted, raw = 0.0, 0.0
    for _, blk in row_blocks(block, CACHE_ELEMENTS):
        mx = blk.max(axis=1)
        best = blk[:, offered].max(axis=1)
        raw += float(best.sum())
        shifted += float((best - mx).sum())
    return shifted, raw


def _offered_value(blocks: list, offered: np.ndarray) -> tuple[float, float]:
    """One pass: the objective of ``offered`` as ``(sum_i (best_i - max_i), sum_i best_i)``."""
    offered = np.asarray(offered, dtype=np.intp)
    parts = compute_all([delayed(_block_offered_value)(blk, offered) for blk in blocks])
    return fsum_parts([p[0] for p in parts]), fsum_parts([p[1] for p in parts])


def _greedy_complete(problem, offered: np.ndarray, k: int, allowed: np.ndarray,
                     exclusive: np.ndarray) -> np.ndarray:
    """``greedy_complete`` of the in-memory solver on the chunked matrix (the same kernel,
    one map-reduce pass per added treatment)."""
    source = ChunkedSource(problem.profit)
    s = greedy_add(source, k, start=offered, candidates=Candidates(allowed, offered, exclusive))
    return np.array(sorted(s), dtype=np.intp)


def _satisfies(offered: np.ndarray, side: F.SideConstraints) -> bool:
    s = set(int(j) for j in offered)
    if not set(side.forced.tolist()) <= s or s & set(side.forbidden.tolist()):
        return False
    return not any(a in s and b in s for a, b in side.exclusive.tolist())


# ---------------------------------------------------------------------- the solver path
def _fits(problem) -> bool:
    import psutil

    return problem.n * problem.m * 8 <= MEMORY_FRACTION * psutil.virtual_memory().available


def _in_memory(solver, problem, context, why: str, extras: dict | None = None, remedy: str | None = None) -> Solution:
    """Load the matrix and solve as in memory, or refuse with the reason (and ``remedy``)."""
    if not _fits(problem):
        gib = problem.n * problem.m * 8 / 2**30
        raise UnsupportedProblemError(
            f"Solver 'mip' on a lazy {problem.n} x {problem.m} profit matrix: {why} needs the whole matrix in "
            f"memory ({gib:.1f} GiB as float64), more than is available. " + (remedy or (
                "Drop that option (without a model_hook, a Pyomo backend or formulation='classic', 'radius' or "
                "'benders', mip builds its aggregated model chunk by chunk, grouping identical individuals under "
                "share bounds or a budget), or use a solver that works chunk by chunk (local-search, ot)."))
        )
    sol = solver._solve(materialize(problem, solver.name), context)
    merged = dict(extras or {})
    merged.update(sol.extras)
    merged["lazy"] = f"loaded into memory: {why}"
    sol.extras = merged
    return sol


def _memory_reason(problem, params: dict, side: F.SideConstraints) -> str | None:
    if side.min_count is not None:
        return "share bounds (min_share / max_share)"
    if side.budget is not None:
        return "a budget"
    if params["model_hook"] is not None:
        return "a model_hook"
    if params["backend"] != "highs":
        return f"backend={params['backend']!r}"
    if params["formulation"] in ("classic", "radius", "benders"):
        return f"formulation={params['formulation']!r}"
    return None


def solve_lazy(solver, problem, context) -> Solution:
    """``mip`` on a lazy problem (``solver`` is the configured ``MIPSolver``); see the module
    docstring for what runs when."""
    p = solver.params
    side = resolve_side(problem, p)
    reason = diagnose_treatment_rules(problem, side)
    if reason is not None:
        return Solution(status="infeasible", termination="infeasible", message=f"Infeasible: {reason}")
    if (side.needs_assignment and p["model_hook"] is None and p["backend"] == "highs"
            and p["formulation"] in ("auto", "aggregated")):  # groups of identical individuals
        return solve_lazy_grouped(solver, problem, context, side,
                                  lambda why, extras, remedy: _in_memory(solver, problem, context, why, extras, remedy))
    why = _memory_reason(problem, p, side)
    if why is not None:
        return _in_memory(solver, problem, context, why)

    n, m, k = problem.n, problem.m, problem.k
    allowed = np.setdiff1d(np.arange(m), side.forbidden)
    full_range = side.exclusive.shape[0] > 0
    R = _levels(allowed.size, k, full_range)
    extras: dict[str, Any] = {"formulation": "aggregated", "backend": "highs", "lazy": "chunked preprocessing"}
    t0 = time.perf_counter()
    groups, chunks = _chunked_groups(problem.profit, allowed, R, LAZY_GROUP_ENTRIES)
    extras["chunks"] = chunks
    extras["preprocess_seconds"] = time.perf_counter() - t0
    if groups is None:
        fallback = (f"the aggregation does not compress: more than {LAZY_GROUP_ENTRIES:,} (group, level) entries "
                    f"({R} levels per individual)")
        return _fallback(solver, problem, context, side, allowed, fallback, extras)
    prefix, scale, shift = _prefix_from_groups(groups, allowed, m, R, normalized=True, chunks=chunks)
    del groups
    extras["distinct_prefix_sets"] = prefix.num_nodes
    if p["formulation"] == "auto" and auto_formulation(prefix) != "aggregated":
        if _fits(problem):  # the in-memory solver's choice (Benders decomposition)
            return _in_memory(solver, problem, context,
                              f"{prefix.num_nodes:,} distinct prefix sets: the aggregation does not pay "
                              "(the in-memory choice is Benders decomposition)", extras)
        if prefix.num_nodes > LAZY_NODE_LIMIT:
            return _fallback(solver, problem, context, side, allowed,
                             f"{prefix.num_nodes:,} distinct prefix sets, more than {LAZY_NODE_LIMIT:,}", extras)
    form, prefix = F.radius(problem.profit, k, side, aggregate=True, prefix=prefix)
    extras["build_seconds"] = time.perf_counter() - t0
    extras["model"] = dict(form.stats)
    blocks = dask_row_blocks(problem.profit)

    warm = None
    if p["warm_start"] != "auto" or (form.nnz > 0.05 * n * m and n > AUTO_WARM_MIN_N):
        warm = _warm_start(problem, p["warm_start"], side, allowed, context, blocks, extras)
    if context.out_of_time() and warm is not None:
        extras["used_warm_start"] = True
        return Solution(offered=warm[0], status="time_limit", termination="time_limit", extras=extras,
                        message="Stopped by the time limit during the chunked preprocessing.")

    left = context.time_left()
    limit = None if not math.isfinite(left) else max(left, 0.01)
    start = None if warm is None else form.start_vector(None, warm[0], prefix=prefix)
    t1 = time.perf_counter()
    result = solve_highs(form, time_limit=limit, mip_gap=p["mip_gap"], threads=p["threads"], seed=context.seed,
                         backend_options=p["backend_options"], start=start, verbose=p["verbose"])
    extras["solve_seconds"] = time.perf_counter() - t1
    extras["backend_status"] = result.raw_status
    extras.update(result.stats)
    return _decode(result, form, problem, side, allowed, warm, blocks, scale, shift, context, extras)


def _decode(result, form, problem, side, allowed, warm, blocks, scale, shift, context, extras) -> Solution:
    """The in-memory ``_decode`` and ``_denormalize`` on a lazy problem: the offered set from
    ``y``, completed greedily; objectives by passes over the blocks (normalized: rows shifted
    by their maximum and divided by ``scale``)."""
    if result.termination == "infeasible" and not result.has_solution:
        rules = [f for f, arr in (("forced", side.forced), ("forbidden", side.forbidden),
                                  ("exclusive", side.exclusive)) if arr.size]
        return Solution(status="infeasible", termination="infeasible", extras=extras,
                        message=f"Infeasible: the treatment rules ({', '.join(rules)}) cannot all be met. Relax them.")
    offered, objective, raw = None, -np.inf, -np.inf
    if result.has_solution:
        offered = np.flatnonzero(form.y_values(result.col_value) > 0.5)
        if offered.size < problem.k_effective:
            offered = _greedy_complete(problem, offered, problem.k_effective, allowed, side.exclusive)
        shifted, raw = _offered_value(blocks, offered)
        objective = shifted / scale
    used_warm = False
    if warm is not None and warm[1] / scale > objective + 1e-9 * max(1.0, abs(warm[1] / scale)):
        offered, objective, raw, used_warm = warm[0], warm[1] / scale, warm[2], True
    extras["used_warm_start"] = used_warm
    if offered is None:
        return result.no_solution(extras)
    # back to the profit's units (as _denormalize does in memory)
    status, bound, message = result.status_in_units(objective, raw, scale, shift)
    if status != "optimal":
        offered = _polish(problem, side, offered, raw, context, extras)
    return Solution(offered=offered, status=status, bound=bound, termination=result.termination, message=message,
                    extras=extras)


def _polish(problem, side, offered, value, context, extras) -> np.ndarray:
    """The in-memory ``_polish``: a chunked swap descent from an unproven incumbent (no rules
    on the offered set), given at most a second past the time limit."""
    if side.forced.size or side.forbidden.size or side.exclusive.size:
        return offered
    now = time.perf_counter()
    deadline = None if context.deadline is None else max(context.deadline, now + 1.0)
    polished, new = swap_local_search(problem.profit, problem.k_effective, offered, deadline=deadline)
    improved = improves(new, value)
    extras["swap_polish_improved"] = bool(improved)
    return np.asarray(polished, dtype=np.intp) if improved else offered


def _warm_start(problem, ws, side, allowed, context, blocks, extras) -> tuple | None:
    """A warm start as in memory, chunk by chunk: ``(offered, normalized value, value)``
    (the normalized value in row-shifted units, divided by the scale later), or None."""
    if ws is False:
        return None
    t0 = time.perf_counter()
    k = problem.k_effective
    if isinstance(ws, tuple):
        offered = given_columns(ws, problem.m, problem.k)
        offered = _greedy_complete(problem, offered, k, allowed, side.exclusive)
    elif ws == "greedy":
        offered = _greedy_complete(problem, np.zeros(0, dtype=np.intp), k, allowed, side.exclusive)
    else:
        left = context.time_left()
        limit = None if not math.isfinite(left) else max(0.15 * left, 0.01)
        offered = _local_search(problem, allowed, context.seed, limit)[0]
    shifted, raw = _offered_value(blocks, offered)
    extras["warm_start_seconds"] = time.perf_counter() - t0
    if not _satisfies(offered, side):
        extras["warm_start"] = "skipped: violates the side constraints"
        return None
    extras["warm_start_objective"] = raw
    return offered, shifted, raw


def _local_search(problem, allowed: np.ndarray, seed: int | None, limit: float | None) -> tuple[np.ndarray, Solution]:
    """The lazy path of ``local-search`` (same draws as the solver with this seed) on the
    allowed columns; returns their indices among all columns and the solver's Solution."""
    sub = problem.profit if allowed.size == problem.m else problem.profit[:, allowed]
    kk = min(problem.k, allowed.size)
    view = SimpleNamespace(n=problem.n, m=int(allowed.size), k=kk, k_effective=kk, profit=sub)
    sol = search(view, SolveContext(limit, seed, False), LocalSearchSolver().params, None)
    return np.sort(allowed[np.asarray(sol.offered, dtype=np.intp)]), sol


def _fallback(solver, problem, context, side, allowed, why: str, extras: dict) -> Solution:
    """No aggregated model: load the matrix when it fits, else the chunked incumbent and the
    chunked Lagrangian bound (valid for the rules on the offered set too: they only restrict)."""
    if _fits(problem):
        return _in_memory(solver, problem, context, why, extras)
    extras["lazy_fallback"] = why
    extras["formulation"] = "none (chunked heuristic and Lagrangian bound)"
    blocks = dask_row_blocks(problem.profit)
    k = min(problem.k, allowed.size)
    left = context.time_left()
    if side.forced.size or side.exclusive.size:  # the swap search ignores these rules
        offered = _greedy_complete(problem, side.forced, problem.k_effective, allowed, side.exclusive)
        value = _offered_value(blocks, offered)[1]
    else:
        limit = None if not math.isfinite(left) else max(0.6 * left, 0.01)
        offered, sol = _local_search(problem, allowed, context.seed, limit)
        value = _offered_value(blocks, offered)[1]
    timed_out = context.out_of_time()
    bound = None
    if not timed_out:
        sub = problem.profit if allowed.size == problem.m else problem.profit[:, allowed]
        pos = np.searchsorted(allowed, offered)
        res = chunked_lagrangian_bound(sub, k, incumbent=value, offered=pos, deadline=context.deadline,
                                       target_gap=1e-7, max_iter=_FALLBACK_BOUND_ITER)
        bound = res.bound
        if value - 1e-9 * max(1.0, abs(value)) <= bound < value:  # rounding in the block sums
            bound = value
        extras.update(bound_iterations=res.iterations, bound_termination=res.termination)
        timed_out = res.termination == "time_limit"
    msg = (f"No exact model on this lazy problem ({why}; the matrix does not fit in memory): the chunked "
           "local-search incumbent and the chunked Lagrangian bound.")
    return Solution(offered=offered, status="time_limit" if timed_out else "feasible", bound=bound,
                    termination="time_limit" if timed_out else "converged", message=msg, extras=extras)
