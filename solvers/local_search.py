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
improved by swap descent and then relinked with a random member of an elite pool in both
directions: walking from each of the two solutions towards the other by the best exchange
that brings in a treatment of the guide, the best intermediate solution of each walk is
improved by swap descent, the better kept. After
the starts, elite solutions are relinked pairwise, generation after generation, while this
improves the best one (evolutionary path-relinking).

**Large n** (multilevel refinement). The multistart phase runs on a uniform random
subsample of individuals, so its cost does not grow with ``n``. Its best solutions are then
improved by swap descent on nested samples eight times larger each, and relinked with each
other while a sample is small (as many solutions as fit in ``10^7`` profit entries, at least
two); the last level is every individual. The answer is therefore always a local optimum
under swaps of the full problem (unless the time limit stops the search first).

**Chunked data.** The engine and the search (:mod:`coarseopt_solvers.heuristics.swap`) are
written once over a profit source: a dask profit matrix is searched with the same options,
defaults and random draws as an in-memory one, each pass a map-reduce over its row blocks
(:mod:`coarseopt_solvers.kernels.source`); a sample small enough is loaded into memory.
This module holds the options and the entry points only.

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

import numbers

import numpy as np

from coarseopt.exceptions import OptionError, ProblemError
from coarseopt.solver import Option, Solution, Solver, check_bool, check_choice, check_int, check_optional, materialize

from .heuristics.budget import budget_extras, no_budgeted_set, solve_with_budget
from .heuristics.swap import SwapEngine, one_blas_thread, search
from .kernels.checks import check_offered, check_offered_option
from .kernels.source import as_source

__all__ = ["LocalSearchSolver", "swap_local_search"]


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
    profit : ndarray or dask.array.Array of shape (n, m)
        Finite profits; larger is better. A dask array is searched block by block, each pass
        a map-reduce over its row chunks (see :mod:`coarseopt_solvers.kernels.source`).
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
    chunked = not isinstance(profit, np.ndarray) and hasattr(profit, "chunks")
    if not chunked:
        profit = np.asarray(profit)
    if len(profit.shape) != 2 or profit.shape[0] < 1 or profit.shape[1] < 1:
        raise ProblemError(f"'profit' must be a non-empty 2-D array; got shape {profit.shape}.")
    if not chunked:
        profit = np.ascontiguousarray(profit, dtype=np.float64)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ProblemError(f"The 'k' parameter must be an int in the range [1, inf). Got {k!r} instead.")
    if improvement not in ("best", "first"):
        raise OptionError(f"'improvement' must be 'best' or 'first'; got {improvement!r}.")
    m = int(profit.shape[1])
    start = None if offered is None else check_offered(offered, m, int(k), "offered")
    eng = SwapEngine(as_source(profit), deadline)
    with one_blas_thread():
        s = eng.greedy(min(int(k), m), start)
        best, value, _ = eng.descend(s, improvement, rng)
    return np.sort(best), value


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
        larger). Default ``max(1000, 250_000 // m, 100 k)`` (``n`` when ``n`` is at most
        twice that), so the effort of the multistart does not grow with ``n``. Larger
        problems are then refined on nested samples eight times larger each (see the module
        docstring), the last one every individual.

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
    supports_budget = True
    supports_lazy = True
    options = {
        "init": Option(None, check_optional(check_offered_option), "warm-start offered set (column indices)"),
        "improvement": Option("best", check_choice("best", "first"), "swap rule: best or first improvement"),
        "restarts": Option(None, check_optional(check_int(1)), "number of constructions (default 32, or 16 on a subsample)"),
        "path_relinking": Option(True, check_bool, "relink local optima with elite solutions"),
        "elite_size": Option(10, check_int(1), "size of the elite pool"),
        "sample_size": Option(None, check_optional(check_int(1)), "individuals used by the multistart phase"),
    }

    def _solve(self, problem, context):
        if problem.has_budget:
            return self._solve_budget(materialize(problem, self.name) if problem.is_lazy else problem, context)
        p = self.params
        init = None if p["init"] is None else check_offered(np.asarray(p["init"], dtype=np.intp), problem.m, problem.k)
        with one_blas_thread():
            return search(problem, context, p, init)

    def _solve_budget(self, problem, context):
        """Sets searched under the budget's price, each assigned within the budget
        (:mod:`~coarseopt_solvers.heuristics.budget`). The bound is the smallest
        :math:`\\sum_i \\max_j (P_{ij} - \\lambda c_{ij}) + \\lambda B` over the prices tried (full
        personalization under the price: valid for every price)."""
        best, timed_out = solve_with_budget(self, problem, context, context.deadline)
        if best is None:
            return no_budgeted_set(timed_out, problem.k)
        bounds = [b for _, b in best.lagrangian_bounds]
        bound = max(min(bounds), best.value) if bounds and min(bounds) >= best.value - 1e-9 * max(1.0, abs(best.value)) else None
        status = "time_limit" if timed_out else "feasible"
        return Solution(offered=best.offered, assignment=best.assignment, status=status, bound=bound,
                        termination=status if timed_out else "converged", extras=budget_extras(best))
