"""A bank of tiny coarse personalization problems with optima checked by hand.

Every case is small enough that its optimum is worked out in the comment next to it,
without running any solver. Each case also carries ``treatments`` (levels), ``features`` and
``arms`` (every column, so that the ``grid-search`` baseline searches the same sets), so that
every registered solver, feature-based baselines included, can run on it.

``f(S) = sum_i max_{j in S} P[i, j]`` throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import coarseopt as co

__all__ = ["Case", "CASES", "SHARE_CASES", "ALL_CASES", "make_problem"]


@dataclass(frozen=True)
class Case:
    """A hand-checked instance: ``optimum`` is the best achievable objective."""

    name: str
    profit: list
    k: int
    optimum: float
    min_share: Any = None
    max_share: Any = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def shares(self) -> bool:
        return self.min_share is not None or self.max_share is not None


def make_problem(case: Case) -> co.CoarseProblem:
    """The case as a problem with treatments, features and arms filled in."""
    profit = np.asarray(case.profit, dtype=float)
    n, m = profit.shape
    # Two features: the row's position and the column of its best treatment (so k-means
    # on features finds meaningful segments); finite even for one row.
    features = np.column_stack([np.arange(n, dtype=float), profit.argmax(axis=1).astype(float)])
    return co.CoarseProblem(
        profit,
        case.k,
        treatments=np.arange(m, dtype=float),
        features=features,
        arms=list(range(m)),
        min_share=case.min_share,
        max_share=case.max_share,
    )


P3 = [[3, 0, 2], [0, 3, 2], [1, 1, 2]]
P6 = [
    [9, 1, 0, 5, 2],
    [8, 0, 1, 6, 2],
    [0, 9, 1, 4, 3],
    [1, 8, 0, 5, 3],
    [0, 0, 9, 4, 7],
    [1, 1, 8, 5, 7],
]

CASES = [
    # Column sums 4, 4, 6: the compromise column 2 wins alone.
    Case("compromise-k1", P3, 1, 6.0),
    # Every pair gives 7: {0,1}: 3+3+1, {0,2}: 3+2+2, {1,2}: 2+3+2 (a three-way tie).
    Case("tied-pairs-k2", P3, 2, 7.0),
    # Greedy takes column 2 (sum 12) then reaches 16; the optimum drops it: {0,1} gives 10+10.
    Case("greedy-trap-k2", [[10, 0, 6], [0, 10, 6]], 2, 20.0),
    # k = 1 on the same rows: column sums 10, 10, 12.
    Case("greedy-trap-k1", [[10, 0, 6], [0, 10, 6]], 1, 12.0),
    # Column sums 19, 19, 19, 29, 24: column 3 alone.
    Case("three-groups-k1", P6, 1, 29.0),
    # All ten pairs by hand: {0,1} 35, {0,2} 36, {0,3} 35, {0,4} 37, {1,2} 36, {1,3} 37,
    # {1,4} 35, {2,3} 37, {2,4} 27, {3,4} 34: the best is 37 (three ties).
    Case("three-groups-k2", P6, 2, 37.0),
    # {0,1,2} gives every row its maximum: 9+8+9+8+9+8 = 51 = sum of row maxima.
    Case("three-groups-k3", P6, 3, 51.0),
    # k >= m: full personalization, row maxima 5 + 4 + 0.
    Case("k-above-m", [[1, 5], [4, 2], [0, -1]], 3, 9.0),
    # k = m: the same.
    Case("k-equals-m", [[1, 5], [4, 2], [0, -1]], 2, 9.0),
    # One individual: its best column (7, tied between columns 1 and 3).
    Case("one-row", [[2, 7, -1, 7]], 1, 7.0),
    # One treatment: everyone gets it, 1 - 2 + 3.5 (k = 2 > m = 1).
    Case("one-column", [[1], [-2], [3.5]], 2, 2.5),
    # All profits negative; column sums -11, -11, -8.
    Case("negative-k1", [[-5, -1, -3], [-2, -6, -4], [-4, -4, -1]], 1, -8.0),
    # Pairs: {0,1}: -1-2-4 = -7, {0,2}: -3-2-1 = -6, {1,2}: -1-4-1 = -6.
    Case("negative-k2", [[-5, -1, -3], [-2, -6, -4], [-4, -4, -1]], 2, -6.0),
    # Every entry equal: any set gives 4 x 1.
    Case("all-equal", [[1, 1, 1]] * 4, 2, 4.0),
    # Duplicate columns 0 and 2: offering both is no better than one; {0,1} gives 4+5+4 = 13.
    Case("duplicate-columns", [[4, 0, 4], [1, 5, 1], [4, 2, 4]], 2, 13.0),
    # Large magnitudes with a small difference: {1} sums to 2e9 + 1, {0} to 2e9.
    Case("large-magnitude", [[1e9, 1e9 + 1], [1e9, 1e9]], 1, 2e9 + 1),
]

SHARE_CASES = [
    # n = 4, min_share 0.5: an offered treatment serves at least 2 individuals. Unbounded
    # {0,1} would give 3+2+1+1 = 7 with counts (3, 1), infeasible. {0} alone: 3+2+1+0 = 6;
    # {0,1} with counts (2, 2): rows 2 and 3 to column 1, 3+2+0+1 = 6; {1} alone: 1.
    Case("min-share-binding", [[3, 0], [2, 0], [1, 0], [0, 1]], 2, 6.0, min_share=0.5),
    # n = 4, max_share 0.5: at most 2 per treatment. Rows 0, 1 to column 0 (4+3) and rows
    # 2, 3 to column 2 (1+1) = 9; {0,1} gives at most 7, {1,2} at most 4.
    Case("max-share-binding", [[4, 0, 1], [3, 0, 1], [2, 0, 1], [1, 0, 1]], 2, 9.0, max_share=0.5),
    # n = 3, k = 3, max_share 0.5: at most 1 each, so all three columns, one row each. Of
    # the six permutations the best is r0->0, r1->2, r2->1: 5 + 0 + 2 = 7.
    Case("max-share-permutation", [[5, 1, 0], [4, 1, 0], [3, 2, 0]], 3, 7.0, max_share=0.5),
    # Column 1 needs ceil(0.5 * 3) = 2 rows if offered: {0} alone gives 10; {0,1} with two
    # rows on column 1 gives 5 + 0 + 2 = 7. The bound makes offering column 1 unprofitable.
    Case("min-share-per-treatment", [[5, 0], [5, 0], [0, 2]], 2, 10.0, min_share=[0.0, 0.5]),
    # Shares that do not bind: min 0.25 of 4 rows = 1 row; unbounded {0,1}: 3+3+2+2 = 10
    # with counts (2, 2).
    Case("shares-slack", [[3, 0], [3, 0], [0, 2], [0, 2]], 2, 10.0, min_share=0.25, max_share=1.0),
]

ALL_CASES = CASES + SHARE_CASES
