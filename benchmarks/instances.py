"""Instance generators shared by the benchmarks (and by tests that need realistic data).

- :func:`smooth_profit`: profit curves over an ordered treatment grid (e.g. discount depth
  0..1), single-peaked per individual, the shape step 1 produces from smooth demand; with
  ``noise > 0`` i.i.d. Gaussian noise is added, as from a flexible CATE learner.
- :func:`beasley_pmed`: random p-median instances built the way OR-Library's were
  (Beasley 1985): a random connected graph with integer edge costs, shortest paths,
  every vertex a client and a site.
- :func:`orlib`: the bundled OR-Library instances pmed1-10 with their proven optima.
- :func:`euclidean_pmed`: Euclidean p-median instances in the plane, every point a client
  and a candidate, in the style of the TSPLIB-based instances of the p-median literature
  (uniform points, or points in clusters like the drilling and PCB layouts fl1400, u1060).
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


#: Layouts of :func:`euclidean_pmed`.
EUCLIDEAN_LAYOUTS = ("uniform", "clustered")


def euclidean_points(n_points: int, *, seed: int = 0, layout: str = "uniform") -> np.ndarray:
    """``(n_points, 2)`` points in the square ``[0, 10000]^2``, seeded.

    ``uniform``: independent uniform points. ``clustered``: a few dozen centres (uniform in
    the square); each point joins a centre drawn with Dirichlet weights (clusters of very
    unequal sizes) and lies around it with a Gaussian spread of its own per cluster (between
    1% and 6% of the side), 10% of the points uniform in the square as background: the
    look of TSPLIB's drilling and printed-circuit-board instances (fl1400, u1060, u1432).
    Integer coordinates, as in TSPLIB (ties in distance then occur, as there).
    """
    if layout not in EUCLIDEAN_LAYOUTS:
        raise ValueError(f"layout must be one of {EUCLIDEAN_LAYOUTS}; got {layout!r}")
    rng = np.random.default_rng(seed)
    side = 10_000.0
    if layout == "uniform":
        pts = rng.uniform(0.0, side, (n_points, 2))
    else:
        n_centres = int(rng.integers(20, 41))
        centres = rng.uniform(0.05 * side, 0.95 * side, (n_centres, 2))
        spread = rng.uniform(0.01, 0.06, n_centres) * side
        weights = rng.dirichlet(np.full(n_centres, 0.8))
        background = rng.random(n_points) < 0.10
        who = rng.choice(n_centres, size=n_points, p=weights)
        pts = centres[who] + spread[who, None] * rng.standard_normal((n_points, 2))
        pts[background] = rng.uniform(0.0, side, (int(background.sum()), 2))
        pts = np.clip(pts, 0.0, side)
    return np.rint(pts)


def euclidean_pmed(n_points: int, p: int, *, seed: int = 0,
                   layout: str = "uniform") -> tuple[co.CoarseProblem, np.ndarray]:
    """A Euclidean p-median instance: returns ``(problem, points)``.

    The points of :func:`euclidean_points`; every point is a client and a candidate site, so
    the profit matrix is ``n_points x n_points``: ``profit[i, j] = -||x_i - x_j||`` (Euclidean
    distance, not rounded) and ``k = p``.
    """
    pts = euclidean_points(n_points, seed=seed, layout=layout)
    diff = pts[:, None, :] - pts[None, :, :]
    dist = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    return co.CoarseProblem(-dist, k=p), pts
