"""The swap engine and the search driver of ``local-search``, over any profit source.

The engine evaluates every swap of an offered treatment for another one in a single pass
over the profit (fast interchange: Whitaker 1983; Resende & Werneck 2007; the terms are in
:mod:`coarseopt_solvers.kernels.blocks`). On top of it: greedy addition (plain, or Resende &
Werneck's *sample* construction), swap descent (best or first improvement), path-relinking,
the GRASP multistart with an elite pool and evolutionary path-relinking (Resende & Werneck
2004), and the multilevel refinement on nested samples of individuals. The same code runs
on an in-memory source and on a chunked one; only where a pass runs differs.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from coarseopt.solver import Solution
from coarseopt.threads import single_threaded

from ..kernels.blocks import ONEHOT_GROUPS
from ..kernels.greedy import greedy_add
from ..kernels.limits import IN_MEMORY_ELEMENTS, improves, tol
from ..kernels.source import ChunkedSource, InMemorySource, as_source
from ..kernels.tableau import SwapTableau

#: Element reads allowed to the multistart phase: with the default options it runs on at
#: most ``SAMPLE_ELEMENTS / m`` individuals (a random subsample when ``n`` is larger).
SAMPLE_ELEMENTS = 250_000
#: Default number of constructions: on the whole problem, and on a subsample (which the
#: multilevel refinement then improves).
DEFAULT_RESTARTS = 32
DEFAULT_SAMPLE_RESTARTS = 16
#: With the default ``sample_size``, the multistart sees every individual unless ``n`` is more
#: than this many times the sample: a subsample of more than half of the individuals saves
#: less than half of the time, and its answers are worse (e.g. on Euclidean instances of
#: 1,400 points, p = 10, the default sample of 1,000).
FULL_SAMPLE_RATIO = 2
#: Multilevel refinement for large ``n``: each sample is this many times the last, and this
#: many of the best solutions of a level are improved on the next.
LEVEL_GROWTH = 8
CARRY = 2
#: Each refinement level improves as many solutions as fit in this many profit entries
#: (at least ``CARRY`` on a sample, at least the best one on every individual).
LEVEL_ELEMENTS = 10_000_000
MAX_GENERATIONS = 10
#: Profit entries above which (with more than 8 offered treatments) a swap updates the swap
#: terms of the affected individuals instead of a full pass.
TABLEAU_MIN_ELEMENTS = 1 << 15


class SwapEngine:
    """Greedy addition, swap descent and path-relinking over a profit source.

    Keeps counters of the passes and swaps it made, and the deadline (a
    ``time.perf_counter()`` value) the searches check between passes.
    """

    def __init__(self, source: InMemorySource | ChunkedSource, deadline: float | None = None) -> None:
        self.source = source
        self.n, self.m = source.n, source.m
        self.deadline = deadline
        self.passes = 0
        self.swaps = 0
        self.row_max_total: float | None = None  # sum_i max_j P_ij, once a full pass has seen it
        self.last_state: Any = None  # state of the set the last descent returned
        # best-improvement descents from relinking paths, by start set: the paths of different
        # pairs often end at the same set, and the descent from it is deterministic
        self.relinked: dict[tuple, tuple[np.ndarray, float]] = {}

    def expired(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def swap_gains(self, st: Any, s: int, cand: np.ndarray | None = None) -> np.ndarray:
        """``Delta[r, t]``: change of ``f`` when candidate column ``cand[t]`` (every column
        if None) replaces the treatment at position ``r`` of the offered set."""
        gain_add, extra, excess = self.source.swap_terms(st, s, cand)
        self.passes += 1
        if cand is None:
            self.row_max_total = self.source.total(st) + excess
        return extra + gain_add[None, :]

    def greedy(self, k: int, start: np.ndarray | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Greedy addition up to ``k`` treatments from ``start``; with ``rng`` each step
        adds the best of ``ceil(log2(m / k))`` random candidates (Resende & Werneck's
        "sample" construction). Stops early (with at least one treatment) at the deadline."""
        start = () if start is None else [int(j) for j in start]
        size = max(1, math.ceil(math.log2(max(self.m / k, 1.0))))

        def sample(cand: np.ndarray) -> np.ndarray:
            return np.sort(rng.choice(cand, size=size, replace=False)) if size < cand.size else cand

        offered = greedy_add(self.source, k, start=start, sample=None if rng is None else sample,
                             expired=self.expired, lazy=not self.source.chunked and k > ONEHOT_GROUPS)
        self.passes += len(offered) - len(start)
        return np.asarray(offered, dtype=np.intp)

    def descend(
        self, offered: np.ndarray, improvement: str = "best", rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, float, bool]:
        """Swap descent from ``offered`` to a local optimum under swaps.

        Returns ``(offered, objective, converged)``; ``converged`` is False when the
        deadline stopped the descent first.
        """
        src = self.source
        # Kept sorted, so that ties in the state go to the lowest column.
        offered = np.sort(np.asarray(offered, dtype=np.intp))
        s = offered.size
        st = src.state(offered)
        self.last_state = st
        value = src.total(st)
        if s >= self.m:
            self.row_max_total = value
            return offered, value, True
        if improvement == "best" and self._tableau(s):
            return self._descend_tableau(offered, value)
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
            gains = src.ties(gains)
            r, t = np.unravel_index(int(gains.argmax()), gains.shape)
            g = (g + 1) % len(groups)
            if gains[r, t] <= tol(value):
                quiet += 1
                continue
            trial = offered.copy()
            trial[r] = cols[t]
            trial.sort()
            new_st = src.state(trial)
            new_value = src.total(new_st)
            if new_value <= value:  # rounding: the predicted gain did not materialize
                quiet += 1
                continue
            offered, st, value = trial, new_st, new_value
            self.last_state = st
            self.swaps += 1
            quiet = 0
        return offered, value, True

    def _tableau(self, s: int) -> bool:
        """Whether swaps update the terms incrementally (:meth:`_descend_tableau`): in memory,
        for more than ``ONEHOT_GROUPS`` offered treatments (with fewer, a swap affects most
        individuals) and more than ``TABLEAU_MIN_ELEMENTS`` entries (below, a full pass costs
        less than the bookkeeping)."""
        return not self.source.chunked and s > ONEHOT_GROUPS and self.n * self.m > TABLEAU_MIN_ELEMENTS

    def _descend_tableau(self, offered: np.ndarray, value: float) -> tuple[np.ndarray, float, bool]:
        """Best-improvement swap descent, the swap terms updated for the affected
        individuals only after each swap (:class:`~..kernels.tableau.SwapTableau`)."""
        src = self.source
        # the per-row column order pays off over many swaps (sorting costs about k log m of
        # them): built once the engine has made 4 k swaps, kept by the source after that
        order = src.column_order(build=self.swaps >= 4 * offered.size)
        tab = SwapTableau(src.profit, offered, src.blocks, order=order)
        self.passes += 1
        self.row_max_total = value + tab.excess
        converged = True
        while True:
            if self.expired():
                converged = False
                break
            r, t, gain = tab.best()
            if gain <= tol(value):
                break
            tab.swap(r, t)
            new_value = tab.total()
            if new_value <= value:  # rounding: the predicted gain did not materialize
                break
            offered, value = tab.offered.copy(), new_value
            self.swaps += 1
            self.passes += 1
        self.last_state = tab.state()
        return offered, value, converged

    def relink(self, start: np.ndarray, guide: np.ndarray) -> np.ndarray | None:
        """Best solution strictly between ``start`` and ``guide`` on the greedy path that
        brings in, one exchange at a time, the treatments of ``guide``; None when the two
        differ in fewer than two treatments."""
        src = self.source
        cur = np.array(start, dtype=np.intp)
        incoming = np.setdiff1d(guide, cur)
        if incoming.size < 2 or len(guide) != cur.size:
            return None
        best, best_value = None, -np.inf
        tab = SwapTableau(src.profit, cur, src.blocks, cols=incoming) if self._tableau(cur.size) else None
        st = src.state(cur) if tab is None else None
        while incoming.size > 1:
            if self.expired():
                break
            if tab is None:
                gains = self.swap_gains(st, cur.size, incoming)
            else:  # the tableau's rows follow the sorted set, ``cur`` keeps its own order
                gains = tab.deltas()[np.searchsorted(tab.offered, cur)][:, np.isin(tab.cols, incoming)]
                self.passes += 1
            leaving = ~np.isin(cur, guide)
            gains[~leaving, :] = -np.inf
            gains = src.ties(gains)
            r, t = np.unravel_index(int(gains.argmax()), gains.shape)
            if tab is not None:
                tab.swap(int(np.searchsorted(tab.offered, cur[r])), int(incoming[t]))
            cur = cur.copy()
            cur[r] = incoming[t]
            incoming = np.delete(incoming, t)
            if tab is None:
                st = src.state(cur)
            value = src.total(st) if tab is None else tab.total()
            if value > best_value:
                best, best_value = cur.copy(), value
        return best


def one_blas_thread():
    """Limit BLAS to one thread: the small group-sum products of a pass gain nothing from
    threads, and multithreaded BLAS slows them down badly on a busy machine."""
    return single_threaded("blas")


class ElitePool:
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


def multistart(
    eng: SwapEngine,
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
    pool = ElitePool(elite_size)
    stats = {"restarts": 0, "relinks": 0, "improvements": 0, "generations": 0}
    best_value = -np.inf

    def consider(offered: np.ndarray, value: float) -> None:
        nonlocal best_value
        if not np.isfinite(best_value):
            best_value = value
        elif improves(value, best_value):
            stats["improvements"] += 1
            best_value = value
        pool.add(offered, value)

    def relink_pair(a: tuple[np.ndarray, float], b: tuple[np.ndarray, float]) -> None:
        stats["relinks"] += 1
        got = relink_and_descend(eng, a, b, improvement, rng)
        if got is not None:
            consider(*got)

    for t in range(restarts):
        if t and eng.expired():
            break
        start = eng.greedy(k, init) if t == 0 else eng.greedy(k, None, rng)
        offered, value, _ = eng.descend(start, improvement, rng)
        stats["restarts"] += 1
        if path_relinking and len(pool):
            i = int(rng.integers(len(pool)))
            relink_pair((offered, value), (pool.sets[i], pool.values[i]))
        consider(offered, value)

    if path_relinking:
        stats["generations"] = evolve(eng, pool, relink_pair)
    order = np.argsort(pool.values, kind="stable")[::-1]
    stats["elite"] = [pool.values[i] for i in order]
    return [pool.sets[i] for i in order], stats


def relink_and_descend(
    eng: SwapEngine, a: tuple[np.ndarray, float], b: tuple[np.ndarray, float], improvement: str = "best",
    rng: np.random.Generator | None = None, both: bool = True,
) -> tuple[np.ndarray, float] | None:
    """Relink two ``(set, value)`` solutions in both directions, each towards the other (or,
    with ``both=False``, from the better one only), and descend from the best set of each
    path: the better ``(offered, value)``, or None when the two are too close. (From the
    better solution only, ``local-search`` ended 0.22 % below the optimum on the uniform
    Euclidean instance of 1,400 points with p = 50, 0.04 % with both: ``benchmarks.euclidean``.)"""
    out = None
    pairs = ((a[0], b[0]), (b[0], a[0])) if both else ((a[0], b[0]) if a[1] >= b[1] else (b[0], a[0]),)
    for start, guide in pairs:
        mid = eng.relink(start, guide)
        if mid is None:
            return None
        key = tuple(np.sort(mid).tolist())
        got = eng.relinked.get(key) if improvement == "best" else None
        if got is None:
            offered, value, converged = eng.descend(mid, improvement, rng)
            got = (offered, value)
            if improvement == "best" and converged:
                eng.relinked[key] = got
        if out is None or got[1] > out[1]:
            out = got
    return out


def evolve(eng: SwapEngine, pool: ElitePool, relink_pair: Any, generations: int = MAX_GENERATIONS) -> int:
    """Evolutionary path-relinking (Resende & Werneck 2004, sec. 4.4): every pair of the
    elite is relinked by ``relink_pair(a, b)`` (which offers its result to ``pool``),
    generation after generation while the best value improves; the generations run. A pair
    relinked in an earlier generation is not relinked again (the relinking is deterministic
    and symmetric: it would give the same set)."""
    done = 0
    seen: set[tuple] = set()
    for _ in range(generations):
        if len(pool) < 2 or eng.expired():
            break
        before = max(pool.values)
        members = list(zip(pool.sets, pool.values))
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                if eng.expired():
                    break
                pair = tuple(sorted((tuple(members[i][0].tolist()), tuple(members[j][0].tolist()))))
                if pair in seen:
                    continue
                seen.add(pair)
                relink_pair(members[i], members[j])
        done += 1
        if not improves(max(pool.values), before):
            break
    return done


def refine(eng: SwapEngine, solutions: list[np.ndarray], relink: bool) -> list[np.ndarray]:
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
            got = relink_and_descend(eng, (np.array(ranked[a]), found[ranked[a]]),
                                     (np.array(ranked[b]), found[ranked[b]]))
            if got is not None:
                found.setdefault(tuple(np.sort(got[0])), got[1])
    return [np.array(key) for key in sorted(found, key=found.get, reverse=True)]


def _level_source(profit: Any, rows: np.ndarray | None, chunked: bool) -> InMemorySource | ChunkedSource:
    """A source on the selected rows (None: every row): in memory unless chunked data are too
    large to load."""
    n, m = (int(s) for s in profit.shape)
    size = n if rows is None else rows.size
    sub = profit if rows is None else profit[rows]
    if chunked and size * m > IN_MEMORY_ELEMENTS:
        return ChunkedSource(sub)
    if chunked:
        sub = sub.compute()
    return InMemorySource(np.ascontiguousarray(sub, dtype=np.float64))


def search(problem: Any, context: Any, p: dict, init: np.ndarray | None) -> Solution:
    """Multistart on a sample of individuals, multilevel refinement, final descent on all.

    The multistart (:func:`multistart`) runs on a uniform random subsample of at most
    ``sample_size`` individuals; its best solutions are improved on nested samples
    ``LEVEL_GROWTH`` times larger each (:func:`refine`), the last one every individual. A
    sample of chunked data is loaded into memory when it holds at most
    ``IN_MEMORY_ELEMENTS`` entries; passes over every individual run where the data live.
    """
    n, m, k = problem.n, problem.m, problem.k_effective
    rng = context.rng
    deadline = context.deadline
    sample = p["sample_size"] or max(1000, SAMPLE_ELEMENTS // m, 100 * k)
    if p["sample_size"] is None and n <= FULL_SAMPLE_RATIO * sample:
        sample = n
    restarts = p["restarts"]
    if restarts is None:
        restarts = DEFAULT_RESTARTS if n <= sample else DEFAULT_SAMPLE_RESTARTS
    full = SwapEngine(as_source(problem.profit), deadline)
    chunked = full.source.chunked
    extras: dict[str, Any] = {"sample_size": min(n, sample)}
    if chunked:
        extras["chunks"] = len(full.source.row_blocks)
    if k >= m:
        starts = [np.arange(m, dtype=np.intp)]
        search_stats: dict = {"restarts": 0, "relinks": 0, "improvements": 0, "generations": 0}
    else:
        # Nested uniform subsamples, each LEVEL_GROWTH times the last, the full data last.
        sizes = [sample]
        while sizes[-1] < n:
            sizes.append(min(n, sizes[-1] * LEVEL_GROWTH))
        perm = rng.permutation(n) if len(sizes) > 1 else None
        engines = [
            full if size >= n and (i > 0 or not chunked)
            else SwapEngine(_level_source(problem.profit, None if size >= n else np.sort(perm[:size]), chunked),
                            deadline)
            for i, size in enumerate(sizes)
        ]
        ranked, search_stats = multistart(
            engines[0], k, rng, restarts=restarts, improvement=p["improvement"],
            path_relinking=p["path_relinking"], elite_size=p["elite_size"], init=init,
        )
        # Multilevel refinement: the best few solutions of a level are improved on the
        # next, larger sample (and relinked with each other while the sample is small);
        # the best of the last sample go on to every individual.
        for eng in engines[1:-1]:
            cheap = eng.n * m <= LEVEL_ELEMENTS
            ranked = refine(eng, ranked[: max(CARRY, LEVEL_ELEMENTS // (eng.n * m))], cheap)
        # Every individual: the best few again while passes are cheap, else the best one.
        starts = ranked[: max(1, LEVEL_ELEMENTS // (n * m))] if len(engines) > 1 else ranked[:1]
        if len(starts) > 1:
            starts = refine(full, starts, True)[:1]
        if len(engines) > 1:
            extras["levels"] = sizes
            extras["sample_passes"] = sum(e.passes for e in engines[:-1])
            extras["sample_swaps"] = sum(e.swaps for e in engines[:-1])
    return _finish(full, starts, search_stats, extras)


def _finish(full: SwapEngine, starts: list[np.ndarray], search_stats: dict, extras: dict) -> Solution:
    """The final descent on every individual from each start; the best as a Solution."""
    before = full.swaps
    offered, value, converged, best_state = None, -np.inf, True, None
    for start in starts:
        out, out_value, out_converged = full.descend(start, "best")
        converged = converged and out_converged
        if out_value > value:
            offered, value, best_state = out, out_value, full.last_state
    # Each individual's best offered treatment (ties: the lowest column), from the state
    # the descent already holds: no further pass over the data (chunked: left to the core).
    pos = full.source.best_positions(best_state)
    assignment = None if pos is None else offered[pos]
    extras.update(search_stats)
    extras.update(passes=full.passes, swaps=full.swaps, final_swaps=full.swaps - before, local_optimum=converged)
    bound = full.row_max_total
    if bound is not None and bound < value:  # rounding in the block sums
        bound = value
    if converged:
        return Solution(offered=offered, assignment=assignment, status="feasible", bound=bound,
                        termination="converged", extras=extras)
    return Solution(offered=offered, assignment=assignment, status="time_limit", bound=bound,
                    termination="time_limit",
                    message="Stopped by the time limit before reaching a local optimum under swaps.", extras=extras)
