"""Reader for OR-Library p-median instances (Beasley 1985)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .exceptions import ProblemError
from .problem import CoarseProblem

__all__ = ["read_pmed", "pmed_distances"]


def pmed_distances(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Shortest-path distance matrix and ``p`` of an OR-Library ``pmedN.txt`` file.

    Format: first line ``n_vertices n_edges p``, then ``i j cost`` per undirected edge
    (vertices numbered from 1). Distances start at 0 on the diagonal and infinity elsewhere;
    edges are read in order, a repeated edge taking its last listed cost; then all-pairs
    shortest paths.
    """
    from scipy.sparse.csgraph import shortest_path

    with open(path, encoding="ascii") as fh:
        tokens = fh.read().split()
    try:
        n, n_edges, p = (int(t) for t in tokens[:3])
        edges = np.array(tokens[3 : 3 + 3 * n_edges], dtype=np.float64).reshape(n_edges, 3)
    except (ValueError, IndexError):
        raise ProblemError(
            f"{os.fspath(path)!r} is not an OR-Library p-median file: expected 'n_vertices n_edges p' "
            "and then n_edges lines 'i j cost'."
        ) from None
    i = edges[:, 0].astype(np.intp) - 1
    j = edges[:, 1].astype(np.intp) - 1
    if i.min(initial=0) < 0 or max(i.max(initial=0), j.max(initial=0)) >= n or j.min(initial=0) < 0:
        raise ProblemError(f"{os.fspath(path)!r}: an edge names a vertex outside 1..{n}.")
    direct = np.full((n, n), np.inf)
    # A repeated edge (in either orientation) takes its last listed cost: keep, per
    # unordered pair, the last line that names it.
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    _, last = np.unique((lo * n + hi)[::-1], return_index=True)
    keep = edges.shape[0] - 1 - last
    direct[lo[keep], hi[keep]] = edges[keep, 2]
    direct[hi[keep], lo[keep]] = edges[keep, 2]
    np.fill_diagonal(direct, 0.0)
    dist = shortest_path(direct, method="D", directed=False)
    if not np.isfinite(dist).all():
        raise ProblemError(f"{os.fspath(path)!r}: the graph is not connected.")
    return dist, p


def read_pmed(path: str | os.PathLike[str], **problem_kwargs: Any) -> CoarseProblem:
    """An OR-Library p-median instance as a :class:`CoarseProblem`.

    ``profit = -distance`` (clients x sites, both all vertices) and ``k = p``, so
    ``-result.objective`` is the p-median cost.
    """
    dist, p = pmed_distances(path)
    return CoarseProblem(-dist, k=p, **problem_kwargs)
