"""A certified upper bound for coarse personalization: the Lagrangian (LP) bound.

The linear relaxation of the classic formulation

.. math::

    \\max \\sum_{ij} P_{ij} x_{ij} \\quad\\text{s.t.}\\quad \\sum_j x_{ij} = 1,\\;
    x_{ij} \\le y_j,\\; \\sum_j y_j \\le k,\\; 0 \\le y \\le 1,\\; x \\ge 0

is dualized on the assignment constraints with one multiplier :math:`u_i` per individual:

.. math::

    L(u) = \\sum_i u_i + \\operatorname{top}_k\\big(\\rho(u)\\big), \\qquad
    \\rho_j(u) = \\sum_i \\max(0, P_{ij} - u_i),

where :math:`\\operatorname{top}_k` sums the ``k`` largest entries. Every ``u`` gives a valid
upper bound on the best objective and :math:`\\min_u L(u)` equals the LP bound (Geoffrion
1974; Cornuéjols, Fisher & Nemhauser, *Location of bank accounts*, Management Science
1977). One evaluation costs O(nm).

Minimizing ``L`` over ``n`` multipliers by subgradient steps is slow at large ``n``. Here the
minimax theorem is used the other way round: :math:`\\min_u L(u) = \\max_{y \\in Y} G(y)`
with :math:`Y = \\{y \\in [0, 1]^m : \\sum_j y_j \\le k\\}` (the column "prices") and

.. math::

    G(y) = \\sum_i g_i(y), \\qquad g_i(y) = \\min_{u_i} \\Big(u_i + \\sum_j y_j
    \\max(0, P_{ij} - u_i)\\Big),

which is separable per individual: :math:`g_i(y)` is the best *fractional* assignment of
``i`` when column ``j`` can take a fraction :math:`y_j` (fill the columns in decreasing order
of :math:`P_{ij}` until a total of 1), and the minimizing :math:`u_i(y)` is the profit of the
column where the total reaches 1. ``G`` is concave on ``m`` variables and
:math:`\\rho(u(y))` is a supergradient, so ``G`` is maximized with a level bundle method on
``m`` variables (Lemaréchal, Nemirovskii & Nesterov, *New variants of bundle methods*,
Math. Programming 1995), each master problem a small LP solved by HiGHS. Every cut
:math:`y \\mapsto \\sum_i u_i + \\rho(u)^\\top y` comes from a multiplier vector ``u``; the
convex combination :math:`\\bar u = \\sum_s \\lambda_s u_s` given by the master's duals
satisfies :math:`L(\\bar u) \\le` the master's value (convexity of ``L``), and it is
:math:`L(\\bar u)` — recomputed from the data, not read off the model — that is returned as
the certified bound. The start is the incumbent's offered set (``y`` its indicator, where
:math:`G(y)` equals the incumbent's objective).

The model is *disaggregated*: individuals are grouped by their best column (at most 64
groups, fewer when ``m`` is wide) and every evaluation adds one cut per group,
:math:`G = \\sum_b G_b`, which makes the model far richer for the same number of O(nm)
passes; the multipliers are then combined group by group with that group's cut weights.
The two master LPs (the model's maximum, and the max-norm projection of the best point onto
the level set) are persistent HiGHS models to which cuts are added and from which the
longest-inactive ones (beyond 40 evaluations) are dropped, each solve warm-starting from
the previous basis. The method stops at the target gap, when the bound proves the
incumbent optimal or meets the lower estimate :math:`\\max G` of the LP bound, after 10
iterations without progress, at ``max_iter`` or at the deadline.

Rows are shifted by their maximum before any arithmetic (:math:`P_{ij} - \\max_l P_{il}`
changes objective and bound by the same constant), so large offsets cost no precision.
"""

from __future__ import annotations

import numbers
import time
from typing import Any

import numpy as np

from ..kernels.blocks import offered_value, row_blocks, top_entries
from ..kernels.limits import PASS_ELEMENTS
from .bundle import LagrangianBound, LevelBundle, incumbent_args, maximize_dual

__all__ = ["LagrangianBound", "Oracle", "carry", "carry_to_rows", "lagrangian_bound", "lagrangian_value", "master_groups", "oracle_bound"]

_BLOCK_ELEMENTS = PASS_ELEMENTS  # rows are processed in blocks of about this many entries
_MAX_CUTS = 40  # evaluations kept in the bundle (the oldest inactive ones are dropped)
#: Share of a block's rows gaining beyond their top entries above which ``rho`` is summed
#: over every column of the block (a dense pass) rather than gathered entry by entry.
DENSE_SHARE = 0.25
#: Below this many columns a dense pass is cheaper than the scatter of the top entries.
SPARSE_MIN_COLUMNS = 48
#: Terms of a recipe (see :meth:`Oracle.combine`) with no group weight above this are dropped.
RECIPE_MIN_WEIGHT = 1e-4
#: From this many entries the master problem groups the rows four times more finely: at
#: 100-400 columns and 10^5 rows, fewer iterations (``python -m benchmarks.fine_grid``); on
#: OR-Library's pmed1-10 (at most 200 x 200) ``ot`` took 1.6 times as long with them
#: (``python -m benchmarks.side_by_side``).
FINE_GROUPS_ENTRIES = 2_000_000
_CARRY_BLOCK_ELEMENTS = PASS_ELEMENTS  # :func:`carry_to_rows` builds an oracle of about this many entries at a time
#: An evaluation that reads the whole rows of more than this share of the individuals (their
#: multiplier below their kept top entries, or their top entries' prices short of 1) doubles
#: the ranks kept per row, up to ``MAX_RANKS``, on an oracle of ``DEEPEN_MIN_COLUMNS`` columns
#: or more: on a fine grid the prices spread over many neighbouring columns, deeper than the
#: first ranks (``python -m benchmarks.fine_grid``); on 10^6 x 50 smooth curves, where a pass
#: over the whole rows costs little more, deepening slowed ``ot``
#: (``python -m benchmarks.side_by_side``).
DEEPEN_SHARE = 0.1
DEEPEN_MIN_COLUMNS = 80
MAX_RANKS = 64


# ---------------------------------------------------------------------- validation
def _check_profit(profit: Any) -> np.ndarray:
    if hasattr(profit, "compute") and hasattr(profit, "chunks"):  # dask
        profit = profit.compute()
    if hasattr(profit, "to_numpy"):
        profit = profit.to_numpy(dtype=np.float64)
    p = np.asarray(profit)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"'profit' must be a 2-D (n, m) array with n, m >= 1; got shape {p.shape}.")
    if p.dtype not in (np.float32, np.float64):
        p = p.astype(np.float64)
    # min and max carry any NaN or infinity (no temporary of the matrix's size)
    if not (np.isfinite(p.min()) and np.isfinite(p.max())):
        raise ValueError("'profit' must be finite; found NaN or infinite values. Impute or drop those rows.")
    return p


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"The 'k' parameter of lagrangian_bound must be an int in the range [1, inf). Got {k!r} instead.")
    return int(k)


# ---------------------------------------------------------------------- the oracle
def _gather(profit: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``profit[rows][:, columns]``, contiguous: the whole rows copied, then the columns taken
    (from a third of the columns, faster than one gather of the entries), else one flat
    gather of the entries when ``profit`` is contiguous."""
    if 3 * columns.size >= profit.shape[1]:
        return profit[rows].take(columns, axis=1)
    if profit.flags.c_contiguous:
        return profit.reshape(-1).take(rows[:, None] * profit.shape[1] + columns[None, :])
    return profit[np.ix_(rows, columns)]


def master_groups(n: int, m: int) -> int:
    """Groups of the disaggregated model: groups x kept evaluations x ``m`` is the size of the
    master LPs, so fewer groups for wide ``m``. More groups make the model richer (fewer
    iterations) and the master LPs larger: worth it where an evaluation, a pass over the
    data, costs more than a master solve."""
    return int(np.clip((6e5 if n * m >= FINE_GROUPS_ENTRIES else 1.5e5) / (max(m, 1) * _MAX_CUTS), 4, 64))


class Oracle:
    """Evaluations on row-shifted, group-sorted data, over all columns of ``profit`` or over
    a subset ``columns`` of them that :meth:`extend` grows (column generation).

    Rows are shifted by their maximum over *all* columns (``Q = P - rowmax``: the shift stays
    when columns enter) and permuted so that each group (individuals sharing their best
    column among the oracle's, the rarest columns pooled) is contiguous; all multiplier
    vectors inside the method live in this permuted order, and column ``j`` of every
    evaluation is ``columns[j]`` of ``profit``. Each row's ``top`` largest entries are kept
    sorted (rank-major: ``values[t]`` holds every row's entry of rank ``t``), which is where
    the thresholds ``u(y)`` are found and where, for most rows, the gains
    ``max(0, Q_ij - u_i)`` are: an evaluation costs O(n top) for those rows and O(m) only for
    a row whose multiplier lies below its ``top`` entries (on a fine grid with few priced
    columns, many rows; a block where they are most is summed densely).
    """

    def __init__(self, profit: np.ndarray, k: int, max_groups: int | None = None, top: int = 12,
                 deadline: float | None = None, columns: np.ndarray | None = None) -> None:
        self.profit = profit
        self.n, width = profit.shape
        self.columns = np.arange(width) if columns is None else np.asarray(columns, dtype=np.intp).copy()
        self.m = m = self.columns.size
        self.k = k
        # the row maxima from their positions (a max over short rows is slower than argmax)
        at_max = profit.argmax(axis=1)
        rowmax = profit[np.arange(self.n), at_max].astype(np.float64)
        self.offset = float(np.sum(rowmax))
        if columns is None:
            best = at_max
        else:
            best = np.concatenate([profit[sl].take(self.columns, axis=1).argmax(axis=1)
                                   for sl in self._blocks(0, self.n)]) if self.n else np.zeros(0, dtype=np.intp)
        counts = np.bincount(best, minlength=m)
        self.popular = np.argsort(-counts, kind="stable")  # columns by how many rows they are best for
        rank = np.empty(m, dtype=np.intp)
        rank[self.popular] = np.arange(m)
        # the group of a row is that of its best column among the initial ones
        self.col_group = np.minimum(rank, (max_groups or master_groups(self.n, m)) - 1)
        gid = self.col_group[best]
        self.perm = np.argsort(gid, kind="stable")
        gid = gid[self.perm]
        self.gid = gid.astype(np.intp)  # each (permuted) row's group
        self.n_groups = int(gid.max()) + 1
        self.bounds = np.searchsorted(gid, np.arange(self.n_groups + 1))  # group b = rows [bounds[b], bounds[b+1])
        self.rowmax = rowmax[self.perm]
        # the shifted entries, one row-major part per batch of columns (added columns are a
        # new part: nothing is copied or allocated ahead)
        self._parts = [np.empty((self.n, m), dtype=np.float64)]
        self.rank_cap, self._width = min(top, width), width
        self.top = min(m, self.rank_cap)
        self._whole_rows = 0  # rows the current evaluation read whole (see DEEPEN_SHARE)
        itype = np.uint8 if width <= 255 else (np.uint16 if width <= 65535 else np.intp)
        # rank-major (top x n): the thresholds walk the ranks with whole-block vector operations
        self.order = np.empty((self.rank_cap, self.n), dtype=itype)
        self.values = np.empty((self.rank_cap, self.n), dtype=np.float64)
        spread_sum = 0.0
        for sl in self._blocks(0, self.n):
            if deadline is not None and sl.start and time.perf_counter() > deadline:
                raise TimeoutError("the Lagrangian bound's preparation passed its deadline")
            rows = self.perm[sl]
            q = self._parts[0][sl]
            np.subtract(profit[rows] if columns is None else _gather(profit, rows, self.columns),
                        self.rowmax[sl, None], out=q)
            spread_sum -= float(q.min(axis=1).sum())  # rowmax - rowmin, summed
            pos, vals = top_entries(q, self.top)
            self.order[: self.top, sl] = pos.T
            self.values[: self.top, sl] = vals.T
        self.spread = spread_sum / self.n  # the mean spread of a row: max - min
        self.last_recipe: list | None = None  # of the multipliers :func:`oracle_bound` last returned

    @property
    def q(self) -> np.ndarray:
        """The shifted entries of the oracle's columns (permuted rows)."""
        return self._dense(slice(None))

    def _dense(self, rows: slice | np.ndarray) -> np.ndarray:
        """The shifted entries of ``rows`` (permuted order) at every column of the oracle."""
        if len(self._parts) == 1:
            return self._parts[0][rows]
        return np.concatenate([part[rows] for part in self._parts], axis=1)

    def extend(self, columns: np.ndarray) -> None:
        """Add ``columns`` of ``profit`` (not yet the oracle's) as its last ones: their entries
        are gathered once and merged into each row's sorted top entries; groups, shift and
        the columns already there stay."""
        new = np.asarray(columns, dtype=np.intp)
        if new.size == 0:
            return
        m, e = self.m, new.size
        part = np.empty((self.n, e))
        top, old = min(m + e, self.rank_cap), self.top
        for sl in self._blocks(0, self.n):
            q = np.subtract(_gather(self.profit, self.perm[sl], new), self.rowmax[sl, None], dtype=np.float64)
            part[sl] = q
            # only rows where a new entry beats the last kept one change (when the ranks were full)
            rows = np.flatnonzero(q.max(axis=1) > self.values[old - 1, sl]) if top == old else np.arange(q.shape[0])
            if rows.size == 0:
                continue
            at = rows + sl.start
            cand = np.concatenate([self.values[:old, at].T, q[rows]], axis=1)
            idx = np.concatenate([self.order[:old, at].T.astype(np.intp),
                                  np.broadcast_to(np.arange(m, m + e), (rows.size, e))], axis=1)
            pos, vals = top_entries(cand, top)
            self.order[:top, at] = np.take_along_axis(idx, pos, axis=1).T
            self.values[:top, at] = vals.T
        self._parts.append(part)
        self.columns = np.concatenate([self.columns, new])
        self.m, self.top = m + e, top
        counts = np.bincount(self.order[0], minlength=self.m) if self.n else np.zeros(self.m)
        self.popular = np.argsort(-counts, kind="stable")

    def deepen(self) -> None:
        """Keep twice as many sorted entries per row (at most ``MAX_RANKS``), from the dense
        part; nothing else changes."""
        cap = min(2 * self.rank_cap, MAX_RANKS, self._width)
        top = min(self.m, cap)
        if top <= self.top:
            return
        order = np.empty((cap, self.n), dtype=self.order.dtype)
        values = np.empty((cap, self.n), dtype=np.float64)
        for sl in self._blocks(0, self.n):
            pos, vals = top_entries(self._dense(sl), top)
            order[:top, sl] = pos.T
            values[:top, sl] = vals.T
        self.order, self.values, self.rank_cap, self.top = order, values, cap, top

    def _blocks(self, lo: int, hi: int):
        step = max(1, _BLOCK_ELEMENTS // max(self.m, 1))
        for start in range(lo, hi, step):
            yield slice(start, min(hi, start + step))

    def to_user(self, u: np.ndarray) -> np.ndarray:
        """Multipliers in the user's row order and units."""
        out = np.empty(self.n)
        out[self.perm] = u + self.rowmax
        return out

    def from_user(self, u: np.ndarray) -> np.ndarray:
        return u[self.perm] - self.rowmax

    def rho(self, u: np.ndarray) -> np.ndarray:
        """Per-group ``rho``: row b is ``sum_{i in b} max(0, Q_ij - u_i)``.

        A row whose ``u_i`` is at least the smallest of its kept top entries gains only on
        those entries (every other entry is at most that one): its share is a scatter of at
        most ``top`` terms instead of a pass over its ``m`` columns. The multipliers this
        method evaluates are such thresholds, or combinations of them, for nearly every row;
        the other rows are summed over all their columns.
        """
        m = self.m
        out = np.zeros(self.n_groups * m)
        for sl in self._blocks(0, self.n):
            ub = u[sl]
            # wide: rows whose multiplier lies below their smallest top entry (summed over all columns)
            wide = None if m < SPARSE_MIN_COLUMNS else ub < self.values[self.top - 1, sl]
            if wide is None or wide.mean() > DENSE_SHARE:  # a pass over all columns
                if wide is not None:
                    self._whole_rows += sl.stop - sl.start
                d = self._dense(sl) - ub[:, None]
                np.maximum(d, 0.0, out=d)
                cuts = np.searchsorted(self.gid[sl], np.arange(self.gid[sl.start], self.gid[sl.stop - 1] + 1))
                sums = np.add.reduceat(d, cuts, axis=0)
                first = int(self.gid[sl.start]) * m
                out[first: first + sums.size] += sums.ravel()
                continue
            base = self.gid[sl] * m
            narrow = None
            if wide.any():
                rows = np.flatnonzero(wide)
                self._whole_rows += rows.size
                d = self._dense(rows + sl.start) - ub[rows, None]
                np.maximum(d, 0.0, out=d)
                cells = base[rows, None] + np.arange(m)
                out += np.bincount(cells.ravel(), weights=d.ravel(), minlength=out.size)
                narrow = ~wide
            for t in range(self.top):  # the entries are sorted: no gain at rank t, none after
                d = self.values[t, sl] - ub
                pos = d > 0.0
                if narrow is not None:
                    pos &= narrow
                if not pos.any():
                    break
                out += np.bincount(base[pos] + self.order[t, sl][pos], weights=d[pos], minlength=out.size)
        return out.reshape(self.n_groups, m)

    def lagrangian(self, u: np.ndarray) -> tuple[float, np.ndarray]:
        """L(u) in shifted units and the per-group rho(u)."""
        r = self.rho(u)
        total = r.sum(axis=0)
        top = np.sort(total)[::-1][: self.k].sum()
        return float(np.sum(u) + top), r

    def group_sums(self, u: np.ndarray) -> np.ndarray:
        """``sum_{i in b} u_i`` per group."""
        return np.add.reduceat(u, self.bounds[:-1]) if self.n else np.zeros(self.n_groups)

    def cut(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, tuple, float]:
        """The per-group cut of the multipliers ``u(y)``, ``G(y)``, the handle ``(u(y), its
        recipe)`` and ``L(u(y))``; deepens the ranks when the evaluation read whole rows of
        more than ``DEEPEN_SHARE`` of the individuals (see there)."""
        self._whole_rows = 0
        u, g = self.thresholds(y)
        value, r = self.lagrangian(u)
        if self._whole_rows > DEEPEN_SHARE * 2 * self.n and self.m >= DEEPEN_MIN_COLUMNS:
            self.deepen()
        return self.group_sums(u), r, float(g.sum()), (u, [(y.copy(), None)]), value

    def combine(self, lam: np.ndarray, handles: list, it: int, last: bool) -> tuple[tuple, float]:
        """The multipliers combined group by group with the master's cut weights (a handle
        ``(u, recipe)``), and L of them.

        A *recipe* writes multipliers as ``u = sum_t w_t[group] * u(y_t)`` (a weight per
        group; ``None``: 1 for all), so that :func:`carry` can rebuild them on other rows; it
        is None when a combined handle's own is unknown (a given start)."""
        u_bar = np.zeros(self.n)
        recipe: list | None = []
        for w, (u_s, rec) in zip(lam, handles):
            if (w > 1e-12).any():
                u_bar += np.repeat(w, np.diff(self.bounds)) * u_s
                if recipe is not None and rec is not None:
                    recipe += [(y, w if v is None else w * v) for y, v in rec]
                    recipe = [(y, v) for y, v in recipe if v.max() >= RECIPE_MIN_WEIGHT]
                else:
                    recipe = None
        return (u_bar, recipe), self.lagrangian(u_bar)[0]

    def thresholds(self, y: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``u(y)`` (the per-row minimizers) and the per-group values of ``G(y)``; with
        ``rows`` (permuted order), ``u(y)`` of those rows only and no group values."""
        count = self.n if rows is None else rows.size
        u = np.empty(count)
        gi_all = np.empty(count)
        priced = y_priced = None
        for part in self._blocks(0, count):
            sl = part if rows is None else rows[part]
            r = part.stop - part.start
            # walk each row's sorted top entries: the threshold is the entry at which the
            # prices reach 1, and g_i = sum of y_j Q_ij before it + (1 - their prices) * u_i
            total = np.zeros(r)
            filled = np.zeros(r)
            ub = np.zeros(r)
            gi = np.zeros(r)
            open_ = np.ones(r, dtype=bool)
            for t in range(self.top):
                v = self.values[t, sl]
                yt = y[self.order[t, sl]]
                after = total + yt
                hit = open_ & (after >= 1.0 - 1e-12)
                ub[hit] = v[hit]
                gi[hit] = filled[hit] + (1.0 - total[hit]) * v[hit]
                open_ &= ~hit
                if not open_.any():
                    break
                total = after
                filled += yt * v
            if open_.any():  # the kept top entries hold less than a total price of 1:
                # the threshold is among the priced columns (the others add nothing)
                opened = np.flatnonzero(open_) + part.start if rows is None else rows[part][open_]
                self._whole_rows += opened.size
                if priced is None:
                    priced = np.flatnonzero(y > 0.0)
                    y_priced = y[priced]
                q = self._dense(opened)[:, priced]
                o = np.argsort(-q, axis=1, kind="stable")
                qs = np.take_along_axis(q, o, axis=1)
                cc = np.cumsum(y_priced[o], axis=1)
                us = qs[np.arange(opened.size), (cc >= 1.0 - 1e-12).argmax(axis=1)]
                ub[open_] = us
                gi[open_] = us + np.maximum(q - us[:, None], 0.0) @ y_priced
            u[part] = ub
            gi_all[part] = gi
        if rows is not None:
            return u, np.zeros(0)
        return u, np.add.reduceat(gi_all, self.bounds[:-1])


def lagrangian_value(profit: Any, k: int, u: Any) -> float:
    """The Lagrangian bound :math:`L(u)` of given multipliers ``u`` (a valid upper bound).

    Parameters
    ----------
    profit : array-like of shape (n, m)
    k : int
    u : array-like of shape (n,)
        Multipliers in the units of ``profit`` (any values).

    Returns
    -------
    float
        :math:`\\sum_i u_i + \\operatorname{top}_k \\rho(u)`.
    """
    p = _check_profit(profit)
    k = _check_k(k)
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    if u.shape != (p.shape[0],):
        raise ValueError(f"'u' must have one multiplier per row of 'profit' ({p.shape[0]}); got shape {u.shape}.")
    rowmax = p.max(axis=1).astype(np.float64)
    d = np.maximum(p - u[:, None], 0.0).sum(axis=0)
    top = np.sort(d)[::-1][: min(k, p.shape[1])].sum()
    return float(np.sum(u - rowmax) + top + np.sum(rowmax))


# ---------------------------------------------------------------------- the driver
def lagrangian_bound(
    profit: Any,
    k: int,
    *,
    incumbent: Any = None,
    u0: Any = None,
    y0: Any = None,
    deadline: float | None = None,
    target_gap: float | None = None,
    max_iter: int | None = None,
    progress: bool | None = None,
    offered: Any = None,
    tol: float = 1e-9,
    level: float = 0.5,
    prepare_deadline: float | None = None,
) -> LagrangianBound:
    """A certified upper bound on the best profit with at most ``k`` offered treatments.

    Minimizes the Lagrangian bound :math:`L(u) = \\sum_i u_i + \\operatorname{top}_k \\rho(u)`,
    :math:`\\rho_j(u) = \\sum_i \\max(0, P_{ij} - u_i)`, whose minimum is the LP bound, through
    its dual on the ``m`` column prices ``y`` (a disaggregated level bundle method; see the
    module docstring). Every returned value is :math:`L(u)` of the returned multipliers,
    recomputed from the data: a valid bound whenever and however the method stops.

    Parameters
    ----------
    profit : array-like of shape (n, m)
        ``profit[i, j]``; larger is better (numpy, pandas or dask; loaded in memory).
    k : int
        At most ``k`` treatments may be offered.
    incumbent : float or array-like of int, optional
        The best known solution: its objective value (used for ``target_gap``) or its offered
        columns (the starting point; its objective is then computed here).
    u0 : array-like of shape (n,), optional
        Starting multipliers (e.g. ``multipliers`` of an earlier call), in profit units.
    y0 : array-like of shape (m,), optional
        Starting column prices (e.g. ``prices`` of an earlier call), in ``[0, 1]`` with a
        sum between 1 and ``k``; default: the incumbent's indicator.
    deadline : float, optional
        Stop when ``time.perf_counter()`` passes this value (the bound found so far is valid).
    target_gap : float, optional
        Stop once ``(bound - incumbent) / max(1, |bound|) <= target_gap``. Without it the
        method stops when the bound proves the incumbent optimal or reaches the LP bound.
    max_iter : int, optional
        At most this many bundle iterations (default 200); each is about two passes over
        the data.
    progress : bool, optional
        Show a progress bar (default: only when standard error is a terminal).
    offered : array-like of int, optional
        The incumbent's offered columns, when ``incumbent`` is given as a value.
    tol : float, default 1e-9
        Relative distance to the LP bound (or to the incumbent) at which the method stops.
    level : float in (0, 1), default 0.5
        Level parameter of the bundle method: the next point is the closest one at which
        the model reaches ``lower + level * (upper - lower)``.
    prepare_deadline : float, optional
        A ``time.perf_counter()`` value by which the preparation of the data (shifting and
        sorting every row, in blocks) must be done: past it, ``TimeoutError`` is raised
        before any bound exists (for callers to whom a late bound is worth nothing).

    Returns
    -------
    LagrangianBound

    Notes
    -----
    Memory: about ``n * (m + 2 * min(m, 12) + 50)`` floats besides ``profit`` (a row-shifted
    copy, the sorted top entries of each row and the multipliers of the kept cuts).

    References
    ----------
    Zhang & Misra, *Coarse Personalization*, arXiv 2204.05793 (the problem);
    Cornuéjols, Fisher & Nemhauser, Management Science 23 (1977) (the Lagrangian bound of the
    uncapacitated location problem); Lemaréchal, Nemirovskii & Nesterov, Math. Programming
    69 (1995) (level bundle methods).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]])
    >>> res = lagrangian_bound(P, 1, incumbent=[2])
    >>> round(res.bound, 6)
    6.0
    """
    p = _check_profit(profit)
    k = _check_k(k)
    n, m = p.shape
    k = min(k, m)
    if max_iter is None:
        max_iter = 200
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"'max_iter' must be an int >= 0; got {max_iter!r}.")
    if target_gap is not None and not (isinstance(target_gap, numbers.Real) and target_gap >= 0):
        raise ValueError(f"'target_gap' must be a number >= 0 or None; got {target_gap!r}.")
    if not 0.0 < level < 1.0:
        raise ValueError(f"'level' must lie in (0, 1); got {level!r}.")
    inc_value, inc_offered = incumbent_args(incumbent, offered, m)
    if inc_offered is not None and inc_value is None:
        inc_value = offered_value(row_blocks(p, PASS_ELEMENTS), inc_offered)
    if k == m:  # full personalization: the sum of row maxima is attained
        rowmax = p.max(axis=1).astype(np.float64)
        full = float(np.sum(rowmax))
        return LagrangianBound(bound=full, multipliers=rowmax, iterations=0, history=[full], lp_lower=full)

    oracle = Oracle(p, k, deadline=prepare_deadline)
    if u0 is not None:
        u0 = np.asarray(u0, dtype=np.float64).reshape(-1)
        if u0.shape != (n,):
            raise ValueError(f"'u0' must have one multiplier per row of 'profit' ({n}); got shape {u0.shape}.")
    if y0 is not None:
        y0 = np.clip(np.asarray(y0, dtype=np.float64).reshape(-1), 0.0, 1.0)
        if y0.shape != (m,) or not 1.0 - 1e-6 <= y0.sum() <= k + 1e-6:
            raise ValueError(f"'y0' must hold {m} prices in [0, 1] summing to between 1 and k={k}.")
    return oracle_bound(oracle, k, incumbent=inc_value, offered=inc_offered, u0=u0, y0=y0, deadline=deadline,
                        target_gap=target_gap, max_iter=max_iter, progress=progress, tol=tol, level=level)


def oracle_bound(oracle: Oracle, k: int, *, incumbent: float | None, offered: np.ndarray | None,
                 u0: np.ndarray | None, y0: np.ndarray | None, deadline: float | None, target_gap: float | None,
                 max_iter: int, progress: bool | None, tol: float, level: float = 0.5,
                 scale: float = 0.0, recipe0: list | None = None, proof_unit: float | None = None) -> LagrangianBound:
    """:func:`lagrangian_bound` on a prepared :class:`Oracle`'s columns (arguments checked;
    ``offered`` and ``y0`` index the oracle's columns, ``u0`` is in the profit's units and
    rows): the bound of the problem restricted to those columns. ``tol`` is relative to
    the row-shifted values (a large offset must not end the method early) or, when larger,
    to ``scale`` (e.g. the objective, for a caller that needs the bound to a share of it).
    ``recipe0`` is the recipe of ``u0`` when known; the recipe of the returned multipliers
    is left in ``oracle.last_recipe`` (None when unknown). ``proof_unit``: the magnitude the
    proof of the incumbent is relative to (see :func:`.bundle.maximize_dual`)."""
    n, m = oracle.n, oracle.m
    if k >= m:  # every column offered: the sum of the row maxima is attained
        u = oracle.values[0].copy()
        full = float(np.sum(u)) + oracle.offset
        oracle.last_recipe = None
        return LagrangianBound(bound=full, multipliers=oracle.to_user(u), iterations=0, history=[full], lp_lower=full)
    # Tolerances are relative, with a floor of 1 (as the reported gap) unless the profits
    # themselves are smaller: then the floor is their own scale (sum of row spreads), so that
    # profits in units of 1e-9 are solved as precisely as profits in units of 1.
    spread = oracle.spread
    unit = max(min(1.0, max(spread * n, np.finfo(float).tiny)), abs(scale))
    max_cuts = int(np.clip(4e8 / (8.0 * n), 12, _MAX_CUTS))
    bundle = LevelBundle(m, k, oracle.n_groups, scale=max(spread, 1e-12) * n, max_cuts=max_cuts)
    bundle.deadline = deadline
    start = None
    if u0 is not None:
        u_start = oracle.from_user(u0)
        value, r = oracle.lagrangian(u_start)
        bundle.add(oracle.group_sums(u_start), r, (u_start, recipe0))
        start = ((u_start, recipe0), value)
    y_start = _start_prices(oracle.popular, k, offered) if y0 is None else y0
    run = maximize_dual(oracle, bundle, y_start, max_iter=max_iter, deadline=deadline,
                        tol=tol, level=level, unit=unit, incumbent=incumbent, target_gap=target_gap, start=start,
                        progress=progress, proof_unit=proof_unit)
    off = oracle.offset
    # Guard against rounding in the sums of n + k terms.
    u, oracle.last_recipe = run.handle
    slack = 8 * np.finfo(float).eps * (abs(off) + float(np.abs(u).sum()) + abs(run.value))
    return LagrangianBound(
        bound=float(run.value + off + slack),
        multipliers=oracle.to_user(u),
        iterations=run.iterations,
        history=run.history,
        lp_lower=float(run.lp_lower + off),
        termination=run.termination,
        prices=run.prices,
    )


def carry(source: Oracle, recipe: list, target: Oracle) -> np.ndarray:
    """The multipliers of ``recipe`` (of ``source``) rebuilt on ``target``'s rows, in
    ``target``'s permuted order and shifted units: each row takes the group ``source`` gives
    a row with the same best column among its initial ones, and ``u(y_t)`` at each term's
    prices. ``target`` holds every column of ``source`` (a recipe's prices padded with zeros
    for the others: unpriced columns move no threshold). With ``source`` built on a uniform
    sample of ``target``'s rows, the carried multipliers start a bundle on all rows near
    where the sample's ended, instead of from scratch (``python -m benchmarks.fine_grid
    --n 1000000``)."""
    where = np.full(int(max(target.columns.max(), source.columns.max())) + 1, -1, dtype=np.intp)
    where[target.columns] = np.arange(target.m)
    pos = where[source.columns]
    if (pos < 0).any():
        raise ValueError("carry: the target oracle must hold every column of the source oracle")
    # each row's best initial column of ``source``, found as ``source`` found its rows'
    first = source.columns[: source.col_group.size]
    gid = np.concatenate([_gather(target.profit, target.perm[sl], first).argmax(axis=1)
                          for sl in target._blocks(0, target.n)])
    gid = np.minimum(source.col_group[gid], source.n_groups - 1)  # a column best for none: pooled
    u = np.zeros(target.n)
    for y, w in recipe:
        y_t = np.zeros(target.m)
        y_t[pos[: y.size]] = y
        if w is None:
            u += target.thresholds(y_t)[0]
            continue
        rows = np.flatnonzero(w[gid] > 0.0)  # a term weighs on some groups only
        u[rows] += w[gid[rows]] * target.thresholds(y_t, rows)[0]
    return u


def carry_to_rows(source: Oracle, recipe: list, profit: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """:func:`carry` onto every row of ``profit``, block by block (an oracle over ``columns``
    for each block of rows, dropped after it): the multipliers in the user's row order and
    units, and nothing of the matrix's size kept. ``columns`` holds every column of
    ``source``. A caller whose bound from these multipliers is good enough needs no oracle
    over all rows (``ot``'s certificate at 10^6 individuals)."""
    n, m = profit.shape
    u = np.empty(n)
    step = max(1, _CARRY_BLOCK_ELEMENTS // max(m, 1))
    for lo in range(0, n, step):
        part = Oracle(profit[lo : lo + step], source.k, max_groups=1, columns=columns)
        u[lo : lo + part.n] = part.to_user(carry(source, recipe, part))
    return u


def _start_prices(popular: np.ndarray, k: int, offered: np.ndarray | None) -> np.ndarray:
    """The start ``y``: the incumbent's indicator, else the ``k`` columns most often best
    (``popular``: the columns in that order), filled up to ``k``."""
    y = np.zeros(popular.size)
    if offered is not None:
        y[offered[:k]] = 1.0
    for j in popular:
        if y.sum() >= k:
            break
        y[j] = 1.0
    return y
