"""The ``mip`` solver plugin: choose a formulation, build it, solve it, decode and certify."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from coarseopt.exceptions import CoarseoptError, OptionError, SolverUnavailableError
from coarseopt.problem import CoarseProblem
from coarseopt.registry import get_solver
from coarseopt.solver import OPTIMALITY_TOL, Option, Solution, Solver, check_bool, check_choice, check_float, check_int, check_optional

from .._transport import bounded_assignment
from ..bounds.columns import column_generation_bound
from ..kernels.blocks import row_blocks
from ..kernels.limits import PASS_ELEMENTS, improves
from ..local_search import swap_local_search
from . import _formulation as F
from . import _lazy
from ._benders import benders
from ._benders_budget import budget_benders
from ._highs import BackendResult, check_options, in_profit_units, solve_highs
from ._side import (
    check_backend, check_callable, check_mapping, check_pairs, check_treatment_list,
    check_warm_start, diagnose_treatment_rules, resolve_side,
)
from ._policy import AUTO_WARM_MIN_N, auto_budget_benders, auto_elimination, auto_formulation, auto_node_limit
from ._pyomo import available_backends, build_pyomo, pyomo_solver_name, solve_pyomo
from ._warm import given_columns, greedy_complete, objective_of, warm_start

__all__ = ["MIPSolver", "FORMULATIONS"]

FORMULATIONS = ("auto", "classic", "radius", "aggregated", "benders")
#: Treatment elimination in stages: the first stage's bound stops at this relative gap (far
#: cheaper than the LP bound on a fine grid) and its fixing leaves a smaller problem whose own
#: bound comes faster (docs/solver-mip.md, ``python -m benchmarks.fine_grid``) ...
STAGE_GAP = 1e-5
#: ... while a stage keeps at most this share of its columns; then one last stage to the LP bound.
STAGE_PROGRESS = 0.9
#: Each stage's gap is at most this share of the last one's (it starts from that bound).
STAGE_SHRINK = 0.5
#: A stage's restricted bounds go to this share of its gap (a tighter bound fixes more columns).
ROUND_SHARE = 0.1

class MIPSolver(Solver):
    """Exact mixed-integer programming: a proven optimum, or the best solution and a bound.

    The problem ``max_{|S| <= k} sum_i max_{j in S} P_ij`` (with optional share bounds and
    business constraints) is written as a MIP in one of several equivalent formulations (see
    :mod:`coarseopt_solvers.mip`) and solved by HiGHS through its array interface, or by any
    Pyomo solver (``backend=``) on the Pyomo model of :func:`~coarseopt_solvers.mip.build_model`.

    Options
    -------
    backend : str, default "highs"
        ``"highs"`` (through ``highspy``), or ``"cbc"``, ``"glpk"``, ``"gurobi"``, ``"scip"``,
        ``"cplex"`` or any Pyomo solver name, where installed (solved through Pyomo).
    formulation : {"auto", "classic", "radius", "aggregated", "benders"}, default "auto"
        ``auto``: ``classic`` when share bounds or a budget constrain the assignment, else
        ``aggregated`` when individuals share prefix sets (smooth curves), else ``benders``
        (Benders decomposition with a branch and bound over treatments). Under share bounds
        or a budget, ``aggregated`` is the classic model on groups of identical individuals
        (same profit row and cost row; ``x`` counts how many of a group get each
        treatment), which ``auto`` also picks when it halves the rows. ``benders`` also takes a
        budget (priced cuts and an exact check of each offered set; faster than ``classic`` on
        large smooth instances, slower on small noisy ones, so ``auto`` does not pick it);
        ``radius`` refuses share bounds and a budget.
    mip_gap : float, default 1e-7
        Relative gap at which the backend may stop; ``status`` is ``optimal`` only when the
        returned bound meets the objective within coarseopt's tolerance (1e-6 relative).
    threads : int, optional
        Threads the backend may use (default: the backend's own choice).
    warm_start : "auto", bool, "local-search", "greedy" or list of int, default "auto"
        Start from a heuristic solution (or the given offered set); the result is never
        worse than the warm start. Skipped when it violates the side constraints. ``auto``
        runs the heuristics only for more than 2,000 individuals, and then not for an
        aggregated model far smaller than the data (fewer nonzeros than 5% of ``n m``): in
        those cases the exact method finds its own incumbent faster than a heuristic runs.
    backend_options : dict, optional
        Passed through to the backend unchanged (e.g. ``{"presolve": "off"}`` for HiGHS).
    forced, forbidden : list of treatment indices or labels, optional
        Treatments that must / must not be offered.
    exclusive : list of pairs, optional
        Pairs of treatments that may not both be offered.
    model_hook : callable, optional
        ``hook(model)`` receives the Pyomo model before the solve and may add variables and
        constraints (then the model is solved through Pyomo); if it returns a model, that
        one is solved.
    verbose : bool, default False
        Show the backend's log.

    Notes
    -----
    The model is solved in normalized units, ``(P_ij - max_l P_il) / s`` with ``s`` the
    largest spread of a row, which changes every objective by the same affine map: HiGHS's
    absolute tolerances (1e-7) and its infinity (1e20) then suit profits of any magnitude.
    The bound is mapped back; ``status`` is ``optimal`` only when bound and objective also
    meet in the profit's own units. With a ``model_hook`` the model keeps the given profits
    (the hook may refer to them).

    References
    ----------
    Cornuéjols, Nemhauser & Wolsey (1980); Elloumi (2010); García, Labbé & Marín (2011);
    Duran-Mateluna, Ales & Elloumi (2023); see :mod:`coarseopt_solvers.mip`.
    """

    name = "mip"
    exact = True
    supports_shares = True
    supports_budget = True
    supports_lazy = True
    requires = ("highspy", "pyomo")
    options = {
        "backend": Option("highs", check_backend, "MIP solver: highs, cbc, glpk, gurobi, scip, or any Pyomo solver"),
        "formulation": Option("auto", check_choice(*FORMULATIONS), "model: auto, classic, radius, aggregated, benders"),
        "mip_gap": Option(1e-7, check_float(0.0, 1.0), "relative gap at which the backend may stop"),
        "threads": Option(None, check_optional(check_int(1)), "threads for the backend"),
        "warm_start": Option("auto", check_warm_start, "heuristic start: 'auto', True, False, 'local-search', 'greedy' or columns"),
        "backend_options": Option(None, check_optional(check_mapping), "options passed to the backend unchanged"),
        "forced": Option(None, check_optional(check_treatment_list), "treatments that must be offered"),
        "forbidden": Option(None, check_optional(check_treatment_list), "treatments that must not be offered"),
        "exclusive": Option(None, check_optional(check_pairs), "pairs of treatments that may not both be offered"),
        "model_hook": Option(None, check_optional(check_callable), "callable receiving the Pyomo model before the solve"),
        "verbose": Option(False, check_bool, "show the backend's log"),
    }

    @classmethod
    def check_options(cls, options):
        moved = sorted({"budget", "cost"} & set(options))
        if moved:
            raise OptionError(
                f"The {' and '.join(repr(o) for o in moved)} option(s) of solver 'mip' moved to the problem: "
                "build it with CoarseProblem(profit, k, cost=..., budget=...), which every solver honours."
            )
        return super().check_options(options)

    # ------------------------------------------------------------------ main sequence
    def _solve(self, problem, context):
        if problem.is_lazy:  # dask profit: chunked preprocessing, see _lazy
            return _lazy.solve_lazy(self, problem, context)
        # Solve in normalized units (each row shifted by its maximum, then divided by the
        # largest spread) so that HiGHS's absolute tolerances suit profits of any magnitude;
        # a model_hook sees the profits as given.
        self._start = self._lagrangian = None
        self._granularity = 0.0
        if self.params["model_hook"] is not None:
            return self._polish(problem, context, self._solve_model(problem, context))
        # many treatments: the elimination runs on the profits as given (its tolerances are
        # stated in the shifted units), and only the kept treatments are normalized
        sol = self._solve_eliminated(problem, context)
        if sol is None:
            sol = self._solve_in_units(problem, context)
        return self._polish(problem, context, sol)

    def _solve_in_units(self, problem, context, columns=None):
        """The model of ``problem`` (or of its ``columns``) in normalized units; the solution
        in the problem's units (``offered`` and ``assignment`` index ``columns``)."""
        scaled, scale, shift, integral = _normalize(problem, columns)
        # integer profits: every objective is a multiple of 1 / scale in normalized units
        self._granularity = 1.0 / scale if integral else 0.0
        if self._start is not None:  # the elimination's incumbent and bound, in those units
            self._start = (self._start[0], (self._start[1] - shift) / scale)
        if self._lagrangian is not None:
            self._lagrangian = ((self._lagrangian[0] - shift) / scale,) + self._lagrangian[1:]
        sol = self._solve_model(scaled, context)
        if columns is not None:  # back to the problem's columns, whose best assignment gives the objective
            if sol.offered is not None:
                sol.offered = columns[np.asarray(sol.offered, dtype=np.intp)]
            if sol.assignment is not None:
                sol.assignment = columns[np.asarray(sol.assignment, dtype=np.intp)]
        return _denormalize(sol, problem, scale, shift)

    def _solve_eliminated(self, problem, context) -> Solution | None:
        """Many treatments, no side constraint: treatment elimination before any model.

        The warm start's set is the incumbent; the Lagrangian bound by column generation
        (given half the time left) and the elimination of every treatment that belongs to no
        better set (:mod:`coarseopt_solvers.bounds.columns`) leave a problem on the kept
        columns whose optimum is the whole problem's; its bound, and the column generation's
        bound, are valid for the whole problem. None when the elimination does not apply.
        Runs on the profits as given, with the bounds' accuracy relative to the objective net
        of the row maxima (what a normalized copy would give, without copying the matrix);
        the model is built on the kept columns, normalized.
        """
        p = self.params
        if (p["formulation"] != "auto" or p["model_hook"] is not None or p["backend"] != "highs"
                or p["warm_start"] is False or problem.has_share_bounds or problem.cost is not None
                or not auto_elimination(problem.n, problem.m, problem.k)):
            return None
        side = resolve_side(problem, p)
        if side.forced.size or side.forbidden.size or side.exclusive.size or side.needs_assignment:
            return None
        extras: dict[str, Any] = {}
        warm = self._warm_start(problem, side, np.arange(problem.m), context, extras)
        if warm is None:
            return None
        offered, value = warm
        t0 = time.perf_counter()
        kept, into, bound, rounds, stages = np.arange(problem.m), np.zeros(0, dtype=np.intp), math.inf, 0, 0
        u_last = c_last = None
        target = STAGE_GAP
        # the normalized units' scale and shift: the bounds' accuracy is relative to the
        # objective net of the row maxima (at least the widest row's spread)
        shift, spread, _ = _row_offsets(problem.profit, integral=False)
        shift = float(shift.sum())
        unit = max(spread, shift - value, np.finfo(float).tiny)

        def proved(bound: float) -> bool:  # optimal, as Solver checks it
            rel = max(abs(bound), abs(value), np.finfo(float).tiny)
            return bound - value <= OPTIMALITY_TOL * 10 * rel

        def near(bound: float) -> bool:  # within the backend's optimality gap, in normalized units
            return bound - value <= BackendResult.OPTIMAL_GAP * max(spread, abs(bound - shift))

        while True:
            # a stage: the bound on the kept columns to ``target`` (the last: to the LP bound),
            # then the fixing; a sub-problem's bound holds for the whole problem, every set
            # with an eliminated column being worth less than the incumbent
            left = context.time_left()
            deadline = None if not math.isfinite(left) else time.perf_counter() + 0.5 * left
            # each stage starts from the last one's multipliers and its restricted problem's kept
            # columns, on the kept columns of the matrix (no copy)
            cb = column_generation_bound(problem.profit, problem.k, np.searchsorted(kept, offered), incumbent=value,
                                         deadline=deadline, target_gap=target, u0=u_last, columns=c_last,
                                         round_share=ROUND_SHARE, kept=kept, unit=unit)
            stages += 1
            rounds += cb.rounds
            bound = min(bound, cb.bound)
            out, now_into = cb.fixed_out, cb.fixed_in  # fixed by any round's multipliers
            into = np.union1d(into, kept[now_into])
            before, last = kept.size, kept
            kept = np.delete(kept, out)
            u_last = cb.multipliers
            c_last = np.searchsorted(kept, np.intersect1d(last[cb.columns], kept))
            if (proved(bound) or target is None or cb.termination == "time_limit"
                    or context.out_of_time() or not auto_elimination(problem.n, kept.size, problem.k)):
                break  # proven, out of time, or few enough columns for the model
            if near(bound) or kept.size > STAGE_PROGRESS * before:
                target = None  # a last stage, to the LP bound
            else:  # the next stage, started from this one's bound, must tighten it
                target = min(target, STAGE_SHRINK * (cb.bound - value) / max(1.0, abs(cb.bound)))
        extras.update(column_generation_seconds=time.perf_counter() - t0, column_generation_rounds=rounds,
                      column_generation_bound=bound, column_generation_stages=stages, treatments_kept=int(kept.size))
        extras["formulation"] = "treatment elimination"
        if proved(bound) or (near(bound) and target is None):
            return Solution(offered=np.asarray(offered, dtype=np.intp), bound=max(bound, value), extras=extras)
        if kept.size <= problem.k:
            # every kept treatment can be offered: that set contains the incumbent's, and no
            # set with another treatment is worth more than the incumbent
            return Solution(offered=kept, bound=objective_of(problem.profit, kept), extras=extras)
        self._start = (np.searchsorted(kept, offered), value)
        # for Benders' phase 0: the kept treatments that every set better than the incumbent offers
        self._lagrangian = (bound, [], np.searchsorted(kept, np.intersect1d(into, kept)).tolist())
        sol = self._solve_in_units(problem, context, columns=kept)
        sol.extras = {**extras, **sol.extras}
        # the kept columns' bound covers every set of kept columns; any other set is worth
        # less than the incumbent, which a kept set attains
        sol.bound = bound if sol.bound is None else min(float(sol.bound), bound)
        return sol

    def _polish(self, problem, context, sol: Solution) -> Solution:
        """A swap descent from an incumbent the backend could not prove optimal.

        Without side constraints every offered set is feasible, so the fast-interchange
        descent of ``local-search`` can only improve the incumbent: the MIP never returns a
        set that one swap improves, even when it stopped early (or skipped the warm start on a
        small instance). The bound is unchanged. Given at most 1% of the time limit (and at
        most a second) past it.
        """
        if sol.status in ("optimal", "infeasible", "error") or sol.offered is None:
            return sol
        side = resolve_side(problem, self.params)
        if (self.params["model_hook"] is not None or side.needs_assignment or side.forced.size
                or side.forbidden.size or side.exclusive.size):
            return sol
        offered = np.unique(np.asarray(sol.offered, dtype=np.intp))
        before = objective_of(problem.profit, offered)
        now = time.perf_counter()
        slack = 0.0 if context.time_limit is None else min(1.0, 0.01 * context.time_limit)
        deadline = None if context.deadline is None else max(context.deadline, now + slack)
        polished, value = swap_local_search(problem.profit, problem.k_effective, offered,
                                            rng=context.rng, deadline=deadline)
        improved = improves(value, before)
        sol.extras["swap_polish_improved"] = bool(improved)
        if improved:
            sol.offered, sol.assignment = np.asarray(polished, dtype=np.intp), None
        return sol

    def _solve_model(self, problem, context):
        p = self.params
        profit = problem.profit
        n, m, k = problem.n, problem.m, problem.k
        side = resolve_side(problem, p)
        use_pyomo = p["backend"] != "highs" or p["model_hook"] is not None
        if use_pyomo:
            self._check_backend(p["backend"])
        elif p["backend_options"]:
            check_options(p["backend_options"])
        reason = diagnose_treatment_rules(problem, side)
        if reason is not None:
            return Solution(status="infeasible", termination="infeasible", message=f"Infeasible: {reason}")
        kind = self._choose(problem, side)
        allowed = np.setdiff1d(np.arange(m), side.forbidden)
        extras: dict[str, Any] = {"formulation": kind, "backend": p["backend"]}

        t0 = time.perf_counter()
        prefix = None
        sorted_rows = []  # the rows sorted and grouped once, for Benders too (popped when passed)
        if kind == "auto":
            # the aggregated model when it is small, else Benders decomposition
            full_range = side.exclusive.shape[0] > 0
            R = F.prefix_levels(allowed.size, k, full_range)
            sorted_rows.append(F.sort_rows(profit, allowed, R))
            prefix = F.prefix_sets(profit, k, aggregate=True, allowed=allowed, full_range=full_range,
                                   rows=sorted_rows[0], max_nodes=auto_node_limit(n, R))
            kind = "benders" if prefix is None else auto_formulation(prefix)
            extras["formulation"] = kind
            if prefix is not None:
                extras["distinct_prefix_sets"] = prefix.num_nodes
            if kind != "benders":
                sorted_rows.clear()
        if kind == "benders" and side.budget is None:
            warm = None
            if p["warm_start"] != "auto" or problem.n > AUTO_WARM_MIN_N:
                warm = self._warm_start(problem, side, allowed, context, extras, also_ot=True)
            return benders(problem, side, allowed, context, p, warm, extras,
                           granularity=getattr(self, "_granularity", 0.0),
                           rows=sorted_rows.pop() if sorted_rows else None, lagrangian=getattr(self, "_lagrangian", None))

        groups = None
        if side.needs_assignment and kind != "benders":
            if p["model_hook"] is None and (kind == "aggregated" or p["formulation"] == "auto"):
                # identical individuals (profit row and, with a budget, cost row) are
                # interchangeable: one row of counts per group, when that at least halves the rows
                groups = F.identical_rows(profit, side.cost)
                if kind != "aggregated" and groups[0].size > n // 2:
                    groups = None
            kind = "classic"
            if groups is None and p["formulation"] == "auto" and not use_pyomo and auto_budget_benders(n, side):
                kind = "benders"
                extras["formulation"] = kind
        if kind == "benders" and side.budget is not None:  # priced cuts and a check of each set
            warm = self._warm_start(problem, side, allowed, context, extras)
            return budget_benders(problem, side, allowed, context, p, warm, extras,
                                  granularity=getattr(self, "_granularity", 0.0))
        if groups is not None:
            first, _, counts = groups
            form = F.classic(profit[first], k, replace(side, cost=None if side.cost is None else side.cost[first]),
                             weights=counts)
            extras["formulation"] = "aggregated"
            extras["identical_groups"] = int(first.size)
        elif kind == "classic":
            form = F.classic(profit, k, side)
            if p["model_hook"] is not None:
                form.integer[form.m:] = True  # user constraints may break the integral assignment
        else:
            form, prefix = F.radius(profit, k, side, aggregate=kind == "aggregated", prefix=prefix,
                                    any_size=p["model_hook"] is not None)
        extras["build_seconds"] = time.perf_counter() - t0
        extras["model"] = dict(form.stats)
        # warm start (never returned when it breaks a side constraint)
        warm = None
        if (p["warm_start"] != "auto" or side.budget is not None
                or (form.nnz > 0.05 * problem.n * problem.m and problem.n > AUTO_WARM_MIN_N)):
            warm = self._warm_start(problem, side, allowed, context, extras)

        self._allowed, self._groups = allowed, groups
        result = self._run(form, prefix, problem, context, warm, use_pyomo, extras)
        return self._decode(result, form, problem, side, allowed, warm, extras, context, groups)

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def _check_backend(backend: str) -> None:
        if pyomo_solver_name(backend) is None:
            raise SolverUnavailableError(
                f"The 'backend' option of solver 'mip' names {backend!r}, which is not installed. "
                f"Available backends: {', '.join(available_backends()) or '(none)'}."
            )

    def _choose(self, problem, side) -> str:
        kind = self.params["formulation"]
        if side.needs_assignment:
            if kind == "benders" and side.min_count is None:  # a budget: see _benders_budget
                self._check_benders_backend()
                return kind
            if kind not in ("auto", "classic", "aggregated"):
                what = "share bounds" if side.min_count is not None else "a budget"
                also = ("" if side.min_count is not None else
                        " or 'benders' (Benders decomposition with an exact check of each offered set)")
                raise OptionError(
                    f"The 'formulation' option of solver 'mip' is {kind!r}, but {what} constrain the "
                    "assignment itself, which the 'radius' model (no assignment variables) cannot express. "
                    "Use formulation='classic', 'aggregated' (classic on groups of identical individuals), "
                    f"'auto'{also}."
                )
            return "aggregated" if kind == "aggregated" else "classic"
        if kind == "auto" and (self.params["model_hook"] is not None or self.params["backend"] != "highs"):
            return "aggregated"
        if kind != "auto":
            if kind == "benders":
                self._check_benders_backend()
            return kind
        return "auto"

    def _check_benders_backend(self) -> None:
        if self.params["model_hook"] is not None or self.params["backend"] != "highs":
            raise OptionError(
                "The 'formulation' option of solver 'mip' is 'benders', which runs on HiGHS without a "
                "model_hook. Use backend='highs' without model_hook, or another formulation."
            )

    def _warm_start(self, problem, side, allowed, context, extras, also_ot=False):
        ws = self.params["warm_start"]
        if ws is False:
            return None
        if getattr(self, "_start", None) is not None:  # the incumbent of the elimination
            extras["warm_start"] = "the incumbent of the treatment elimination"
            return self._start
        ws = True if ws == "auto" else ws
        if self.params["model_hook"] is not None:
            extras["warm_start"] = "skipped: the model_hook may add constraints a heuristic cannot see"
            return None
        if side.budget is not None:
            return self._budget_warm_start(problem, side, context, extras)
        t0 = time.perf_counter()
        if isinstance(ws, tuple):
            offered = given_columns(ws, problem.m, problem.k)
            offered = greedy_complete(problem.profit, offered, problem.k_effective, allowed, side.exclusive)
            value = objective_of(problem.profit, offered)
        else:
            method = "greedy" if ws == "greedy" else "local-search"
            left = context.time_left()
            now = time.perf_counter()
            deadline = None if not math.isfinite(left) else now + 0.15 * left
            ot_deadline = None if not math.isfinite(left) else now + 0.35 * left
            # the ot heuristic as a second start on the Benders path, unless the user named one
            also_ot = also_ot and self.params["warm_start"] in ("auto", True) and problem.n > 2000
            offered, value = warm_start(problem.profit, problem.k, allowed, method=method,
                                        seed=context.seed, deadline=deadline, also_ot=also_ot,
                                        ot_deadline=ot_deadline)
        extras["warm_start_seconds"] = time.perf_counter() - t0
        if not _satisfies(offered, side):
            extras["warm_start"] = "skipped: violates the side constraints"
            return None
        extras["warm_start_objective"] = value
        return offered, value

    @staticmethod
    def _budget_warm_start(problem, side, context, extras):
        """Under a budget: the budgeted heuristic's answer (``ot`` with share bounds, else
        ``local-search``) as ``(offered, value, assignment)``, when it meets the rules on the
        offered set; None otherwise."""
        name = "ot" if problem.has_share_bounds else "local-search"
        left = context.time_left()
        limit = None if not math.isfinite(left) else max(0.15 * left, 0.01)
        t0 = time.perf_counter()
        try:
            res = get_solver(name)(**({"bound": False} if name == "ot" else {})).solve(
                problem, time_limit=limit, seed=context.seed, progress=False)
        except CoarseoptError as exc:  # e.g. the heuristic found no set within the budget
            extras["warm_start"] = f"skipped: {exc}"
            return None
        extras["warm_start_seconds"] = time.perf_counter() - t0
        if not res.has_solution or not _rules_hold(res.offered, side):
            extras["warm_start"] = "skipped: no budgeted heuristic solution meeting the rules"
            return None
        extras["warm_start_objective"] = res.objective
        return res.offered, res.objective, res.assignment

    def _run(self, form, prefix, problem, context, warm, use_pyomo, extras) -> BackendResult:
        p = self.params
        left = context.time_left()
        limit = None if not math.isfinite(left) else max(left, 0.01)
        t0 = time.perf_counter()
        if use_pyomo:
            model = build_pyomo(form)
            if p["model_hook"] is not None:
                out = p["model_hook"](model)
                model = model if out is None else out
            extras["pyomo_build_seconds"] = time.perf_counter() - t0
            left = context.time_left()
            limit = None if not math.isfinite(left) else max(left, 0.01)
            result = solve_pyomo(model, p["backend"], time_limit=limit, mip_gap=p["mip_gap"],
                                 threads=p["threads"], backend_options=p["backend_options"], verbose=p["verbose"])
        else:
            start = None
            if warm is not None and len(warm) > 2:  # an assignment under a budget
                start = _assignment_start(form, warm[0], warm[2], self._allowed, self._groups)
            elif warm is not None:
                start = form.start_vector(problem.profit, warm[0], prefix=prefix)
            result = solve_highs(form, time_limit=limit, mip_gap=p["mip_gap"], threads=p["threads"],
                                 seed=context.seed, backend_options=p["backend_options"], start=start,
                                 verbose=p["verbose"])
        extras["solve_seconds"] = time.perf_counter() - t0
        extras["backend_status"] = result.raw_status
        extras.update(result.stats)
        return result

    def _decode(self, result: BackendResult, form, problem, side, allowed, warm, extras, context,
                groups=None) -> Solution:
        profit = problem.profit
        if result.termination == "infeasible" and not result.has_solution:
            why = self._diagnose(problem, side, context)
            return Solution(status="infeasible", termination="infeasible", message=f"Infeasible: {why}",
                            extras=extras)
        offered = assignment = None
        objective = -np.inf
        if result.has_solution:
            y = form.y_values(result.col_value)
            offered = np.flatnonzero(y > 0.5)
            if form.kind != "classic" and offered.size < problem.k_effective and not self.params["model_hook"]:
                offered = greedy_complete(profit, offered, problem.k_effective, allowed, side.exclusive)
            if side.budget is not None or self.params["model_hook"] is not None and form.kind == "classic":
                assignment = _model_assignment(result, form, allowed, groups)
                objective = problem.objective(assignment)
            elif side.min_count is not None:
                out = bounded_assignment(profit, offered, side.min_count[offered], side.max_count[offered])
                if out is None:  # cannot happen for a feasible y; keep the model's own x
                    assignment = _model_assignment(result, form, allowed, groups)
                    objective = problem.objective(assignment)
                else:
                    objective, assignment = out
            else:
                objective = objective_of(profit, offered)
        used_warm = False
        if warm is not None and warm[1] > objective + 1e-9 * max(1.0, abs(warm[1])):
            offered, objective, used_warm = warm[0], warm[1], True
            assignment = warm[2] if len(warm) > 2 else None
        extras["used_warm_start"] = used_warm
        if offered is None:
            return result.no_solution(extras)
        status, bound, message = result.status_of(objective)
        return Solution(offered=offered, assignment=assignment, status=status, bound=bound,
                        termination=result.termination, message=message, extras=extras)

    def _diagnose(self, problem, side, context) -> str:
        """Which constraint family makes the model infeasible: drop one at a time and re-solve."""
        families = []
        if side.budget is not None:
            families.append(("budget", "the budget on total cost"))
        if side.min_count is not None:
            families.append(("shares", "the share bounds (min_share / max_share)"))
        if side.exclusive.size:
            families.append(("exclusive", "the exclusive treatment pairs"))
        if side.forced.size:
            families.append(("forced", "the forced treatments"))
        if side.forbidden.size:
            families.append(("forbidden", "the forbidden treatments"))
        if self.params["model_hook"] is not None:
            return ("the model built with model_hook has no feasible solution; check the constraints "
                    "the hook adds.")
        for family, text in families:
            if not math.isfinite(context.time_left()) or context.time_left() > 1.0:
                relaxed = side.without(family)
                form = F.classic(problem.profit, problem.k, relaxed)
                left = context.time_left()
                r = solve_highs(form, time_limit=None if not math.isfinite(left) else left,
                                mip_gap=1e-2, threads=self.params["threads"], seed=0,
                                backend_options={"mip_max_improving_sols": 1})
                if r.has_solution:
                    return (f"{family}: {text} cannot be met together with the other constraints "
                            "(dropping them makes the problem feasible). Relax them.")
        if len(families) == 1:
            return f"{families[0][0]}: {families[0][1]} cannot be met. Relax them."
        return ("the constraints cannot all be met; no single family ("
                + ", ".join(f for f, _ in families) + ") is responsible on its own.")


def _model_assignment(result: BackendResult, form, allowed: np.ndarray, groups) -> np.ndarray:
    """The assignment held by the ``x`` columns of a classic model: each individual's column,
    or with ``groups`` (the aggregated classic model) the counts of each group spread over
    its members."""
    xa, xb = form.columns["x"]
    x = result.col_value[xa:xb].reshape(form.n, -1)
    if groups is None:
        return allowed[x.argmax(axis=1)]
    _, inverse, sizes = groups
    counts = np.maximum(np.rint(x), 0.0)
    rows = np.arange(counts.shape[0])
    counts[rows, counts.argmax(axis=1)] += sizes - counts.sum(axis=1)  # rounding: each group fully assigned
    return F.expand_counts(counts, inverse, allowed)


def _row_offsets(profit, columns=None, integral=True, out=None):
    """Each row's maximum over ``columns`` (all when None), the widest row's spread (max -
    min) and (unless ``integral`` is False) whether every profit there is an integer (of
    magnitude below 2**50, so that sums stay exact): one pass in blocks, which with ``out``
    also writes there each entry less its row's maximum."""
    n = profit.shape[0]
    shift = np.empty(n)
    spread, integral = 0.0, integral and np.issubdtype(profit.dtype, np.number)
    for s, block in row_blocks(profit, PASS_ELEMENTS):
        if columns is not None:
            block = block.take(columns, axis=1)
        e = s + block.shape[0]
        if integral:
            integral = bool(np.all(block == np.rint(block))) and float(np.abs(block).max(initial=0.0)) < 2.0**50
        np.max(block, axis=1, out=shift[s:e])
        spread = max(spread, float((shift[s:e] - block.min(axis=1)).max(initial=0.0)))
        if out is not None:
            np.subtract(block, shift[s:e, None], out=out[s:e])
    return shift, spread, integral


def _normalize(problem, columns=None):
    """``(P - rowmax) / spread`` as a problem sharing everything else (with ``columns``: a
    problem of those columns of ``P`` only, normalized by their own row maxima and spread),
    with ``spread``, the total shift (the objective in original units is ``spread * value +
    shift``) and whether every profit is an integer (see :func:`_row_offsets`)."""
    profit = problem.profit
    out = np.empty((profit.shape[0], profit.shape[1] if columns is None else columns.size))
    shift, spread, integral = _row_offsets(profit, columns, out=out)  # one pass: the columns gathered once
    scale = spread if spread > 0 and math.isfinite(spread) else 1.0
    if scale != 1.0:
        out /= scale
    out.setflags(write=False)
    if columns is not None:  # new memory, read-only: the problem keeps it without a copy
        return CoarseProblem(out, k=problem.k), scale, float(shift.sum()), integral
    new = object.__new__(type(problem))
    new.__dict__.update(problem.__dict__)
    new.profit = out
    return new, scale, float(shift.sum()), integral


_VALUE_EXTRAS = ("warm_start_objective", "lp_bound", "lagrangian_bound")


def _denormalize(sol: Solution, problem, scale: float, shift: float) -> Solution:
    """Bring a :class:`Solution` of the normalized problem back to the problem's units."""

    def back(v):
        return None if v is None else float(v) * scale + shift

    extras = dict(sol.extras)
    for key in _VALUE_EXTRAS:
        if extras.get(key) is not None:
            extras[key] = back(extras[key])
    if "history" in extras:
        extras["history"] = [(t, back(inc), back(b)) for t, inc, b in extras["history"]]
    bound = back(sol.bound)
    if bound is not None and (sol.offered is not None or sol.assignment is not None):
        if sol.assignment is not None:
            objective = problem.objective(np.asarray(sol.assignment))
        else:
            objective = problem.objective(problem.best_assignment(np.unique(np.asarray(sol.offered))))
        sol.status, bound, sol.message = in_profit_units(sol.status, sol.bound, sol.message, objective, scale, shift)
    sol.bound = bound
    sol.extras = extras
    return sol


def _assignment_start(form, offered, assignment, allowed, groups) -> np.ndarray:
    """The start vector of a classic model (or its aggregated form, counts per group) for an
    assignment."""
    v = np.zeros(form.num_col)
    a, _ = form.columns["y"]
    v[a + np.asarray(offered, dtype=np.intp)] = 1.0
    xa, _ = form.columns["x"]
    t = np.searchsorted(allowed, np.asarray(assignment, dtype=np.intp))
    rows = np.arange(t.size) if groups is None else groups[1]
    np.add.at(v, xa + rows * allowed.size + t, 1.0)
    return v


def _satisfies(offered: np.ndarray, side: F.SideConstraints) -> bool:
    """Whether offering ``offered`` (each individual its best) meets every side constraint."""
    if side.needs_assignment:
        return False
    return _rules_hold(offered, side)


def _rules_hold(offered: np.ndarray, side: F.SideConstraints) -> bool:
    """Whether ``offered`` meets the rules on the offered set (forced, forbidden, exclusive)."""
    s = set(int(j) for j in offered)
    if not set(side.forced.tolist()) <= s or s & set(side.forbidden.tolist()):
        return False
    return not any(a in s and b in s for a, b in side.exclusive.tolist())
