"""``enumerate``: exact by exhaustive search over the offered sets.

Without share bounds ``f`` is monotone, so only sets of exactly ``min(k, m)`` treatments
need checking; ``f(S) = sum_i max_{j in S} P_ij`` is evaluated for a batch of sets at once
(an ``(n, batch, k)`` gather and a max). With share bounds every set of size 1..k is
checked with an exact transport LP (see ``_transport``). The exact oracle of the test bank;
use ``local-search``, ``ot`` or ``mip`` when ``C(m, k)`` is large.

With a budget each offered set's best assignment is a multiple-choice knapsack. A larger set
never does worse (the smaller set's assignment stays feasible), so the sets of exactly
``min(k, m)`` treatments are checked: each first by its Lagrangian price
(:func:`~coarseopt.pricing.price_assignment`, an assignment within the budget
and an upper bound on the set's value), and only a set whose upper bound beats the incumbent
by more than its own heuristic value is solved exactly, as a MIP
(:func:`~coarseopt_solvers._transport.budgeted_assignment`). The proven bound is the largest
upper bound over the sets. Limits: ``C(m, k) <= max_lp`` sets and ``n * k <= max_knapsack``
assignment variables per MIP; a budget with share bounds is refused (``mip`` and ``ot``
handle both).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from coarseopt.exceptions import UnsupportedProblemError
from coarseopt.solver import Option, Solution, Solver, check_int

from ._transport import bounded_assignment, budgeted_assignment
from .kernels.combinations import best_of_combinations
from .kernels.limits import improves
from coarseopt.pricing import price_assignment

__all__ = ["EnumerateSolver"]


class EnumerateSolver(Solver):
    """Exhaustive search: the proven optimum, for small ``C(m, k)``.

    Options
    -------
    max_work : int
        Refuse (with a clear error) when ``C(m, k) * n * k`` exceeds this number of
        element reads (``C(m, <=k)`` transport LPs on ``n`` rows with share bounds).
    """

    name = "enumerate"
    exact = True
    supports_shares = True
    supports_budget = True
    options = {
        "max_work": Option(2 * 10**9, check_int(1), "largest C(m, k) * n * k the search may take"),
        "max_lp": Option(20_000, check_int(1), "largest number of transport LPs (share bounds) or sets (budget)"),
        "max_knapsack": Option(20_000, check_int(1), "largest n * k of a set's knapsack MIP under a budget"),
    }

    def _solve(self, problem, context):
        n, m, k = problem.n, problem.m, problem.k_effective
        if problem.has_budget:
            return self._solve_budget(problem, context)
        if problem.has_share_bounds:
            return self._solve_bounded(problem, context)
        n_sets = math.comb(m, k)
        if n_sets * n * k > self.params["max_work"]:
            raise UnsupportedProblemError(
                f"enumerate would check C({m}, {k}) = {n_sets:,} offered sets on {n:,} individuals "
                f"(about {n_sets * n * k:.2g} reads, limit max_work = {self.params['max_work']:.2g}). "
                "Use solver='mip' for a proven optimum or 'local-search' / 'ot' for a fast answer."
            )
        profit = problem.profit
        batch = max(1, min(n_sets, 16_000_000 // max(1, n * k)))
        with context.bar(total=n_sets, desc="enumerate", unit="set") as bar:
            best_val, best_set, checked, _ = best_of_combinations(
                m, k, batch, lambda chunk: profit[:, chunk].max(axis=2).sum(axis=0),
                out_of_time=context.out_of_time, progress=bar.update)
        status = "optimal" if checked == n_sets else "time_limit"
        bound = best_val if status == "optimal" else None
        termination = "converged" if status == "optimal" else "time_limit"
        return Solution(offered=best_set, status=status, bound=bound, termination=termination,
                        extras={"sets_checked": checked, "sets_total": n_sets})

    def _solve_bounded(self, problem, context):
        n, m, k = problem.n, problem.m, problem.k_effective
        lo, hi = problem.min_count, problem.max_count
        usable = np.flatnonzero(lo <= hi)
        n_sets = sum(math.comb(usable.size, r) for r in range(1, k + 1))
        if n_sets > self.params["max_lp"]:
            raise UnsupportedProblemError(
                f"enumerate with share bounds would solve {n_sets:,} transport problems "
                f"(limit max_lp = {self.params['max_lp']:,}). Use solver='mip' or 'ot'."
            )
        best = None
        checked = 0
        for r in range(1, k + 1):
            for subset in itertools.combinations(usable, r):
                s = np.array(subset, dtype=np.intp)
                checked += 1
                if lo[s].sum() > n or hi[s].sum() < n:
                    continue
                out = bounded_assignment(problem.profit, s, lo[s], hi[s])
                # relative tolerance: an absolute one would hide real differences of tiny profits
                better = best is None or (out is not None and out[0] > best[0] + 1e-12 * max(abs(out[0]), abs(best[0])))
                if out is not None and better:
                    best = out
                if context.out_of_time():
                    break
        complete = checked == n_sets
        if best is None:
            if complete:
                return Solution(status="infeasible", termination="infeasible",
                                message="No offered set of at most k treatments can meet the share bounds.")
            return Solution(status="time_limit", termination="time_limit")
        if not complete:
            return Solution(assignment=best[1], status="time_limit", termination="time_limit")
        return Solution(assignment=best[1], status="optimal", bound=best[0],
                        extras={"sets_checked": checked})

    def _solve_budget(self, problem, context):
        n, m, k = problem.n, problem.m, problem.k_effective
        n_sets = math.comb(m, k)
        if problem.has_share_bounds:
            raise UnsupportedProblemError(
                "enumerate does not combine share bounds with a budget. Use solver='mip' (exact) or 'ot'."
            )
        if n_sets > self.params["max_lp"] or n * k > self.params["max_knapsack"]:
            raise UnsupportedProblemError(
                f"enumerate with a budget solves up to C({m}, {k}) = {n_sets:,} knapsack problems of {n:,} x {k} "
                f"assignment variables (limits: max_lp = {self.params['max_lp']:,} sets, max_knapsack = "
                f"{self.params['max_knapsack']:,} variables). Use solver='mip' for a proven optimum or 'ot' / "
                "'local-search' for a fast answer."
            )
        P, C, B = problem.profit, problem.cost, problem.budget
        best, upper, checked, solved = None, -np.inf, 0, 0
        for subset in itertools.combinations(range(m), k):
            if context.out_of_time():
                break
            s = np.array(subset, dtype=np.intp)
            checked += 1
            priced = price_assignment(P[:, s], C[:, s], B)
            if priced is None:  # even the cheapest columns of this set are over the budget
                continue
            value, pos, set_upper = priced.value, priced.pos, priced.upper
            incumbent = -np.inf if best is None else best[0]
            if improves(set_upper, max(incumbent, value), rel=1e-9):  # the heuristic may be short
                out = budgeted_assignment(P[:, s], C[:, s], B, time_limit=context.time_left())
                solved += 1
                if out is not None and out[1] >= value:
                    # proven: optimal to HiGHS's gap of 1e-9 (the convention of every exact claim here)
                    pos, value, set_upper = out[0], out[1], out[1] if out[3] else min(out[2], set_upper)
            upper = max(upper, set_upper)
            if best is None or value > best[0]:
                best = (value, s[pos])
        extras = {"sets_checked": checked, "sets_total": n_sets, "knapsack_mips": solved}
        if best is None:
            if checked == n_sets:
                return Solution(status="infeasible", termination="infeasible", extras=extras,
                                message=f"No offered set of k = {k} treatments can meet the budget.")
            return Solution(status="time_limit", termination="time_limit", extras=extras)
        if checked < n_sets:
            return Solution(assignment=best[1], status="time_limit", termination="time_limit", extras=extras)
        bound = max(upper, best[0])
        return Solution(assignment=best[1], status="feasible", bound=bound, extras=extras)
