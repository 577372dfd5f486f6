"""Benders decomposition under a budget: priced cuts in the master, an exact check of each set.

With a budget ``sum_i c_{i a(i)} <= B`` the best assignment to a fixed offered set ``S`` is a
multiple-choice knapsack: it no longer separates by individual, and its LP relaxation may
split one individual between two treatments, so the LP value of the assignment subproblem
is only an upper bound on the set's value ``F(S)``. The scheme keeps the master on ``y`` and
makes it exact with a combinatorial check (logic-based Benders, "branch and check"):

**Priced cuts.** For any price ``lambda >= 0`` and any ``S``,
``F(S) <= lambda B + sum_i max_{j in S} (P_ij - lambda c_ij)`` (weak duality). The right-hand
side is the plain problem on the priced profit ``Q = P - lambda c``, whose Benders cuts are
those of :mod:`._benders` (critical-position cuts of each group of individuals with the
same sorted order of ``Q``). The master carries one block of epigraph variables
``theta^t`` per price ``lambda_t`` and one variable ``Theta`` for the total::

    max  Theta
    s.t. Theta <= lambda_t B + sum_g theta^t_g                 (each price t)
         theta^t_g <= cut of group g of Q_t at any position     (cuts)
         Theta <= U(S) + (U - U(S)) sum_{j not in S} y_j         (each checked set S)
         sum_{j not in S} y_j >= 1                               (each set S over the budget)
         1 <= sum_j y_j <= k,   rules on y,   y binary.

The prices are those of the sets met on the way (each set's smallest price whose priced
assignment fits, :func:`coarseopt.pricing.price_assignment`: the optimal LP price of its
knapsack), at most :data:`MAX_PRICES` of them.

**Set cuts.** ``F`` is monotone (offering more never hurts under a budget), so for a set
``S`` with a valid upper bound ``U(S) >= F(S)`` the third row is valid for every ``y``: on
the subsets of ``S`` it says ``Theta <= U(S)``, elsewhere it is implied by ``U``, an upper
bound on every set (``sum_i max_j P_ij``). A set whose cheapest assignment is over the
budget has infeasible subsets only: the no-good row removes them.

**The check.** Each master solution ``y`` is completed to a set ``S`` (greedily; a superset is
never worse) and priced: that gives an assignment within the budget (the incumbent) and
``U(S)``, the priced bound. When the master picks a set again, its knapsack is solved
exactly (:func:`~coarseopt_solvers._transport.budgeted_assignment`) and ``U(S) = F(S)``.
A set's row with its exact value cuts it off unless it is the optimum, so the loop ends
after finitely many sets, when the master's bound meets the incumbent: a proven optimum.

The phases: the LP master with in-out separation (adding each rounded set's price), then the
master MIP, its solution checked and cut, resolved. Every master bound is valid (the master
is a relaxation); stopped by the time limit, the result keeps the best set and that bound.
"""

from __future__ import annotations

import math
import time

import numpy as np

from coarseopt.pricing import price_assignment
from coarseopt.solver import Solution

from .._transport import budgeted_assignment
from ._benders import CUT_BLOCK, MASTER_MIN_SECONDS, _Groups
from ._formulation import prefix_levels
from ._highs import new_master, run_master
from ._warm import greedy_complete

__all__ = ["budget_benders", "MAX_PRICES"]

#: Largest number of prices (blocks of epigraph variables) in the master.
MAX_PRICES = 8
#: A set's price is new when it differs from every price in the master by this share.
PRICE_TOLERANCE = 1e-3
#: Largest number of LP rounds before the master MIP takes over.
MAX_LP_ROUNDS = 200


class _SetValue:
    """A checked offered set: its best known assignment (column positions ``pos``, ``value``)
    and a valid upper bound ``upper`` on its value within the budget (``exact`` once its
    knapsack is solved); ``price`` the smallest price whose priced assignment fits."""

    __slots__ = ("offered", "pos", "value", "upper", "price", "exact", "row")

    def __init__(self, offered, pos, value, upper, price, exact):
        self.offered, self.pos, self.value = offered, pos, value
        self.upper, self.price, self.exact = upper, price, exact
        self.row = None  # the upper bound in the set's row of the master, once added


class BudgetMaster:
    """The master problem in a persistent HiGHS instance: ``y`` (m), ``Theta``, then one block
    of ``theta`` columns per price; rows are added between solves."""

    def __init__(self, m: int, k: int, side, upper: float, threads, seed, backend_options, verbose):
        highspy, h = new_master(threads, seed, backend_options, verbose)
        self.hs = highspy
        self.m = m
        inf = highspy.kHighsInf
        lo, up = np.zeros(m + 1), np.ones(m + 1)
        lo[np.asarray(side.forced, dtype=np.intp)] = 1.0
        up[np.asarray(side.forbidden, dtype=np.intp)] = 0.0
        lo[m], up[m] = -inf, float(upper)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        h.addCols(m + 1, np.r_[np.zeros(m), 1.0], lo, up, 0, np.zeros(m + 1, dtype=np.int32),
                  np.zeros(0, dtype=np.int32), np.zeros(0))
        self.h = h
        self.num_col = m + 1
        self._row(np.arange(m), np.ones(m), 1.0, float(k))
        for a, b in np.asarray(side.exclusive, dtype=np.intp).reshape(-1, 2).tolist():
            self._row(np.array([a, b]), np.ones(2), -inf, 1.0)
        self.n_cuts = 0
        self.n_set_rows = 0
        self.integer = False

    def _row(self, idx, val, lo, up) -> None:
        idx = np.asarray(idx, dtype=np.int32)
        self.h.addRows(1, np.array([lo], dtype=float), np.array([up], dtype=float), int(idx.size),
                       np.zeros(1, dtype=np.int32), idx, np.asarray(val, dtype=float))

    def add_block(self, groups: _Groups, price: float, budget: float) -> int:
        """The epigraph columns of one price (bounded by each group's best priced value) and
        the row ``Theta - sum_g theta_g <= price * budget``; returns the first column."""
        g = groups.size
        start = self.num_col
        self.h.addCols(g, np.zeros(g), np.full(g, -self.hs.kHighsInf), groups.V[:, 0].astype(float), 0,
                       np.zeros(g, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
        self.num_col += g
        self._row(np.r_[self.m, np.arange(start, start + g)], np.r_[1.0, -np.ones(g)], -self.hs.kHighsInf,
                  float(price * budget))
        return start

    def add_cuts(self, rows, rhs: np.ndarray) -> None:
        starts, indices, values = rows
        if starts.size == 0:
            return
        self.h.addRows(starts.size, np.full(starts.size, -self.hs.kHighsInf), rhs.astype(np.float64),
                       int(indices.size), starts, indices, values)
        self.n_cuts += starts.size

    def add_set_row(self, outside: np.ndarray, upper: float | None, coef: np.ndarray | None = None) -> None:
        """``Theta <= upper + sum_{j in outside} coef_j y_j``, or with ``upper=None`` (a set
        over the budget) ``sum_{j in outside} y_j >= 1``."""
        if upper is None:
            self._row(outside, np.ones(outside.size), 1.0, self.hs.kHighsInf)
        else:
            self._row(np.r_[outside, self.m], np.r_[-coef, 1.0], -self.hs.kHighsInf, float(upper))
        self.n_set_rows += 1

    def set_integer(self) -> None:
        self.integer = True
        self.h.changeColsIntegrality(self.m, np.arange(self.m, dtype=np.int32),
                                     np.array([self.hs.HighsVarType.kInteger] * self.m))

    def solve(self, time_limit: float | None, start: np.ndarray | None = None):
        status, info, x, _ = run_master(self.hs, self.h, time_limit, integer=self.integer, start=start)
        return status, x, info


def budget_benders(problem, side, allowed, context, params, warm, extras, granularity: float = 0.0) -> Solution:
    """Solve under a budget by Benders decomposition; see the module docstring. ``warm`` is
    ``(offered, value, assignment)`` of a budgeted heuristic, or None."""
    return _BudgetBenders(problem, side, allowed, context, params, warm, extras, granularity).solve()


class _BudgetBenders:
    """One run: the incumbent (a :class:`_SetValue`), the proven ``bound``, the checked sets
    and the price blocks of the master."""

    def __init__(self, problem, side, allowed, context, params, warm, extras, granularity) -> None:
        self.problem, self.side, self.allowed, self.context = problem, side, allowed, context
        self.params, self.extras = params, extras
        self.profit, self.cost, self.budget = problem.profit, problem.cost, float(problem.budget)
        self.m, self.k = problem.m, min(problem.k, allowed.size)
        self.full = side.exclusive.shape[0] > 0
        self.R = prefix_levels(allowed.size, self.k, self.full)
        self.step = granularity * (1.0 - 1e-6) if granularity > 0 else 0.0
        sub = self.profit if allowed.size == self.m else self.profit[:, allowed]
        self.total = float(sub.max(axis=1).sum())  # no set is worth more
        self.sets: dict[tuple, _SetValue] = {}
        self.best: _SetValue | None = None
        self.bound = self.total
        self.blocks: list[tuple[float, _Groups, int]] = []  # (price, groups, first column)
        self.history: list[tuple[float, float, float]] = []
        self.knapsacks = 0
        if warm is not None:
            offered = np.asarray(warm[0], dtype=np.intp)
            pos = np.searchsorted(offered, np.asarray(warm[2], dtype=np.intp))
            self.best = _SetValue(offered, pos, float(warm[1]), math.inf, None, False)

    # ------------------------------------------------------------------ helpers
    def left(self) -> float | None:
        t = self.context.time_left()
        return None if not math.isfinite(t) else max(t, 0.0)

    def best_value(self) -> float:
        return -math.inf if self.best is None else self.best.value

    def is_closed(self) -> bool:
        b = self.best_value()
        return b > -math.inf and self.bound - b <= max(1e-9 * max(1.0, abs(self.bound)), self.step)

    def record(self) -> None:
        self.history.append((self.context.elapsed(), self.best_value(), self.bound))

    def check(self, offered: np.ndarray, exact: bool = False) -> _SetValue | None:
        """Price ``offered`` (or, with ``exact``, solve its knapsack), keep the better
        incumbent; None when even its cheapest assignment is over the budget."""
        offered = np.unique(np.asarray(offered, dtype=np.intp))
        key = tuple(offered.tolist())
        sv = self.sets.get(key)
        if sv is None:
            if key in self.sets:
                return None
            Ps, Cs = self.profit[:, offered], self.cost[:, offered]
            priced = price_assignment(Ps, Cs, self.budget)
            if priced is None:
                self.sets[key] = None
                return None
            sv = _SetValue(offered, priced.pos, priced.value, priced.upper, priced.price, False)
            self.sets[key] = sv
        if exact and not sv.exact and sv.upper > sv.value + 1e-12 * max(1.0, abs(sv.value)):
            self._solve_knapsack(sv)
        elif sv.upper <= sv.value + 1e-12 * max(1.0, abs(sv.value)):
            sv.exact = True
        if sv.value > self.best_value():
            self.best = sv
        return sv

    def _solve_knapsack(self, sv: _SetValue) -> None:
        """The set's knapsack, exactly (:func:`exact_knapsack`)."""
        s = sv.offered
        out = exact_knapsack(self.profit[:, s], self.cost[:, s], self.budget, sv.price or 0.0, sv.pos,
                             time_limit=self.left())
        self.knapsacks += 1
        pos, value, upper, proven, free = out
        self.extras["knapsack_free_rows"] = max(self.extras.get("knapsack_free_rows", 0), free)
        if value > sv.value:
            sv.pos, sv.value = pos, value
        sv.upper = max(sv.value, min(sv.upper, upper))
        sv.exact = bool(proven)

    def add_price(self, price: float) -> bool:
        """A block of priced cuts for ``price`` unless one is close or the master is full."""
        if price is None or len(self.blocks) >= MAX_PRICES:
            return False
        for p, _, _ in self.blocks:
            if abs(p - price) <= PRICE_TOLERANCE * max(abs(p), abs(price), 1e-300):
                return False
        q = self.profit - price * self.cost if price else self.profit
        groups = _Groups(q, self.allowed, self.R)
        del q
        start = self.master.add_block(groups, price, self.budget)
        self.blocks.append((price, groups, start))
        y = np.zeros(self.m)
        y[self.best.offered if self.best is not None else self.allowed[: self.k]] = 1.0
        self.add_cuts_at(y, None, blocks=[self.blocks[-1]])
        return True

    def add_cuts_at(self, y: np.ndarray, x: np.ndarray | None, blocks=None) -> int:
        """The violated (``x`` None: all) tight cuts at ``y`` of every price block."""
        added = 0
        for _, groups, start in blocks or self.blocks:
            s, value = groups.cuts(y)
            if x is None:
                viol = np.arange(groups.size)
            elif x.size < start + groups.size:  # a block added since x was found
                continue
            else:
                theta = x[start : start + groups.size]
                viol = np.flatnonzero(theta - value > 1e-9 * np.maximum(1.0, np.abs(value)))
            for b in range(0, viol.size, CUT_BLOCK):
                part = viol[b : b + CUT_BLOCK]
                rows, rhs = groups.cut_rows(part, s[part], start)
                self.master.add_cuts(rows, rhs)
            added += int(viol.size)
        return added

    def set_row(self, sv: _SetValue | None, offered: np.ndarray) -> None:
        """The row of a checked set (see the module docstring), or its no-good row."""
        outside = np.setdiff1d(self.allowed, offered)
        if sv is None:
            self.master.add_set_row(outside, None)
            return
        self.master.add_set_row(outside, sv.upper, self.set_coefficients(sv, outside))
        sv.row = sv.upper

    def set_coefficients(self, sv: _SetValue, outside: np.ndarray) -> np.ndarray:
        """The coefficient of each treatment ``j`` outside the set ``S`` in its row: the smaller
        of ``U - U(S)`` (``U`` bounds every set) and ``rho_j + g - U(S)``, where, priced at the
        set's price ``lambda``, ``g = lambda B + sum_i max_{l in S} Q_il >= F(S)`` and
        ``rho_j = sum_i max(0, Q_ij - max_{l in S} Q_il)`` bounds what adding ``j`` adds to
        ``g``. Either choice keeps the row valid for every set ``T``: one outside treatment
        offered makes the right-hand side at least ``U`` or ``g`` plus the ``rho`` of ``T`` outside ``S``,
        both at least ``F(T)`` (with ``F`` monotone)."""
        price = sv.price or 0.0
        s = sv.offered
        q_s = self.profit[:, s] - price * self.cost[:, s] if price else self.profit[:, s]
        best = q_s.max(axis=1)
        g = price * self.budget + float(best.sum())
        q = self.profit[:, outside] - price * self.cost[:, outside] if price else self.profit[:, outside]
        rho = np.maximum(q - best[:, None], 0.0).sum(axis=0)
        slack = max(g - sv.upper, 0.0)
        return np.maximum(np.minimum(rho + slack, self.total - sv.upper), 0.0)

    def complete(self, offered: np.ndarray) -> np.ndarray:
        return greedy_complete(self.profit, offered, self.k, self.allowed, self.side.exclusive)

    def rounded(self, y: np.ndarray) -> np.ndarray | None:
        """The forced treatments and the largest other ``y`` (up to ``k``), when they meet the
        rules on the offered set."""
        forced = np.asarray(self.side.forced, dtype=np.intp)
        cand = np.setdiff1d(np.flatnonzero(y > 1e-6), forced)
        cand = cand[np.argsort(-y[cand], kind="stable")][: max(self.k - forced.size, 0)]
        cand = np.union1d(forced, cand)
        return cand if cand.size and _rules_hold(cand, self.side) else None

    def first_price(self, sv: _SetValue | None) -> float:
        """The price of the first block: the incumbent's, else that of the allowed treatments
        all offered (full personalization within the budget), else 0."""
        if sv is not None:
            return sv.price
        priced = price_assignment(self.profit[:, self.allowed], self.cost[:, self.allowed], self.budget)
        return 0.0 if priced is None else priced.price

    def start_vector(self) -> np.ndarray | None:
        if self.best is None:
            return None
        v = np.zeros(self.master.num_col)
        v[self.best.offered] = 1.0
        v[self.m] = self.best.value
        for _, groups, start in self.blocks:
            v[start : start + groups.size] = groups.cuts(v[: self.m])[1]
        return v

    # ------------------------------------------------------------------ phases
    def lp_phase(self) -> None:
        """The LP master with in-out separation; each rounded LP point is checked and its
        price added."""
        m = self.m
        core = np.zeros(m)
        core[self.best.offered if self.best is not None else self.allowed[: self.k]] = 1.0
        rounds = 0
        while rounds < MAX_LP_ROUNDS:
            t = self.left()
            if t is not None and t <= 0:
                break
            status, x, info = self.master.solve(t)
            if status != "kOptimal" or x is None:
                break
            rounds += 1
            self.bound = min(self.bound, float(info.objective_function_value))
            y = x[:m]
            sv = self.check(self.complete(cand)) if (cand := self.rounded(y)) is not None else None
            self.record()
            if self.is_closed():
                break
            new_price = sv is not None and self.add_price(sv.price)
            sep = 0.5 * y + 0.5 * core
            core = 0.5 * core + 0.5 * y
            added = self.add_cuts_at(sep, x) or self.add_cuts_at(y, x)
            if added == 0 and not new_price:
                break
        self.extras["lp_rounds"] = rounds
        self.extras["lp_bound"] = self.bound

    def mip_phase(self) -> str:
        """The master MIP, its set checked and cut, resolved; the master's last status."""
        m = self.m
        self.master.set_integer()
        status = "kNotset"
        rounds = 0
        while not self.is_closed():
            t = self.left()
            if t is not None and t <= 0:
                status = "kTimeLimit"
                break
            # HiGHS checks its clock seldom while presolving a large master: leave it a margin
            status, x, info = self.master.solve(None if t is None else 0.9 * t, start=self.start_vector())
            db = float(info.mip_dual_bound)
            if status == "kInfeasible":  # every set left is over the budget
                self.bound = min(self.bound, self.best_value())
                break
            if math.isfinite(db) and abs(db) < 1e300:
                self.bound = min(self.bound, db)
            if x is None:
                break
            rounds += 1
            offered = self.complete(np.flatnonzero(x[:m] > 0.5))
            key = tuple(offered.tolist())
            seen = key in self.sets
            sv = self.check(offered, exact=seen)
            self.record()
            if status != "kOptimal" or self.is_closed():
                break
            if sv is not None and sv.exact and (x[m] <= sv.upper + 1e-9 * max(1.0, abs(sv.upper))
                                                or sv.row == sv.upper):
                # the master's optimum is this set (its row already holds the exact value, up to
                # HiGHS's feasibility tolerance): nothing is better
                self.bound = min(self.bound, max(self.best_value(), sv.upper))
                break
            self.set_row(sv, offered)
            self.add_cuts_at(x[:m], x)
            if sv is not None:
                self.add_price(sv.price)
        self.extras["mip_rounds"] = rounds
        return status

    def solve(self) -> Solution:
        p = self.params
        t0 = time.perf_counter()
        self.master = BudgetMaster(self.m, self.k, self.side, self.total, p["threads"], self.context.seed,
                                   p["backend_options"], p["verbose"])
        start = self.best.offered if self.best is not None else self.complete(self.side.forced)
        self.add_price(self.first_price(self.check(start)))
        self.extras["build_seconds"] = time.perf_counter() - t0
        self.lp_phase()
        status = self.mip_phase() if not self.is_closed() else "kOptimal"
        return self.finish(status)

    def finish(self, status: str) -> Solution:
        extras = self.extras
        extras.update(prices=[b[0] for b in self.blocks], cuts=self.master.n_cuts, set_rows=self.master.n_set_rows,
                      sets_checked=sum(v is not None for v in self.sets.values()), knapsack_mips=self.knapsacks,
                      history=self.history, groups=[int(b[1].size) for b in self.blocks])
        best = self.best
        extras["used_warm_start"] = best is not None and not math.isfinite(best.upper)
        closed = self.is_closed()
        if best is None:
            if status == "kInfeasible":
                return Solution(status="infeasible", termination="infeasible", extras=extras,
                                message=f"Infeasible: no offered set of at most k = {self.k} treatments meets the "
                                        "budget (with the rules on the offered set). Raise the budget or k.")
            return Solution(status="time_limit", termination="time_limit", extras=extras,
                            message="Benders under a budget: no set within the budget found in the time limit.")
        # closed by the granularity (integer profits), the bound drops to the incumbent
        bound = (best.value if self.step > 0 else max(self.bound, best.value)) if closed else self.bound
        timed_out = self.context.out_of_time() or (self.left() is not None and self.left() <= MASTER_MIN_SECONDS
                                                   and not closed)
        if closed:
            state, termination = "optimal", "converged"
        elif timed_out or status == "kTimeLimit":
            state, termination = "time_limit", "time_limit"
        else:
            state, termination = "feasible", "converged"
        msg = (f"Benders under a budget: {extras.get('lp_rounds', 0)} LP rounds, {extras.get('mip_rounds', 0)} "
               f"master MIPs, {len(self.blocks)} prices, {extras['sets_checked']} sets checked")
        assignment = best.offered[np.asarray(best.pos, dtype=np.intp)]
        return Solution(offered=best.offered, assignment=assignment, status=state, bound=bound,
                        termination=termination, message=msg, extras=extras)


def exact_knapsack(Ps: np.ndarray, Cs: np.ndarray, budget: float, price: float, pos: np.ndarray,
                   time_limit: float | None = None) -> tuple[np.ndarray, float, float, bool, int]:
    """The best assignment of an offered set within the budget, from a priced one.

    ``pos`` (the columns of an assignment within the budget, value ``v``) and a price
    ``lambda`` give ``g = lambda B + sum_i max_j Q_ij``, ``Q = P - lambda c``, and reduced costs
    ``r_ij = max_l Q_il - Q_ij >= 0``. Every assignment ``a`` within the budget is worth
    ``sum_i Q_{i a(i)} + lambda sum_i c_{i a(i)} <= g - sum_i r_{i a(i)}``, so one worth more
    than ``v`` gives each individual a column with ``r_ij < g - v``. Individuals with a single
    such column are fixed to it (reduced-cost fixing); the knapsack of the others (usually a
    handful: the tie class the price splits) is the MIP of ``budgeted_assignment`` with what
    the fixed ones leave of the budget. When that has no solution, nothing beats ``pos``.

    Returns ``(pos, value, upper, proven, free rows)``: ``upper`` bounds the set's value,
    ``proven`` says that ``value`` is the optimum (to HiGHS's gap 1e-9).
    """
    rows = np.arange(Ps.shape[0])
    value = float(Ps[rows, pos].sum())
    q = Ps - price * Cs if price else Ps
    top = q.max(axis=1)
    g = price * budget + float(top.sum())
    if g <= value:  # the priced bound proves it
        return pos, value, value, True, 0
    gap = g - value
    eligible = (top[:, None] - q) < gap + 1e-9 * max(1.0, abs(g))
    free = np.flatnonzero(eligible.sum(axis=1) > 1)
    fixed = np.setdiff1d(rows, free)
    at = eligible[fixed].argmax(axis=1)
    room = budget - float(Cs[fixed, at].sum())
    if free.size == 0:
        ok = room >= -1e-12 * max(1.0, budget)
        cand = float(Ps[fixed, at].sum())
        if ok and cand > value:
            new = pos.copy()
            new[fixed] = at
            return new, cand, cand, True, 0
        return pos, value, value, True, 0
    if room < Cs[free].min(axis=1).sum() - 1e-12 * max(1.0, budget):
        return pos, value, value, True, int(free.size)  # no better assignment fits
    out = budgeted_assignment(Ps[free], Cs[free], max(room, 0.0), time_limit=time_limit)
    if out is None:  # infeasible, or no solution in the time: nothing proven beyond pos
        return pos, value, g, False, int(free.size)
    sub_pos, sub_value, sub_upper, proven = out
    base = float(Ps[fixed, at].sum())
    upper = max(value, min(g, base + sub_upper))
    if base + sub_value > value:
        new = np.empty_like(pos)
        new[fixed], new[free] = at, sub_pos
        return new, base + sub_value, upper, proven, int(free.size)
    return pos, value, upper if not proven else value, proven, int(free.size)


def _rules_hold(offered, side) -> bool:
    s = set(int(j) for j in offered)
    if s & set(np.asarray(side.forbidden).tolist()):
        return False
    return not any(a in s and b in s for a, b in np.asarray(side.exclusive).reshape(-1, 2).tolist())
