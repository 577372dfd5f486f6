"""The Lloyd / optimal-transport alternation of Zhang & Misra (*Coarse Personalization*,
arXiv 2204.05793) and its seeding, over an in-memory or a chunked profit matrix.

Transport step (free segment masses): each individual goes to its best atom (ties: the
first). Support step: the atoms move to the distinct columns maximizing
``sum_r sum_{i in C_r} P[i, t_r]``, a ``k x m`` linear assignment on the per-segment column
sums (:func:`support_step`). One round is one pass over the profit; on chunked data the
pass is a map-reduce over the row blocks (:mod:`coarseopt_solvers.kernels.source`).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from ..kernels.blocks import assign_best, gains_over_columns, row_blocks, segment_sums
from ..kernels.limits import CACHE_ELEMENTS, PASS_ELEMENTS, tol
from ..kernels.greedy import Candidates, greedy_add
from ..kernels.source import InMemorySource, as_source, fsum_parts, map_reduce


def seed_atoms(
    profit: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    greedy: bool = False,
    allowed: np.ndarray | None = None,
    start: Any = None,
) -> np.ndarray:
    """Profit-weighted k-means++ seeding of ``k`` distinct atoms.

    The baseline of each individual starts at its worst profit; each next atom is drawn with
    probability proportional to its gain :math:`\\sum_i \\max(0, P_{ij} - b_i)` over the
    current baseline ``b`` (the best atom so far), or taken as the argmax when
    ``greedy=True`` (greedy addition).

    Parameters
    ----------
    profit : ndarray of shape (n, m)
    k : int
        Number of atoms (``<= m``, and ``<=`` the number of ``allowed`` columns).
    rng : numpy.random.Generator
    greedy : bool, default False
    allowed : ndarray of bool, shape (m,), optional
        Columns that may be chosen.
    start : sequence of int, optional
        Atoms to keep; the rest are seeded.
    """
    m = profit.shape[1]
    allowed = np.ones(m, dtype=bool) if allowed is None else allowed
    atoms = [] if start is None else [int(j) for j in start][:k]

    def draw(cand: np.ndarray, gains: np.ndarray) -> int:
        w = np.zeros(m)
        w[cand] = np.maximum(gains, 0.0)
        if w.sum() <= 0:
            w[cand] = 1.0
        return int(rng.choice(m, p=w / w.sum()))

    # the baseline starts at each individual's worst profit (the offered atoms' best once any)
    atoms = greedy_add(InMemorySource(profit), k, start=atoms, candidates=Candidates(allowed, atoms),
                       base=profit.min(axis=1).astype(np.float64), choose=None if greedy else draw)
    return np.array(atoms, dtype=np.intp)


def support_step(sums: np.ndarray, feasible: np.ndarray | None = None) -> np.ndarray:
    """Distinct new atoms maximizing the segments' total profit (a k x m linear assignment);
    with ``feasible`` (``k x m`` bool), infeasible pairs are penalized out."""
    from scipy.optimize import linear_sum_assignment  # heavy: loaded on first use

    weights = sums.copy()
    if feasible is not None:
        span = float(np.abs(sums).max(initial=0.0)) + 1.0
        weights = np.where(feasible, weights, -1e3 * span * (1 + sums.shape[1]))
    rows, cols = linear_sum_assignment(weights, maximize=True)
    new = np.empty(sums.shape[0], dtype=np.intp)
    new[rows] = cols
    return new


def _block_segments(block: np.ndarray, offered: np.ndarray) -> tuple:
    return assign_best(row_blocks(block, CACHE_ELEMENTS), offered, offered.size)


def segment_column_sums(profit: Any, offered: Sequence[int]) -> tuple[np.ndarray, np.ndarray, float]:
    """One pass of the alternation: every individual to its most profitable offered
    treatment (ties: the first offered column), then per segment ``r`` the column sums
    ``sum_{i in segment r} P_i``.

    Parameters
    ----------
    profit : ndarray or dask.array.Array of shape (n, m)
    offered : sequence of int
        The current atoms (column indices), in segment order.

    Returns
    -------
    sums : ndarray of shape (len(offered), m)
    counts : ndarray of int, shape (len(offered),)
        Segment sizes.
    objective : float
        ``sum_i max_{j in offered} P_ij``.
    """
    return _Segments(as_source(profit), np.asarray(offered, dtype=np.intp)).all()


class _Segments:
    """The segments of an atom set: value and counts at once, the column sums on demand (an
    in-memory pass computes them only when the round goes on; a chunked pass at once)."""

    def __init__(self, source: Any, atoms: np.ndarray) -> None:
        self.source, self.atoms = source, atoms
        if source.chunked:
            parts = map_reduce(_block_segments, source.row_blocks, atoms)
            self._sums = fsum_parts([p[0] for p in parts])
            self.counts = np.sum([p[1] for p in parts], axis=0)
            self.value = fsum_parts([p[2] for p in parts])
        else:
            sub = source.profit[:, atoms]
            self.pos = sub.argmax(axis=1)
            self.value = float(sub[np.arange(sub.shape[0]), self.pos].sum())
            self.counts = np.bincount(self.pos, minlength=atoms.size)
            self._sums = None

    def sums(self) -> np.ndarray:
        if self._sums is None:
            self._sums = segment_sums(self.source.profit, self.pos, self.atoms.size)
        return self._sums

    def all(self) -> tuple[np.ndarray, np.ndarray, float]:
        return self.sums(), self.counts, self.value


def _block_gains_over(block: np.ndarray, base_cols: np.ndarray) -> np.ndarray:
    return gains_over_columns(row_blocks(block, CACHE_ELEMENTS), base_cols, block.shape[1])


def _reseed_gains(source: Any, base_cols: np.ndarray) -> np.ndarray:
    """What each column adds over the best of ``base_cols`` (one pass)."""
    if source.chunked:
        return fsum_parts(map_reduce(_block_gains_over, source.row_blocks, base_cols))
    return gains_over_columns(row_blocks(source.profit, PASS_ELEMENTS), base_cols, source.m)


def lloyd(
    profit: Any,
    atoms: Any,
    *,
    max_iter: int = 100,
    deadline: float | None = None,
) -> tuple[np.ndarray, float, dict]:
    """Lloyd-type alternation to a fixed point (no share bounds).

    Transport step: ``a(i) = argmax_{r} P[i, atoms_r]``. Support step: atoms move to the
    distinct columns maximizing ``sum_r sum_{i in C_r} P[i, t_r]`` (a linear assignment);
    an atom with an empty segment is re-seeded at the column with the largest gain. Stops
    when the objective no longer increases (a fixed point), after ``max_iter`` rounds or at
    ``deadline``.

    Parameters
    ----------
    profit : ndarray or dask.array.Array of shape (n, m)
        A dask array is passed over chunk by chunk, one map-reduce pass per round.
    atoms : sequence of int
        Starting atoms (distinct column indices).
    max_iter : int, default 100
        At most this many rounds.
    deadline : float, optional
        A ``time.perf_counter()`` value checked between rounds.

    Returns
    -------
    atoms : ndarray of int
        Sorted offered columns of the best round.
    objective : float
    info : dict
        ``iterations``, ``converged``, ``reseeded``.
    """
    source = as_source(profit)
    atoms = np.array(atoms, dtype=np.intp)
    best_atoms, best_value = atoms.copy(), -np.inf
    converged, reseeded, it = False, 0, 0
    while True:
        seg = _Segments(source, atoms)
        value = seg.value
        if value <= best_value + tol(value):
            converged = True
            break
        best_atoms, best_value = atoms.copy(), value
        if it >= max_iter or (deadline is not None and time.perf_counter() >= deadline):
            break
        it += 1
        new = support_step(seg.sums())
        empty = np.flatnonzero(seg.counts == 0)
        if empty.size:  # re-seed atoms that serve nobody where they add the most
            keep = np.setdiff1d(np.arange(atoms.size), empty)
            for r in empty:
                gain = _reseed_gains(source, new[keep])
                gain[new[keep]] = -np.inf
                new[r] = int(np.argmax(source.ties(gain)))
                keep = np.append(keep, r)
                reseeded += 1
        if np.array_equal(np.sort(new), np.sort(atoms)):
            converged = True
            break
        atoms = new
    return np.sort(best_atoms), best_value, {"iterations": it, "converged": converged, "reseeded": reseeded}
