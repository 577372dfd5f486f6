"""The kernel layer: the numeric building blocks every heuristic and bound is written with.

Nothing here knows about a solver, its options or its results; the solvers above import
these names and never each other's private ones.

:mod:`~coarseopt_solvers.kernels.limits`
    Tolerances (improvement, ties, claims) and block sizes, in one place.
:mod:`~coarseopt_solvers.kernels.blocks`
    Passes over row blocks of a profit matrix: gains over a baseline, best two offered
    values, each row's best offered value, swap terms, group and segment sums, the value of
    an offered set, each row's largest entries, greedy addition.
:mod:`~coarseopt_solvers.kernels.source`
    The profit source: one interface (``n``, ``m``, ``blocks``, ``map_reduce``) over an
    in-memory array or a chunked (dask) one, with exact, order-independent reductions.
:mod:`~coarseopt_solvers.kernels.checks`
    Checks of a warm-start offered set.
"""

from .blocks import (assign_best, best_offered, best_two, gains_over, gains_over_columns, group_sum, offered_value, row_blocks, segment_sums,
                     swap_terms, top_entries)
from .checks import check_offered, check_offered_option
from .limits import REL_TOL, improves, rows_per_block, snap_ties, tol
from coarseopt.parquet import read_profit_parquet

from .source import ChunkedSource, InMemorySource, as_source, fsum_parts, map_reduce

__all__ = [
    "REL_TOL", "tol", "improves", "snap_ties", "rows_per_block",
    "best_two", "best_offered", "gains_over", "gains_over_columns", "swap_terms", "group_sum", "segment_sums", "offered_value", "assign_best", "row_blocks",
    "top_entries",
    "check_offered", "check_offered_option",
    "InMemorySource", "ChunkedSource", "as_source", "fsum_parts", "map_reduce", "read_profit_parquet",
]
