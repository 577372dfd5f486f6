"""The profit source: one interface over an in-memory profit matrix and a chunked one.

A heuristic or bound is written once against a source; the source decides where a pass
runs. :class:`InMemorySource` walks a numpy array in cache-sized row blocks.
:class:`ChunkedSource` maps one pure numpy function over the row blocks of a dask array (on
the threads of this process or on the workers of a ``dask.distributed`` cluster) and
reduces the small per-block results on the caller.

**Exact sums** (``exact_sums``). A chunked source reduces the per-block partials in block
order with exact sums (``math.fsum``), so neither the number of workers nor the order in which
blocks finish changes a result; a different chunking changes sums only by float rounding,
and the decisions taken from those sums treat values within ``REL_TOL`` of the best as tied
(:meth:`ties`: lowest index wins). An in-memory source sums in one fixed order and takes
``argmax`` as it is.

The per-individual state of an offered set (best and second-best offered value and the
position of the best, see :func:`.blocks.best_two`) stays where the rows live: a numpy
tuple in memory, one persisted tuple per block on a cluster.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from . import blocks as K
from .limits import CACHE_ELEMENTS, ORDER_ELEMENTS, snap_ties
from .tableau import ColumnOrder


def fsum_parts(parts: Sequence[Any]) -> Any:
    """Exact sum of per-block partials (scalars or arrays of one shape), independent of
    their order: what makes a reduction deterministic across worker counts."""
    first = np.asarray(parts[0], dtype=np.float64)
    if first.ndim == 0:
        return math.fsum(float(p) for p in parts)
    stack = np.stack([np.asarray(p, dtype=np.float64).reshape(-1) for p in parts], axis=1)
    return np.array([math.fsum(row) for row in stack]).reshape(first.shape)


def compute_all(tasks: list) -> list:
    """Compute dask tasks together (one graph, shared inputs loaded once)."""
    import dask

    return list(dask.compute(*tasks)) if tasks else []


def delayed(func: Callable) -> Callable:
    import dask

    return dask.delayed(func, pure=True)


def dask_row_blocks(profit: Any) -> list:
    """The row blocks of a dask array as a list of ``Delayed`` (whole rows each)."""
    if len(profit.chunks[1]) != 1:
        profit = profit.rechunk({1: -1})
    return list(profit.to_delayed().ravel())


def map_reduce(func: Callable, blocks: list, *args: Any) -> list:
    """``func(block, *args)`` on every block, computed together; the per-block results."""
    return compute_all([delayed(func)(blk, *args) for blk in blocks])


class InMemorySource:
    """A numpy profit matrix, passed over in cache-sized row blocks."""

    chunked = False
    exact_sums = False

    def __init__(self, profit: np.ndarray) -> None:
        self.profit = profit
        self.n, self.m = (int(s) for s in profit.shape)
        # One block for a small matrix (fewer calls); cache-sized blocks for a large one.
        small = self.n * self.m <= 4 * CACHE_ELEMENTS
        self.rows = self.n if small else max(1, CACHE_ELEMENTS // self.m)
        self._order: ColumnOrder | None = None

    def blocks(self, width: int | None = None):
        """``(first_row, rows)`` over the matrix; a pass that reads only ``width`` of the
        columns takes as many more rows at a time (its temporaries are ``rows x width``)."""
        rows = self.rows if width is None else max(self.rows, CACHE_ELEMENTS // max(1, width))
        for lo in range(0, self.n, rows):
            yield lo, self.profit[lo : lo + rows]

    def state(self, offered: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(b1, b2, pos)`` of the offered set (:func:`.blocks.best_two`)."""
        return K.best_two(self.blocks(), offered, self.n)

    def column_order(self, build: bool = True) -> ColumnOrder | None:
        """Each individual's columns sorted by profit (built once when ``build``, then kept),
        or None when the matrix has more than ``ORDER_ELEMENTS`` entries."""
        if build and self._order is None and self.n * self.m <= ORDER_ELEMENTS:
            self._order = ColumnOrder(self.profit)
        return self._order

    @staticmethod
    def total(state: tuple) -> float:
        """``f(S) = sum_i b1_i`` of a state."""
        return float(state[0].sum())

    def baseline(self, base: np.ndarray | None, offered: list[int]) -> np.ndarray:
        """The best offered value per individual after ``offered[-1]`` joined the set whose
        baseline is ``base`` (None: the set was empty)."""
        col = self.profit[:, offered[-1]]
        return col.astype(np.float64, copy=True) if base is None else np.maximum(base, col)

    def start_baseline(self, offered: list[int]) -> np.ndarray:
        return self.state(np.asarray(offered, dtype=np.intp))[0]

    def add_gains(self, base: np.ndarray | None, cand: np.ndarray) -> np.ndarray:
        """``G_j`` of the candidates over the baseline (column sums when there is none)."""
        return K.gains_over(self.blocks(cand.size), base, cand.size, None if cand.size == self.m else cand)

    def column_gain(self, base: np.ndarray, j: int) -> float:
        """``G_j`` of one column over the baseline."""
        d = self.profit[:, j] - base
        return float(np.maximum(d, 0.0, out=d).sum())

    def swap_terms(self, state: tuple, s: int, cand: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
        return K.swap_terms(self.blocks(), state, s, self.m, cand)

    @staticmethod
    def ties(gains: np.ndarray) -> np.ndarray:
        return gains

    @staticmethod
    def best_positions(state: tuple) -> np.ndarray | None:
        """Position in the offered set of each individual's best treatment."""
        return state[2]


def _block_state(block: np.ndarray, offered: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return K.best_two(K.row_blocks(block, CACHE_ELEMENTS), offered, block.shape[0])


def _block_total(state: tuple) -> float:
    return float(state[0].sum())


def _block_add_gains(block: np.ndarray, state: tuple | None, cand: np.ndarray) -> np.ndarray:
    base = None if state is None else state[0]
    return K.gains_over(K.row_blocks(block, CACHE_ELEMENTS), base, cand.size, cand)


def _block_swap_terms(block: np.ndarray, state: tuple, s: int, cand: np.ndarray | None) -> tuple:
    return K.swap_terms(K.row_blocks(block, CACHE_ELEMENTS), state, s, block.shape[1], cand)


class ChunkedSource:
    """A dask profit matrix: every pass is a map-reduce over its row blocks, with exact sums.

    The state of an offered set is persisted where each block lives; a pass ships back only
    ``O(|S| m)`` numbers per block. Computation is in float64 whatever the storage dtype.
    """

    chunked = True
    exact_sums = True

    def __init__(self, profit: Any) -> None:
        self.profit = profit
        self.n, self.m = (int(s) for s in profit.shape)
        self.row_blocks = dask_row_blocks(profit)

    def state(self, offered: np.ndarray) -> list:
        import dask

        offered = np.asarray(offered, dtype=np.intp)
        return list(dask.persist(*[delayed(_block_state)(blk, offered) for blk in self.row_blocks]))

    @staticmethod
    def total(state: list) -> float:
        return fsum_parts(compute_all([delayed(_block_total)(st) for st in state]))

    def baseline(self, base: list | None, offered: list[int]) -> list:
        return self.state(np.asarray(offered, dtype=np.intp))

    def start_baseline(self, offered: list[int]) -> list:
        return self.state(np.asarray(offered, dtype=np.intp))

    def add_gains(self, base: list | None, cand: np.ndarray) -> np.ndarray:
        cand = np.asarray(cand, dtype=np.intp)
        states = [None] * len(self.row_blocks) if base is None else base
        tasks = [delayed(_block_add_gains)(blk, st, cand) for blk, st in zip(self.row_blocks, states)]
        return fsum_parts(compute_all(tasks))

    def swap_terms(self, state: list, s: int, cand: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
        cand = None if cand is None else np.asarray(cand, dtype=np.intp)
        parts = compute_all([delayed(_block_swap_terms)(blk, st, s, cand) for blk, st in zip(self.row_blocks, state)])
        return tuple(fsum_parts([p[i] for p in parts]) for i in range(3))

    @staticmethod
    def ties(gains: np.ndarray) -> np.ndarray:
        return snap_ties(gains, np.isfinite(gains))

    @staticmethod
    def best_positions(state: list) -> None:
        return None  # stays with the blocks: the core assigns chunk by chunk


def as_source(profit: Any) -> InMemorySource | ChunkedSource:
    """The source of a profit matrix: chunked for a dask array, in memory otherwise."""
    return InMemorySource(profit) if isinstance(profit, np.ndarray) else ChunkedSource(profit)
