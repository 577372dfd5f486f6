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
recomputed by a full pass instead, with the same sums as :func:`.blocks.swap_terms`.

The terms equal the full pass's in exact arithmetic (individuals tied between their best and
second best contribute zero to ``E``, so which of the tied positions holds them does not
matter); with integer profits (exact float sums) they are identical.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .blocks import Blocks, grouped_rows, row_blocks, swap_terms
from .limits import CACHE_ELEMENTS

#: Above this fraction of affected individuals a swap recomputes the terms by a full pass.
FULL_FRACTION = 0.25


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


def row_terms(rows: np.ndarray, b1: np.ndarray, b2: np.ndarray,
              c1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The contribution of some individuals (their profit ``rows`` and state) to ``G`` and
    ``E``: ``sum_i max(P_ij - b1_i, 0)``, and the positions ``r`` that serve one of them
    with ``sum_{i: c1_i = r} max(min(P_ij - b1_i, 0), b2_i - b1_i)`` for each (the rows of
    ``E`` they touch, in ``O(rows x m)`` whatever the number of positions)."""
    d = rows - b1[:, None]
    gain = np.maximum(d, 0.0).sum(axis=0)
    np.minimum(d, 0.0, out=d)
    np.maximum(d, (b2 - b1)[:, None], out=d)
    groups, sums = grouped_rows(c1, d)
    return gain, groups, sums


class SwapTableau:
    """``G``, ``E`` and the state ``(b1, b2, c1, c2)`` of a sorted offered set of columns of
    an in-memory profit matrix, updated swap by swap.

    Attributes ``offered`` (sorted), ``b1``, ``b2`` (best and second-best offered profit of
    each individual), ``c1``, ``c2`` (their positions in ``offered``), ``gain`` (``G``, one
    per column), ``extra`` (``E``, ``s x m``), ``excess`` (``sum_i max(max_j P_ij - b1_i,
    0)``, from the last full pass) and the counters ``full_passes`` and ``rows_updated``.
    With ``cols``, ``G`` and ``E`` cover only those columns (``excess`` is then 0): what a
    path-relinking walk, which only brings in the columns of its guide, needs.
    """

    def __init__(self, profit: np.ndarray, offered: np.ndarray, blocks: Callable[[], Blocks] | None = None,
                 cols: np.ndarray | None = None) -> None:
        self.profit = profit
        self.cols = None if cols is None else np.asarray(cols, dtype=np.intp)
        self.blocks = blocks or (lambda: row_blocks(profit, CACHE_ELEMENTS))
        self.n, self.m = profit.shape
        self.offered = np.sort(np.asarray(offered, dtype=np.intp))
        self.s = self.offered.size
        self.full_passes = 0
        self.rows_updated = 0
        self._full()

    def _full(self) -> None:
        """Recompute the state and the terms by a full pass (the sums of ``swap_terms``)."""
        parts = [top_two(blk[:, self.offered]) for _, blk in self.blocks()]
        self.b1, self.b2, self.c1, self.c2 = (np.concatenate([p[i] for p in parts]) for i in range(4))
        self.gain, self.extra, self.excess = swap_terms(self.blocks(), (self.b1, self.b2, self.c1), self.s, self.m,
                                                        self.cols)
        self.full_passes += 1

    def total(self) -> float:
        """``f(S) = sum_i b1_i``."""
        return float(self.b1.sum())

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(b1, b2, pos)`` as :func:`.blocks.best_two` gives it."""
        return self.b1, self.b2, self.c1

    def deltas(self) -> np.ndarray:
        """``Delta[r, t]``: change of ``f`` when column ``t`` (``cols[t]`` when the tableau
        keeps a subset of the columns) replaces the treatment at position ``r``."""
        return self.extra + self.gain[None, :]

    def swap(self, r: int, j: int) -> None:
        """Column ``j`` (not offered) replaces the treatment at position ``r``."""
        old = self.offered
        new = old.copy()
        new[r] = j
        order = np.argsort(new, kind="stable")
        affected = (self.c1 == r) | (self.c2 == r) | (self.profit[:, j] > self.b2)
        rows_a = np.flatnonzero(affected)
        if rows_a.size > FULL_FRACTION * self.n:
            self.offered = new[order]
            self._full()
            return
        self.rows_updated += rows_a.size
        rows = self.profit[rows_a]
        terms = rows if self.cols is None else rows[:, self.cols]
        g, at, e = row_terms(terms, self.b1[rows_a], self.b2[rows_a], self.c1[rows_a])
        self.gain -= g
        self.extra[at] -= e
        self.extra[r] = 0.0  # every individual served at r was affected: exactly zero
        # positions move to the sorted order of the new set
        inverse = np.empty(self.s, dtype=np.intp)
        inverse[order] = np.arange(self.s)
        self.offered = new[order]
        self.extra = self.extra[order]
        self.c1 = inverse[self.c1]
        if self.s > 1:
            self.c2 = inverse[self.c2]
        b1, b2, c1, c2 = top_two(rows[:, self.offered])
        self.b1[rows_a], self.b2[rows_a], self.c1[rows_a], self.c2[rows_a] = b1, b2, c1, c2
        g, at, e = row_terms(terms, b1, b2, c1)
        self.gain += g
        self.extra[at] += e
