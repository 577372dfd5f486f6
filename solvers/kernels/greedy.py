"""Greedy addition over a profit source: the one construction every solver uses.

Starting from an offered set ``S`` (possibly empty), add the candidate ``j`` with the largest
gain :math:`G_j = \\sum_i \\max(P_{ij} - b_i, 0)` over the baseline ``b_i = max_{l in S}
P_il`` (plain column sums when ``S`` is empty and no baseline is given), until ``k`` are
offered or no candidate is left. ``f`` is monotone submodular, so greedy addition is the
classic ``(1 - 1/e)``-approximation (Nemhauser, Wolsey & Fisher 1978) and a completed set is
never worse than the one it started from.

Hooks let the callers keep their own rules without writing the loop again:

- ``candidates`` (:class:`Candidates`): which treatments may still join (forbidden ones,
  mutually exclusive pairs);
- ``sample(cand)``: a subset of the open candidates to evaluate (Resende & Werneck's *sample*
  construction);
- ``choose(cand, gains)``: the column taken (default: the best gain, ties to the lowest
  column; a k-means++ seeding draws it at random instead);
- ``base``: a starting baseline other than the offered set's (the seeding starts from each
  individual's worst profit).
"""

from __future__ import annotations

import heapq
from typing import Any, Callable

import numpy as np

__all__ = ["Candidates", "greedy_add"]


class Candidates:
    """The treatments that may still join an offered set: allowed, not offered yet, and not
    mutually exclusive with an offered one."""

    def __init__(self, allowed: Any, offered: Any = (), exclusive: np.ndarray | None = None) -> None:
        allowed = np.asarray(allowed)
        if allowed.dtype == np.bool_:
            allowed = np.flatnonzero(allowed)
        allowed = allowed.astype(np.intp)
        self.pairs = np.zeros((0, 2), np.intp) if exclusive is None else np.asarray(exclusive, dtype=np.intp).reshape(-1, 2)
        offered = [int(j) for j in offered]
        size = max(int(np.max(allowed, initial=-1)), max(offered, default=-1), int(np.max(self.pairs, initial=-1))) + 1
        self.open = np.zeros(size, dtype=bool)
        self.open[allowed] = True
        for j in offered:
            self.take(j)

    def any(self) -> bool:
        return bool(self.open.any())

    def left(self) -> np.ndarray:
        """The open treatments, ascending."""
        return np.flatnonzero(self.open)

    def take(self, j: int) -> None:
        """``j`` joins the set: it and its exclusive partners close."""
        self.open[j] = False
        if self.pairs.shape[0]:
            self.open[self.pairs[self.pairs[:, 0] == j, 1]] = False
            self.open[self.pairs[self.pairs[:, 1] == j, 0]] = False


def greedy_add(
    source: Any,
    k: int,
    *,
    start: Any = (),
    candidates: Candidates | None = None,
    base: Any = None,
    sample: Callable[[np.ndarray], np.ndarray] | None = None,
    choose: Callable[[np.ndarray, np.ndarray], int] | None = None,
    expired: Callable[[], bool] | None = None,
    lazy: bool = False,
) -> list[int]:
    """Greedy addition from ``start`` up to ``k`` offered treatments.

    Parameters
    ----------
    source : InMemorySource or ChunkedSource
        The profit (:mod:`.source`): gains come from ``source.add_gains``, near-ties are
        resolved by ``source.ties``.
    k : int
        Stop at this many offered treatments.
    start : sequence of int
        Treatments offered already (kept, in this order).
    candidates : Candidates, optional
        What may join (default: every column not in ``start``).
    base : optional
        The baseline to start from when ``start`` is empty (default: none, column sums).
    sample, choose, expired : callables, optional
        See the module docstring; ``expired()`` stops the loop once at least one treatment
        is offered.
    lazy : bool
        Lazy evaluation (Minoux 1978; needs ``source.column_gain``, without ``sample`` or
        ``choose``): once a baseline exists, a candidate's last gain bounds its next one
        (``f`` is submodular), so each step re-evaluates only the candidates whose bound
        still leads, one column at a time, instead of every candidate. The same choices
        (ties: the lowest column) up to the rounding of the sums.

    Returns
    -------
    list of int
        The offered treatments in the order they joined (``start`` first).
    """
    offered = [int(j) for j in start]
    open_ = Candidates(np.arange(source.m), offered) if candidates is None else candidates
    if offered:
        base = source.start_baseline(offered)
    while len(offered) < k and open_.any():
        if offered and expired is not None and expired():
            break
        if lazy and base is not None and sample is None and choose is None:
            return _lazy_greedy(source, k, offered, open_, base, expired)
        cand = open_.left()
        if sample is not None:
            cand = sample(cand)
        gains = source.ties(source.add_gains(base, cand))
        j = int(cand[int(np.argmax(gains))]) if choose is None else int(choose(cand, gains))
        offered.append(j)
        open_.take(j)
        base = source.baseline(base, offered)
    return offered


def _lazy_greedy(source: Any, k: int, offered: list[int], open_: Candidates, base: Any,
                 expired: Callable[[], bool] | None) -> list[int]:
    """Greedy addition with lazy evaluation from a non-empty baseline: a heap of gain
    bounds keyed ``(-gain, column)``, so that the first fresh entry popped is the best gain,
    ties to the lowest column."""
    cand = open_.left()
    gains = source.add_gains(base, cand)
    heap = [(-float(g), int(j), len(offered)) for g, j in zip(gains, cand)]
    heapq.heapify(heap)
    while len(offered) < k and heap:
        if expired is not None and expired():
            break
        neg, j, step = heapq.heappop(heap)
        if not open_.open[j]:
            continue
        if step != len(offered):  # a bound from an earlier step: evaluate it now
            heapq.heappush(heap, (-source.column_gain(base, j), j, len(offered)))
            continue
        offered.append(j)
        open_.take(j)
        base = source.baseline(base, offered)
    return offered
