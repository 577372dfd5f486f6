"""The transport step of the ``ot`` solver under segment-size bounds.

Given the offered treatments (atoms) ``S`` with bounds ``lo_j <= count_j <= hi_j``, the best
assignment is the transportation problem

.. math::

    \\max \\sum_{i, j \\in S} P_{ij} x_{ij} \\quad\\text{s.t.}\\quad \\sum_j x_{ij} = 1,\\;
    lo_j \\le \\sum_i x_{ij} \\le hi_j,\\; x \\ge 0,

whose vertices are integral (the constraint matrix is totally unimodular). Its dual has one
potential per atom: an optimal assignment is :math:`a(i) = \\arg\\max_j (P_{ij} - \\phi_j)`
(Laguerre / power cells of semi-discrete optimal transport), with :math:`\\phi_j > 0` only
where the upper bound binds and :math:`\\phi_j < 0` only where the lower bound binds
(Zhang & Misra, *Coarse Personalization*, arXiv 2204.05793; Peyré & Cuturi, *Computational
Optimal Transport*, 2019, ch. 5).

Three methods, all ending with the same exact *repair* (:func:`repair`):

``emd``
    POT's network simplex (``ot.emd``) on an ``(n + 1) x 2|S|`` balanced problem: each atom
    is split into a mandatory part of mass ``lo_j`` and an optional part of mass
    ``hi_j - lo_j``; a dummy source of mass ``sum_j hi_j - n`` may fill optional parts only.
    Exact; time grows about as ``n^2``.
``sinkhorn``
    Log-domain entropic transport (``ot.sinkhorn(..., method="sinkhorn_log")``, at most 300
    iterations) on the same problem, rounded to each individual's heaviest atom, then
    repaired (when the rounded counts miss the bounds by more than 1 % of ``n``, the
    ``dual`` assignment is repaired instead). Approximate before the repair.
``dual``
    Coordinate descent on the ``|S|`` potentials (each coordinate minimized exactly by an
    order statistic, O(n|S|) per sweep), then repaired.

:func:`repair` moves individuals along cheapest paths between atoms until every count lies
in its bounds, then cancels negative cycles of the residual graph on ``|S| + 1`` nodes (one
node per atom, one for the slack of the bounds; the cost of the arc ``j -> l`` is the
smallest profit lost by moving one individual of segment ``j`` to ``l``). No negative cycle
is the optimality condition of the transportation problem, so a repair that ends without
hitting its round limit returns an optimal assignment, whatever the starting one.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["bounded_transport", "repair"]

_TIE = 1e-12


def _arc_costs(sub: np.ndarray, pos: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """``cost[j, l]``: least profit lost moving one individual of segment j to atom l, and who."""
    n = sub.shape[0]
    own = sub[np.arange(n), pos]
    loss = own[:, None] - sub  # (n, s)
    cost = np.full((s, s), np.inf)
    who = np.full((s, s), -1, dtype=np.intp)
    order = np.argsort(pos, kind="stable")
    bounds = np.searchsorted(pos[order], np.arange(s + 1))
    for j in range(s):
        rows = order[bounds[j] : bounds[j + 1]]
        if rows.size == 0:
            continue
        block = loss[rows]
        arg = block.argmin(axis=0)
        cost[j] = block[arg, np.arange(s)]
        who[j] = rows[arg]
    np.fill_diagonal(cost, np.inf)
    return cost, who


def _bellman_ford(cost: np.ndarray, source: int | None = None):
    """Shortest paths (from ``source``, or from a virtual node linked to all) on a dense graph.

    Returns ``(dist, pred, cycle)`` where ``cycle`` is a list of nodes of a negative cycle
    (or None).
    """
    v = cost.shape[0]
    dist = np.zeros(v) if source is None else np.full(v, np.inf)
    if source is not None:
        dist[source] = 0.0
    pred = np.full(v, -1, dtype=np.intp)
    scale = max(1.0, float(np.abs(cost[np.isfinite(cost)]).max(initial=0.0)))
    eps = 1e-12 * scale
    last = -1
    for _ in range(v):
        cand = dist[:, None] + cost
        src = cand.argmin(axis=0)
        best = cand[src, np.arange(v)]
        better = best < dist - eps
        if not better.any():
            return dist, pred, None
        dist = np.where(better, best, dist)
        pred = np.where(better, src, pred)
        last = int(np.flatnonzero(better)[0])
    node = last  # walk back v steps to land inside the cycle
    for _ in range(v):
        node = int(pred[node])
    cycle = [node]
    cur = int(pred[node])
    while cur != node and len(cycle) <= v:
        cycle.append(cur)
        cur = int(pred[cur])
    cycle.reverse()
    return dist, pred, cycle


def repair(
    profit_sub: np.ndarray,
    pos: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    max_rounds: int | None = None,
) -> tuple[np.ndarray, bool]:
    """Make an assignment meet ``lo <= counts <= hi`` exactly, then optimal by cycle cancelling.

    Each round costs O(ns): the arc costs ``cost[j, l]`` (least profit lost moving one
    individual of segment ``j`` to atom ``l``) and a Bellman-Ford pass on ``s + 1`` nodes.
    While a bound is violated, one individual moves along the cheapest path from an
    over-full atom (or, when only minimums are violated, any atom above its minimum) to an
    atom that may grow; once feasible, negative cycles through the atoms and the slack node
    (arcs ``l -> slack`` where ``count_l < hi_l``, ``slack -> j`` where ``count_j > lo_j``)
    are cancelled one individual per arc until none is left.

    Parameters
    ----------
    profit_sub : ndarray of shape (n, s)
        Profit of each individual under each offered treatment.
    pos : ndarray of int, shape (n,)
        Starting assignment (positions ``0..s-1``).
    lo, hi : ndarray of int, shape (s,)
        Bounds on the segment sizes, with ``sum(lo) <= n <= sum(hi)``.
    max_rounds : int, optional
        Limit on the rounds (default ``50 + 4 n``).

    Returns
    -------
    pos : ndarray of int
        A feasible assignment (when the bounds are consistent).
    optimal : bool
        Whether the residual graph has no negative cycle (the assignment is optimal for the
        transportation problem); False only when ``max_rounds`` stopped the cancelling.
    """
    n, s = profit_sub.shape
    pos = np.asarray(pos, dtype=np.intp).copy()
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    if lo.sum() > n or hi.sum() < n:
        raise ValueError(
            f"segment bounds cannot hold {n} individuals: sum(lo) = {lo.sum()}, sum(hi) = {hi.sum()}."
        )
    counts = np.bincount(pos, minlength=s).astype(np.int64)
    limit = 50 + 4 * n if max_rounds is None else max_rounds
    z = s  # the slack node
    feasible_phase = True
    for _ in range(limit):
        over = np.flatnonzero(counts > hi)
        under = np.flatnonzero(counts < lo)
        cost, who = _arc_costs(profit_sub, pos, s)
        graph = np.full((s + 1, s + 1), np.inf)
        graph[:s, :s] = cost
        if over.size or under.size:
            sources = over if over.size else np.flatnonzero(counts > lo)
            targets = under if under.size else np.flatnonzero(counts < hi)
            graph[z, sources] = 0.0
            dist, pred, cycle = _bellman_ford(graph, source=z)
            if cycle is not None:  # improve first (keeps every count)
                _apply(cycle, graph, who, pos, counts, z)
                continue
            t = int(targets[np.argmin(dist[targets])])
            if not np.isfinite(dist[t]):
                raise RuntimeError("no path restores the segment bounds (inconsistent bounds)")
            path = [t]
            while path[-1] != z and len(path) <= s + 1:
                path.append(int(pred[path[-1]]))
            path.reverse()  # slack, source atom, ..., target atom
            for a, b in zip(path[1:-1], path[2:]):
                i = who[a, b]
                pos[i] = b
                counts[a] -= 1
                counts[b] += 1
            continue
        feasible_phase = False
        graph[np.flatnonzero(counts < hi), z] = 0.0  # atom l may grow: l -> slack
        graph[z, np.flatnonzero(counts > lo)] = 0.0  # atom j may shrink: slack -> j
        _, _, cycle = _bellman_ford(graph)
        if cycle is None or not _apply(cycle, graph, who, pos, counts, z):
            return pos, True
    if feasible_phase and ((counts > hi).any() or (counts < lo).any()):
        raise RuntimeError("the segment bounds could not be restored within the round limit")
    return pos, False


def _apply(cycle, graph, who, pos, counts, z) -> bool:
    """Move one individual along every atom-to-atom arc of a negative cycle."""
    arcs = list(zip(cycle, cycle[1:] + cycle[:1]))
    total = sum(graph[a, b] for a, b in arcs)
    finite = graph[np.isfinite(graph)]
    scale = max(1.0, float(np.abs(finite).max(initial=0.0)))
    if not total < -1e-12 * scale:
        return False
    for a, b in arcs:
        if a != z and b != z:
            i = who[a, b]
            pos[i] = b
            counts[a] -= 1
            counts[b] += 1
    return True


def _split_problem(sub: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Balanced ``(n + 1) x 2s`` problem: mandatory and optional part of each atom, dummy row."""
    n, s = sub.shape
    hi = np.minimum(hi, n)
    dummy = float(hi.sum() - n)
    a = np.concatenate([np.ones(n), [dummy]])
    b = np.concatenate([lo.astype(float), (hi - lo).astype(float)])
    cost = np.empty((n + 1, 2 * s))
    shifted = sub.max(axis=1, keepdims=True) - sub  # lost profit >= 0
    cost[:n, :s] = shifted
    cost[:n, s:] = shifted
    big = 10.0 * (1.0 + float(shifted.max()))
    cost[n, :s] = big  # the dummy never fills a mandatory part
    cost[n, s:] = 0.0
    keep = b > 0
    return a, b[keep], cost[:, keep], np.concatenate([np.arange(s), np.arange(s)])[keep]


def _emd(sub: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    import ot

    n = sub.shape[0]
    a, b, cost, atom = _split_problem(sub, lo, hi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = ot.emd(a, b, cost, numItermax=max(10**6, 200 * cost.size))
    s = sub.shape[1]
    mass = np.zeros((n, s))
    np.add.at(mass.T, atom, plan[:n].T)
    return mass.argmax(axis=1)


def _sinkhorn(sub: np.ndarray, lo: np.ndarray, hi: np.ndarray, reg: float) -> np.ndarray:
    import ot

    n = sub.shape[0]
    a, b, cost, atom = _split_problem(sub, lo, hi)
    scale = max(1e-300, float(cost[:n].max()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = ot.sinkhorn(a, b, cost / scale, reg, method="sinkhorn_log", numItermax=300, stopThr=1e-6)
    s = sub.shape[1]
    mass = np.zeros((n, s))
    np.add.at(mass.T, atom, np.asarray(plan)[:n].T)
    return mass.argmax(axis=1)


def _kth_largest_mid(delta: np.ndarray, c: int) -> float:
    """A value with exactly ``c`` entries of ``delta`` above it (up to ties)."""
    n = delta.size
    if c >= n:
        return float(delta.min()) - 1.0
    if c <= 0:
        return float(delta.max()) + 1.0
    part = np.partition(delta, (n - c - 1, n - c))
    return 0.5 * float(part[n - c - 1] + part[n - c])


def _dual(sub: np.ndarray, lo: np.ndarray, hi: np.ndarray, sweeps: int = 30) -> np.ndarray:
    """Coordinate descent on the atom potentials ``phi`` of the semi-discrete dual.

    The dual is ``min_phi sum_i max_j (P_ij - phi_j) + sum_j c_j(phi_j)`` with
    ``c_j(phi) = hi_j phi`` for ``phi >= 0`` and ``lo_j phi`` below; in ``phi_j`` alone it is
    minimized by ``0`` when the count at ``phi_j = 0`` lies in ``[lo_j, hi_j]``, else by the
    value that leaves exactly ``hi_j`` (or ``lo_j``) individuals preferring ``j``.
    """
    n, s = sub.shape
    phi = np.zeros(s)
    for _ in range(sweeps):
        changed = False
        for j in range(s):
            red = sub - phi
            red[:, j] = -np.inf
            delta = sub[:, j] - red.max(axis=1)  # i prefers j  <=>  phi_j < delta_i
            c0 = int((delta > 0).sum())
            if c0 > hi[j]:
                new = _kth_largest_mid(delta, int(hi[j]))
            elif c0 < lo[j]:
                new = _kth_largest_mid(delta, int(lo[j]))
            else:
                new = 0.0
            if abs(new - phi[j]) > 1e-12 * (1.0 + abs(phi[j])):
                phi[j] = new
                changed = True
        if not changed:
            break
    return (sub - phi).argmax(axis=1)


def bounded_transport(
    sub: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    method: str = "auto",
    reg: float = 1e-3,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """Best assignment of the rows of ``sub`` to its columns with counts in ``[lo, hi]``.

    Parameters
    ----------
    sub : ndarray of shape (n, s)
        Profit of each individual under each offered treatment.
    lo, hi : ndarray of int, shape (s,)
        Segment-size bounds, ``sum(lo) <= n <= sum(hi)``.
    method : {"auto", "emd", "sinkhorn", "dual"}
        ``auto``: ``emd`` up to 5,000 individuals, ``dual`` above.
    reg : float
        Entropic regularization of ``sinkhorn``, relative to the largest lost profit.
    start : ndarray of int, optional
        A starting assignment (positions) for ``dual`` (e.g. the previous round's).

    Returns
    -------
    pos : ndarray of int, shape (n,)
        Positions ``0..s-1``; the counts meet the bounds exactly.
    info : dict
        ``method`` used and ``optimal`` (whether optimality is certified by the repair).
    """
    n, s = sub.shape
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.minimum(np.asarray(hi, dtype=np.int64), n)
    if method == "auto":
        method = "emd" if n <= 5000 else "dual"
    if s == 1:
        return np.zeros(n, dtype=np.intp), {"method": method, "optimal": True}
    if method == "emd":
        pos = _emd(sub, lo, hi)
    elif method == "sinkhorn":
        pos = _sinkhorn(sub, lo, hi, reg)
        counts = np.bincount(pos, minlength=s)
        off = int(np.maximum(counts - hi, 0).sum() + np.maximum(lo - counts, 0).sum())
        if off > max(10, n // 100):  # too far for one-at-a-time repair moves: power cells
            pos = _dual(sub, lo, hi)
    elif method == "dual":
        pos = _dual(sub, lo, hi)
    else:
        raise ValueError(f"'method' must be one of 'auto', 'emd', 'sinkhorn', 'dual'; got {method!r}.")
    pos, optimal = repair(sub, pos, lo, hi)
    return pos, {"method": method, "optimal": optimal}
