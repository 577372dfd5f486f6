"""A profit matrix larger than memory, from Parquet: read partition by partition.

``coarseopt run`` writes ``profit.parquet`` and :meth:`coarseopt.LazyProfit.frame` writes
predictions of a dask DataFrame; :func:`read_profit_parquet` reads either back as a chunked
array that :class:`coarseopt.CoarseProblem` and the solvers take as it is.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["read_profit_parquet"]


def read_profit_parquet(path: Any, columns: Sequence[str] | None = None, *, dtype: Any = np.float64):
    """A chunked ``(n, m)`` profit matrix from a Parquet dataset (one row per individual, one
    column per treatment), read partition by partition with ``dask.dataframe``.

    Parameters
    ----------
    path : str or path-like
        A Parquet file or a directory of Parquet files.
    columns : sequence of str, optional
        The treatment columns, in order (default: every column).
    dtype : numpy dtype, default float64
        Storage dtype of the array (float32 halves memory traffic).

    Returns
    -------
    dask.array.Array
        Row chunks with known sizes (about the dataset's partitions); pass it to
        :class:`coarseopt.CoarseProblem`.
    """
    import dask.dataframe as dd

    frame = dd.read_parquet(path, columns=list(columns) if columns is not None else None)
    # Row counts from the array itself: with a column selection, dask may fuse partitions
    # when it counts them, so `lengths=True` can disagree with the array's own blocks.
    return frame.to_dask_array().compute_chunk_sizes().astype(dtype)
