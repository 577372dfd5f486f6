"""The Lagrangian (LP) bound by column generation, and treatment elimination with a proof.

On a fine treatment grid (a continuous level offered at hundreds of values) few columns
matter to the LP: those near the levels a good solution offers. The bound
:math:`L(u) = \\sum_i u_i + \\operatorname{top}_k \\rho(u)` (see :mod:`.memory`) is valid for
*every* ``u``, so it may be computed from multipliers found on a subset ``C`` of the
columns:

1. ``C`` starts as the incumbent's offered set and the ``k`` columns of largest gain over
   it (:math:`\\rho(M)`, ``M`` the incumbent's value per individual).
2. The bundle method (:func:`.memory.lagrangian_bound`) minimizes the bound of the
   *restricted* problem on ``C`` (warm-started from the last multipliers), no more
   precisely than the whole problem's gap asks while columns still enter.
3. One pass over all ``m`` columns gives :math:`\\rho(u)` and the certified bound of the
   whole problem. Columns outside ``C`` whose :math:`\\rho_j(u)` exceeds the ``k``-th
   largest within ``C`` (the LP's reduced-cost test) enter ``C``; when none does, the
   restricted LP bound is the full one (column generation: Gilmore & Gomory 1961).

The passes over the data cost O(n |C|) per bundle iteration instead of O(nm), and the
bundle works in ``|C|`` dimensions. One :class:`.memory.Oracle` serves every round: the
entering columns are gathered once and merged into each row's sorted top entries, rather
than the restricted columns copied and sorted again. Each round's bundle is solved to a
share of the *objective* (not of the row-shifted values, a hundred times smaller), which is
the precision the whole problem's gap is stated in. From ``SAMPLE_FROM`` rows on, the
restricted problems are first solved on a uniform sample of the rows, and the rounds on all
rows start from the sample's columns (a start only: the bound, the fixings and every claim
come from all rows).

**Elimination.** For a column ``j`` and any ``u``, every offered set containing ``j`` is
worth at most :math:`\\sum_i u_i + \\rho_j(u) + ` (the ``k - 1`` largest :math:`\\rho_l(u)`,
``l != j``), since :math:`\\max_{l \\in S} P_{il} \\le u_i + \\sum_{l \\in S} \\max(0,
P_{il} - u_i)`. A column whose bound is below the incumbent's value belongs to no set
better than the incumbent, and leaves the problem (Lagrangian or reduced-cost fixing:
Beasley 1993): the optimum over the kept columns, or the incumbent, is a global optimum.
The incumbent's own columns are always kept (their bound is at least its value).

References
----------
Gilmore, P. C., & Gomory, R. E. (1961). A linear programming approach to the cutting-stock
problem. Operations Research 9(6), 849-859.
Beasley, J. E. (1993). Lagrangean heuristics for location problems. European Journal of
Operational Research 65(3), 383-399.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..kernels.blocks import best_offered, gains_over, row_blocks
from ..kernels.limits import PASS_ELEMENTS
from .bundle import LagrangianBound
from .memory import Oracle, carry, carry_to_rows, oracle_bound

__all__ = ["ColumnBound", "column_generation_bound", "lagrangian_fixing", "lagrangian_value_and_rho", "worth_generating"]

#: Columns of the whole problem below which column generation is not worth its rounds: at
#: 50 columns the bundle on all of them is faster (``ot`` on 10^6 x 50 took twice as long by
#: column generation, ``python -m benchmarks.side_by_side``); from about 100 on it pays
#: (``python -m benchmarks.fine_grid``).
MIN_COLUMNS = 80
#: From ``SAMPLE_FROM`` rows on, the restricted problems are first solved on a uniform sample
#: of ``SAMPLE_ROWS`` rows (bundle iterations ten times cheaper at 10^6 rows): the rounds on
#: all rows then start from the sample's columns, and fewer enter one by one
#: (``python -m benchmarks.fine_grid --n 1000000``).
SAMPLE_ROWS = 100_000
SAMPLE_FROM = 4 * SAMPLE_ROWS
#: The sample's column generation stops at this share of ``target_gap`` (a start, whatever
#: share the caller asks of its own restricted bounds: ``mip`` asks 0.1, and a sample solved
#: to that share made its proofs at 10^6 x 201 levels slower, ``python -m benchmarks.fine_grid
#: --n 1000000 --grids 201``).
SAMPLE_SHARE = 0.3
#: Relative accuracy of the restricted bounds while columns still enter (at most).
ROUND_TOL = 1e-5
#: The sample's multipliers are carried to every row (no oracle over all rows) only when on
#: held-out rows their bound is within this share of the target gap. Their excess over the LP
#: bound comes from the sampling noise of the column sums ``rho``, relatively smaller on more
#: rows, so that on every row it is expected below the held-out one; the share leaves a margin
#: for the held-out rows' own noise.
HELD_OUT_SHARE = 0.8


@dataclass(frozen=True)
class ColumnBound(LagrangianBound):
    """A :class:`~.bundle.LagrangianBound` of the whole problem found by column generation.

    Attributes
    ----------
    rho : ndarray of shape (m,)
        :math:`\\rho_j(u) = \\sum_i \\max(0, P_{ij} - u_i)` of every column at ``multipliers``.
    columns : ndarray of int
        The columns of the last restricted problem.
    rounds : int
        Restricted problems solved.
    fixed_out, fixed_in : ndarray of int
        The columns that :func:`lagrangian_fixing` fixes to 0 and to 1 with the multipliers
        of *any* round, against the incumbent's value (a union: each round's multipliers give
        a valid fixing, and different near-optimal multipliers fix different columns).
    """

    rho: np.ndarray = field(default_factory=lambda: np.zeros(0))
    columns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    rounds: int = 0
    fixed_out: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    fixed_in: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))


def worth_generating(m: int, k: int) -> bool:
    """Column generation pays when the columns are many and a few times ``k``."""
    return m >= MIN_COLUMNS and m >= 3 * k


def _rho(profit: np.ndarray, u: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
    size = profit.shape[1] if columns is None else columns.size
    return gains_over(row_blocks(profit, PASS_ELEMENTS), u, size, cand=columns)


def _feasible(y: np.ndarray | None, k: int) -> np.ndarray | None:
    """Prices in ``[0, 1]`` summing to between 1 and ``k`` (an LP's, up to its tolerances)."""
    if y is None:
        return None
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0)
    total = y.sum()
    if total > k:
        y *= k / total
    elif total < 1.0:
        y = np.clip(y + (1.0 - total) / y.size, 0.0, 1.0)
    return y


def _topk(rho: np.ndarray, k: int) -> float:
    return float(np.sort(rho)[::-1][:k].sum())


def column_generation_bound(
    profit: np.ndarray,
    k: int,
    offered: np.ndarray,
    *,
    incumbent: float | None = None,
    deadline: float | None = None,
    target_gap: float | None = None,
    tol: float = 1e-7,
    max_rounds: int = 50,
    u0: np.ndarray | None = None,
    columns: np.ndarray | None = None,
    round_share: float = 0.3,
    kept: np.ndarray | None = None,
    unit: float | None = None,
) -> ColumnBound:
    """The Lagrangian bound of ``max_{|S| <= k} sum_i max_{j in S} P_ij`` by column generation.

    Parameters
    ----------
    profit : ndarray of shape (n, m)
        In memory (float32 or float64).
    k : int
        At most ``k`` offered treatments (``1 <= k < m``).
    offered : array-like of int
        The incumbent's offered columns: the start of the restricted problem.
    incumbent : float, optional
        The incumbent's objective (computed from ``offered`` when omitted).
    deadline : float, optional
        ``time.perf_counter()`` value; the bound found so far is returned when it passes.
    target_gap : float, optional
        Stop once ``(bound - incumbent) / max(1, |bound|) <= target_gap``.
    tol : float, default 1e-7
        Accuracy of each restricted bound, relative to ``unit``.
    max_rounds : int, default 50
        At most this many restricted problems.
    u0 : ndarray of shape (n,), optional
        Starting multipliers (e.g. ``multipliers`` of an earlier bound on the same rows).
    columns : array-like of int, optional
        Columns to start the restricted problem with besides the incumbent's (e.g. an earlier
        bound's ``columns``); default: the ``k`` columns of largest gain over the incumbent.
        Without ``u0``, from ``SAMPLE_FROM`` rows on, the columns that column generation on
        ``SAMPLE_ROWS`` rows drawn uniformly (a fixed seed) ends with are added, and its
        multipliers carried to every row start the rounds (when their bound already meets
        ``target_gap``, no round runs: ``rounds`` is 0).
    round_share : float, default 0.3
        With ``target_gap``, each restricted bound is computed to this share of it and no
        more precisely (the whole problem's bound must meet the target, nothing more; a
        caller that fixes columns with the bound may ask for a smaller share).
    kept : array-like of int, optional
        The problem restricted to these columns of ``profit``, without a copy (the treatments
        an earlier fixing kept): ``offered``, ``columns`` and every column index of the
        result (``rho``, ``columns``, ``prices``, ``fixed_out``, ``fixed_in``) refer to
        positions among the sorted ``kept``.
    unit : float, optional
        The magnitude ``tol`` and the restricted bounds' accuracy are relative to; default:
        the incumbent's objective. Profits with a large common offset (every row near the same
        large value) ask for the objective net of it, e.g. ``sum_i max_j P_ij - incumbent``:
        the precision a copy of the matrix shifted by its row maxima would be solved to,
        without the copy (``target_gap`` and the result's gaps stay relative to the bound).

    Returns
    -------
    ColumnBound
        ``bound`` is :math:`L(u)` over all columns, recomputed from the data: valid however
        the method stops. ``termination`` is ``"target_gap"``, ``"converged"`` (no column
        prices out: the LP bound, to the bundle's accuracy), ``"time_limit"`` or
        ``"iteration_limit"`` (``max_rounds``).
    """
    p = profit
    n, width = p.shape
    cols = None if kept is None else np.unique(np.asarray(kept, dtype=np.intp))
    if cols is not None and (cols.size == 0 or cols[0] < 0 or cols[-1] >= width):
        raise ValueError(f"'kept' must list columns in [0, {width}); got {np.asarray(kept).tolist()[:20]}.")
    if cols is not None and cols.size == width:  # every column: the problem itself
        cols = None
    m = width if cols is None else cols.size
    k = int(k)
    S = np.unique(np.asarray(offered, dtype=np.intp))
    if not 1 <= k < m or S.size == 0:
        raise ValueError(f"column generation needs 1 <= k < m and an incumbent; got k={k}, m={m}, offered={S}.")
    best_inc = (best_offered(row_blocks(p, PASS_ELEMENTS), _absolute(S, cols), n)
                if incumbent is None or columns is None else None)
    z = float(best_inc.sum()) if incumbent is None else float(incumbent)
    if columns is None:
        gains = _rho(p, best_inc, cols)
        gains[S] = -np.inf
        extra = np.argsort(-gains, kind="stable")[: min(k, m - S.size)]
        C = np.union1d(S, extra[np.isfinite(gains[extra])])
    else:
        C = np.union1d(S, np.asarray(columns, dtype=np.intp))
        if C.min() < 0 or C.max() >= m:
            raise ValueError(f"'columns' must lie in [0, {m}); got {np.asarray(columns).tolist()[:20]}.")
    u = None if u0 is None else np.asarray(u0, dtype=np.float64).reshape(-1)
    if u is not None and u.shape != (n,):
        raise ValueError(f"'u0' must have one multiplier per row of 'profit' ({n}); got shape {u.shape}.")
    start = None
    if unit is not None and not (np.isfinite(unit) and unit > 0):
        raise ValueError(f"'unit' must be a positive number; got {unit!r}.")
    if n >= SAMPLE_FROM and n > SAMPLE_ROWS and u is None:
        C, start = _sample_start(p, k, S, C, deadline, target_gap, max_rounds, cols,
                                 None if unit is None else unit * SAMPLE_ROWS / n)
    y = None
    if start is not None:
        # the sample's multipliers carried to every row, its prices as the first point
        sample_oracle, recipe, prices, met = start
        carried = recipe is not None and met and _held_out_meets(p, k, S, C, cols, sample_oracle, recipe, target_gap)
        if carried:
            # the sample met its share of the target, and its multipliers meet the target on
            # other rows: carried to every row they may meet it, and then no oracle over
            # every row is built
            u = carry_to_rows(sample_oracle, recipe, p, _absolute(C, cols))
            value, rho = lagrangian_value_and_rho(p, k, u, cols)
            if (value - z) / max(1.0, abs(value)) <= target_gap:
                out, into = lagrangian_fixing(value, rho, k, z)
                return ColumnBound(bound=value, multipliers=u, iterations=0, history=[value], lp_lower=-np.inf,
                                   termination="target_gap", rho=rho, columns=C, rounds=0, prices=prices,
                                   fixed_out=out, fixed_in=into)
        if prices is not None:
            y = _feasible(prices[C], k)
    # one oracle for every round: the entering columns are added to it (gathered once and
    # merged into each row's sorted top entries), the rows' groups and shift stay
    oracle = Oracle(p, k, columns=_absolute(C, cols))
    if start is not None and recipe is not None and not carried:
        u = oracle.to_user(carry(sample_oracle, recipe, oracle))
    return _rounds(oracle, p, k, S, z, u=u, y=y, deadline=deadline, target_gap=target_gap,
                   tol=tol, max_rounds=max_rounds, round_share=round_share, cols=cols, unit=unit)


def _held_out_meets(p: np.ndarray, k: int, S: np.ndarray, C: np.ndarray, cols: np.ndarray | None,
                    sample_oracle: Oracle, recipe: list, target_gap: float) -> bool:
    """Whether the sample's multipliers, carried to ``SAMPLE_ROWS`` other rows (another fixed
    draw), give a bound there within ``HELD_OUT_SHARE`` of ``target_gap``: an estimate, at a
    tenth of the cost at 10^6 rows, of whether carrying them to every row will do (at 101
    levels the carried multipliers missed the target that one round on all rows met; at
    201 levels, ``k`` = 20, they met it)."""
    held, z = _row_sample(p, S, cols, seed=1)
    value, _ = lagrangian_value_and_rho(held, k, carry_to_rows(sample_oracle, recipe, held, _absolute(C, cols)), cols)
    return value - z <= HELD_OUT_SHARE * target_gap * max(1.0, abs(value))


def _row_sample(p: np.ndarray, S: np.ndarray, cols: np.ndarray | None, seed: int) -> tuple[np.ndarray, float]:
    """``SAMPLE_ROWS`` rows of ``p`` drawn uniformly with a fixed ``seed`` (the same rows on
    every run), contiguous, and the incumbent ``S``'s value on them."""
    rows = np.sort(np.random.default_rng(seed).choice(p.shape[0], SAMPLE_ROWS, replace=False))
    sample = np.ascontiguousarray(p[rows])
    return sample, float(sample[:, _absolute(S, cols)].max(axis=1).sum(dtype=np.float64))


def _absolute(local: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
    """Columns of ``profit`` from positions among ``cols`` (all columns when None)."""
    return local if cols is None else cols[local]


def _rounds(oracle: Oracle, p: np.ndarray, k: int, S: np.ndarray, z: float, *, u: np.ndarray | None,
            y: np.ndarray | None, deadline: float | None, target_gap: float | None,
            tol: float, max_rounds: int, round_share: float, cols: np.ndarray | None = None,
            unit: float | None = None) -> ColumnBound:
    """The rounds of :func:`column_generation_bound` on a prepared oracle (its columns the
    restricted problem's), from multipliers ``u`` (profit units) and prices ``y`` (the
    oracle's columns). The recipe of a given ``u`` is unknown (carried multipliers have the
    sample's groups, not this oracle's); each round's is known and starts the next. With
    ``cols`` the problem is ``p``'s columns ``cols`` and column indices are positions among
    them (the oracle's ``columns`` are ``p``'s). ``tol`` is relative to ``unit`` (default
    ``z``), gaps to the bound: a gap times ``per_unit`` is relative to ``unit``."""
    m = p.shape[1] if cols is None else cols.size
    local = None
    if cols is not None:
        local = np.full(p.shape[1], -1, dtype=np.intp)
        local[cols] = np.arange(m)

    def restricted() -> np.ndarray:  # the oracle's columns, as positions of the problem's
        return oracle.columns if local is None else local[oracle.columns]

    C = restricted()
    at = np.full(m, -1, dtype=np.intp)  # a column's position among the oracle's
    at[C] = np.arange(C.size)
    final, prices, recipe = False, None, None
    out_mask, in_mask = np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    history: list[float] = []
    iterations, rounds, lp_lower = 0, 0, -np.inf
    termination = "iteration_limit"
    while rounds < max_rounds:
        rounds += 1
        C = restricted()
        # while columns still enter, the restricted bound need not be more precise than a
        # share of the whole problem's gap; the last round runs at ``tol``
        gap = np.inf if best is None else (best[0] - z) / max(1.0, abs(best[0]))
        per_unit = 1.0 if unit is None else max(1.0, abs(z if best is None else best[0])) / unit
        round_tol = tol if final else max(tol, min(ROUND_TOL, 0.05 * gap * per_unit),
                                          round_share * (target_gap or 0.0) * per_unit)
        res = oracle_bound(oracle, k, incumbent=z, offered=at[S], u0=u, y0=y, deadline=deadline, tol=round_tol,
                           target_gap=None, max_iter=200, progress=False, scale=z if unit is None else unit,
                           recipe0=recipe, proof_unit=unit)
        recipe = oracle.last_recipe
        iterations += res.iterations
        u, prices = res.multipliers, res.prices
        value, rho = lagrangian_value_and_rho(p, k, u, cols)
        now_out, now_in = lagrangian_fixing(value, rho, k, z)
        out_mask[now_out] = True
        in_mask[now_in] = True
        if best is None or value < best[0]:
            best = (value, u, rho)
        history.append(best[0])
        gap = (best[0] - z) / max(1.0, abs(best[0]))
        tol_gap = tol if unit is None else tol * unit / max(1.0, abs(best[0]))  # tol as a gap
        inside = at >= 0
        kth = np.sort(rho[C])[::-1][k - 1] if C.size >= k else -np.inf
        entering = np.flatnonzero(~inside & (rho > kth + tol * max(1.0, abs(kth))))
        if res.termination == "time_limit" or (deadline is not None and time.perf_counter() >= deadline):
            termination = "time_limit"
            break
        if gap <= max(tol_gap, target_gap or 0.0):
            termination = "target_gap" if target_gap and gap > tol_gap else "converged"
            break
        if entering.size == 0:
            if round_tol > tol:  # once more, precisely
                final = True
                y = _feasible(prices, k)
                continue
            termination = "converged"
            lp_lower = max(lp_lower, res.lp_lower)
            break
        entering = entering[np.argsort(-rho[entering], kind="stable")][: max(k, 4)]
        at[entering] = np.arange(C.size, C.size + entering.size)
        oracle.extend(_absolute(entering, cols))
        # the restricted optimum's prices, the new columns at 0
        y = None if prices is None else _feasible(np.concatenate([prices, np.zeros(entering.size)]), k)
    full_prices = None
    if prices is not None and prices.size == oracle.m:
        full_prices = np.zeros(m)
        full_prices[restricted()] = prices
    C = np.sort(restricted())
    value, u, rho = best
    return ColumnBound(bound=value, multipliers=u, iterations=iterations, history=history, lp_lower=lp_lower,
                       termination=termination, rho=rho, columns=C, rounds=rounds, prices=full_prices,
                       fixed_out=np.flatnonzero(out_mask), fixed_in=np.flatnonzero(in_mask))


def _sample_start(p: np.ndarray, k: int, S: np.ndarray, C: np.ndarray, deadline: float | None,
                  target_gap: float | None, max_rounds: int,
                  cols: np.ndarray | None, unit: float | None = None) -> tuple[np.ndarray, tuple]:
    """Column generation on ``SAMPLE_ROWS`` rows drawn uniformly (a fixed seed: the same rows
    on every run), given at most a quarter of the time left: ``C`` with the columns it ends
    with, and ``(its oracle, the recipe of its multipliers, its prices, whether it met
    ``SAMPLE_SHARE`` of target_gap)`` to start the rounds on all rows from (:func:`.memory.carry`).
    ``unit``: the whole problem's in proportion to the rows. A start only: nothing found on the
    sample is claimed for the whole problem. (Its prices alone are not a better start: a
    bundle on all rows from them stalled far from the LP bound on 201 levels, ``k`` = 20;
    from the carried multipliers it needs a few iterations.)"""
    sample, z = _row_sample(p, S, cols, seed=0)
    if deadline is not None:
        now = time.perf_counter()
        deadline = now + 0.25 * max(0.0, deadline - now)
    oracle = Oracle(sample, k, columns=_absolute(C, cols))
    pre = _rounds(oracle, sample, k, S, z, u=None, y=None, deadline=deadline,
                  target_gap=None if target_gap is None else SAMPLE_SHARE * target_gap, tol=1e-7,
                  max_rounds=max_rounds, round_share=SAMPLE_SHARE, cols=cols, unit=unit)
    met = target_gap is not None and pre.bound - z <= SAMPLE_SHARE * target_gap * max(1.0, abs(pre.bound))
    return np.union1d(C, pre.columns), (oracle, oracle.last_recipe, pre.prices, met)


def lagrangian_value_and_rho(profit: np.ndarray, k: int, u: np.ndarray,
                             columns: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """:math:`L(u)` over all columns of ``profit`` (or its ``columns``) (with a margin for the
    rounding of its ``n + k`` terms: a valid bound) and :math:`\\rho(u)` of each, in one pass."""
    u = np.asarray(u, dtype=np.float64)
    rho = _rho(profit, u, columns)
    value = float(np.sum(u, dtype=np.float64)) + _topk(rho, k)
    return value + 8 * np.finfo(float).eps * (float(np.abs(u).sum()) + abs(value)), rho


def lagrangian_fixing(bound: float, rho: np.ndarray, k: int, incumbent: float) -> tuple[np.ndarray, np.ndarray]:
    """The columns that no offered set worth more than ``incumbent`` offers, and those that
    every such set offers (Lagrangian fixing to 0 and to 1).

    With ``bound`` :math:`= \\sum_i u_i + \\operatorname{top}_k \\rho`, a set offering ``j``
    outside the ``k`` largest :math:`\\rho` is worth at most ``bound - rho_(k) + rho_j``, a
    set without ``j`` among them at most ``bound - rho_j + rho_(k+1)`` (see the module
    docstring). A column is fixed only when its bound is below ``incumbent`` by a rounding
    margin (relative 1e-9). Returns ``(out, into)``, sorted column indices.
    """
    rho = np.asarray(rho, dtype=np.float64)
    m = rho.size
    k = min(int(k), m)
    order = np.argsort(-rho, kind="stable")
    top = np.zeros(m, dtype=bool)
    top[order[:k]] = True
    margin = 1e-9 * max(1.0, abs(incumbent))
    if k >= m:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    kth, nxt = rho[order[k - 1]], rho[order[k]]
    out = np.flatnonzero(~top & (bound - kth + rho < incumbent - margin))
    into = np.flatnonzero(top & (bound - rho + nxt < incumbent - margin))
    return out, into
