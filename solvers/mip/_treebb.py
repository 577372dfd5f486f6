"""Branch and bound over treatments with Lagrangian bounds: the exact phase for few slots.

The search enumerates offered sets implicitly (Christofides & Beasley 1982; Beasley 1993).
A node fixes the treatments ``S`` it offers (each individual's best among them is ``M_i``)
and the candidates ``F`` still open; it has ``t`` slots left. Relaxing "each individual takes
exactly one treatment" with multipliers ``u`` gives, for every ``u``, the bound::

    L(u) = sum_i u_i + sum_i max(0, M_i - u_i) + (sum of the t largest rho_j(u), j in F),
    rho_j(u) = sum_i max(0, P_ij - u_i).

At ``u = M`` this is the classic submodular bound ``f(S) + (t largest marginal gains)``;
a few subgradient steps (Polyak steps, started from the parent's multipliers; more for a
node with more open slots) tighten it towards the node's LP bound. The steps aim at the
incumbent's value itself, below the prune threshold: aimed at the threshold they would
shrink to nothing as the bound approaches it, and the bound of an instance whose LP bound
is tight would never cross it.

With the node's best ``u`` and ``F`` sorted by ``rho`` descending, a candidate outside the
``t`` best is worth at most ``L_M(u) + rho[0] + ... + rho[t - 2] + rho_j`` (``L_M`` the
first two sums): those that cannot beat the incumbent leave the subtree (Lagrangian fixing
at every node). The children "offer ``F[c]``, never ``F[:c]``" have the bounds
``L_M(u) + rho[c] + ... + rho[c + t - 1]``, decreasing in ``c``: the loop over children
stops at the first one that cannot beat the incumbent. At one slot left the best child is
found exactly; a node with few completions left (few enough that valuing them all at once
costs less than its steps) values them all.

The root runs more steps, in stretches; after each, Lagrangian fixing, then the *Lagrangian
heuristic* (Beasley 1993): the ``t`` candidates of largest ``rho`` at the best multipliers,
improved by a swap descent (:func:`coarseopt_solvers.local_search.swap_local_search`). A
better incumbent lowers the threshold and the aim of the next stretch: when the LP bound is
tight (most OR-Library instances), the root alone then proves the optimum.

When profits are integers (after the solver's normalisation: multiples of a known
*granularity*), so is every objective, and a subtree whose bound is less than one unit
above the incumbent is pruned, as MIP solvers do with an integral objective.

Stopped at a deadline, the search still returns a valid bound: the largest bound among the
subtrees it had not finished (each pending sibling range is bounded by its first child).

References
----------
Christofides, N., & Beasley, J. E. (1982). A tree search algorithm for the p-median problem.
European Journal of Operational Research 10(2), 196-204.
Beasley, J. E. (1993). Lagrangean heuristics for location problems. European Journal of
Operational Research 65(3), 383-399.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..kernels.combinations import best_of_combinations
from ..local_search import swap_local_search

__all__ = ["TreeResult", "best_completion", "tree_search"]

#: Subgradient steps at the root; at another node ``NODE_ITERATIONS`` plus ``NODE_PER_SLOT``
#: per slot it leaves open (a node high in the tree bounds a larger subtree); the initial
#: step factor at the nodes.
ROOT_ITERATIONS = 200
NODE_ITERATIONS = 6
NODE_PER_SLOT = 2
NODE_LAM = 2.0
#: The root's steps run in stretches of this many, each followed by the Lagrangian heuristic;
#: its initial step factor, halved after this many steps without progress.
ROOT_STRETCH = 50
ROOT_LAM = 2.0
ROOT_PATIENCE = 20
#: Arrays up to this many entries take numpy's fast paths for small operands.
SMALL_ARRAY = 1 << 20
#: A node whose completions, valued all at once, cost at most this many elementwise maxima
#: (completions x slots x individuals) values them instead of branching or taking its
#: subgradient steps (each of which costs several passes over individuals x candidates).
ENUMERATE_WORK = 100_000


@dataclass
class TreeResult:
    """Outcome of :func:`tree_search`.

    ``offered`` is ``None`` when nothing beat the incumbent; ``bound`` is a valid upper
    bound on every offered set of the searched space (the incumbent's value or more when
    the search finished, the largest pending subtree bound when it did not).
    """

    offered: np.ndarray | None
    value: float
    bound: float
    finished: bool
    nodes: int


class _OutOfTime(Exception):
    pass


def _lagrangian(P, M, F, t, u, target, iterations, lam=1.0, patience=5, deadline=None, aim=None):
    """Subgradient descent on ``L(u)`` from ``u`` until ``L <= target``, with Polyak steps
    towards ``aim`` (default ``target``); the best ``(L, u, rho)`` seen, whether the
    deadline stopped it (every ``L(u)`` is a valid bound, so the best one still is) and the
    step factor reached (to continue the descent)."""
    best_L, best_u, best_rho = np.inf, u, None
    PF = P if F.size == P.shape[1] and np.array_equal(F, np.arange(F.size)) else P[:, F]
    n, f = PF.shape
    D = np.empty_like(PF)
    # numpy's maximum against an array of zeros is several times faster than against the
    # scalar 0.0 on small arrays (on large ones memory traffic dominates, and the zeros would
    # double it), and a product with a vector of ones beats a strided column sum
    zero = np.zeros_like(PF) if PF.size <= SMALL_ARRAY else 0.0
    ones_n, ones_t = np.ones(n), np.ones(min(t, f))
    offered = bool(np.isfinite(M).any())  # M = -inf where nothing is offered yet
    add = np.add.reduce  # the ufunc directly: at n = 100 the wrappers' overhead shows
    aim = target if aim is None or not math.isfinite(aim) else min(aim, target)
    stall = 0
    timed_out = False
    for it in range(iterations):
        if it and deadline is not None and time.perf_counter() > deadline:
            timed_out = True
            break
        np.subtract(PF, u[:, None], out=D)
        np.maximum(D, zero, out=D)
        rho = ones_n @ D
        top = np.argpartition(rho, f - t)[f - t:] if t < f else slice(None)
        L = float(add(u) + add(rho[top]))
        if offered:
            excess = np.maximum(M - u, 0.0)
            L += float(add(excess))
        if L < best_L - 1e-12 * max(1.0, abs(L)):
            best_L, best_u, best_rho = L, u, rho
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                lam *= 0.5
                stall = 0
                if lam < 1e-4:
                    break
        if best_L <= target:
            break
        # subgradient: 1 - [i takes an offered treatment] - [i takes each of the t best]
        g = 1.0 - np.sign(D[:, top]) @ ones_t
        if offered:
            g -= excess > 0.0
        gg = float(g @ g)
        if gg == 0.0:
            break
        u = u - lam * (L - aim) / gg * g
    return best_L, best_u, best_rho, timed_out, lam


def best_completion(P, M, F, t, out_of_time=None):
    """The best ``t`` candidates of ``F`` to add to an offered set whose best profit per
    individual is ``M`` (``-inf`` everywhere: nothing offered): ``(value, positions in F)``,
    every completion valued exactly, in batches (the first best in lexicographic order).
    ``None`` when ``out_of_time()``, checked between batches, says so."""
    n = P.shape[0]
    sub = np.maximum(P[:, F], M[:, None]) if np.isfinite(M).all() else np.asarray(P[:, F], dtype=np.float64)
    if t == 1:  # each candidate alone: no combinations to build
        values = sub.sum(axis=0)
        c = int(values.argmax())
        return float(values[c]), np.array([c], dtype=np.intp)

    def values(chunk: np.ndarray) -> np.ndarray:
        V = sub[:, chunk[:, 0]]  # the best of each completion, one slot at a time
        for q in range(1, t):
            np.maximum(V, sub[:, chunk[:, q]], out=V)
        return V.sum(axis=0)

    best_val, best_pos, _, stopped = best_of_combinations(F.size, t, max(1, 16_000_000 // max(1, n)), values,
                                                          out_of_time=out_of_time)
    return None if stopped else (best_val, best_pos)


def tree_search(profit: np.ndarray, slots: int, *, must: np.ndarray, free: np.ndarray,
                incumbent: float, granularity: float = 0.0, tol: float = 1e-9,
                deadline: float | None = None, max_nodes: int | None = None,
                u0: np.ndarray | None = None, root_iterations: int | None = None) -> TreeResult:
    """Best offered set ``must`` + ``slots`` treatments of ``free``, if it beats ``incumbent``.

    Parameters
    ----------
    profit : ndarray (n, m)
    slots : int
        Treatments to add to ``must``.
    must, free : ndarray of int
        Treatments always offered; candidates for the slots (disjoint).
    incumbent : float
        Value of the best offered set known; only better sets are searched for (``-inf``:
        none known; the ``slots`` columns of largest total profit then start the search).
    granularity : float, default 0
        When every objective is a multiple of it, subtrees less than one step above the
        incumbent are pruned.
    tol : float
        Relative tolerance of "better".
    deadline : float, optional
        ``time.perf_counter()`` value at which to stop.
    max_nodes : int, optional
        Stop after this many nodes.
    u0 : ndarray (n,), optional
        Starting multipliers at the root, e.g. each individual's profit under the incumbent
        (default: its best profit among ``must`` and ``free``).
    root_iterations : int, optional
        Subgradient steps at the root (default ``ROOT_ITERATIONS``).
    """
    must = np.asarray(must, dtype=np.intp)
    free = np.asarray(free, dtype=np.intp)
    search = _Tree(profit, incumbent, granularity, tol, deadline, max_nodes)
    n = profit.shape[0]
    M0 = profit[:, must].max(axis=1).astype(np.float64) if must.size else np.full(n, -np.inf)
    if not math.isfinite(search.value) and 0 < slots <= free.size:
        # no incumbent yet: the columns of largest total profit start the search (the steps
        # of the multipliers aim at an incumbent's value)
        base = np.maximum(profit[:, free], M0[:, None]) if must.size else profit[:, free]
        cols = free[np.sort(np.argsort(-base.sum(axis=0), kind="stable")[:slots])]
        search.value = float(np.maximum(M0, profit[:, cols].max(axis=1)).sum())
        search.set = [int(j) for j in cols]
    finished = True
    if slots <= 0 or free.size < slots:
        if slots <= 0:
            value = float(M0.sum())
            if value > search.value:
                search.value, search.set = value, []
        root_bound = search.value
    else:
        if u0 is None:
            u0 = np.maximum(M0, np.asarray(profit[:, free]).max(axis=1))
        u0 = np.asarray(u0, dtype=np.float64)
        try:
            search.node([], M0, free, slots, u0, ROOT_ITERATIONS if root_iterations is None else root_iterations)
        except _OutOfTime:
            finished = False
        if finished:
            root_bound = search.value
        else:  # the largest bound of the subtrees left open (none recorded: no bound)
            root_bound = max([search.value] + search.pending) if search.pending else np.inf
    offered = None
    if search.set is not None:
        offered = np.sort(np.concatenate([must, np.array(search.set, dtype=np.intp)]))
    return TreeResult(offered=offered, value=search.value, bound=float(root_bound), finished=finished,
                      nodes=search.nodes)


class _Tree:
    """The state of one :func:`tree_search`: the incumbent (``value``, ``set``: the treatments
    added to ``must``), the nodes visited and the bounds of the subtrees left open."""

    def __init__(self, profit: np.ndarray, incumbent: float, granularity: float, tol: float,
                 deadline: float | None, max_nodes: int | None) -> None:
        self.P, self.n = profit, profit.shape[0]
        self.value, self.set = float(incumbent), None
        self.granularity, self.tol, self.deadline, self.max_nodes = granularity, tol, deadline, max_nodes
        self.nodes = 0
        self.pending: list[float] = []

    def threshold(self) -> float:
        v = self.value
        if not np.isfinite(v):
            return -np.inf
        eps = self.tol * max(1.0, abs(v))
        return v + max(eps, self.granularity - eps) if self.granularity > 0 else v + eps

    def few_completions(self, f: int, t: int) -> bool:
        return math.comb(f, t) * t * self.n <= ENUMERATE_WORK

    def offer(self, S: list, value: float, cols) -> bool:
        """``S`` + ``cols`` worth ``value`` becomes the incumbent if it is better."""
        if value > self.value + self.tol * max(1.0, abs(self.value)):
            self.value, self.set = value, S + [int(j) for j in cols]
            return True
        return False

    def value_all(self, S, M, F, t) -> None:
        """Every completion of ``S`` by ``t`` candidates of ``F``, valued exactly."""
        value, pos = best_completion(self.P, M, F, t)
        self.offer(S, value, F[pos])

    def improve(self, S, M, F, t, top) -> bool:
        """Lagrangian heuristic (Beasley 1993): the ``t`` candidates of largest ``rho`` at good
        multipliers (positions ``top`` in ``F``), improved by a swap descent; whether it beat
        the incumbent."""
        P = self.P
        sub = P[:, F] if not np.isfinite(M).all() else np.maximum(P[:, F], M[:, None])
        local, _ = swap_local_search(sub, t, top, deadline=self.deadline)
        cols = F[np.asarray(local, dtype=np.intp)]
        return self.offer(S, float(np.maximum(M, P[:, cols].max(axis=1)).sum()), cols)

    def fix(self, M, F, t, u, rho):
        """``F`` sorted by ``rho`` (descending); a candidate ``j`` outside the ``t`` best is
        worth at most ``LM + rho[:t-1].sum() + rho_j``: those that cannot beat the incumbent
        leave the whole subtree (a suffix of ``F``). Returns the kept ``F``, their ``rho`` and
        ``LM``."""
        order = np.argsort(-rho, kind="stable")
        F, rho = F[order], rho[order]
        above = np.isfinite(M) & (M > u)
        LM = float(u.sum() + np.where(above, M - u, 0.0).sum())
        cut = LM + float(rho[: t - 1].sum()) + rho
        keep = t + int(np.count_nonzero(cut[t:] > self.threshold()))
        return F[:keep], rho[:keep], LM

    def root(self, S, M, F, t, u, iterations):
        """The root's steps in stretches; after each, Lagrangian fixing and the Lagrangian
        heuristic at the best multipliers (when their ``t`` best candidates changed); the next
        stretch aims at the possibly better incumbent."""
        L, rho, timed_out, lam, done, tried = np.inf, None, False, ROOT_LAM, 0, None
        while done < iterations:
            steps = min(ROOT_STRETCH, iterations - done)
            L1, u1, rho1, timed_out, lam = _lagrangian(self.P, M, F, t, u, self.threshold(), steps, lam=lam,
                                                       patience=ROOT_PATIENCE, deadline=self.deadline,
                                                       aim=self.value)
            done += steps
            if L1 < L:
                L, u, rho = L1, u1, rho1
            if L <= self.threshold() or rho is None or timed_out or lam < 1e-4:
                break
            # candidates that cannot be in a better set leave (cheaper steps below)
            F, rho, _ = self.fix(M, F, t, u, rho)
            if self.few_completions(F.size, t):
                break
            top = np.sort(F[:t])
            if tried is None or not np.array_equal(top, tried):
                tried = top
                self.improve(S, M, F, t, np.arange(t))
        return L, u, rho, timed_out, F

    def node(self, S, M, F, t, u, iterations) -> None:
        if (self.max_nodes is not None and self.nodes >= self.max_nodes) or (
                self.deadline is not None and time.perf_counter() > self.deadline):
            raise _OutOfTime
        self.nodes += 1
        if t == 1 or self.few_completions(F.size, t):  # one slot left: its best child, exactly
            self.value_all(S, M, F, t)
            return
        if not S:
            L, u, rho, timed_out, F = self.root(S, M, F, t, u, iterations)
        else:
            L, u, rho, timed_out, _ = _lagrangian(self.P, M, F, t, u, self.threshold(), iterations, lam=NODE_LAM,
                                                  patience=5, deadline=self.deadline, aim=self.value)
        if L <= self.threshold() or rho is None:
            return
        if timed_out:
            self.pending.append(L)  # this subtree's bound
            raise _OutOfTime
        F, rho, LM = self.fix(M, F, t, u, rho)
        if self.few_completions(F.size, t):
            # few completions left (often one: fixing kept exactly t candidates): value them all
            self.value_all(S, M, F, t)
            return
        window = np.convolve(rho, np.ones(t), mode="valid")  # window[c] = rho[c:c+t].sum()
        for c in range(F.size - t + 1):
            child_bound = LM + float(window[c])
            if child_bound <= self.threshold():
                break
            try:
                self.node(S + [int(F[c])], np.maximum(M, self.P[:, F[c]]), F[c + 1:], t - 1, u,
                          NODE_ITERATIONS + NODE_PER_SLOT * (t - 1))
            except _OutOfTime:
                self.pending.append(child_bound)
                raise
