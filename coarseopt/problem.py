"""The coarse personalization problem (step 2).

.. math::

    \\max_{S \\subseteq \\{1..m\\},\\ |S| \\le k} \\ f(S) = \\sum_i \\max_{j \\in S} P_{ij}

with optional bounds on the share of individuals assigned to each *offered* treatment and an
optional budget on what the assignment spends, :math:`\\sum_i c_{i a(i)} \\le B`.
Given ``S`` (and no share bounds) the assignment is pointwise: each individual gets its most
profitable offered treatment. ``f`` is monotone submodular; with ``D = -P`` this is the
p-median problem on a rectangular cost matrix (Zhang & Misra, *Coarse Personalization*,
arXiv 2204.05793).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from .exceptions import InfeasibleProblemError, ProblemError

__all__ = ["CoarseProblem"]


def _is_dask_array(x: Any) -> bool:
    return type(x).__module__.startswith("dask.") and hasattr(x, "chunks")


def _read_only_throughout(arr: np.ndarray) -> bool:
    """True when neither ``arr`` nor any array it is a view of can be written."""
    while isinstance(arr, np.ndarray):
        if arr.flags.writeable:
            return False
        arr = arr.base
    return arr is None or isinstance(arr, bytes)


def _snapshot(arr: np.ndarray, given: Any) -> np.ndarray:
    """A read-only array that no one can change through the caller's object ``given``.

    ``arr`` was derived from ``given``; it is copied when it may share memory with something
    writable, and kept as it is when it is new memory or a read-only array all the way down
    (an array the caller handed over read-only is never copied).
    """
    shared = arr.base is not None or arr is given
    if shared and not _read_only_throughout(arr):
        arr = arr.copy()
    else:
        arr = arr.view()
    arr.setflags(write=False)
    return arr


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class CoarseProblem:
    """Choose at most ``k`` treatments to offer and who gets each, maximizing total profit.

    Parameters
    ----------
    profit : array-like of shape (n, m)
        ``profit[i, j]`` is the expected (incremental) profit of individual ``i`` under
        candidate treatment ``j``; larger is better. A numpy array, a pandas DataFrame
        (its column labels name the treatments, its index names the individuals) or a dask
        array (kept lazy, for solvers that work chunk by chunk). The problem keeps a
        read-only snapshot: changing the caller's array afterwards does not change the
        problem. An array that is read-only (itself and whatever it views) is kept without a
        copy; any other in-memory input is copied once. A dask array is a recipe, read when
        a solver runs.
    k : int
        At most ``k`` distinct treatments may be offered (``k >= 1``). A ``k`` larger than
        the number of treatments ``m`` means "no limit" (full personalization).
    treatments : array-like of shape (m,) or (m, d), optional
        Numeric level of each treatment (e.g. discount depth), used by solvers that move
        offered treatments off the grid and by plots.
    features : array-like of shape (n, p), optional
        Covariates of the individuals: used by feature-based baselines and segment profiles.
        Kept as a read-only snapshot, like ``profit``.
    arms : sequence of int or column labels, optional
        The columns that were arms of the experiment (the prespecified grid of the
        ``grid-search`` baseline).
    min_share, max_share : float or array-like of shape (m,), optional
        Lower / upper bound on the share of individuals assigned to each *offered*
        treatment. A treatment that is not offered has share 0 and is not constrained.
    cost : array-like of shape (m,) or (n, m), optional
        Finite, non-negative cost of giving each treatment (``(m,)``: the same for every
        individual) or each individual each treatment (``(n, m)``). With a dask ``profit``
        the cost is ``(m,)``, a numpy ``(n, m)`` array or a dask ``(n, m)`` array with the
        same rows. Without ``budget`` it only reports what an assignment spends
        (``result.extras["spend"]``).
    budget : float, optional
        The most the whole assignment may spend: ``sum_i cost[i, assignment[i]] <= budget``
        (needs ``cost``; finite, ``>= 0``). A budget below the cheapest possible spend
        raises :class:`~coarseopt.exceptions.InfeasibleProblemError` naming that spend.

    Attributes
    ----------
    profit : ndarray of shape (n, m), float64 (or a dask array)
    n, m, k : int
    treatment_labels : tuple
        Column labels (DataFrame columns, or ``0..m-1``).
    index : pandas.Index or None
        Row labels of a DataFrame ``profit``.
    min_count, max_count : ndarray of shape (m,) or None
        The share bounds as whole numbers of individuals (``ceil(min_share * n)``,
        ``floor(max_share * n)``): what solvers enforce.
    cost : ndarray of shape (n, m) or None
        The cost, read-only; a ``(m,)`` cost is broadcast (a view, no copy). A dask array
        when given one.
    budget : float or None
    min_spend : float or None
        ``sum_i min_j cost[i, j]``: no assignment spends less (with ``k`` limiting the
        offered treatments the cheapest spend can be higher).

    Examples
    --------
    >>> import numpy as np, coarseopt as co
    >>> problem = co.CoarseProblem(np.array([[3.0, 1.0], [0.0, 2.0]]), k=1)
    >>> problem.n, problem.m, problem.k
    (2, 2, 1)
    """

    def __init__(
        self,
        profit: Any,
        k: int,
        *,
        treatments: Any = None,
        features: Any = None,
        arms: Sequence[Any] | None = None,
        min_share: Any = None,
        max_share: Any = None,
        cost: Any = None,
        budget: Any = None,
    ) -> None:
        self.index = None
        self.treatment_labels: tuple = ()
        self.profit = self._check_profit(profit)
        self.n, self.m = (int(s) for s in self.profit.shape)
        self.k = self._check_k(k)
        self.treatments = self._check_treatments(treatments)
        self.features, self.feature_names = self._check_features(features)
        self.arms = self._check_arms(arms)
        self.min_share = self._check_share("min_share", min_share)
        self.max_share = self._check_share("max_share", max_share)
        self.min_count, self.max_count = self._check_share_feasibility()
        self.cost, self.cost_per_treatment = self._check_cost(cost)
        self.budget = self._check_budget(budget)
        self.min_spend = self._check_budget_feasibility()

    # ------------------------------------------------------------------ validation
    def _check_profit(self, profit: Any) -> Any:
        given = profit
        if profit is None:
            raise ProblemError("The 'profit' argument is required: an (n, m) array of profits.")
        if hasattr(profit, "columns") and hasattr(profit, "to_numpy"):  # pandas DataFrame
            labels = list(profit.columns)
            duplicated = profit.columns.duplicated()  # also catches repeated NaN labels
            if duplicated.any() or len(set(map(_hashable, labels))) != len(labels):
                dup = sorted({str(c) for c, d in zip(labels, duplicated) if d})
                raise ProblemError(
                    f"The columns of 'profit' must name distinct treatments; duplicated "
                    f"labels: {dup}. Rename or drop the duplicated columns."
                )
            non_numeric = [c for c, t in profit.dtypes.items() if not _numeric_dtype(t)]
            if non_numeric:
                raise ProblemError(
                    f"Every column of 'profit' must be numeric; non-numeric columns: "
                    f"{[str(c) for c in non_numeric][:10]}. Convert them or drop them."
                )
            self.treatment_labels = tuple(labels)
            self.index = profit.index
            profit = profit.to_numpy(dtype=np.float64)
        elif _is_dask_array(profit):
            return self._check_dask_profit(profit)
        else:
            if hasattr(profit, "ndim") and getattr(profit, "ndim", 2) == 1 and hasattr(profit, "to_numpy"):
                raise ProblemError("'profit' must be 2-D (n individuals x m treatments); got a 1-D Series.")
            try:
                profit = np.asarray(profit)
            except Exception as exc:  # ragged lists etc.
                raise ProblemError(f"'profit' could not be read as an array: {exc}") from None
        if profit.ndim != 2:
            raise ProblemError(
                f"'profit' must be 2-D (n individuals x m treatments); got shape {profit.shape}. "
                "For one treatment per individual use profit.reshape(-1, 1)."
            )
        if not _numeric_dtype(profit.dtype) or profit.dtype == np.bool_:
            raise ProblemError(
                f"'profit' must hold real numbers; got dtype {profit.dtype}. "
                "Convert it with profit.astype(float)."
            )
        if profit.shape[0] < 1 or profit.shape[1] < 1:
            raise ProblemError(
                f"'profit' needs at least one individual and one treatment; got shape {profit.shape}."
            )
        profit = np.ascontiguousarray(profit, dtype=np.float64)
        # min and max carry any NaN or infinity: no temporary of the matrix's size unless one is there
        lo, hi = float(profit.min()), float(profit.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            finite = np.isfinite(profit)
            i, j = np.argwhere(~finite)[0]
            count = int(finite.size - finite.sum())
            raise ProblemError(
                f"'profit' must be finite; found {count} NaN or infinite value(s), the first at "
                f"row {i}, column {j} (value {profit[i, j]}). Impute or drop those individuals, "
                "or use a large negative number for a forbidden treatment."
            )
        _check_magnitude(max(abs(lo), abs(hi)), profit.shape[0])
        if not self.treatment_labels:
            self.treatment_labels = tuple(range(profit.shape[1]))
        return _snapshot(profit, given)

    def _check_dask_profit(self, profit: Any) -> Any:
        import dask.array as da

        if profit.ndim != 2:
            raise ProblemError(f"'profit' must be 2-D (n individuals x m treatments); got shape {profit.shape}.")
        if any(isinstance(s, float) and math.isnan(s) for s in profit.shape):
            raise ProblemError(
                "'profit' is a dask array of unknown row count; call profit.compute_chunk_sizes() first."
            )
        if not _numeric_dtype(profit.dtype) or profit.dtype == np.bool_:
            raise ProblemError(f"'profit' must hold real numbers; got dtype {profit.dtype}.")
        if profit.shape[0] < 1 or profit.shape[1] < 1:
            raise ProblemError(f"'profit' needs at least one individual and one treatment; got shape {profit.shape}.")
        if profit.dtype not in (np.float32, np.float64):
            profit = profit.astype(np.float64)
        if len(profit.chunks[1]) != 1:  # whole rows per chunk: solvers map over row blocks
            profit = profit.rechunk({1: -1})
        n_bad, max_abs = (
            float(v) for v in da.compute(da.count_nonzero(~da.isfinite(profit)), abs(profit).max())
        )
        n_bad = int(n_bad)
        if not n_bad:
            _check_magnitude(max_abs, int(profit.shape[0]))
        if n_bad:
            raise ProblemError(
                f"'profit' must be finite; found {n_bad} NaN or infinite value(s). Impute or drop "
                "those individuals."
            )
        self.treatment_labels = tuple(range(profit.shape[1]))
        return profit

    def _check_k(self, k: Any) -> int:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise ProblemError(
                f"The 'k' parameter of CoarseProblem must be an int in the range [1, inf). "
                f"Got {_describe(k)} instead."
            )
        if k < 1:
            raise ProblemError(
                f"The 'k' parameter of CoarseProblem must be an int in the range [1, inf). Got {k} instead."
            )
        return int(k)

    def _check_treatments(self, treatments: Any) -> np.ndarray | None:
        if treatments is None:
            return None
        t = np.asarray(treatments.to_numpy() if hasattr(treatments, "to_numpy") else treatments)
        if t.ndim not in (1, 2) or t.shape[0] != self.m:
            raise ProblemError(
                f"'treatments' must have shape (m,) or (m, d) with m = {self.m} (one level per "
                f"column of 'profit'); got shape {t.shape}."
            )
        if not _numeric_dtype(t.dtype) or t.dtype == np.bool_:
            raise ProblemError(f"'treatments' must be numeric levels; got dtype {t.dtype}.")
        t = t.astype(np.float64)
        if not np.isfinite(t).all():
            raise ProblemError("'treatments' must be finite numbers; found NaN or infinite levels.")
        t.setflags(write=False)
        return t

    def _check_features(self, features: Any) -> tuple[np.ndarray | None, tuple | None]:
        if features is None:
            return None, None
        given = features
        names = None
        if hasattr(features, "columns") and hasattr(features, "to_numpy"):
            names = tuple(str(c) for c in features.columns)
            bad = [c for c, t in features.dtypes.items() if not _numeric_dtype(t)]
            if bad:
                raise ProblemError(
                    f"'features' must be numeric; non-numeric columns {[str(c) for c in bad][:10]}. "
                    "Encode categories first (e.g. pandas.get_dummies)."
                )
            x = features.to_numpy(dtype=np.float64)
        else:
            x = np.asarray(features)
            if x.ndim == 1:
                x = x.reshape(-1, 1)
            if not _numeric_dtype(x.dtype):
                raise ProblemError(f"'features' must be numeric; got dtype {x.dtype}.")
            x = x.astype(np.float64)
        if x.ndim != 2 or x.shape[0] != self.n:
            raise ProblemError(
                f"'features' must have one row per individual: expected {self.n} rows, got shape {x.shape}."
            )
        if not np.isfinite(x).all():
            raise ProblemError("'features' must be finite; found NaN or infinite values. Impute them first.")
        if names is None:
            names = tuple(f"x{c}" for c in range(x.shape[1]))
        return _snapshot(x, given), names

    def _check_arms(self, arms: Any) -> np.ndarray | None:
        if arms is None:
            return None
        out = []
        for a in list(arms):
            if isinstance(a, numbers.Integral) and not isinstance(a, bool) and a not in self.treatment_labels:
                idx = int(a)
            elif a in self.treatment_labels:
                idx = self.treatment_labels.index(a)
            else:
                raise ProblemError(
                    f"'arms' must list column indices or labels of 'profit'; {_describe(a)} is neither. "
                    f"Known labels: {list(self.treatment_labels)[:20]}."
                )
            if not 0 <= idx < self.m:
                raise ProblemError(f"'arms' holds index {idx}, outside the range [0, {self.m}) of the columns.")
            out.append(idx)
        if not out:
            raise ProblemError("'arms' must name at least one column; got an empty list.")
        if len(set(out)) != len(out):
            raise ProblemError(f"'arms' must not repeat a column; got {list(arms)}.")
        arr = np.array(sorted(out), dtype=np.intp)
        arr.setflags(write=False)
        return arr

    def _check_share(self, name: str, share: Any) -> np.ndarray | None:
        if share is None:
            return None
        try:
            s = np.array(share, dtype=np.float64)  # a copy: the caller's array stays writable
        except (TypeError, ValueError):
            raise ProblemError(f"'{name}' must be a number or an array of m = {self.m} numbers; got {_describe(share)}.") from None
        if s.ndim == 0:
            s = np.full(self.m, float(s))
        if s.shape != (self.m,):
            raise ProblemError(
                f"'{name}' must be a float or an array of shape ({self.m},), one per treatment; got shape {s.shape}."
            )
        if not np.isfinite(s).all() or (s < 0).any() or (s > 1).any():
            raise ProblemError(f"'{name}' must lie in [0, 1]; got {_describe(share)}.")
        s.setflags(write=False)
        return s

    def _check_share_feasibility(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.min_share is None and self.max_share is None:
            return None, None
        n = self.n
        lo = np.zeros(self.m, dtype=np.int64) if self.min_share is None else np.ceil(self.min_share * n - 1e-9).astype(np.int64)
        hi = np.full(self.m, n, dtype=np.int64) if self.max_share is None else np.floor(self.max_share * n + 1e-9).astype(np.int64)
        lo = np.maximum(lo, 1)  # an offered treatment serves at least one individual
        bad = np.flatnonzero(lo > hi)
        usable = lo <= hi
        if not usable.any():
            j = int(bad[0])
            raise InfeasibleProblemError(
                f"'min_share' and 'max_share' cannot both hold for any treatment: e.g. treatment "
                f"{self.treatment_labels[j]!r} needs at least {lo[j]} and at most {hi[j]} of {n} individuals. "
                "Lower min_share or raise max_share."
            )
        # Some offered set S, |S| <= k, with sum lo <= n <= sum hi must exist: taking the
        # k usable treatments of largest capacity maximizes sum hi; then check the smallest
        # minimum of a set that can still hold everyone.
        cap = np.sort(hi[usable])[::-1][: self.k]
        if cap.sum() < n:
            raise InfeasibleProblemError(
                f"'max_share' is too small: at most k = {self.k} treatments can hold at most "
                f"{int(cap.sum())} of the {n} individuals. Raise max_share or k."
            )
        if lo[usable].min() > n:
            raise InfeasibleProblemError(
                f"'min_share' is too large: every treatment needs more than the {n} individuals. Lower min_share."
            )
        lo = lo.copy()
        lo[~usable] = n + 1  # marks a treatment that can never be offered
        for a in (lo, hi):
            a.setflags(write=False)
        return lo, hi

    def _check_cost(self, cost: Any) -> tuple[Any, np.ndarray | None]:
        if cost is None:
            return None, None
        if _is_dask_array(cost):
            return self._check_dask_cost(cost), None
        given = cost
        if hasattr(cost, "to_numpy"):
            cost = cost.to_numpy()
        try:
            c = np.asarray(cost)
        except Exception as exc:
            raise ProblemError(f"'cost' could not be read as an array: {exc}") from None
        if not _numeric_dtype(c.dtype) or c.dtype == np.bool_:
            raise ProblemError(f"'cost' must hold real numbers; got dtype {c.dtype}. Convert it with cost.astype(float).")
        if c.shape not in ((self.m,), (self.n, self.m)):
            raise ProblemError(
                f"'cost' must have shape ({self.m},) (one cost per treatment) or ({self.n}, {self.m}) (one per "
                f"individual and treatment, like 'profit'); got shape {c.shape}."
            )
        c = np.ascontiguousarray(c, dtype=np.float64)
        bad = ~np.isfinite(c) | (c < 0)
        if bad.any():
            where = np.argwhere(bad)[0]
            raise ProblemError(
                f"'cost' must be finite and non-negative; found {int(bad.sum())} bad value(s), the first at "
                f"{tuple(int(w) for w in where)} (value {c[tuple(where)]}). A treatment that earns money has "
                "cost 0 (its earnings belong in 'profit'); impute missing costs."
            )
        c = _snapshot(c, given)
        if c.ndim == 1:
            return np.broadcast_to(c, (self.n, self.m)), c
        return c, None

    def _check_dask_cost(self, cost: Any) -> Any:
        import dask.array as da

        if not self.is_lazy:
            raise ProblemError("'cost' is a dask array but 'profit' is not; pass cost.compute() or a numpy array.")
        if tuple(cost.shape) != (self.n, self.m):
            raise ProblemError(f"'cost' as a dask array must have shape ({self.n}, {self.m}), like 'profit'; got {cost.shape}.")
        cost = cost.astype(np.float64).rechunk((self.profit.chunks[0], (self.m,)))
        n_bad = int(da.compute(da.count_nonzero(~da.isfinite(cost) | (cost < 0)))[0])
        if n_bad:
            raise ProblemError(f"'cost' must be finite and non-negative; found {n_bad} bad value(s). Impute them.")
        return cost

    def _check_budget(self, budget: Any) -> float | None:
        if budget is None:
            return None
        if self.cost is None:
            raise ProblemError(
                f"'budget' = {_describe(budget)} needs 'cost': pass cost=(m,) or (n, m) costs of the treatments."
            )
        if isinstance(budget, bool) or not isinstance(budget, numbers.Real) or not math.isfinite(budget) or budget < 0:
            raise ProblemError(
                f"The 'budget' parameter of CoarseProblem must be a finite number >= 0. Got {_describe(budget)} "
                "instead. Use budget=None for no budget."
            )
        return float(budget)

    def _check_budget_feasibility(self) -> float | None:
        """The cheapest spend of any assignment; an error when the budget is below it."""
        if self.cost is None:
            return None
        if self.cost_per_treatment is not None:
            low = self.n * float(self.cost_per_treatment.min())
            single = low
        elif _is_dask_array(self.cost):
            import dask.array as da

            low, single = (float(v) for v in da.compute(self.cost.min(axis=1).sum(), self.cost.sum(axis=0).min()))
        else:
            low = float(self.cost.min(axis=1).sum(dtype=np.float64))
            single = float(self.cost.sum(axis=0, dtype=np.float64).min())
        if self.budget is None:
            return low
        slack = 1e-12 * max(1.0, low)
        if self.budget < low - slack:
            raise InfeasibleProblemError(
                f"'budget' = {self.budget:g} is below the cheapest possible spend {low:g} (every individual given "
                "its cheapest treatment). Raise the budget or lower the costs."
            )
        if self.k_effective == 1 and self.budget < single - slack:
            raise InfeasibleProblemError(
                f"'budget' = {self.budget:g} cannot be met with k = {self.k}: one treatment for everyone spends at "
                f"least {single:g} (the cheapest spend with any number of treatments is {low:g}). Raise the budget "
                "or k."
            )
        return low

    # ------------------------------------------------------------------ helpers
    @property
    def has_budget(self) -> bool:
        """Whether a budget constrains the assignment."""
        return self.budget is not None

    def spend(self, assignment: np.ndarray) -> float:
        """What an assignment spends, ``sum_i cost[i, assignment[i]]`` (0 without a cost)."""
        if self.cost is None:
            return 0.0
        assignment = np.asarray(assignment, dtype=np.intp)
        if self.cost_per_treatment is not None:
            return float(self.cost_per_treatment[assignment].sum(dtype=np.float64))
        return _picked_sum(self.cost, assignment)

    @property
    def has_share_bounds(self) -> bool:
        """Whether any share bound constrains the assignment."""
        return self.min_count is not None

    @property
    def is_lazy(self) -> bool:
        """Whether ``profit`` is a dask array (not loaded in memory)."""
        return _is_dask_array(self.profit)

    @property
    def k_effective(self) -> int:
        """``min(k, m)``: the number of treatments that can actually be offered."""
        return min(self.k, self.m)

    def full_profit(self) -> float:
        """Profit of full personalization, ``sum_i max_j profit[i, j]`` (an upper bound)."""
        if self.is_lazy:
            return float(self.profit.max(axis=1).sum(dtype=np.float64).compute())
        return float(self.profit.max(axis=1).sum(dtype=np.float64))

    def objective(self, assignment: np.ndarray) -> float:
        """Total profit of an assignment (one column index per individual)."""
        return _picked_sum(self.profit, np.asarray(assignment))

    def best_assignment(self, offered: Sequence[int]) -> np.ndarray:
        """Each individual's most profitable offered treatment (ties: the lowest column)."""
        offered = np.asarray(offered, dtype=np.intp)
        if self.is_lazy:
            sub = self.profit[:, offered]
            return offered[np.asarray(sub.argmax(axis=1).compute())]
        # In row blocks so that a float copy of the sub-matrix never exceeds ~64 MB.
        out = np.empty(self.n, dtype=np.intp)
        step = max(1, 8_000_000 // max(1, offered.size))
        for start in range(0, self.n, step):
            block = self.profit[start : start + step, offered]
            out[start : start + step] = offered[block.argmax(axis=1)]
        return out

    def label(self, j: int) -> Any:
        """The user's label of column ``j``."""
        return self.treatment_labels[int(j)]

    def with_k(self, k: int) -> "CoarseProblem":
        """The same problem with another ``k`` (no data is copied)."""
        new = object.__new__(CoarseProblem)
        new.__dict__.update(self.__dict__)
        new.k = self._check_k(k)
        new.min_count, new.max_count = new._check_share_feasibility()
        new.min_spend = new._check_budget_feasibility()
        return new

    def __repr__(self) -> str:
        extras = []
        if self.treatments is not None:
            extras.append("treatments")
        if self.features is not None:
            extras.append(f"features={self.features.shape[1]}")
        if self.arms is not None:
            extras.append(f"arms={self.arms.size}")
        if self.has_share_bounds:
            extras.append("share bounds")
        if self.has_budget:
            extras.append(f"budget={self.budget:g}")
        elif self.cost is not None:
            extras.append("cost")
        tail = (", " + ", ".join(extras)) if extras else ""
        lazy = ", lazy" if self.is_lazy else ""
        return f"CoarseProblem(n={self.n}, m={self.m}, k={self.k}{tail}{lazy})"


def _picked_sum(values: Any, assignment: np.ndarray) -> float:
    """``sum_i values[i, assignment[i]]`` of an in-memory or a dask (n, m) array."""
    if _is_dask_array(values):
        import dask.array as da

        # (n, 1) so that its blocks align with the row blocks of values (a 1-D array
        # would be aligned with the columns)
        a = da.from_array(assignment[:, None], chunks=(values.chunks[0], (1,)))
        vals = da.map_blocks(
            lambda p, a: np.take_along_axis(p, a, axis=1)[:, 0], values, a, drop_axis=1, dtype=np.float64,
        )
        return float(vals.sum(dtype=np.float64).compute())
    return float(np.take_along_axis(values, assignment[:, None], axis=1).sum(dtype=np.float64))


def _numeric_dtype(dtype: Any) -> bool:
    """Real numbers (bool, int, unsigned, float): not complex, not timedelta or datetime."""
    try:
        return np.dtype(dtype).kind in "biuf"
    except TypeError:  # pandas extension dtypes
        return getattr(dtype, "kind", "O") in "biuf"


#: Largest ``n * max|profit|`` accepted: sums of profits (objectives, bounds, segment totals)
#: must stay finite in float64 with room to spare.
MAX_TOTAL_MAGNITUDE = 1e300


def _check_magnitude(max_abs: float, n: int) -> None:
    if max_abs * n > MAX_TOTAL_MAGNITUDE:
        raise ProblemError(
            f"'profit' is too large in magnitude to be summed in float64: max |profit| = {max_abs:.3g} "
            f"over n = {n} individuals (limit n * max|profit| <= {MAX_TOTAL_MAGNITUDE:.0e}). Divide "
            "'profit' by a constant (the optimal policy does not change) and scale the objective back."
        )


def _hashable(x: Any) -> Any:
    try:
        hash(x)
        return x
    except TypeError:
        return repr(x)
