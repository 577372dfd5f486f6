"""``local-search``: greedy construction, fast swap descent, multistart with path-relinking.

The problem is the p-median problem written as a maximization (clients = individuals,
sites = treatments):

.. math::

    \\max_{S \\subseteq \\{1..m\\},\\ |S| \\le k} f(S) = \\sum_i \\max_{j \\in S} P_{ij}.

**Swap evaluation** (Whitaker 1983; Resende & Werneck 2007). For the current offered set ``S``
keep, for every individual ``i``, its best offered value ``b1_i`` (reached at ``c1_i``) and its
second best ``b2_i`` (``-inf`` when ``|S| = 1``). With ``D_ij = P_ij - b1_i`` the change of
``f`` when treatment ``j`` enters and ``r`` leaves is

.. math::

    \\Delta(j, r) = \\underbrace{\\sum_i \\max(D_{ij}, 0)}_{G_j}
        + \\underbrace{\\sum_{i:\\, c1_i = r} \\max(\\min(D_{ij}, 0),\\ b2_i - b1_i)}_{E_{rj} \\le 0},

since an individual whose best treatment leaves moves to ``max(b2_i, P_ij)`` and every other
individual to ``max(b1_i, P_ij)``. ``G`` (``m`` numbers) and ``E`` (``|S| x m``, a group sum
over the individuals' best treatments) come out of one vectorised pass over the profit
matrix, in row blocks, so all ``|S| (m - |S|)`` swaps are evaluated in ``O(n m)`` time and
``O(n + |S| m)`` extra memory.

**Search.** Greedy addition builds a first set (``f`` is monotone submodular, so greedy is
within ``1 - 1/e`` of the optimum); swap descent (best or first improvement) ends in a local
optimum under swaps. The multistart phase follows Resende & Werneck's GRASP with
path-relinking for the p-median problem (2004): every further start is a *sample greedy*
construction (each step adds the best of ``ceil(log2(m / k))`` randomly sampled candidates),
improved by swap descent and then relinked with a random member of an elite pool: walking
from the better of the two solutions towards the other by the best exchange that brings in
a treatment of the guide, the best intermediate solution is improved by swap descent. After
the starts, elite solutions are relinked pairwise, generation after generation, while this
improves the best one (evolutionary path-relinking).

**Large n** (multilevel refinement). The multistart phase runs on a uniform random
subsample of individuals, so its cost does not grow with ``n``. Its best solutions are then
improved by swap descent on nested samples eight times larger each, and relinked with each
other while a sample is small (as many solutions as fit in ``10^7`` profit entries, at least
two); the last level is every individual. The answer is therefore always a local optimum
under swaps of the full problem (unless the time limit stops the search first).

References
----------
- Whitaker, R. (1983). A fast algorithm for the greedy interchange for large-scale clustering
  and median location problems. *INFOR* 21(2), 95-108.
- Resende, M. G. C. & Werneck, R. F. (2004). A hybrid heuristic for the p-median problem.
  *Journal of Heuristics* 10(1), 59-88.
- Resende, M. G. C. & Werneck, R. F. (2007). A fast swap-based local search procedure for
  location problems. *Annals of Operations Research* 150, 205-230.
- Zhang, W. & Misra, S. *Coarse Personalization*, arXiv 2204.05793 (the problem).
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import time
from typing import Any, Iterable, Iterator

import numpy as np

from coarseopt.exceptions import OptionError, ProblemError
from coarseopt.solver import Option, Solution, Solver, check_bool, check_choice, check_int, check_optional

__all__ = ["LocalSearchSolver", "swap_local_search"]

#: Floats per row block of a pass: temporaries of this size stay in the CPU cache.
_BLOCK_ELEMENTS = 1 << 16
#: Element reads allowed to the multistart phase: with the default options it runs on at
#: most ``_SAMPLE_ELEMENTS / m`` individuals (a random subsample when ``n`` is larger).
_SAMPLE_ELEMENTS = 250_000
#: Default number of constructions: on the whole problem, and on a subsample (which the
#: multilevel refinement then improves).
_DEFAULT_RESTARTS = 32
_DEFAULT_SAMPLE_RESTARTS = 16
#: Multilevel refinement for large ``n``: each sample is this many times the last, and this
#: many of the best solutions of a level are improved on the next.
_LEVEL_GROWTH = 8
_CARRY = 2
#: Each refinement level improves as many solutions as fit in this many profit entries
#: (at least ``_CARRY`` on a sample, at least the best one on every individual).
_LEVEL_ELEMENTS = 10_000_000
_MAX_GENERATIONS = 10


# ---------------------------------------------------------------------- the swap engine

def best_two(blocks: Iterable[tuple[int, np.ndarray]], offered: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best and second-best offered profit of each of ``n`` individuals, and the position in
    ``offered`` of its best treatment (ties: the first position), from ``(first_row, block)``
    row blocks of the profit matrix. The bookkeeping of fast interchange (Whitaker 1983)."""
    s = offered.size
    b1 = np.empty(n)
    b2 = np.full(n, -np.inf)
    pos = np.zeros(n, dtype=np.intp)
    for lo, blk in blocks:
        hi = lo + blk.shape[0]
        sub = blk[:, offered]  # a copy: marking the best below leaves the data untouched
        if s == 1:
            b1[lo:hi] = sub[:, 0]
            continue
        p = sub.argmax(axis=1)
        rows = np.arange(sub.shape[0])
        b1[lo:hi] = sub[rows, p]
        sub[rows, p] = -np.inf
        b2[lo:hi] = sub.max(axis=1)
        pos[lo:hi] = p
    return b1, b2, pos


def swap_terms(blocks: Iterable[tuple[int, np.ndarray]], state: tuple, s: int, m: int,
               cand: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """The per-block sums behind every swap's change of ``f`` (fast interchange).

    ``gain_add[t] = sum_i max(P_it - b1_i, 0)`` (what adding candidate ``t`` gains) and
    ``extra[r, t]``: for the individuals whose best is at position ``r``, the loss of removing
    it net of what ``t`` offers, ``max(min(P_it - b1_i, 0), b2_i - b1_i)``; ``Delta[r, t] =
    extra[r, t] + gain_add[t]``. ``excess = sum_i max(max_j P_ij - b1_i, 0)`` when every column
    is a candidate. ``state`` is :func:`best_two` of the offered set.
    """
    b1, b2, pos = state
    c = m if cand is None else cand.size
    gain_add = np.zeros(c)
    extra = np.zeros((s, c))
    excess = 0.0
    for lo, blk in blocks:
        hi = lo + blk.shape[0]
        sub = blk if cand is None else blk[:, cand]
        b1b = b1[lo:hi, None]
        d = sub - b1b
        if cand is None:
            excess += float(np.maximum(d.max(axis=1), 0.0).sum())
        gain_add += np.maximum(d, 0.0).sum(axis=0)
        np.minimum(d, 0.0, out=d)
        np.maximum(d, b2[lo:hi, None] - b1b, out=d)
        extra += _group_sum(pos[lo:hi], d, s)
    return gain_add, extra, excess

class _Engine:
    """Passes over a profit matrix (numpy, or dask chunk by chunk) in row blocks.

    Keeps counters of the passes and swaps it made, and the deadline (a
    ``time.perf_counter()`` value) the searches check between passes.
    """

    def __init__(self, profit: Any, deadline: float | None = None) -> None:
        self.profit = profit
        self.n, self.m = (int(s) for s in profit.shape)
        self.lazy = not isinstance(profit, np.ndarray)
        # One block for a small matrix (fewer calls); cache-sized blocks for a large one.
        small = self.n * self.m <= 4 * _BLOCK_ELEMENTS
        self.rows = self.n if small else max(1, _BLOCK_ELEMENTS // self.m)
        self.deadline = deadline
        self.passes = 0
        self.swaps = 0
        self.row_max_total: float | None = None  # sum_i max_j P_ij, once a full pass has seen it
        self.last_state: tuple | None = None  # state of the set the last descent returned

    def expired(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first_row, block)`` over the rows, each block a float64 array."""
        if not self.lazy:
            for lo in range(0, self.n, self.rows):
                yield lo, self.profit[lo : lo + self.rows]
            return
        lo = 0
        for b, size in enumerate(self.profit.chunks[0]):
            chunk = np.asarray(self.profit.blocks[b].compute(), dtype=np.float64)
            for start in range(0, size, self.rows):
                yield lo + start, chunk[start : start + self.rows]
            lo += size

    def column(self, j: int) -> np.ndarray:
        if not self.lazy:
            return self.profit[:, j]
        return np.asarray(self.profit[:, j].compute(), dtype=np.float64)

    # -- the state of an offered set: best and second-best offered value per individual
    def state(self, offered: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(b1, b2, pos)``: best and second-best offered profit of each individual and the
        position in ``offered`` of its best treatment (ties: the first position)."""
        return best_two(self.blocks(), offered, self.n)

    def add_gains(self, b1: np.ndarray | None, cand: np.ndarray) -> np.ndarray:
        """``G_j = sum_i max(P_ij - b1_i, 0)`` for the candidates (column sums if no set)."""
        full = cand.size == self.m
        out = np.zeros(cand.size)
        for lo, blk in self.blocks():
            sub = blk if full else blk[:, cand]
            if b1 is None:
                out += sub.sum(axis=0)
            else:
                d = sub - b1[lo : lo + blk.shape[0], None]
                np.maximum(d, 0.0, out=d)
                out += d.sum(axis=0)
        self.passes += 1
        return out

    def swap_gains(self, st: tuple, s: int, cand: np.ndarray | None = None) -> np.ndarray:
        """``Delta[r, t]``: change of ``f`` when candidate column ``cand[t]`` (every column
        if None) replaces the treatment at position ``r`` of the offered set."""
        gain_add, extra, excess = swap_terms(self.blocks(), st, s, self.m, cand)
        self.passes += 1
        if cand is None:
            self.row_max_total = float(st[0].sum()) + excess
        return extra + gain_add[None, :]

    # -- construction
    def greedy(self, k: int, start: np.ndarray | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Greedy addition up to ``k`` treatments from ``start``; with ``rng`` each step
        adds the best of ``ceil(log2(m / k))`` random candidates (Resende & Werneck's
        "sample" construction). Stops early (with at least one treatment) at the deadline."""
        offered = [] if start is None else [int(j) for j in start]
        b1 = None
        if offered:
            b1 = self.state(np.asarray(offered, dtype=np.intp))[0]
        sample = max(1, math.ceil(math.log2(max(self.m / k, 1.0))))
        while len(offered) < k:
            if offered and self.expired():
                break
            mask = np.ones(self.m, dtype=bool)
            mask[offered] = False
            cand = np.flatnonzero(mask)
            if rng is not None and sample < cand.size:
                cand = np.sort(rng.choice(cand, size=sample, replace=False))
            gains = self.add_gains(b1, cand)
            j = int(cand[int(gains.argmax())])
            offered.append(j)
            col = self.column(j)
            b1 = col.astype(np.float64, copy=True) if b1 is None else np.maximum(b1, col)
        return np.asarray(offered, dtype=np.intp)

    # -- descent
    def descend(
        self, offered: np.ndarray, improvement: str = "best", rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, float, bool]:
        """Swap descent from ``offered`` to a local optimum under swaps.

        Returns ``(offered, objective, converged)``; ``converged`` is False when the
        deadline stopped the descent first.
        """
        # Kept sorted, so that ties in the state go to the lowest column.
        offered = np.sort(np.asarray(offered, dtype=np.intp))
        s = offered.size
        st = self.state(offered)
        self.last_state = st
        value = float(st[0].sum())
        if s >= self.m:
            self.row_max_total = value
            return offered, value, True
        if improvement == "first":
            order = (rng or np.random.default_rng(0)).permutation(self.m)
            width = max(8, math.ceil(self.m / 4))
            groups = [np.sort(order[g : g + width]) for g in range(0, self.m, width)]
        else:
            groups = [None]
        quiet, g = 0, 0
        while quiet < len(groups):
            if self.expired():
                return offered, value, False
            cand = groups[g]
            gains = self.swap_gains(st, s, cand)
            cols = np.arange(self.m) if cand is None else cand
            gains[:, offered if cand is None else np.isin(cols, offered)] = -np.inf
            r, t = np.unravel_index(int(gains.argmax()), gains.shape)
            g = (g + 1) % len(groups)
            if gains[r, t] <= _tol(value):
                quiet += 1
                continue
            trial = offered.copy()
            trial[r] = cols[t]
            trial.sort()
            new_st = self.state(trial)
            new_value = float(new_st[0].sum())
            if new_value <= value:  # rounding: the predicted gain did not materialize
                quiet += 1
                continue
            offered, st, value = trial, new_st, new_value
            self.last_state = st
            self.swaps += 1
            quiet = 0
        return offered, value, True

    # -- path-relinking
    def relink(self, start: np.ndarray, guide: np.ndarray) -> np.ndarray | None:
        """Best solution strictly between ``start`` and ``guide`` on the greedy path that
        brings in, one exchange at a time, the treatments of ``guide``; None when the two
        differ in fewer than two treatments."""
        cur = np.array(start, dtype=np.intp)
        incoming = np.setdiff1d(guide, cur)
        if incoming.size < 2 or len(guide) != cur.size:
            return None
        best, best_value = None, -np.inf
        st = self.state(cur)
        while incoming.size > 1:
            if self.expired():
                break
            gains = self.swap_gains(st, cur.size, incoming)
            leaving = ~np.isin(cur, guide)
            gains[~leaving, :] = -np.inf
            r, t = np.unravel_index(int(gains.argmax()), gains.shape)
            cur = cur.copy()
            cur[r] = incoming[t]
            incoming = np.delete(incoming, t)
            st = self.state(cur)
            value = float(st[0].sum())
            if value > best_value:
                best, best_value = cur.copy(), value
        return best


def _group_sum(pos: np.ndarray, values: np.ndarray, s: int) -> np.ndarray:
    """``out[r] = values[pos == r].sum(axis=0)`` for ``r < s``."""
    if s == 1:
        return values.sum(axis=0)[None, :]
    if s <= 8 or s * pos.size <= 1 << 16:  # a (s, B) @ (B, c) product: cheapest for a few groups or rows
        onehot = (pos[None, :] == np.arange(s)[:, None]).astype(values.dtype)
        return onehot @ values
    from scipy.sparse import csr_matrix

    indptr = np.zeros(s + 1, dtype=np.intp)
    np.cumsum(np.bincount(pos, minlength=s), out=indptr[1:])
    members = np.argsort(pos, kind="stable")
    return csr_matrix((np.ones(pos.size), members, indptr), shape=(s, pos.size)) @ values


def _rows(profit: Any, rows: np.ndarray) -> np.ndarray:
    """The given rows of a numpy or dask profit matrix, as a contiguous float64 array."""
    sub = profit[rows]
    if not isinstance(sub, np.ndarray):
        sub = sub.compute()
    return np.ascontiguousarray(sub, dtype=np.float64)


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """One scan of the loaded libraries per process (a scan reads the process's memory map,
    about a millisecond: too much for every solve of a small problem)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None
    return ThreadpoolController()


def _one_blas_thread():
    """Limit BLAS to one thread: the small group-sum products of a pass gain nothing from
    threads, and multithreaded BLAS slows them down badly on a busy machine."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def _tol(value: float) -> float:
    """Smallest gain taken as an improvement: guards against cycling on rounding noise."""
    return 1e-12 * max(1.0, abs(value))


# ---------------------------------------------------------------------- the elite pool
class _ElitePool:
    """At most ``size`` distinct solutions; a newcomer better than the worst replaces the
    most similar of the solutions it beats (Resende & Werneck 2004, section 4.3)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sets: list[np.ndarray] = []
        self.values: list[float] = []

    def __len__(self) -> int:
        return len(self.sets)

    def add(self, offered: np.ndarray, value: float) -> bool:
        key = np.sort(offered)
        for other in self.sets:
            if np.array_equal(other, key):
                return False
        if len(self.sets) < self.size:
            self.sets.append(key)
            self.values.append(value)
            return True
        worse = [i for i, v in enumerate(self.values) if v < value]
        if not worse:
            return False
        diff = [np.setdiff1d(self.sets[i], key).size for i in worse]
        victim = worse[int(np.argmin(diff))]
        self.sets[victim], self.values[victim] = key, value
        return True

    def best(self) -> tuple[np.ndarray, float]:
        i = int(np.argmax(self.values))
        return self.sets[i], self.values[i]


# ---------------------------------------------------------------------- multistart
def _multistart(
    eng: _Engine,
    k: int,
    rng: np.random.Generator,
    *,
    restarts: int,
    improvement: str,
    path_relinking: bool,
    elite_size: int,
    init: np.ndarray | None,
) -> tuple[list[np.ndarray], dict]:
    """GRASP with path-relinking; returns the elite solutions, best first, and counters."""
    pool = _ElitePool(elite_size)
    stats = {"restarts": 0, "relinks": 0, "improvements": 0, "generations": 0}
    best_value = -np.inf

    def consider(offered: np.ndarray, value: float) -> None:
        nonlocal best_value
        if not np.isfinite(best_value):
            best_value = value
        elif value > best_value + _tol(best_value):
            stats["improvements"] += 1
            best_value = value
        pool.add(offered, value)

    def relink_pair(a: tuple[np.ndarray, float], b: tuple[np.ndarray, float]) -> tuple[np.ndarray, float] | None:
        start, guide = (a[0], b[0]) if a[1] >= b[1] else (b[0], a[0])
        mid = eng.relink(start, guide)
        stats["relinks"] += 1
        if mid is None:
            return None
        offered, value, _ = eng.descend(mid, improvement, rng)
        return offered, value

    for t in range(restarts):
        if t and eng.expired():
            break
        if t == 0:
            start = eng.greedy(k, init)
        else:
            start = eng.greedy(k, None, rng)
        offered, value, _ = eng.descend(start, improvement, rng)
        stats["restarts"] += 1
        if path_relinking and len(pool):
            i = int(rng.integers(len(pool)))
            out = relink_pair((offered, value), (pool.sets[i], pool.values[i]))
            if out is not None:
                consider(*out)
        consider(offered, value)

    if path_relinking:  # evolutionary path-relinking among the elite
        for _ in range(_MAX_GENERATIONS):
            if len(pool) < 2 or eng.expired():
                break
            before = max(pool.values)
            members = list(zip(pool.sets, pool.values))
            for i in range(len(members)):
                for j in range(i + 1, len(members)):
                    if eng.expired():
                        break
                    out = relink_pair(members[i], members[j])
                    if out is not None:
                        consider(*out)
            stats["generations"] += 1
            if max(pool.values) <= before + _tol(before):
                break
    order = np.argsort(pool.values, kind="stable")[::-1]
    stats["elite"] = [pool.values[i] for i in order]
    return [pool.sets[i] for i in order], stats


def _refine(eng: _Engine, solutions: list[np.ndarray], relink: bool) -> list[np.ndarray]:
    """Swap descent of each solution on ``eng``'s rows, then (if ``relink``) path-relinking
    between each pair of the results, from the better one; the distinct local optima, best
    first."""
    found: dict[tuple, float] = {}
    for offered in solutions:
        out, value, _ = eng.descend(offered, "best")
        found.setdefault(tuple(np.sort(out)), value)
    ranked = sorted(found, key=found.get, reverse=True) if relink else []
    for a in range(len(ranked)):
        for b in range(a + 1, len(ranked)):
            if eng.expired():
                break
            mid = eng.relink(np.array(ranked[a]), np.array(ranked[b]))
            if mid is not None:
                out, value, _ = eng.descend(mid, "best")
                found.setdefault(tuple(np.sort(out)), value)
    return [np.array(key) for key in sorted(found, key=found.get, reverse=True)]


# ---------------------------------------------------------------------- public function
def swap_local_search(
    profit: np.ndarray,
    k: int,
    offered: np.ndarray | None = None,
    *,
    rng: np.random.Generator | None = None,
    deadline: float | None = None,
    improvement: str = "best",
) -> tuple[np.ndarray, float]:
    """Greedy construction (when offered is None) + swap descent to a local optimum under swaps.

    Maximizes ``f(S) = sum_i max_{j in S} profit[i, j]`` over sets of at most ``k`` columns.
    Every swap of one offered column for one other column is evaluated in a single
    vectorised ``O(n m)`` pass (Whitaker 1983; Resende & Werneck 2007); the descent repeats
    the best (or, with ``improvement="first"``, the best within the next block of candidate
    columns) improving swap until none is left.

    Parameters
    ----------
    profit : ndarray of shape (n, m)
        Finite profits; larger is better.
    k : int
        At most ``k`` columns are offered (``min(k, m)`` are, ``f`` being monotone).
    offered : array-like of int, optional
        Starting set of column indices (at most ``k``); completed greedily to ``min(k, m)``
        columns. Default: greedy addition from the empty set.
    rng : numpy.random.Generator, optional
        Orders the candidate blocks of first-improvement descent.
    deadline : float, optional
        A ``time.perf_counter()`` value; the descent stops at the first pass after it.
    improvement : {"best", "first"}
        Take the best improving swap over all candidates, or over the next block of
        candidate columns.

    Returns
    -------
    offered : ndarray of int
        Sorted column indices.
    objective : float
        ``f(offered)``.

    Examples
    --------
    >>> import numpy as np
    >>> profit = np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]])
    >>> swap_local_search(profit, 1)
    (array([2]), 6.0)
    """
    profit = np.asarray(profit)
    if profit.ndim != 2 or profit.shape[0] < 1 or profit.shape[1] < 1:
        raise ProblemError(f"'profit' must be a non-empty 2-D array; got shape {profit.shape}.")
    profit = np.ascontiguousarray(profit, dtype=np.float64)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ProblemError(f"The 'k' parameter must be an int in the range [1, inf). Got {k!r} instead.")
    if improvement not in ("best", "first"):
        raise OptionError(f"'improvement' must be 'best' or 'first'; got {improvement!r}.")
    m = profit.shape[1]
    start = None if offered is None else _check_init(offered, m, int(k), "offered")
    eng = _Engine(profit, deadline)
    with _one_blas_thread():
        s = eng.greedy(min(int(k), m), start)
        best, value, _ = eng.descend(s, improvement, rng)
    return np.sort(best), value


def _check_init(init: Any, m: int, k: int, name: str = "init") -> np.ndarray:
    """Column indices of a warm start, checked against the problem."""
    arr = np.asarray(init)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise OptionError(f"{name!r} must be a sequence of column indices (ints); got {init!r}.")
    arr = arr.astype(np.intp)
    if arr.size and (arr.min() < 0 or arr.max() >= m):
        raise OptionError(f"{name!r} holds column indices outside [0, {m}): {arr.tolist()}.")
    if np.unique(arr).size != arr.size:
        raise OptionError(f"{name!r} must not repeat a column; got {arr.tolist()}.")
    if arr.size > k:
        raise OptionError(f"{name!r} offers {arr.size} treatments, more than k = {k}; give at most k.")
    return arr


def _check_init_option(value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError("must be a sequence of column indices (ints)")
    out = []
    for v in value:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError("must be a sequence of column indices (ints)")
        if v < 0:
            raise ValueError("must hold column indices >= 0")
        out.append(int(v))
    if len(set(out)) != len(out):
        raise ValueError("must not repeat a column")
    return tuple(out)


# ---------------------------------------------------------------------- the plugin
class LocalSearchSolver(Solver):
    """Greedy + fast swap descent + multistart with path-relinking (a heuristic).

    See the module docstring for the method and references. The returned offered set is a
    local optimum under swaps of the whole problem (status ``feasible``) unless the time
    limit stopped the search (status ``time_limit``). The reported bound is the profit of
    full personalization, ``sum_i max_j P_ij``: it proves optimality only when the offered
    set already gives every individual a best treatment.

    Options
    -------
    init : sequence of int, optional
        Warm start: column indices (at most ``k``) completed greedily; replaces the
        deterministic greedy start of the first run.
    improvement : {"best", "first"}
        Best improving swap over all candidates, or over the next of four blocks of
        candidate columns in random order.
    restarts : int, optional
        Number of constructions (1 = plain greedy + descent). Default 32 when the
        multistart sees every individual, 16 when it runs on a subsample.
    path_relinking : bool
        Relink every new local optimum with an elite solution and, at the end, the elite
        solutions with each other (Resende & Werneck 2004).
    elite_size : int
        Size of the elite pool.
    sample_size : int, optional
        Individuals the multistart phase works on (a uniform random subsample when ``n`` is
        larger). Default ``max(1000, 250_000 // m, 100 k)``, so the effort of the multistart
        does not grow with ``n``. Larger problems are then refined on nested samples eight
        times larger each (see the module docstring), the last one every individual.

    Examples
    --------
    >>> import numpy as np, coarseopt as co
    >>> profit = np.array([[10.0, 0.0, 6.0], [0.0, 10.0, 6.0]])
    >>> result = co.solve(co.CoarseProblem(profit, k=2), "local-search", seed=0)
    >>> result.offered.tolist(), result.objective, result.status
    ([0, 1], 20.0, 'optimal')

    Here greedy would first take the compromise column 2; one swap reaches ``{0, 1}``, which
    gives every individual its best treatment, so the bound proves optimality.
    """

    name = "local-search"
    exact = False
    supports_shares = False
    supports_lazy = True
    options = {
        "init": Option(None, check_optional(_check_init_option), "warm-start offered set (column indices)"),
        "improvement": Option("best", check_choice("best", "first"), "swap rule: best or first improvement"),
        "restarts": Option(None, check_optional(check_int(1)), "number of constructions (default 32, or 16 on a subsample)"),
        "path_relinking": Option(True, check_bool, "relink local optima with elite solutions"),
        "elite_size": Option(10, check_int(1), "size of the elite pool"),
        "sample_size": Option(None, check_optional(check_int(1)), "individuals used by the multistart phase"),
    }

    def _solve(self, problem, context):
        if problem.is_lazy:  # dask profit: map-reduce passes over the row blocks, same draws
            from ._chunked import solve_local_search
            return solve_local_search(problem, context, self.params)
        with _one_blas_thread():
            return self._search(problem, context)

    def _search(self, problem, context):
        p = self.params
        n, m, k = problem.n, problem.m, problem.k_effective
        init = None if p["init"] is None else _check_init(np.asarray(p["init"], dtype=np.intp), m, problem.k)
        rng = context.rng
        deadline = context.deadline
        sample = p["sample_size"] or max(1000, _SAMPLE_ELEMENTS // m, 100 * k)
        restarts = p["restarts"]
        if restarts is None:
            restarts = _DEFAULT_RESTARTS if n <= sample else _DEFAULT_SAMPLE_RESTARTS
        full = _Engine(problem.profit, deadline)
        extras: dict[str, Any] = {"sample_size": min(n, sample)}
        if k >= m:
            starts = [np.arange(m, dtype=np.intp)]
            search_stats: dict = {"restarts": 0, "relinks": 0, "improvements": 0, "generations": 0}
        else:
            # Nested uniform subsamples, each _LEVEL_GROWTH times the last, the full data last.
            sizes = [sample]
            while sizes[-1] < n:
                sizes.append(min(n, sizes[-1] * _LEVEL_GROWTH))
            perm = rng.permutation(n) if len(sizes) > 1 else None
            engines = [full if size >= n else _Engine(_rows(problem.profit, np.sort(perm[:size])), deadline)
                       for size in sizes]
            ranked, search_stats = _multistart(
                engines[0], k, rng, restarts=restarts, improvement=p["improvement"],
                path_relinking=p["path_relinking"], elite_size=p["elite_size"], init=init,
            )
            # Multilevel refinement: the best few solutions of a level are improved on the
            # next, larger sample (and relinked with each other while the sample is small);
            # the best of the last sample go on to every individual.
            for eng in engines[1:-1]:
                cheap = eng.n * m <= _LEVEL_ELEMENTS
                ranked = _refine(eng, ranked[: max(_CARRY, _LEVEL_ELEMENTS // (eng.n * m))], cheap)
            # Every individual: the best few again while passes are cheap, else the best one.
            starts = ranked[: max(1, _LEVEL_ELEMENTS // (n * m))] if len(engines) > 1 else ranked[:1]
            if len(starts) > 1:
                starts = _refine(full, starts, True)[:1]
            if len(engines) > 1:
                extras["levels"] = sizes
                extras["sample_passes"] = sum(e.passes for e in engines[:-1])
                extras["sample_swaps"] = sum(e.swaps for e in engines[:-1])
        before = full.swaps
        offered, value, converged, best_state = None, -np.inf, True, None
        for start in starts:
            out, out_value, out_converged = full.descend(start, "best")
            converged = converged and out_converged
            if out_value > value:
                offered, value, best_state = out, out_value, full.last_state
        # Each individual's best offered treatment (ties: the lowest column), from the state
        # the descent already holds: no further pass over the data.
        assignment = offered[best_state[2]]
        extras.update(search_stats)
        extras.update(passes=full.passes, swaps=full.swaps, final_swaps=full.swaps - before,
                      local_optimum=converged)
        bound = full.row_max_total
        if bound is not None and bound < value:  # rounding in the block sums
            bound = value
        if converged:
            return Solution(offered=offered, assignment=assignment, status="feasible", bound=bound,
                            termination="converged", extras=extras)
        return Solution(offered=offered, assignment=assignment, status="time_limit", bound=bound, termination="time_limit",
                        message="Stopped by the time limit before reaching a local optimum under swaps.",
                        extras=extras)
