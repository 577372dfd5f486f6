"""``ot``: coarse personalization as optimal transport (Zhang & Misra), a production heuristic.

The population, each individual a profit curve ``P_i``, is transported onto a discrete
measure with at most ``k`` atoms on the treatment space; the cost of sending ``i`` to atom
``j`` is the profit lost by not personalizing fully, ``c(i, j) = max_l P_il - P_ij``
(Zhang & Misra, *Coarse Personalization*, arXiv 2204.05793, sec. 3). Minimizing total
transport cost over the atoms' locations and the plan is the coarse personalization problem

.. math::

    \\max_{S,\\ |S| \\le k} \\sum_i \\max_{j \\in S} P_{ij}

(with segment-size bounds, a transportation problem with those marginals). It is solved by
a Lloyd-type alternation:

- **transport step** (atoms fixed): each individual goes to its most profitable atom; with
  share bounds, the exact transport plan with those marginals (see ``_ot_transport``);
- **support step** (plan fixed): each atom moves to the treatment maximizing its segment's
  total profit, :math:`\\arg\\max_t \\sum_{i \\in C_r} P_{it}`; atoms stay distinct by solving
  this as a ``k x m`` linear assignment (so the objective never decreases);

repeated to a fixed point, from several starts (restarts seeded as in k-means++: each next
atom drawn with probability proportional to the profit it would add; the first start is the
greedy one); an atom whose segment empties is re-seeded at the treatment adding the most
profit. On large ``n`` the restarts run on a uniform row sample and the best few fixed
points are re-run on all rows.

The fixed points are then **polished** with the swap local search (fast interchange,
Whitaker 1983; Resende & Werneck 2007) and the best polished sets are relinked pairwise
(evolutionary path-relinking, Resende & Werneck 2004). A support step that moves one atom
is a swap, so a swap-local optimum admits none; one that moves several atoms at once can
remain, so Lloyd rounds and swap descent alternate until neither improves: the returned
set is a local optimum under both moves (when the restarts ran on a row sample, the answer
is a swap-local optimum on all rows, the joint check being left out to keep large ``n``
fast). A **certified upper bound** (the Lagrangian / LP bound,
:func:`coarseopt_solvers.bounds.lagrangian_bound`; on many treatments, at least 80 and three
times ``k``, by column generation: :mod:`coarseopt_solvers.bounds.columns`) fills ``bound``
and ``gap``; the status
is ``feasible`` (or ``time_limit``) unless that bound proves the solution optimal. With a
``target_gap`` on many treatments, the bound is computed after the first few starts too, and
the search ends there when it already certifies that gap.

With ``profit_fn`` and numeric ``treatments``, atoms can leave the grid: each atom's level
is refined by a zooming search around its grid optimum (1-D, or coordinate-wise in d-D)
for its segment's total profit, alternating with reassignment. This refinement is a local,
approximate improvement (reported in ``extras``); the grid solution and its bound are what
``SolveResult`` holds.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from coarseopt.exceptions import OptionError
from coarseopt.solver import Option, Solution, Solver, check_bool, check_choice, check_float, check_int, materialize

from .bounds import budget_lagrangian_bound, chunked_lagrangian_bound, lagrangian_bound
from .bounds.columns import column_generation_bound, worth_generating
from ._ot_bounded import solve_bounded
from ._ot_offgrid import refine_offgrid
from .heuristics.budget import budget_extras, no_budgeted_set, solve_with_budget
from .heuristics.lloyd import lloyd, seed_atoms
from .heuristics.swap import ElitePool, SwapEngine, evolve, relink_and_descend
from .kernels.blocks import offered_value, row_blocks
from .kernels.limits import CACHE_ELEMENTS, improves
from .kernels.source import InMemorySource
from .local_search import swap_local_search

__all__ = ["OTSolver", "lloyd", "seed_atoms"]

# ---------------------------------------------------------------------- option checks
def _check_bound(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value == "auto":
        return "auto"
    raise ValueError("must be True, False or 'auto'")


def _check_callable(value: Any) -> Callable | None:
    if value is None or callable(value):
        return value
    raise TypeError("must be a callable profit_fn(levels) -> (n, q) array, or None")


def _check_init(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError("must be a non-empty sequence of column indices (ints)")
    if len(set(arr.tolist())) != arr.size:
        raise ValueError("must not repeat a column")
    return tuple(int(j) for j in arr)


# ---------------------------------------------------------------------- path-relinking
def _path_relinking(profit, found: dict, size: int, deadline) -> tuple[dict, int]:
    """Evolutionary path-relinking among the ``size`` best sets of ``found`` (``{set: value}``,
    extended with every set it reaches): the swap search's, on these rows."""
    eng = SwapEngine(InMemorySource(profit), deadline)
    pool = ElitePool(size)
    for key in sorted(found, key=lambda key: -found[key])[:size]:
        pool.add(np.array(key, dtype=np.intp), found[key])
    found = dict(found)
    relinks = 0

    def relink_pair(a, b):
        nonlocal relinks
        relinks += 1
        # from the better solution only: here the relinking polishes candidates before the
        # certificate, and the second direction (local-search's) slowed ot without changing
        # its answers when tried on step 1's fine grids at 10^5 individuals
        got = relink_and_descend(eng, a, b, both=False)
        if got is not None:
            key = tuple(np.sort(got[0]).tolist())
            found[key] = max(found.get(key, -np.inf), float(got[1]))
            pool.add(*got)

    evolve(eng, pool, relink_pair, generations=3)
    return found, relinks


EARLY_STARTS = 4  # starts run before the first look at the certificate (with target_gap)


def _gap(bound: float, objective: float) -> float:
    """The reported relative gap, ``(bound - objective) / max(1, |bound|)``."""
    return max(0.0, (bound - objective) / max(1.0, abs(bound)))


# ---------------------------------------------------------------------- the solver
class OTSolver(Solver):
    """Optimal-transport (Lloyd-type) heuristic of Zhang & Misra, polished and bounded.

    Options
    -------
    restarts : int, default 32
        Seeded starts of the Lloyd alternation (the first greedy, the others drawn as in
        k-means++). ``restarts=1, polish=False`` is the plain Lloyd algorithm of the paper
        (from the greedy start).
    max_iter : int, default 100
        Lloyd rounds per start.
    polish : bool, default True
        Improve every distinct Lloyd fixed point by swap descent and keep the best (with
        share bounds: swaps screened under free assignment, the best candidates checked
        under the exact bounded transport).
    bound : {"auto", True, False}, default "auto"
        Compute the certified Lagrangian (LP) bound, within the time limit. The bound is that
        of the problem *without* share bounds (valid, but loose when the shares bind), so
        ``"auto"`` computes it only for problems without share bounds; ``True`` always.
    target_gap : float, default 0.0
        Stop the bound once ``gap <= target_gap`` (0: until it proves optimality or stops
        improving). On many treatments (at least 80 and three times ``k``), the certificate is
        first computed after the first 4 starts, and the other starts run only when it misses
        ``target_gap`` (when it meets it, ``extras["certified_after"]`` is the number of starts
        run); otherwise the lower of the two bounds is kept.
    bound_iter : int, default 100
        Iterations of the bound's bundle method.
    shares_method : {"auto", "emd", "sinkhorn", "dual"}, default "auto"
        Transport step under share bounds: exact network simplex (POT ``ot.emd``),
        log-domain entropic transport (``ot.sinkhorn``) rounded and repaired, or coordinate
        descent on the atom potentials (semi-discrete dual) repaired; ``auto`` picks
        ``emd`` up to 5,000 individuals and ``dual`` above. All end feasible, with the
        counts met exactly.
    reg : float, default 0.01
        Entropic regularization of ``sinkhorn`` (relative to the largest lost profit).
    profit_fn : callable, optional
        ``profit_fn(levels) -> (n, q)`` array: profit of every individual at ``q`` treatment
        levels (``levels`` of shape ``(q,)``, or ``(q, d)`` for multi-dimensional
        ``treatments``). With ``problem.treatments`` set, atoms are refined off the grid.
    init : sequence of int, optional
        Warm start: offered columns tried first.
    elite : int, default 8
        With ``polish``, the best polished sets are relinked pairwise (evolutionary
        path-relinking; ``0`` or ``1`` turns it off). ``restarts=1, polish=False`` skips it.
    sample_size : int, default 20,000
        Rows drawn for the restarts when ``n`` is larger (the best fixed points are then
        re-run on all rows).
    """

    name = "ot"
    exact = False
    supports_shares = True
    supports_budget = True
    supports_lazy = True
    options = {
        "restarts": Option(32, check_int(1), "seeded starts of the Lloyd alternation"),
        "max_iter": Option(100, check_int(1), "Lloyd rounds per start"),
        "polish": Option(True, check_bool, "finish with the swap local search"),
        "bound": Option("auto", _check_bound, "compute the certified Lagrangian bound (True/False/'auto')"),
        "target_gap": Option(0.0, check_float(0.0), "stop the bound once the gap is at most this"),
        "bound_iter": Option(100, check_int(0), "iterations of the bound's bundle method"),
        "shares_method": Option("auto", check_choice("auto", "emd", "sinkhorn", "dual"),
                                "transport step under share bounds"),
        "reg": Option(1e-2, check_float(1e-9, 1e3), "entropic regularization of 'sinkhorn'"),
        "profit_fn": Option(None, _check_callable, "profit_fn(levels) -> (n, q): atoms off the grid"),
        "init": Option(None, _check_init, "warm-start offered columns"),
        "elite": Option(8, check_int(0), "polished sets relinked pairwise after the restarts (0: none)"),
        "sample_size": Option(20_000, check_int(100), "rows used by the restarts on large n"),
    }

    # ------------------------------------------------------------------ entry
    def _solve(self, problem, context):
        prm = self.params
        k = problem.k_effective
        if prm["init"] is not None:
            bad = [j for j in prm["init"] if not 0 <= j < problem.m]
            if bad or len(prm["init"]) > problem.k:
                raise OptionError(
                    f"The 'init' option of solver 'ot' must list at most k = {problem.k} distinct "
                    f"columns in [0, {problem.m}); got {list(prm['init'])}."
                )
        if prm["profit_fn"] is not None and problem.treatments is None:
            raise OptionError(
                "The 'profit_fn' option of solver 'ot' needs numeric treatment levels: build the "
                "problem with CoarseProblem(..., treatments=levels)."
            )
        if problem.has_budget:
            if prm["profit_fn"] is not None:
                raise OptionError(
                    "The 'profit_fn' option of solver 'ot' (atoms off the grid) does not honour a budget. "
                    "Drop profit_fn, or the problem's budget."
                )
            return self._solve_budget(materialize(problem, self.name) if problem.is_lazy else problem, context, k)
        if problem.is_lazy:
            if problem.has_share_bounds or prm["profit_fn"] is not None:
                problem = materialize(problem, self.name)
            else:
                return self._solve_lazy(problem, context, k)
        if problem.has_share_bounds:
            return self._solve_bounded(problem, context, k)
        return self._solve_free(problem, context, k)

    # ------------------------------------------------------------------ no share bounds
    def _solve_free(self, problem, context, k):
        prm = self.params
        profit = problem.profit
        n = problem.n
        rng = context.rng
        extras: dict[str, Any] = {}
        deadline = self._heuristic_deadline(context)
        timed_out = False
        sampled = n > prm["sample_size"]
        data = profit[np.sort(rng.choice(n, prm["sample_size"], replace=False))] if sampled else profit
        found: dict[tuple, float] = {}
        early = None
        for first, last in self._batches(problem):
            # 1. restarts (on a row sample when n is large)
            found, out = self._candidates(data, k, rng, deadline, extras, context, sampled,
                                          starts=range(first, last), pool=found)
            timed_out = timed_out or out
            # 2. the best candidate(s) on all rows
            best, best_value = self._best_on_all_rows(profit, k, found, sampled, rng, deadline)
            if deadline is not None and time.perf_counter() >= deadline:
                timed_out = True
            assignment = problem.best_assignment(best)
            if last == prm["restarts"] or timed_out:
                break
            # 3. the certificate after the first starts: the rest is not run once it meets target_gap
            early = self._finish_with_bound(problem, context, best, assignment, dict(extras), False,
                                            fixed_segments=False)
            if early.bound is not None and _gap(early.bound, problem.objective(assignment)) <= prm["target_gap"]:
                early.extras["certified_after"] = last
                return early
        solution = self._finish_with_bound(problem, context, best, assignment, extras, timed_out, fixed_segments=False)
        if early is not None and early.bound is not None:  # both bounds are valid: keep the lower
            solution.bound = early.bound if solution.bound is None else min(solution.bound, early.bound)
        return solution

    def _batches(self, problem) -> list[tuple[int, int]]:
        """Restart indices run before each look at the certificate. With ``target_gap`` on many
        treatments (where the column-generation bound is cheap and tight), the certificate is
        computed after the first few starts and the rest run only if it misses the gap."""
        prm = self.params
        restarts = prm["restarts"]
        first = min(restarts, EARLY_STARTS)
        early = (prm["target_gap"] > 0 and prm["bound"] is not False and prm["profit_fn"] is None
                 and first < restarts and worth_generating(problem.m, problem.k))
        return [(0, first), (first, restarts)] if early else [(0, restarts)]

    def _best_on_all_rows(self, profit, k, found, sampled, rng, deadline):
        """The best candidate; when the restarts ran on a row sample, the best two re-run on all
        rows (with ``polish``, the swap descent from the better of them there)."""
        prm = self.params
        ranked = sorted(found, key=lambda key: -found[key])
        if not sampled:
            best, best_value = np.array(ranked[0], dtype=np.intp), found[ranked[0]]
            if prm["polish"]:  # local optimum under swaps and multi-atom support steps
                best, best_value = self._both_moves(profit, k, best, best_value, rng, deadline)
            return best, best_value
        best, best_value = None, -np.inf
        ranked = ranked[: min(2, len(ranked))]
        if prm["polish"] and len(ranked) > 1:
            # the descent on every row, from the better of the two on every row (their values
            # are a gather of k columns each; a descent is several passes over the matrix)
            ranked = [max(ranked, key=lambda key: offered_value(row_blocks(profit, CACHE_ELEMENTS), np.array(key)))]
        for key in ranked:
            if prm["polish"]:
                atoms, value = swap_local_search(profit, k, np.array(key), rng=rng, deadline=deadline)
            else:
                atoms, value, _ = lloyd(profit, key, max_iter=prm["max_iter"], deadline=deadline)
            if value > best_value:
                best, best_value = np.sort(np.asarray(atoms, dtype=np.intp)), float(value)
        return best, best_value

    # ------------------------------------------------------------------ share bounds
    def _solve_bounded(self, problem, context, k):
        prm = self.params
        deadline = self._heuristic_deadline(context, shares=True)
        best, assignment, extras, timed_out = solve_bounded(problem, k, prm, context, deadline)
        if best is None:
            return Solution(status="time_limit" if timed_out else "infeasible",
                            termination="time_limit" if timed_out else "infeasible",
                            message="No feasible offered set was found within the time limit."
                            if timed_out else "No offered set of at most k treatments meets the share bounds.")
        return self._finish_with_bound(problem, context, best, assignment, extras, timed_out, fixed_segments=True)

    # ------------------------------------------------------------------ a budget
    def _solve_budget(self, problem, context, k):
        """Sets searched under the budget's price, each assigned within the budget
        (:mod:`~coarseopt_solvers.heuristics.budget`); the bound with the budget multiplier."""
        prm = self.params
        deadline = self._heuristic_deadline(context, shares=problem.has_share_bounds)
        best, timed_out = solve_with_budget(self, problem, context, deadline, bound=False)
        if best is None:
            return no_budgeted_set(timed_out, problem.k)
        extras = budget_extras(best)
        bound = None
        wanted = prm["bound"] is True or (prm["bound"] == "auto" and not problem.has_share_bounds)
        if wanted and not context.out_of_time():
            res = budget_lagrangian_bound(
                problem.profit, problem.cost, problem.k, problem.budget, price=best.price, incumbent=best.value,
                offered=best.offered, deadline=context.deadline, target_gap=prm["target_gap"],
                max_iter=prm["bound_iter"], progress=context.progress,
            )
            bound = max(res.bound, best.value) if res.bound >= best.value - 1e-9 * max(1.0, abs(best.value)) else res.bound
            extras.update(bound_price=res.price, bound_iterations=res.iterations, bound_termination=res.termination)
            timed_out = timed_out or res.termination == "time_limit"
        status = "time_limit" if timed_out else "feasible"
        return Solution(offered=best.offered, assignment=best.assignment, status=status, bound=bound,
                        termination=status if timed_out else "converged", extras=extras)

    # ------------------------------------------------------------------ lazy (dask) profit
    def _solve_lazy(self, problem, context, k):
        prm = self.params
        profit = problem.profit
        n = problem.n
        rng = context.rng
        deadline = self._heuristic_deadline(context)
        size = min(n, prm["sample_size"])
        idx = np.sort(rng.choice(n, size, replace=False))
        data = np.asarray(profit[idx].compute(), dtype=np.float64)
        extras: dict[str, Any] = {"lazy": True}
        found, _ = self._candidates(data, k, rng, deadline, extras, context, True)
        # the best sample candidates on all rows, chunk by chunk
        best, best_value = self._best_on_all_rows(profit, k, found, True, rng, deadline)
        timed_out = deadline is not None and time.perf_counter() >= deadline
        bound = None
        termination = "time_limit" if timed_out else "converged"
        if prm["bound"] is not False and not context.out_of_time():
            res = chunked_lagrangian_bound(profit, k, incumbent=best_value, offered=best, deadline=context.deadline,
                                           target_gap=prm["target_gap"] or None, max_iter=prm["bound_iter"])
            bound = res.bound
            extras.update(bound_iterations=res.iterations, bound_termination=res.termination)
        return Solution(offered=best, status="time_limit" if timed_out else "feasible", bound=bound,
                        termination=termination, extras=extras)

    # ------------------------------------------------------------------ shared pieces
    def _candidates(self, data, k, rng, deadline, extras, context, sampled, starts=None, pool=None):
        """Restarts of the Lloyd alternation on ``data`` (the ``starts``, all by default), then
        (with ``polish``) swap descent and path-relinking, joined with the sets of ``pool``:
        ``{offered set: objective on data}`` and whether time ran out."""
        prm = self.params
        timed_out = False
        starts = range(prm["restarts"]) if starts is None else starts
        found: dict[tuple, float] = {}
        iters = extras.setdefault("lloyd_iterations", [])
        with context.bar(total=len(starts), desc="ot restarts", unit="start") as bar:
            for r in starts:
                if r > 0 and deadline is not None and time.perf_counter() >= deadline:
                    timed_out = True
                    break
                s0 = self._seed(data, k, rng, r)
                atoms, value, info = lloyd(data, s0, max_iter=prm["max_iter"], deadline=deadline)
                iters.append(info["iterations"])
                key = tuple(atoms.tolist())
                found[key] = max(found.get(key, -np.inf), value)
                bar.update(1)
        extras["restarts"] = len(iters)
        if not sampled:
            lloyd_best = max(found.values(), default=-np.inf)
            extras["lloyd_objective"] = max(lloyd_best, extras.get("lloyd_objective") or -np.inf)
        else:
            extras["lloyd_objective"] = None
        # 2. polish every distinct fixed point (swap descent), on the rows the restarts used
        #    (on a row sample: the ``elite`` best ones)
        if prm["polish"]:
            polished: dict[tuple, float] = {}
            ranked = sorted(found, key=lambda key: -found[key])
            if sampled:  # on a sample, the best fixed points are worth the polish
                ranked = ranked[: max(prm["elite"], 2)]
            for key in ranked:
                if deadline is not None and time.perf_counter() >= deadline and polished:
                    timed_out = True
                    break
                offered, value = swap_local_search(data, k, np.array(key), rng=rng, deadline=deadline)
                okey = tuple(np.sort(offered).tolist())
                polished[okey] = max(polished.get(okey, -np.inf), float(value))
            found = polished
        for key, value in (pool or {}).items():  # the sets found before
            found[key] = max(found.get(key, -np.inf), value)
        if prm["polish"] and prm["elite"] >= 2:
            found, relinks = _path_relinking(data, found, prm["elite"], deadline)
            extras["relinks"] = extras.get("relinks", 0) + relinks
        return found, timed_out

    @staticmethod
    def _both_moves(profit, k, best, best_value, rng, deadline, rounds: int = 20):
        """Alternate Lloyd rounds and swap descent until neither improves: a local optimum
        under both moves (a swap-local optimum can still admit a support step that moves
        several atoms at once)."""
        for _ in range(rounds):
            atoms, value, _ = lloyd(profit, best, deadline=deadline)
            if not improves(value, best_value):
                break
            offered, value = swap_local_search(profit, k, atoms, rng=rng, deadline=deadline)
            best, best_value = np.sort(np.asarray(offered, dtype=np.intp)), float(value)
            if deadline is not None and time.perf_counter() >= deadline:
                break
        return best, best_value

    def _seed(self, data, k, rng, r, allowed=None):
        """Start ``r``: the warm start (completed greedily), then greedy, then k-means++ draws."""
        init = self.params["init"]
        if init is not None:
            if r == 0:
                return seed_atoms(data, k, rng, greedy=True, start=init, allowed=allowed)
            r -= 1
        return seed_atoms(data, k, rng, greedy=(r == 0), allowed=allowed)

    def _heuristic_deadline(self, context, shares: bool = False) -> float | None:
        """The heuristic gets the whole time limit without the bound, 60% of it with."""
        if context.deadline is None:
            return None
        if self.params["bound"] is False or (self.params["bound"] == "auto" and shares):
            return context.deadline
        return context.start + 0.6 * context.time_limit

    def _finish_with_bound(self, problem, context, best, assignment, extras, timed_out, fixed_segments):
        """Off-grid refinement of the atoms (with ``profit_fn``), then the certified bound."""
        prm = self.params
        objective = problem.objective(assignment)
        if prm["profit_fn"] is not None:
            extras.update(refine_offgrid(prm["profit_fn"], problem, best, assignment, fixed_segments=fixed_segments,
                                         deadline=context.deadline))
        bound = None
        termination = "time_limit" if timed_out else "converged"
        # "auto": the bound ignores share bounds, so it is computed by default only without them
        wanted = prm["bound"] is True or (prm["bound"] == "auto" and not problem.has_share_bounds)
        if wanted and not context.out_of_time():
            if worth_generating(problem.m, problem.k):  # many treatments: by column generation
                res = column_generation_bound(problem.profit, problem.k, best, incumbent=objective,
                                              deadline=context.deadline, target_gap=prm["target_gap"] or None)
                extras["bound_rounds"] = res.rounds
            else:
                res = lagrangian_bound(
                    problem.profit, problem.k, incumbent=objective, offered=best, deadline=context.deadline,
                    target_gap=prm["target_gap"], max_iter=prm["bound_iter"], progress=context.progress,
                )
            bound = res.bound  # with share bounds: the bound of the problem without them (valid)
            extras["bound_iterations"] = res.iterations
            extras["bound_termination"] = res.termination
            extras["lp_lower"] = res.lp_lower
            if res.termination == "time_limit":
                termination = "time_limit"
        status = "time_limit" if termination == "time_limit" else "feasible"
        return Solution(offered=best, assignment=assignment, status=status, bound=bound,
                        termination=termination, extras=extras)
