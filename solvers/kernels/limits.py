"""Tolerances and block sizes of the solvers, in one place.

**Tolerances.** A move (a swap, a Lloyd round, a relinking generation) improves when it
gains more than ``REL_TOL`` relative to the value it starts from; values within ``REL_TOL``
of the best are ties, and ties go to the lowest index. A claim read back from a solver (a
bound against an objective, a warm start against a model's incumbent) is checked to
``CLAIM_TOL``.

**Block sizes** are counted in float64 entries of the profit matrix.
"""

from __future__ import annotations

import numpy as np

#: Relative improvement below which a move counts as no progress; also the tie tolerance
#: (the core's budget price kernel compares with the same one).
from coarseopt.pricing import REL_TOL
#: Relative tolerance of a claim read from a solver (objective against bound, warm start).
CLAIM_TOL = 1e-9
#: Entries per row block of a swap pass: its temporaries stay in the CPU cache.
CACHE_ELEMENTS = 1 << 16
#: Entries per row block of a chunked Lagrangian pass (its per-row sorts amortize better).
BOUND_ELEMENTS = 1 << 19
#: Entries per row block of a column pass over an in-memory matrix (gains, bound, model data).
#: Its temporaries (8 MB) are served again by the allocator block after block; blocks of 16
#: million entries took a fresh allocation each, whose page faults cost more than the pass's
#: arithmetic (``python -m benchmarks.fine_grid --n 1000000``).
PASS_ELEMENTS = 1 << 20
#: Largest profit matrix (rows x columns) whose columns the swap descent sorts per row
#: (16 bytes per entry), to read only the entries it needs.
ORDER_ELEMENTS = 1 << 22
#: Largest sample (rows x columns) the chunked local search loads into memory.
IN_MEMORY_ELEMENTS = 1 << 26


def tol(value: float, rel: float = REL_TOL) -> float:
    """Smallest change taken as an improvement of ``value``: guards against rounding noise."""
    return rel * max(1.0, abs(value))


def improves(new: float, old: float, rel: float = REL_TOL) -> bool:
    """Whether ``new`` beats ``old`` by more than the tolerance."""
    return new > old + tol(old, rel)


def rows_per_block(m: int, elements: int) -> int:
    """Rows of ``m`` columns in a block of about ``elements`` entries (at least one)."""
    return max(1, elements // max(1, m))


def snap_ties(gains: np.ndarray, valid: np.ndarray, value: float = 0.0) -> np.ndarray:
    """``gains`` with every valid entry within the tie tolerance of the best valid entry set
    to that best value, so that ``argmax`` takes the lowest index among near-ties (rounding
    noise from the order of a sum must not decide)."""
    if not valid.any():
        return gains
    best = gains[valid].max()
    near = valid & (gains >= best - REL_TOL * max(1.0, abs(value), abs(best)))
    gains = gains.copy()
    gains[near] = best
    return gains
