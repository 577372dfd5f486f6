"""Passes over row blocks of a profit matrix ``P`` (``n`` individuals x ``m`` treatments).

A *block* is a pair ``(first_row, rows)``: the float64 rows ``first_row, first_row + 1, ...``
of ``P``. Every kernel here takes an iterable of blocks, so the same code runs over an
in-memory array and over each chunk of a chunked one (see :mod:`.source`).

The quantities (Whitaker 1983; Resende & Werneck 2007) for an offered set ``S``:

- ``b1_i``, ``b2_i``: best and second-best offered profit of individual ``i``;
- the gain of column ``j`` over a baseline ``b``: ``G_j = sum_i max(P_ij - b_i, 0)``;
- the swap terms ``E_rj = sum_{i: c1_i = r} max(min(P_ij - b1_i, 0), b2_i - b1_i)``, so that
  ``Delta(j, r) = G_j + E_rj`` is the change of ``f(S) = sum_i max_{j in S} P_ij`` when ``j``
  enters and the treatment at position ``r`` leaves;
- segment sums: ``sums[r, t] = sum_{i in segment r} P_it``.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from .limits import rows_per_block

Blocks = Iterable[tuple[int, np.ndarray]]
#: Up to this many groups a group sum is a one-hot matrix product (its cost grows with the
#: number of groups); above, a sort and a segmented sum.
ONEHOT_GROUPS = 8


def row_blocks(array: np.ndarray, elements: int, first_row: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """``(first_row, float64 rows)`` over ``array``, about ``elements`` entries at a time."""
    n, m = array.shape
    rows = rows_per_block(m, elements)
    for lo in range(0, n, rows):
        yield first_row + lo, np.asarray(array[lo : lo + rows], dtype=np.float64)


def best_two(blocks: Blocks, offered: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best and second-best offered profit of each of ``n`` individuals, and the position in
    ``offered`` of its best treatment (ties: the first position): the state of fast
    interchange (Whitaker 1983)."""
    s = offered.size
    b1 = np.empty(n)
    b2 = np.full(n, -np.inf)
    pos = np.zeros(n, dtype=np.intp)
    for lo, blk in blocks:
        hi = lo + blk.shape[0]
        sub = blk[:, offered]  # a copy: marking the best below leaves the data untouched
        if s == 1:
            b1[lo:hi] = sub[:, 0]
            continue
        p = sub.argmax(axis=1)
        rows = np.arange(sub.shape[0])
        b1[lo:hi] = sub[rows, p]
        sub[rows, p] = -np.inf
        b2[lo:hi] = sub.max(axis=1)
        pos[lo:hi] = p
    return b1, b2, pos


def gains_over(blocks: Blocks, base: np.ndarray | None, size: int, cand: np.ndarray | None = None) -> np.ndarray:
    """``G_j = sum_i max(P_ij - base_i, 0)`` for the ``size`` candidate columns ``cand``
    (every column when None); plain column sums when ``base`` is None."""
    out = np.zeros(size)
    for lo, blk in blocks:
        sub = blk if cand is None else blk[:, cand]
        if base is None:
            out += sub.sum(axis=0)
        else:
            d = sub - base[lo : lo + blk.shape[0], None]
            np.maximum(d, 0.0, out=d)
            out += d.sum(axis=0)
    return out


def gains_over_columns(blocks: Blocks, base_cols: np.ndarray, m: int) -> np.ndarray:
    """``G_j`` of every column over the baseline ``b_i = max_{j in base_cols} P_ij`` (each
    individual's worst profit when ``base_cols`` is empty), the baseline taken block by block."""
    out = np.zeros(m)
    for _, blk in blocks:
        base = blk[:, base_cols].max(axis=1) if base_cols.size else blk.min(axis=1)
        d = blk - base[:, None]
        np.maximum(d, 0.0, out=d)
        out += d.sum(axis=0)
    return out


def swap_terms(blocks: Blocks, state: tuple, s: int, m: int,
               cand: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """The sums behind every swap's change of ``f`` (fast interchange).

    ``gain_add[t] = sum_i max(P_it - b1_i, 0)`` (what adding candidate ``t`` gains) and
    ``extra[r, t]``: for the individuals whose best is at position ``r``, the loss of removing
    it net of what ``t`` offers, ``max(min(P_it - b1_i, 0), b2_i - b1_i)``; ``Delta[r, t] =
    extra[r, t] + gain_add[t]``. ``excess = sum_i max(max_j P_ij - b1_i, 0)`` when every column
    is a candidate. ``state`` is :func:`best_two` of the offered set.
    """
    b1, b2, pos = state
    c = m if cand is None else cand.size
    gain_add = np.zeros(c)
    extra = np.zeros((s, c))
    excess = 0.0
    for lo, blk in blocks:
        hi = lo + blk.shape[0]
        sub = blk if cand is None else blk[:, cand]
        b1b = b1[lo:hi, None]
        d = sub - b1b
        if cand is None:
            excess += float(np.maximum(d.max(axis=1), 0.0).sum())
        gain_add += np.maximum(d, 0.0).sum(axis=0)
        np.minimum(d, 0.0, out=d)
        np.maximum(d, b2[lo:hi, None] - b1b, out=d)
        extra += group_sum(pos[lo:hi], d, s)
    return gain_add, extra, excess


def group_sum(pos: np.ndarray, values: np.ndarray, s: int) -> np.ndarray:
    """``out[r] = values[pos == r].sum(axis=0)`` for ``r < s``."""
    if s == 1:
        return values.sum(axis=0)[None, :]
    if s <= ONEHOT_GROUPS:  # a (s, B) @ (B, c) product: cheapest for a few groups
        onehot = (pos[None, :] == np.arange(s)[:, None]).astype(values.dtype)
        return onehot @ values
    # one sort and a segmented sum: O(B c) whatever s (a one-hot product costs O(s B c))
    out = np.zeros((s, values.shape[1]), dtype=values.dtype)
    groups, sums = grouped_rows(pos, values)
    out[groups] = sums
    return out


def grouped_rows(pos: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values ``g`` of ``pos`` (ascending) and ``values[pos == g].sum(axis=0)``
    for each, by one sort and one segmented sum: ``O(B c)`` for ``B x c`` values."""
    if pos.size == 0:
        return pos.astype(np.intp), np.zeros((0,) + values.shape[1:], dtype=values.dtype)
    order = np.argsort(pos, kind="stable")
    ranked = pos[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    if starts.size == ranked.size:  # one row per group: nothing to sum
        return ranked, values[order]
    return ranked[starts], np.add.reduceat(values[order], starts, axis=0)


def segment_sums(profit: np.ndarray, pos: np.ndarray, s: int) -> np.ndarray:
    """``sums[r, t] = sum_{i : pos_i = r} profit[i, t]`` in one sparse product, ``O(n m)``."""
    from scipy import sparse  # heavy: loaded on first use

    n = profit.shape[0]
    indptr = np.zeros(s + 1, dtype=np.intp)
    np.cumsum(np.bincount(pos, minlength=s), out=indptr[1:])
    members = np.argsort(pos, kind="stable")
    return np.asarray(sparse.csr_matrix((np.ones(n), members, indptr), shape=(s, n)) @ profit)


def assign_best(blocks: Blocks, offered: np.ndarray, s: int,
                with_sums: bool = True) -> tuple[np.ndarray | None, np.ndarray, float]:
    """Each row to its best offered column (ties: the first): per-segment column sums of the
    profit (``s x m``, when ``with_sums``), segment sizes and ``sum_i max_{j in S} P_ij``."""
    sums = None
    counts = np.zeros(s, dtype=np.int64)
    total = 0.0
    for _, blk in blocks:
        sub = blk[:, offered]
        pos = sub.argmax(axis=1)
        total += float(sub[np.arange(sub.shape[0]), pos].sum())
        if with_sums:
            part = segment_sums(blk, pos, s)
            sums = part if sums is None else sums + part
        counts += np.bincount(pos, minlength=s)
    return sums, counts, total


def best_offered(blocks: Blocks, offered: np.ndarray, n: int) -> np.ndarray:
    """``max_{j in S} P_ij`` of each of ``n`` individuals (float64), block by block (no
    temporary of the matrix's height times ``|S|``)."""
    out = np.empty(n)
    for lo, blk in blocks:
        np.max(blk[:, offered], axis=1, out=out[lo : lo + blk.shape[0]])
    return out


def offered_value(blocks: Blocks, offered: np.ndarray) -> float:
    """``f(S) = sum_i max_{j in S} P_ij`` of the offered columns."""
    return float(sum(blk[:, offered].max(axis=1).sum() for _, blk in blocks))


def top_entries(block: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``width`` largest entries of ``block`` in descending order: their column
    positions and values, both ``(rows, width)``: the first ``width`` of a stable sort of
    each row in descending order (equal entries in column order).

    The ``width``-th largest value of each row comes from a sort of the values (vectorized in
    NumPy, several times faster than selecting positions with ``argpartition``); the rows
    with exactly ``width`` entries at or above it take those positions, the rows with a tie
    at that value are sorted whole.
    """
    block = np.ascontiguousarray(block)
    r, m = block.shape
    if width >= m // 2 or r == 0:
        pos = np.argsort(-block, axis=1, kind="stable")[:, :width]
        return pos, np.take_along_axis(block, pos, axis=1)
    at_least = block >= np.sort(block, axis=1)[:, m - width, None]
    plain = np.count_nonzero(at_least, axis=1) == width
    every = bool(plain.all())
    if not every:
        at_least[~plain] = False
    flat = np.flatnonzero(at_least).reshape(-1, width)  # row-major: each row's in column order
    vals = block.reshape(-1).take(flat)
    o = np.argsort(-vals, axis=1, kind="stable")
    pos = np.take_along_axis(flat, o, axis=1)
    pos -= ((np.arange(r, dtype=np.intp) if every else np.flatnonzero(plain)) * m)[:, None]
    vals = np.take_along_axis(vals, o, axis=1)
    if every:
        return pos, vals
    out_pos, out_vals = np.empty((r, width), dtype=np.intp), np.empty((r, width), dtype=block.dtype)
    out_pos[plain], out_vals[plain] = pos, vals
    tied = block[~plain]
    out_pos[~plain] = pos = np.argsort(-tied, axis=1, kind="stable")[:, :width]  # sorted whole
    out_vals[~plain] = np.take_along_axis(tied, pos, axis=1)
    return out_pos, out_vals
