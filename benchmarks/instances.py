"""Instance generators shared by the benchmarks (and by tests that need realistic data).

- :func:`smooth_profit`: profit curves over an ordered treatment grid (e.g. discount depth
  0..1), single-peaked per individual, the shape step 1 produces from smooth demand; with
  ``noise > 0`` i.i.d. Gaussian noise is added, as from a flexible CATE learner.
- :func:`beasley_pmed`: random p-median instances built the way OR-Library's were
  (Beasley 1985): a random connected graph with integer edge costs, shortest paths,
  every vertex a client and a site.
- :func:`orlib`: the bundled OR-Library instances pmed1-10 with their proven optima.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import coarseopt as co

DATA = Path(__file__).resolve().parent / "data"


def smooth_profit(n: int, m: int = 50, *, seed: int = 0, noise: float = 0.0, dtype=np.float64) -> np.ndarray:
    """``(n, m)`` single-peaked profit curves over the grid ``t = linspace(0, 1, m)``.

    Individual ``i`` has a preferred level ``c_i`` (a mixture of a few customer types plus
    individual spread), a scale ``a_i`` and a curvature ``b_i``; its incremental profit is
    ``a_i * (1 - ((t - c_i) / w_i)^2) - 0.2 * t`` (a concave bump less a cost that grows
    with the level), plus ``noise`` times standard normal noise. Generated in blocks so that
    ``n = 10**7`` fits in memory as float32.
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, m, dtype=np.float64)
    out = np.empty((n, m), dtype=dtype)
    types = np.array([0.1, 0.3, 0.55, 0.8])
    block = 250_000
    for start in range(0, n, block):
        size = min(block, n - start)
        c = types[rng.integers(0, types.size, size)] + rng.normal(0.0, 0.06, size)
        a = rng.lognormal(0.0, 0.5, size)
        w = rng.uniform(0.3, 0.8, size)
        curves = a[:, None] * (1.0 - ((t[None, :] - c[:, None]) / w[:, None]) ** 2) - 0.2 * t[None, :]
        if noise:
            curves += noise * rng.standard_normal(curves.shape)
        out[start : start + size] = curves
    return out


def beasley_pmed(n: int, p: int, *, seed: int = 0, edges_per_vertex: float = 2.0) -> tuple[co.CoarseProblem, np.ndarray]:
    """A random p-median instance in the style of OR-Library: returns ``(problem, distance)``.

    Vertices ``0..n-1``; a random spanning tree makes the graph connected, then random extra
    edges up to ``edges_per_vertex * n`` in all; integer costs uniform in 1..100; all-pairs
    shortest paths. ``profit = -distance`` and ``k = p``, as in :func:`coarseopt.read_pmed`.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    parents = order[rng.integers(0, np.arange(1, n))]
    i = list(order[1:])
    j = list(parents)
    extra = int(edges_per_vertex * n) - (n - 1)
    if extra > 0:
        a = rng.integers(0, n, extra)
        b = rng.integers(0, n, extra)
        keep = a != b
        i += list(a[keep])
        j += list(b[keep])
    cost = rng.integers(1, 101, len(i)).astype(float)
    g = coo_matrix((cost, (np.array(i), np.array(j))), shape=(n, n))
    dense = np.full((n, n), np.inf)
    np.minimum.at(dense, (g.row, g.col), g.data)
    dense = np.minimum(dense, dense.T)
    np.fill_diagonal(dense, 0.0)
    dist = shortest_path(dense, method="D", directed=False)
    return co.CoarseProblem(-dist, k=p), dist


def orlib(names: list[str] | None = None) -> list[tuple[str, co.CoarseProblem, float]]:
    """``(name, problem, optimal_cost)`` for the bundled OR-Library instances."""
    optima = {}
    for line in (DATA / "orlib" / "optima.txt").read_text().splitlines():
        if line.strip():
            name, value = line.split()
            optima[name] = float(value)
    names = names or sorted(optima, key=lambda s: int(s[4:]))
    return [(name, co.read_pmed(DATA / "orlib" / f"{name}.txt"), optima[name]) for name in names]
