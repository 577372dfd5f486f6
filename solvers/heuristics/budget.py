"""A budget in the heuristics: search offered sets under a Lagrangian price, assign by knapsack.

With a price :math:`\\lambda \\ge 0` on the budget the problem becomes the plain coarse
personalization problem on the *priced* profit :math:`P - \\lambda c` (plus the constant
:math:`\\lambda B`): the heuristics (``ot``'s Lloyd rounds and swaps, ``local-search``'s swap
descent) search offered sets on it unchanged. Each set found is then assigned within the
budget (:func:`~coarseopt.pricing.price_assignment`: the smallest price whose
priced assignment fits, then the improvement step), and the best budgeted value is kept.

The price is searched as the dual of the budget: :math:`g(\\lambda) = \\max_S f_\\lambda(S) +
\\lambda B` is convex with slope ``B - spend``, the spend of the priced assignment of the best
set at :math:`\\lambda`. So: the heuristic at price 0 (the unbudgeted answer; when it fits the
budget does not bind and the search ends), then prices doubled until the heuristic's set
spends within the budget under its price, then bisection on that bracket (the set's spend
against ``B`` decides the side) until it is narrow or :data:`MAX_ROUNDS` runs are done.
Every run after the first starts from the best set so far, with a quarter of the restarts.
The answer never claims optimality (a bound may prove it).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from coarseopt.solver import Solution, SolveContext

from .._transport import budgeted_assignment
from ..kernels.limits import improves, tol
from ..kernels.source import InMemorySource
from coarseopt.pricing import PricedAssignment, first_price, price_assignment, priced_positions

__all__ = ["BudgetedSet", "priced_problem", "assign_within_budget", "budgeted_search", "solve_with_budget",
           "budget_extras", "no_budgeted_set"]

#: Most runs of the heuristic (one per price tried).
MAX_ROUNDS = 10
#: Relative width of the price bracket at which the search stops.
PRICE_TOL = 1e-3
#: The budgeted swap descent: at most this many budgeted evaluations per move, and moves.
DESCENT_EVALS = 16
DESCENT_MOVES = 100


@dataclass
class BudgetedSet:
    """The best offered set found under the budget, with its assignment and price."""

    offered: np.ndarray
    assignment: np.ndarray
    value: float
    spend: float
    price: float
    rounds: list = field(default_factory=list)
    lagrangian_bounds: list = field(default_factory=list)  # (price, bound of the unpriced search)


def priced_problem(problem: Any, price: float) -> Any:
    """The problem without its budget, on the priced profit ``P - price * cost`` (share bounds
    kept); no data is copied when ``price == 0``."""
    view = object.__new__(type(problem))
    view.__dict__.update(problem.__dict__)
    if price:
        priced = problem.profit - price * problem.cost
        priced.setflags(write=False)
        view.profit = priced
    view.cost = view.cost_per_treatment = view.budget = view.min_spend = None
    return view


def assign_within_budget(problem: Any, offered: np.ndarray, time_limit: float | None = None) -> PricedAssignment | None:
    """The budgeted assignment of one offered set (None: no assignment to it fits). With share
    bounds too, the exact knapsack-with-counts MIP (:func:`~coarseopt_solvers._transport.budgeted_assignment`)."""
    offered = np.asarray(offered, dtype=np.intp)
    Ps, Cs = problem.profit[:, offered], problem.cost[:, offered]
    if not problem.has_share_bounds:
        return price_assignment(Ps, Cs, problem.budget)
    lo, hi = problem.min_count[offered], np.minimum(problem.max_count[offered], problem.n)
    if lo.sum() > problem.n or hi.sum() < problem.n:
        return None
    out = budgeted_assignment(Ps, Cs, problem.budget, lo, hi, time_limit=time_limit)
    if out is None:
        return None
    pos, value, upper, _ = out
    spend = float(np.take_along_axis(Cs, pos[:, None], axis=1).sum())
    priced = price_assignment(Ps, Cs, problem.budget)  # the price of the set without the counts
    return PricedAssignment(pos, 0.0 if priced is None else priced.price, value, spend, upper)


def budgeted_search(problem: Any, context: SolveContext, search: Callable[[Any, SolveContext, Any], Any],
                    deadline: float | None) -> tuple[BudgetedSet | None, bool]:
    """The search over the budget's price (module docstring).

    ``search(view, sub_context, init)`` runs the unbudgeted heuristic on a priced view of the
    problem from the offered set ``init`` (None: its own starts) and returns its
    :class:`~coarseopt.solver.Solution`. Rounds share the time left before ``deadline``.

    Returns the best :class:`BudgetedSet` (None when no set found fits) and whether the
    deadline cut the search short.
    """
    run = _Rounds(problem, context, search, deadline)
    if run.at(0.0) <= 0 or run.timed_out:  # the budget does not bind on the unbudgeted answer
        return run.finish()
    lo, hi = 0.0, first_price(problem.profit, problem.cost)
    set_lo = run.last
    while run.at(hi) > 0 and not run.timed_out and len(run.rounds) < MAX_ROUNDS:  # bracket the price
        lo, hi, set_lo = hi, 2.0 * hi, run.last
    set_hi = run.last
    # bisection, until the bracket is narrow or the same set lies on both of its sides
    while not run.timed_out and len(run.rounds) < MAX_ROUNDS and hi - lo > PRICE_TOL * hi and set_lo != set_hi:
        mid = 0.5 * (lo + hi)
        if run.at(mid) > 0:
            lo, set_lo = mid, run.last
        else:
            hi, set_hi = mid, run.last
    return run.finish()


class _Rounds:
    """The heuristic run at given prices; every set found is assigned within the budget and the
    best kept."""

    def __init__(self, problem: Any, context: SolveContext, search: Callable, deadline: float | None) -> None:
        self.problem, self.context, self.search, self.deadline = problem, context, search, deadline
        self.best: BudgetedSet | None = None
        self.rounds: list[dict] = []
        self.bounds: list[tuple[float, float]] = []
        self.sets: dict[tuple, Any] = {}
        self.last: tuple | None = None  # the set of the last run
        self.timed_out = False

    def _left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.perf_counter()

    def at(self, price: float) -> float:
        """Run the search at ``price``; the excess of its priced assignment's spend over the
        budget (positive: price higher)."""
        problem = self.problem
        left = self._left()
        if self.rounds and left <= 0:
            self.timed_out = True
            return 0.0
        share = None if not math.isfinite(left) else max(left / max(2, MAX_ROUNDS - len(self.rounds)), 0.01)
        view = priced_problem(problem, price)
        init = None if self.best is None else self.best.offered
        sol = self.search(view, SolveContext(share, self.context.seed, False), init)
        if sol.offered is None:
            self.timed_out = True
            return 0.0
        if sol.bound is not None:
            self.bounds.append((price, float(sol.bound) + price * problem.budget))
        offered = np.unique(np.asarray(sol.offered, dtype=np.intp))
        key = tuple(offered.tolist())
        if key not in self.sets:
            self.sets[key] = got = assign_within_budget(problem, offered, None if not math.isfinite(left) else max(left, 0.01))
            if got is not None and (self.best is None or got.value > self.best.value):
                self.best = BudgetedSet(offered, offered[got.pos], got.value, got.spend, got.price)
        got, self.last = self.sets[key], key
        pos = priced_positions(view.profit[:, offered], problem.cost[:, offered], 0.0)[0]
        excess = float(np.take_along_axis(problem.cost[:, offered], pos[:, None], axis=1).sum()) - problem.budget
        self.rounds.append({"price": price, "offered": list(key), "value": None if got is None else got.value,
                            "excess": excess})
        return excess

    def finish(self) -> tuple[BudgetedSet | None, bool]:
        if self.best is None and not self.timed_out:  # no set found fits: the offered set of least spend
            view = priced_problem(self.problem, 0.0)
            view.profit = -self.problem.cost
            left = self._left()
            sol = self.search(view, SolveContext(None if not math.isfinite(left) else max(left, 0.01),
                                                 self.context.seed, False), None)
            offered = np.unique(np.asarray(sol.offered, dtype=np.intp))
            got = assign_within_budget(self.problem, offered)
            self.rounds.append({"price": math.inf, "offered": offered.tolist(), "value": None if got is None else got.value})
            if got is not None:
                self.best = BudgetedSet(offered, offered[got.pos], got.value, got.spend, got.price)
        if self.best is not None:
            self.best.rounds, self.best.lagrangian_bounds = self.rounds, self.bounds
        return self.best, self.timed_out


def budget_descent(problem: Any, best: BudgetedSet, deadline: float | None, max_evals: int = DESCENT_EVALS,
                   max_moves: int = DESCENT_MOVES) -> tuple[BudgetedSet, int]:
    """Swap descent of an offered set under the budget, its moves screened under the priced profit.

    At the set's price :math:`\\lambda_S` the value ``V(S)`` of its budgeted assignment is at most
    :math:`U(S) = f_{\\lambda_S}(S) + \\lambda_S B`, and a swap to ``S'`` can only beat it if
    :math:`f_{\\lambda_S}(S') + \\lambda_S B > V(S)`, i.e. its priced swap gain (one fast-interchange
    pass over ``P - lambda_S c``) exceeds ``V(S) - U(S)``. The swaps passing that screen are
    assigned within the budget in decreasing order of priced gain (at most ``max_evals`` per move)
    and the first that improves ``V`` is made; the set is re-priced and the descent goes on until
    no screened swap improves. Returns the improved set and the number of moves.
    """
    P, C, B = problem.profit, problem.cost, problem.budget
    k_set, moves = best.offered.size, 0
    if k_set >= problem.m:
        return best, 0
    for _ in range(max_moves):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        source = InMemorySource(P - best.price * C if best.price else np.asarray(P))
        state = source.state(best.offered)
        gain_add, extra, _ = source.swap_terms(state, k_set, None)
        gains = extra + gain_add[None, :]
        gains[:, best.offered] = -np.inf
        upper = source.total(state) + best.price * B
        screen = best.value - upper - tol(upper)
        flat = np.argsort(-gains, axis=None, kind="stable")[:max_evals]
        moved = False
        for r, t in zip(*np.unravel_index(flat, gains.shape)):
            if gains[r, t] <= screen:
                break
            trial = best.offered.copy()
            trial[r] = t
            trial.sort()
            got = assign_within_budget(problem, trial)
            if got is not None and improves(got.value, best.value):
                best = BudgetedSet(trial, trial[got.pos], got.value, got.spend, got.price, best.rounds,
                                   best.lagrangian_bounds)
                moves, moved = moves + 1, True
                break
        if not moved:
            break
    return best, moves


def solve_with_budget(solver: Any, problem: Any, context: SolveContext, deadline: float | None,
                      **overrides: Any) -> tuple[BudgetedSet | None, bool]:
    """:func:`budgeted_search` with ``solver``'s own unbudgeted search (its class, its options
    with ``overrides``, the best set so far as its ``init``)."""

    def search(view: Any, sub: SolveContext, init: Any) -> Any:
        params = {**solver.params, **overrides, "init": None if init is None else tuple(int(j) for j in init)}
        if init is not None:  # a warm start: fewer constructions
            params["restarts"] = max(1, (solver.params.get("restarts") or 32) // 4)
        return type(solver)(**params)._solve(view, sub)

    best, timed_out = budgeted_search(problem, context, search, deadline)
    if best is not None and not timed_out:
        best, moves = budget_descent(problem, best, deadline)
        best.rounds.append({"budget_swaps": moves})
    return best, timed_out


def budget_extras(best: BudgetedSet) -> dict:
    """What a heuristic reports of its budget search (``extras``)."""
    return {"budget_price": best.price, "budget_rounds": best.rounds}


def no_budgeted_set(timed_out: bool, k: int) -> Solution:
    """The Solution of a heuristic that found no offered set meeting the budget."""
    if timed_out:
        return Solution(status="time_limit", termination="time_limit",
                        message="No offered set meeting the budget was found within the time limit.")
    return Solution(status="error", termination="no_solution",
                    message=f"No offered set of at most k = {k} treatments found meets the budget (it may be "
                            "infeasible with this k). Raise the budget or k, or use solver='mip' for a proof.")
