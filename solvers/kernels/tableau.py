"""The fast-interchange terms of an offered set, kept up to date across swaps.

For an offered set ``S`` (sorted columns) the terms of :func:`.blocks.swap_terms` give the
change of ``f`` of every swap, ``Delta[r, j] = G_j + E_rj``. A full pass to recompute them
costs ``O(n m)``. After a swap only some individuals change their contribution to ``G`` and
``E``: those whose best or second-best offered treatment left, and those for whom the
entering treatment beats their second best (Resende & Werneck 2007, "A fast swap-based local
search procedure for location problems"). :class:`SwapTableau` keeps ``G``, ``E`` and the
per-individual state, and after a swap removes the old contributions of just these
*affected* individuals and adds their new ones: ``O(|A| m)`` for ``|A|`` affected
individuals, instead of ``O(n m)``. With ``k`` offered treatments of comparable reach about
``3 n / k`` individuals are affected, so the cost of a move falls as ``k`` grows. When more
than :data:`FULL_FRACTION` of the individuals are affected (small ``k``), the terms are
recomputed by a full pass instead: for a few positions the dense sums of
:func:`.blocks.swap_terms`, else the sparse terms of every individual (only the entries above
an individual's second best are read one by one).

The terms equal the full pass's in exact arithmetic (individuals tied between their best and
second best contribute zero to ``E``, so which of the tied positions holds them does not
matter); with integer profits (exact float sums) they are identical.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .blocks import ONEHOT_GROUPS, Blocks, grouped_rows, row_blocks, swap_terms
from .limits import CACHE_ELEMENTS

#: Above this fraction of affected individuals a swap recomputes the terms by a full pass:
#: the dense pass (a few positions), or the sparse one (whose cost per individual is an
#: update's).
FULL_FRACTION = 0.25
FULL_FRACTION_SPARSE = 0.6


def top_two(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best and second-best entry of each row of ``sub`` (rows x s) and their positions
    (ties: the first position); with one column the second best is ``-inf`` at position -1."""
    rows = np.arange(sub.shape[0])
    c1 = sub.argmax(axis=1)
    b1 = sub[rows, c1]
    if sub.shape[1] == 1:
        return b1, np.full(rows.size, -np.inf), c1, np.full(rows.size, -1, dtype=np.intp)
    masked = sub.copy()
    masked[rows, c1] = -np.inf
    c2 = masked.argmax(axis=1)
    return b1, masked[rows, c2], c1, c2


def add_terms(gain: np.ndarray, extra: np.ndarray, rows: np.ndarray, b1: np.ndarray, b2: np.ndarray,
              c1: np.ndarray, sign: float) -> np.ndarray:
    """Add (``sign = 1``) or remove (``-1``) the contribution of some individuals (their
    profit ``rows`` over the columns of ``gain`` and their state) to ``G`` and ``E``; the
    entries above each individual's second best found by comparison (see :func:`add_entries`).
    Returns the columns of those entries (where ``G`` and ``E`` changed beyond a constant per
    row of ``E``)."""
    flat = np.flatnonzero(rows > b2[:, None])
    ii, jj = np.divmod(flat, gain.size)
    add_entries(gain, extra, ii, jj, rows.reshape(-1)[flat], b1, b2, c1, sign)
    return jj


def add_entries(gain: np.ndarray, extra: np.ndarray, ii: np.ndarray, jj: np.ndarray, v: np.ndarray,
                b1: np.ndarray, b2: np.ndarray, c1: np.ndarray, sign: float) -> None:
    """Add (``sign = 1``) or remove (``-1``) the contribution of some individuals to ``G``
    and ``E``, given their state and the entries ``v = P[ii, jj]`` of each individual ``ii``
    above its second best (more entries, equal to the second best, may be among them).

    ``E_rj`` gets ``b2_i - b1_i`` from every individual served at ``r``, for every column,
    plus ``min(P_ij, b1_i) - b2_i`` for the columns ``j`` with ``P_ij > b2_i``; ``G_j`` gets
    ``P_ij - b1_i`` where positive. Only the entries above the second best are touched one by
    one: for an individual served well by its two nearest treatments, few.
    """
    c = gain.size
    above = np.maximum(v - b1[ii], 0.0)
    gain += sign * np.bincount(jj, weights=above, minlength=c)
    np.add.at(extra.reshape(-1), c1[ii] * c + jj, sign * (np.minimum(v, b1[ii]) - b2[ii]))
    at, const = grouped_rows(c1, (b2 - b1)[:, None])
    extra[at] += sign * const


class ColumnOrder:
    """Each individual's columns by decreasing profit (ties: the lower column first), their
    profits in that order and each column's rank in it: the entries of an individual greater
    than its profit at a column are a prefix of its order, read in time proportional to
    their number (Resende & Werneck 2007). Two int32 and one float64 matrix of ``n x m``."""

    def __init__(self, profit: np.ndarray) -> None:
        n, m = profit.shape
        self.m = m
        order = np.argsort(-profit, axis=1, kind="stable")
        self.values = np.take_along_axis(profit, order, axis=1).reshape(-1)
        self.order = order.astype(np.int32).reshape(-1)
        rank = np.empty((n, m), dtype=np.int32)
        np.put_along_axis(rank, order, np.arange(m, dtype=np.int32)[None, :], axis=1)
        self.rank = rank
        self.best = self.values[:: m].copy()

    def above(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(t, j, P[rows[t], j])`` for the entries of each individual ``rows[t]`` ranked
        before its column ``cols[t]``: every entry greater than ``P[rows[t], cols[t]]`` (and
        the equal ones of lower column)."""
        lengths = self.rank[rows, cols].astype(np.intp)
        ii = np.repeat(np.arange(rows.size), lengths)
        # flat index of each entry: its row's start, plus its place within the prefix
        flat = np.arange(ii.size) + np.repeat(rows * self.m - (np.cumsum(lengths) - lengths), lengths)
        return ii, self.order[flat].astype(np.intp), self.values[flat]


class SwapTableau:
    """``G``, ``E`` and the state ``(b1, b2, c1, c2)`` of a sorted offered set of columns of
    an in-memory profit matrix, updated swap by swap.

    Attributes ``offered`` (sorted), ``b1``, ``b2`` (best and second-best offered profit of
    each individual), ``c1``, ``c2`` (their positions in ``offered``), ``gain`` (``G``, one
    per column), ``extra`` (``E``, ``s x m``), ``excess`` (``sum_i max(max_j P_ij - b1_i,
    0)``, from the last full pass) and the counters ``full_passes`` and ``rows_updated``.
    With ``cols``, ``G`` and ``E`` cover only those columns (``excess`` is then 0): what a
    path-relinking walk, which only brings in the columns of its guide, needs. With
    ``order`` (:class:`ColumnOrder`, every column), an individual's entries are read from
    its sorted columns. Without ``cols``, the best swap of each position is cached
    (:meth:`best`), so that a swap re-scans only the rows of ``E`` it changed: no
    ``O(k m)`` scan per move.
    """

    def __init__(self, profit: np.ndarray, offered: np.ndarray, blocks: Callable[..., Blocks] | None = None,
                 cols: np.ndarray | None = None, order: ColumnOrder | None = None) -> None:
        self.profit = profit
        self.cols = None if cols is None else np.asarray(cols, dtype=np.intp)
        self.order = order if cols is None else None
        self.blocks = blocks or (lambda width=None: row_blocks(profit, CACHE_ELEMENTS))
        self.n, self.m = profit.shape
        self.offered = np.sort(np.asarray(offered, dtype=np.intp))
        self.s = self.offered.size
        self.full_passes = 0
        self.rows_updated = 0
        self._full()

    def _full(self) -> None:
        """Recompute the state and the terms by a full pass (the sums of ``swap_terms``)."""
        parts = [top_two(blk[:, self.offered]) for _, blk in self.blocks(self.s)]
        self.b1, self.b2, self.c1, self.c2 = (np.concatenate([p[i] for p in parts]) for i in range(4))
        width = None if self.cols is None else self.cols.size
        self.full_passes += 1
        if self.s <= ONEHOT_GROUPS:  # dense terms: cheapest when most entries beat the second best
            self.gain, self.extra, self.excess = swap_terms(self.blocks(width), (self.b1, self.b2, self.c1), self.s,
                                                            self.m, self.cols)
        elif self.order is not None:  # the sparse terms of every individual, as a swap updates them
            self.gain, self.extra = np.zeros(self.m), np.zeros((self.s, self.m))
            self._update(np.arange(self.n), self.b1, self.b2, self.c1, self.c2, 1.0)
            self.excess = float(np.maximum(self.order.best - self.b1, 0.0).sum())
        else:
            c = self.m if self.cols is None else self.cols.size
            self.gain, self.extra, self.excess = np.zeros(c), np.zeros((self.s, c)), 0.0
            # few entries per individual are read one by one: larger blocks, fewer calls
            for lo, blk in self.blocks(self.s if width is None else max(width, self.s)):
                hi = lo + blk.shape[0]
                terms = blk if self.cols is None else blk[:, self.cols]
                add_terms(self.gain, self.extra, terms, self.b1[lo:hi], self.b2[lo:hi], self.c1[lo:hi], 1.0)
                if self.cols is None:
                    self.excess += float(np.maximum(blk.max(axis=1) - self.b1[lo:hi], 0.0).sum())
        if self.cols is None:
            self.is_offered = np.zeros(self.m, dtype=bool)
            self.is_offered[self.offered] = True
            self.row_value, self.row_col = np.empty(self.s), np.zeros(self.s, dtype=np.intp)
            self._rescan(np.arange(self.s))

    def total(self) -> float:
        """``f(S) = sum_i b1_i``."""
        return float(self.b1.sum())

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(b1, b2, pos)`` as :func:`.blocks.best_two` gives it: an individual whose best
        is tied with its second best goes to the first of the tied positions."""
        pos = self.c1.copy()
        tied = np.flatnonzero(self.b1 == self.b2)
        if tied.size:
            pos[tied] = self.profit[tied[:, None], self.offered[None, :]].argmax(axis=1)
        return self.b1.copy(), self.b2.copy(), pos

    def deltas(self) -> np.ndarray:
        """``Delta[r, t]``: change of ``f`` when column ``t`` (``cols[t]`` when the tableau
        keeps a subset of the columns) replaces the treatment at position ``r``."""
        return self.extra + self.gain[None, :]

    def best(self) -> tuple[int, int, float]:
        """``(r, j, Delta[r, j])``: the best swap of a column not offered for the treatment
        at position ``r`` (ties: the lowest position, then the lowest column), as the
        ``argmax`` of :meth:`deltas` with the offered columns masked gives it."""
        r = int(self.row_value.argmax())
        return r, int(self.row_col[r]), float(self.row_value[r])

    def _rescan(self, rows: np.ndarray) -> None:
        """The best column of each of ``rows`` of ``Delta``, by a scan of those rows."""
        if rows.size:
            d = self.extra[rows] + self.gain[None, :]
            d[:, self.is_offered] = -np.inf
            col = d.argmax(axis=1)
            self.row_col[rows] = col
            self.row_value[rows] = d[np.arange(rows.size), col]

    def _refresh(self, dirty: np.ndarray, cols: np.ndarray) -> None:
        """After a swap: rows ``dirty`` of ``E`` changed, and ``G`` changed at ``cols``
        (sorted; with the column that left the set). The other rows are re-read at ``cols``
        only, unless their best column is among them (its value may have dropped)."""
        clean = np.ones(self.s, dtype=bool)
        clean[dirty] = False
        clean[np.isin(self.row_col, cols)] = False
        clean[self.is_offered[self.row_col]] = False  # the best column joined the set
        rows = np.flatnonzero(clean)
        if rows.size and cols.size:
            d = self.extra[np.ix_(rows, cols)] + self.gain[None, cols]
            d[:, self.is_offered[cols]] = -np.inf
            t = d.argmax(axis=1)
            value, col = d[np.arange(rows.size), t], cols[t]
            better = (value > self.row_value[rows]) | ((value == self.row_value[rows]) & (col < self.row_col[rows]))
            self.row_value[rows[better]], self.row_col[rows[better]] = value[better], col[better]
        self._rescan(np.flatnonzero(~clean))

    def swap(self, r: int, j: int) -> None:
        """Column ``j`` (not offered) replaces the treatment at position ``r``."""
        new = self.offered.copy()
        leaving = int(new[r])
        new[r] = j
        perm = np.argsort(new, kind="stable")
        rows_a = np.flatnonzero((self.c1 == r) | (self.c2 == r) | (self.profit[:, j] > self.b2))
        limit = FULL_FRACTION if self.s <= ONEHOT_GROUPS else FULL_FRACTION_SPARSE
        if self.s == 1 or rows_a.size > limit * self.n:
            self.offered = new[perm]
            self._full()
            return
        self.rows_updated += rows_a.size
        old_c1 = self.c1[rows_a]
        if self.order is None:
            rows = self.profit[rows_a]
            terms = rows if self.cols is None else rows[:, self.cols]
            cols_out = add_terms(self.gain, self.extra, terms, self.b1[rows_a], self.b2[rows_a], old_c1, -1.0)
        else:
            cols_out = self._update(rows_a, self.b1[rows_a], self.b2[rows_a], old_c1, self.c2[rows_a], -1.0)
        # every individual served at r was affected: its row is exactly zero; it moves to the
        # sorted place of the new column, the rows in between shift by one
        q = int(np.flatnonzero(perm == r)[0])
        lo, hi = min(r, q), max(r, q) + 1
        shift = perm[lo:hi]
        self.extra[lo:hi] = self.extra[shift]
        self.extra[q] = 0.0
        inverse = np.empty(self.s, dtype=np.intp)
        inverse[perm] = np.arange(self.s)
        self.offered = new[perm]
        self.c1 = inverse[self.c1]
        self.c2 = inverse[self.c2]
        if self.order is None:
            b1, b2, c1, c2 = top_two(rows[:, self.offered])
            cols_in = add_terms(self.gain, self.extra, terms, b1, b2, c1, 1.0)
        else:
            b1, b2, c1, c2 = top_two(self.profit[rows_a[:, None], self.offered[None, :]])
            cols_in = self._update(rows_a, b1, b2, c1, c2, 1.0)
        self.b1[rows_a], self.b2[rows_a], self.c1[rows_a], self.c2[rows_a] = b1, b2, c1, c2
        if self.cols is None:
            self.row_value[lo:hi], self.row_col[lo:hi] = self.row_value[shift], self.row_col[shift]
            self.is_offered[leaving], self.is_offered[j] = False, True
            dirty = np.zeros(self.s, dtype=bool)
            dirty[inverse[old_c1]] = dirty[c1] = dirty[q] = True
            changed = np.zeros(self.m, dtype=bool)
            changed[cols_out] = changed[cols_in] = changed[leaving] = True
            self._refresh(np.flatnonzero(dirty), np.flatnonzero(changed))

    def _update(self, rows: np.ndarray, b1: np.ndarray, b2: np.ndarray, c1: np.ndarray, c2: np.ndarray,
                sign: float) -> np.ndarray:
        """Add or remove the terms of individuals ``rows``, reading from the column order
        only their entries above the second best; the columns of those entries."""
        ii, jj, v = self.order.above(rows, self.offered[c2])
        add_entries(self.gain, self.extra, ii, jj, v, b1, b2, c1, sign)
        return jj
