"""Baselines: what a practitioner does without a coarse personalization solver.

Three plugins, each an honest heuristic (status ``feasible``, no bound unless one is proven):

``grid-search``
    Offer only treatments that were arms of the experiment (``problem.arms``, the
    "prespecified grid") and pick the best subset of at most ``k`` of them,

    .. math:: \\max_{S \\subseteq A,\\ |S| \\le k} \\ \\sum_i \\max_{j \\in S} P_{ij},

    exhaustively when ``C(|A|, k)`` is small, otherwise by greedy addition followed by
    swaps. This is the *discrete-treatment* practice Zhang & Misra (*Coarse
    Personalization*, arXiv 2204.05793, Sec. 5) compare against: the treatments tested are
    the only ones offered.
``kmeans-features``
    Segment customers by k-means on their (standardized) characteristics
    ``problem.features``, then give each segment the treatment with the largest total
    profit in it, ``argmax_j sum_{i in segment} P_ij``. A segment policy a marketer can
    apply to a new customer from features alone.
``kmeans-preferences``
    The same, but k-means runs on the estimated profit curves (rows of ``P``, or their
    regret ``max_l P_il - P_ij``): segmenting on preferences, with Euclidean cells instead
    of the profit-maximizing cells of the ``ot`` solver.

The k-means baselines use scikit-learn's ``KMeans`` (``MiniBatchKMeans`` above
``minibatch_above`` individuals), seeded by the ``seed`` of :func:`coarseopt.solve`. Their
fitted segmentation is kept in ``result.extras`` (``centers``, ``center_shift``,
``center_scale``, ``segment_treatment``, ``segment``) so that :func:`predict_segments`
can apply the segment policy to new customers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from coarseopt.exceptions import ProblemError, UnsupportedProblemError
from coarseopt.result import SolveResult
from coarseopt.solver import Option, Solution, Solver, check_bool, check_choice, check_int

from .kernels.combinations import best_of_combinations

__all__ = ["GridSearchSolver", "KMeansFeaturesSolver", "KMeansPreferencesSolver", "predict_segments"]


def _subset_values(profit: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """``f(S)`` for each row ``S`` of ``sets`` (shape (b, r)), in row blocks."""
    out = np.zeros(len(sets))
    step = max(1, 16_000_000 // max(1, sets.size))
    for start in range(0, profit.shape[0], step):
        block = profit[start : start + step]
        out += block[:, sets].max(axis=2).sum(axis=0)
    return out


class GridSearchSolver(Solver):
    """Best subset of at most ``k`` of the experiment's arms (``problem.arms``).

    Options
    -------
    max_sets : int, default 200_000
        Check every subset of ``min(k, |arms|)`` arms when there are at most this many;
        otherwise use greedy addition and swaps within the arms (a heuristic, said so in
        ``result.message``).

    Notes
    -----
    The answer is optimal *within the arms*, which is the point of the baseline: profit left
    on the table by not offering untested treatment levels. When the arms are every
    column and the search is exhaustive the result is a proven optimum and carries its
    bound.

    Examples
    --------
    >>> import numpy as np, coarseopt as co
    >>> profit = np.array([[3.0, 0.0, 2.5], [0.0, 3.0, 2.5]])
    >>> r = co.solve(co.CoarseProblem(profit, k=1, arms=[0, 1]), solver="grid-search")
    >>> r.offered.tolist(), r.objective
    ([0], 3.0)
    """

    name = "grid-search"
    exact = False
    options = {
        "max_sets": Option(200_000, check_int(1), "largest number of arm subsets checked exhaustively"),
    }

    def _solve(self, problem, context):
        if problem.arms is None:
            raise UnsupportedProblemError(
                "Solver 'grid-search' needs the experiment's arms: 'arms' is None. Pass "
                "arms=[...] (column indices or labels of the treatments that were tested) to "
                "CoarseProblem, or use est.to_problem(k), which fills them in."
            )
        arms = np.asarray(problem.arms, dtype=np.intp)
        r = min(problem.k, arms.size)
        n_sets = math.comb(arms.size, r)
        sub = np.ascontiguousarray(problem.profit[:, arms])
        if n_sets <= self.params["max_sets"]:
            best_val, best_set, checked = self._exhaustive(sub, r, n_sets, context)
            complete = checked == n_sets
            method = "exhaustive" if complete else f"exhaustive, stopped by the time limit after {checked} of {n_sets} subsets"
        else:
            best_val, best_set = self._greedy_swap(sub, r, context)
            complete = False
            method = "greedy + swap (too many subsets to check them all)"
        offered = arms[np.asarray(best_set, dtype=np.intp)]
        everything = arms.size == problem.m
        proven = complete and everything
        return Solution(
            offered=offered,
            status="optimal" if proven else ("time_limit" if context.out_of_time() else "feasible"),
            bound=best_val if proven else None,
            termination="time_limit" if context.out_of_time() else "converged",
            message=f"best subset of the {arms.size} arms: {method}",
            extras={"arms": arms.tolist(), "subsets": n_sets, "method": method},
        )

    @staticmethod
    def _exhaustive(sub, r, n_sets, context):
        batch = max(1, min(n_sets, 4_000_000 // max(1, sub.shape[0] * r)))
        best_val, best_set, checked, _ = best_of_combinations(
            sub.shape[1], r, batch, lambda chunk: _subset_values(sub, chunk), out_of_time=context.out_of_time)
        return best_val, best_set, checked

    @staticmethod
    def _greedy_swap(sub, r, context):
        n, a = sub.shape
        chosen: list[int] = []
        best = np.full(n, -np.inf)
        for _ in range(r):
            gains = np.maximum(sub, best[:, None]).sum(axis=0)
            gains[chosen] = -np.inf
            j = int(gains.argmax())
            chosen.append(j)
            best = np.maximum(best, sub[:, j])
        value = float(best.sum())
        improved = True
        while improved and not context.out_of_time():
            improved = False
            for pos in range(r):
                rest = [c for t, c in enumerate(chosen) if t != pos]
                base = sub[:, rest].max(axis=1) if rest else np.full(n, -np.inf)
                values = np.maximum(sub, base[:, None]).sum(axis=0)
                values[rest] = -np.inf
                j = int(values.argmax())
                if values[j] > value * (1 + 1e-12) + 1e-12 and j != chosen[pos]:
                    chosen[pos], value, improved = j, float(values[j]), True
        return value, np.array(sorted(chosen), dtype=np.intp)


#: Lloyd iterations (``KMeans``) or epochs (``MiniBatchKMeans``) between two checks of the
#: time limit.
KMEANS_SLICE = {"KMeans": 10, "MiniBatchKMeans": 1}


def _fit_by_slices(cls, x, n_clusters, random_state, max_iter, extra, context):
    """Fit ``cls`` (``KMeans`` or ``MiniBatchKMeans``) for at most ``max_iter`` iterations,
    a slice at a time (each slice starts from the previous centres; for Lloyd this is the
    same sequence of iterations as one fit), stopping early at the time limit. Returns the
    fitted model and whether the time limit cut it short."""
    slice_ = KMEANS_SLICE[cls.__name__]
    minibatch = cls.__name__ == "MiniBatchKMeans"
    steps_per_epoch = math.ceil(x.shape[0] / extra["batch_size"]) if minibatch else 0
    init, done, slices = "k-means++", 0, 0
    while True:
        step = min(slice_, max_iter - done)
        # a mini-batch slice draws its own batches (Lloyd uses the seed for its start only)
        seed = random_state if random_state is None or not minibatch else (random_state + slices) % (2**32)
        model = cls(n_clusters=n_clusters, init=init, n_init=1, max_iter=step, random_state=seed, **extra)
        slices += 1
        model.fit(x)
        done += step
        # converged inside the slice: Lloyd stopped before its last iteration, or the
        # mini-batch method before the end of its epochs
        converged = model.n_steps_ < step * steps_per_epoch if minibatch else model.n_iter_ < step
        if converged or done >= max_iter:
            return model, False
        if context.out_of_time():
            return model, True
        init = model.cluster_centers_


class _KMeansSegments(Solver):
    """Shared machinery: k-means segments, then the best treatment per segment."""

    exact = False
    requires = ("sklearn",)
    options = {
        "n_init": Option(3, check_int(1), "k-means restarts (the best inertia is kept)"),
        "max_iter": Option(300, check_int(1), "k-means iterations per restart"),
        "minibatch_above": Option(100_000, check_int(1), "use MiniBatchKMeans above this many individuals"),
        "assign": Option(
            "segment", check_choice("segment", "best"),
            "'segment': everyone gets its segment's treatment; 'best': its best offered treatment",
        ),
    }

    def _points(self, problem) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        """``(X, shift, scale, kind)``: the points clustered and the standardization used."""
        raise NotImplementedError

    def _solve(self, problem, context):
        from sklearn.cluster import KMeans, MiniBatchKMeans

        x, shift, scale, kind = self._points(problem)
        n = problem.n
        n_distinct = min(n, problem.k)
        seed = None if context.seed is None else int(context.seed) % (2**32)
        kmeans = MiniBatchKMeans if n > self.params["minibatch_above"] else KMeans
        extra = {"batch_size": 4096} if kmeans is MiniBatchKMeans else {}
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        # One restart at a time (each seeded from the run's seed), each fitted a slice of
        # iterations at a time, so that a time limit is honoured within a slice; the restart
        # with the smallest inertia is kept, as scikit-learn's own n_init does.
        model, labels, restarts, cut = None, None, 0, False
        for r in range(self.params["n_init"]):
            if r > 0 and context.out_of_time():
                break
            with warnings.catch_warnings():
                # Fewer distinct points than k: some clusters stay empty, which is harmless here.
                warnings.simplefilter("ignore", ConvergenceWarning)
                candidate, stopped = _fit_by_slices(
                    kmeans, x, n_distinct, None if seed is None else (seed + r) % (2**32),
                    self.params["max_iter"], extra, context)
            restarts += 1
            cut = cut or stopped
            if model is None or candidate.inertia_ < model.inertia_:
                model, labels = candidate, candidate.labels_
        timed_out = cut or restarts < self.params["n_init"]
        n_seg = model.cluster_centers_.shape[0]
        totals = np.zeros((n_seg, problem.m))
        for s in range(n_seg):
            totals[s] = problem.profit[labels == s].sum(axis=0)
        present = np.bincount(labels, minlength=n_seg) > 0
        # An empty segment keeps the overall best treatment (it serves nobody in-sample).
        overall = int(problem.profit.sum(axis=0).argmax())
        segment_treatment = np.where(present, totals.argmax(axis=1), overall).astype(np.intp)
        offered = np.unique(segment_treatment[labels])
        if self.params["assign"] == "segment":
            assignment = segment_treatment[labels]
        else:
            assignment = problem.best_assignment(offered)
        return Solution(
            offered=offered,
            assignment=assignment,
            status="time_limit" if timed_out else "feasible",
            termination="time_limit" if timed_out else "converged",
            message=f"k-means on {kind} ({type(model).__name__}), best treatment per segment",
            extras={
                "segment": labels.astype(np.intp),
                "segment_treatment": segment_treatment,
                "centers": model.cluster_centers_,
                "center_shift": shift,
                "center_scale": scale,
                "clustered_on": kind,
                "inertia": float(model.inertia_),
                "restarts": restarts,
            },
        )


class KMeansFeaturesSolver(_KMeansSegments):
    """k-means on customer characteristics, then the best treatment per segment.

    Needs ``problem.features``. Each feature is standardized (``standardize=True``) so
    that no single unit dominates the distances.

    Options
    -------
    n_init, max_iter : int
        Passed to scikit-learn's k-means.
    minibatch_above : int, default 100_000
        Above this many individuals ``MiniBatchKMeans`` is used.
    assign : {"segment", "best"}, default "segment"
        ``"segment"``: each individual gets its segment's treatment (a policy that needs
        features only); ``"best"``: its most profitable offered treatment.
    standardize : bool, default True
        Scale each feature to mean 0 and standard deviation 1 first.

    Examples
    --------
    >>> import numpy as np, coarseopt as co
    >>> profit = np.array([[3.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 2.0]])
    >>> features = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> r = co.solve(co.CoarseProblem(profit, k=2, features=features), solver="kmeans-features")
    >>> r.assignment.tolist()
    [0, 0, 1, 1]
    """

    name = "kmeans-features"
    options = {
        **_KMeansSegments.options,
        "standardize": Option(True, check_bool, "scale each feature to mean 0, standard deviation 1"),
    }

    def _points(self, problem):
        if problem.features is None:
            raise UnsupportedProblemError(
                "Solver 'kmeans-features' needs customer characteristics: 'features' is None. "
                "Pass features=(n, p) covariates to CoarseProblem (est.to_problem(k) fills them "
                "in), or use 'kmeans-preferences', which segments on the profit curves."
            )
        x = np.asarray(problem.features, dtype=np.float64)
        if not np.isfinite(x).all():
            raise ProblemError(
                "Solver 'kmeans-features' needs finite 'features'; some are NaN or inf. Impute or drop them."
            )
        return _standardize(x, self.params["standardize"]) + ("features",)


class KMeansPreferencesSolver(_KMeansSegments):
    """k-means on the estimated profit curves, then the best treatment per segment.

    Options
    -------
    n_init, max_iter, minibatch_above, assign
        As for ``kmeans-features``.
    on : {"profit", "regret"}, default "profit"
        Cluster the rows of ``profit`` as they are, or the regret rows
        ``max_l P_il - P_ij`` (curves aligned at their best treatment).

    Examples
    --------
    >>> import numpy as np, coarseopt as co
    >>> profit = np.array([[3.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 2.0]])
    >>> r = co.solve(co.CoarseProblem(profit, k=2), solver="kmeans-preferences")
    >>> sorted(r.offered.tolist()), r.objective
    ([0, 1], 10.0)
    """

    name = "kmeans-preferences"
    options = {
        **_KMeansSegments.options,
        "on": Option("profit", check_choice("profit", "regret"), "cluster profit rows or regret rows"),
    }

    def _points(self, problem):
        x = problem.profit
        if self.params["on"] == "regret":
            x = x.max(axis=1, keepdims=True) - x
        x = np.asarray(x, dtype=np.float64)
        return x, np.zeros(x.shape[1]), np.ones(x.shape[1]), self.params["on"] + " curves"


def _standardize(x: np.ndarray, on: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not on:
        return x, np.zeros(x.shape[1]), np.ones(x.shape[1])
    shift = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    return (x - shift) / scale, shift, scale


def predict_segments(result: SolveResult, points: Any) -> np.ndarray:
    """Apply a k-means baseline's segment policy to new individuals.

    Parameters
    ----------
    result : SolveResult
        A result of ``kmeans-features`` or ``kmeans-preferences``.
    points : array-like of shape (n_new, d)
        The new individuals' features (``kmeans-features``) or profit rows
        (``kmeans-preferences``; regret is taken here when the solver clustered regret).

    Returns
    -------
    ndarray of int, shape (n_new,)
        The column of the treatment each new individual's segment gets.
    """
    needed = ("centers", "center_shift", "center_scale", "segment_treatment", "clustered_on")
    if any(key not in result.extras for key in needed):
        raise ValueError(
            f"predict_segments needs a result of 'kmeans-features' or 'kmeans-preferences'; got one of "
            f"{result.solver!r}. Solve with one of those solvers first."
        )
    x = np.asarray(points, dtype=np.float64)
    centers = np.asarray(result.extras["centers"])
    if x.ndim != 2 or x.shape[1] != centers.shape[1]:
        raise ValueError(
            f"'points' must have shape (n_new, {centers.shape[1]}), like the data the segments were "
            f"fitted on; got shape {x.shape}."
        )
    if result.extras["clustered_on"] == "regret curves":
        x = x.max(axis=1, keepdims=True) - x
    x = (x - result.extras["center_shift"]) / result.extras["center_scale"]
    out = np.empty(x.shape[0], dtype=np.intp)
    c2 = (centers**2).sum(axis=1)
    step = 200_000
    for start in range(0, x.shape[0], step):
        block = x[start : start + step]
        d = c2[None, :] - 2.0 * block @ centers.T
        out[start : start + step] = d.argmin(axis=1)
    return np.asarray(result.extras["segment_treatment"])[out]
