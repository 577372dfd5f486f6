"""The level bundle method behind the Lagrangian (LP) bound, for every profit source.

The bound (see :mod:`coarseopt_solvers.bounds.memory` for the math) maximizes the concave dual
function ``G`` over the column prices ``y in Y = {y in [0, 1]^m : sum y <= k}`` with a level
bundle method (Lemaréchal, Nemirovskii & Nesterov, *New variants of bundle methods*, Math.
Programming 69, 1995); every cut comes from multipliers ``u``, and the certified bound is
``L(u)`` of the best multipliers evaluated, recomputed from the data. One driver
(:func:`maximize_dual`) runs the method; an *oracle* does the passes over the data:

- the in-memory oracle (``memory``) keeps a row-shifted, group-sorted copy and gives one cut
  per group of individuals (a disaggregated model);
- the chunked oracle (``chunked``) recomputes ``u(y)`` where each row block lives and gives
  one aggregated cut per evaluation (its multipliers are a function of the ``m`` prices, so
  no per-individual vector is shipped).

An oracle provides ``offset`` (the constant between its shifted units and the profit's),
``cut(y) -> (a, r, g, handle, value)`` (the cut of the multipliers ``u(y)``: ``a`` and ``r``
per group, ``G(y)``, what identifies ``u(y)``, and ``L(u(y))``) and
``combine(lam, handles, it) -> (handle, value) | None`` (the multipliers given by the master
problem's cut weights, when worth a pass).
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coarseopt.progress import progress_bar

__all__ = ["LagrangianBound", "LevelBundle", "DualRun", "maximize_dual", "incumbent_args"]

#: Iterations without progress after which the method gives up.
STALL = 10


@dataclass(frozen=True)
class LagrangianBound:
    """The outcome of :func:`lagrangian_bound`.

    Attributes
    ----------
    bound : float
        A certified upper bound on ``max_{|S| <= k} sum_i max_{j in S} P_ij``, in the units
        of ``profit``: the value :math:`L(u)` of ``multipliers``, recomputed from the data.
    multipliers : ndarray of shape (n,)
        The multipliers ``u`` that give ``bound`` (in the units of ``profit``); pass them
        back as ``u0`` to warm-start a later call.
    iterations : int
        Number of bundle iterations (each one O(nm) pass over the data).
    history : list of float
        The best certified bound after each iteration (non-increasing).
    lp_lower : float
        The best :math:`G(y)` seen: a lower estimate of the LP bound (not of the optimum),
        so ``bound - lp_lower`` measures how far ``bound`` is from the LP bound.
    termination : str
        ``"target_gap"`` (the requested gap to the incumbent is certified), ``"converged"``
        (``bound`` equals the LP bound, or proves the incumbent optimal, to a relative
        ``tol``), ``"stalled"`` (no progress in 10 iterations: ``bound`` is at the LP bound
        up to the method's accuracy), ``"iteration_limit"`` or ``"time_limit"``.
    prices : ndarray of shape (m,) or None
        The column prices ``y`` of ``lp_lower`` (pass them back as ``y0`` to warm-start).
    """

    bound: float
    multipliers: np.ndarray
    iterations: int
    history: list = field(default_factory=list)
    lp_lower: float = float("-inf")
    termination: str = "converged"
    prices: np.ndarray | None = None

    def gap(self, objective: float) -> float:
        """``(bound - objective) / max(1, |bound|)``: the certified relative gap of a solution."""
        return max(0.0, (self.bound - objective) / max(1.0, abs(self.bound)))


class LevelBundle:
    """Disaggregated cuts ``t_b <= a_bs + r_bs . y`` (one model per group) and the master LPs.

    The two master LPs live in persistent HiGHS models (``highspy``): cuts are added and
    dropped as rows and every solve warm-starts from the previous basis; without highspy,
    or if a warm solve fails, each LP is solved from scratch through SciPy.

    ``G(y) = sum_b G_b(y)``; each evaluation gives one cut per group, so the model of ``G``
    is much richer than a single aggregated cutting-plane model for the same number of
    O(nm) passes.
    """

    def __init__(self, m: int, k: int, n_groups: int, scale: float, max_cuts: int) -> None:
        self.m, self.k, self.nb = m, k, n_groups
        self.scale = scale  # cuts are stored divided by this (numerics of the LPs)
        self.max_cuts = max_cuts
        self.a: list[np.ndarray] = []  # (B,) per evaluation
        self.r: list[np.ndarray] = []  # (B, m) per evaluation
        self.u: list[Any] = []  # what made each evaluation (multipliers, or column prices)
        self.age: list[int] = []
        self._hs = None
        self.deadline: float | None = None  # perf_counter() value each master solve must respect
        self._fixed = (0, 0)
        try:
            self._hs_init()
        except Exception:  # highspy missing or failing: one-shot LPs through SciPy
            self._hs = None

    def add(self, a: np.ndarray, r: np.ndarray, u: np.ndarray) -> None:
        self.a.append(np.asarray(a, dtype=float) / self.scale)
        self.r.append(np.asarray(r, dtype=float) / self.scale)
        self.u.append(u)
        self.age.append(0)
        if self._hs is not None:
            try:
                self._hs_add(self.a[-1], self.r[-1])
            except Exception:  # pragma: no cover - fall back to one-shot LPs
                self._hs = None

    # -- persistent HiGHS models: cuts are added and dropped, each solve warm-starts -----
    def _hs_init(self) -> None:
        import highspy

        inf = highspy.kHighsInf
        m, nb = self.m, self.nb
        none_i = np.array([], dtype=np.int32)
        none_f = np.array([], dtype=np.float64)
        cap_idx = np.arange(m, dtype=np.int32)
        # master: max sum_b t_b
        h1 = highspy.Highs()
        h1.setOptionValue("output_flag", False)
        h1.addCols(m + nb, np.r_[np.zeros(m), np.ones(nb)], np.r_[np.zeros(m), np.full(nb, -inf)],
                   np.r_[np.ones(m), np.full(nb, inf)], 0, none_i, none_i, none_f)
        h1.changeObjectiveSense(highspy.ObjSense.kMaximize)
        h1.addRows(1, np.array([-inf]), np.array([float(self.k)]), m, np.array([0], dtype=np.int32), cap_idx,
                   np.ones(m))
        # projection: min s, model >= level, |y - center| <= s
        h2 = highspy.Highs()
        h2.setOptionValue("output_flag", False)
        h2.addCols(m + nb + 1, np.r_[np.zeros(m + nb), 1.0], np.r_[np.zeros(m), np.full(nb, -inf), 0.0],
                   np.r_[np.ones(m), np.full(nb, inf), inf], 0, none_i, none_i, none_f)
        h2.addRows(1, np.array([-inf]), np.array([float(self.k)]), m, np.array([0], dtype=np.int32), cap_idx,
                   np.ones(m))
        h2.addRows(1, np.array([-inf]), np.array([inf]), nb, np.array([0], dtype=np.int32),
                   np.arange(m, m + nb, dtype=np.int32), np.ones(nb))
        s_col = m + nb
        starts = np.arange(0, 4 * m, 2, dtype=np.int32)
        idx = np.empty(4 * m, dtype=np.int32)
        val = np.empty(4 * m)
        idx[0::2] = np.r_[cap_idx, cap_idx]
        idx[1::2] = s_col
        val[0::2] = np.r_[np.ones(m), -np.ones(m)]
        val[1::2] = -1.0
        h2.addRows(2 * m, np.full(2 * m, -inf), np.zeros(2 * m), 4 * m, starts, idx, val)
        self._hs = (h1, h2, highspy)
        self._fixed = (1, 2 + 2 * m)

    def _hs_add(self, a: np.ndarray, r: np.ndarray) -> None:
        h1, h2, highspy = self._hs
        m, nb = self.m, self.nb
        starts, idx, val = [], [], []
        count = 0
        for b in range(nb):
            nz = np.flatnonzero(r[b])
            starts.append(count)
            idx.append(np.r_[nz, m + b].astype(np.int32))
            val.append(np.r_[-r[b, nz], 1.0])
            count += nz.size + 1
        starts = np.asarray(starts, dtype=np.int32)
        idx = np.concatenate(idx)
        val = np.concatenate(val)
        lower = np.full(nb, -highspy.kHighsInf)
        for h in (h1, h2):
            h.addRows(nb, lower, a.astype(np.float64), idx.size, starts, idx, val)

    def _hs_drop(self, t: int) -> None:
        h1, h2, _ = self._hs
        for h, fixed in zip((h1, h2), self._fixed):
            rows = np.arange(fixed + t * self.nb, fixed + (t + 1) * self.nb, dtype=np.int32)
            h.deleteRows(rows.size, rows)

    def _expired(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def _hs_limit(self, h) -> None:
        """Give one HiGHS run at most the time left (a master LP can stall for a long time)."""
        if self.deadline is not None:
            h.setOptionValue("time_limit", max(self.deadline - time.perf_counter(), 0.01))

    def _hs_model_max(self):
        h1, _, highspy = self._hs
        self._hs_limit(h1)
        h1.run()
        if h1.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        sol = h1.getSolution()
        x = np.asarray(sol.col_value)
        duals = np.abs(np.asarray(sol.row_dual)[self._fixed[0]:]).reshape(len(self.a), self.nb)
        value = float(h1.getInfo().objective_function_value)
        return value, x[: self.m], duals

    def _hs_project(self, center: np.ndarray, level: float):
        h1, h2, highspy = self._hs
        m = self.m
        inf = highspy.kHighsInf
        h2.changeRowBounds(1, level / self.scale, inf)
        rows = np.arange(2, 2 + 2 * m, dtype=np.int32)
        h2.changeRowsBounds(2 * m, rows, np.full(2 * m, -inf), np.r_[center, -center].astype(np.float64))
        self._hs_limit(h2)
        h2.run()
        if h2.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(h2.getSolution().col_value)[:m]

    def _cut_rows(self):
        """Sparse rows ``t_b - r_bs . y <= a_bs`` over variables (y_1..y_m, t_1..t_B)."""
        from scipy import sparse  # heavy: loaded on first use (HiGHS models are the default)

        s, nb, m = len(self.a), self.nb, self.m
        r = np.concatenate(self.r, axis=0)  # (s * B, m), row s * B + b
        tcols = sparse.csr_matrix(
            (np.ones(s * nb), (np.arange(s * nb), np.tile(np.arange(nb), s))), shape=(s * nb, nb)
        )
        mat = sparse.hstack([sparse.csr_matrix(-r), tcols]).tocsr()
        return mat, np.concatenate(self.a)

    def _linprog(self, c, a_ub, b_ub, bounds):
        from scipy.optimize import linprog

        options = {}
        if self.deadline is not None:  # a stalled master LP must not outlast the time limit
            options["time_limit"] = max(self.deadline - time.perf_counter(), 0.01)
        return linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs-ds", options=options)

    def model_max(self) -> tuple[float, np.ndarray, np.ndarray] | None:
        """``max_{y in Y} sum_b min_s (a_bs + r_bs . y)``: value, maximizer and cut weights."""
        from scipy import sparse

        m, nb, s = self.m, self.nb, len(self.a)
        if self._hs is not None:
            out = self._hs_model_max()
            if out is not None:
                value, y, lam = out
                tot = lam.sum(axis=0)
                if (tot > 0).all():
                    lam = lam / tot
                    for t in range(s):
                        self.age[t] = 0 if (lam[t] > 1e-12).any() else self.age[t] + 1
                    return value * self.scale, y, lam
        if self._expired():
            return None
        cuts, rhs = self._cut_rows()
        cap = sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(nb)])[None, :])
        c = np.concatenate([np.zeros(m), -np.ones(nb)])
        res = self._linprog(c, sparse.vstack([cuts, cap]).tocsr(), np.concatenate([rhs, [self.k]]),
                            [(0.0, 1.0)] * m + [(None, None)] * nb)
        if res.status != 0:
            return None
        lam = np.maximum(-np.asarray(res.ineqlin.marginals[: s * nb]), 0.0).reshape(s, nb)
        tot = lam.sum(axis=0)
        if (tot <= 0).any():
            return None
        lam /= tot
        for t in range(s):
            self.age[t] = 0 if (lam[t] > 1e-12).any() else self.age[t] + 1
        return float(-res.fun) * self.scale, res.x[:m], lam

    def project(self, center: np.ndarray, level: float) -> np.ndarray | None:
        """The point of ``{y in Y : model(y) >= level}`` closest to ``center`` in the max-norm."""
        from scipy import sparse

        m, nb = self.m, self.nb
        if self._hs is not None:
            out = self._hs_project(center, level)
            if out is not None:
                return out
        if self._expired():
            return None
        cuts, rhs = self._cut_rows()
        cuts = sparse.hstack([cuts, sparse.csr_matrix((cuts.shape[0], 1))])
        eye = sparse.identity(m, format="csr")
        zeros = sparse.csr_matrix((m, nb))
        ones = sparse.csr_matrix(np.ones((m, 1)))
        box = sparse.vstack([sparse.hstack([eye, zeros, -ones]), sparse.hstack([-eye, zeros, -ones])])
        lev = sparse.csr_matrix(np.concatenate([np.zeros(m), -np.ones(nb), [0.0]])[None, :])
        cap = sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(nb), [0.0]])[None, :])
        a_ub = sparse.vstack([cuts, box, lev, cap]).tocsr()
        b_ub = np.concatenate([rhs, center, -center, [-level / self.scale], [self.k]])
        c = np.zeros(m + nb + 1)
        c[-1] = 1.0
        res = self._linprog(c, a_ub, b_ub, [(0.0, 1.0)] * m + [(None, None)] * nb + [(0.0, None)])
        if res.status != 0:
            return None
        return res.x[:m]

    def prune(self) -> None:
        """Drop the longest-inactive evaluations once there are too many."""
        while len(self.a) > self.max_cuts:
            t = int(np.argmax(self.age))
            if self._hs is not None:
                self._hs_drop(t)
            for lst in (self.a, self.r, self.u, self.age):
                del lst[t]


def incumbent_args(incumbent: Any, offered: Any, m: int) -> tuple[float | None, np.ndarray | None]:
    """``(value, offered columns)`` of an incumbent given as a value or as its columns."""
    value = None
    if incumbent is not None:
        if isinstance(incumbent, numbers.Real) and not isinstance(incumbent, bool):
            value = float(incumbent)
        else:
            offered = incumbent if offered is None else offered
    if offered is not None:
        offered = np.unique(np.asarray(offered, dtype=np.intp).reshape(-1))
        if offered.size == 0 or offered.min() < 0 or offered.max() >= m:
            raise ValueError(
                f"'offered' must list column indices in [0, {m}); got {offered.tolist()[:20]}. "
                "Pass the offered columns of a solution (e.g. result.offered)."
            )
    return value, offered


@dataclass
class DualRun:
    """What :func:`maximize_dual` found, in the oracle's shifted units."""

    value: float  # the best L(u) evaluated
    handle: Any  # what identifies its multipliers
    lp_lower: float  # the best G(y): a lower estimate of the LP bound
    history: list  # best certified bound after each iteration, in the profit's units
    iterations: int
    termination: str
    prices: np.ndarray | None = None  # the y of the best G(y)


def maximize_dual(oracle: Any, bundle: LevelBundle, y: np.ndarray, *, max_iter: int, deadline: float | None,
                  tol: float, level: float, unit: float, incumbent: float | None, target_gap: float | None,
                  start: tuple[Any, float] | None = None, progress: bool | None = False,
                  proof_unit: float | None = None) -> DualRun:
    """The level bundle method from the prices ``y``; see the module docstring.

    Stops at ``target_gap`` to the ``incumbent`` (or when the bound proves it optimal to
    ``tol``), when the bound meets the lower estimate ``max G`` to ``tol``, after ``STALL``
    iterations without progress, at ``max_iter`` or at ``deadline``. Tolerances are relative,
    with a floor of ``unit``; ``start`` is an evaluation already in the bundle. The proof of
    the incumbent is relative to the bound (the user's gap) or, given, to ``proof_unit`` (a
    caller whose profits carry a large offset and whose ``tol`` is stated net of it).
    """
    off, m = oracle.offset, y.size
    goal = 0.0 if target_gap is None else float(target_gap)
    best_value, best_handle = (np.inf, None) if start is None else (start[1], start[0])
    best_g, best_y = -np.inf, y.copy()
    history: list[float] = []

    def consider(handle: Any, value: float) -> None:
        nonlocal best_value, best_handle
        if value < best_value:
            best_value, best_handle = value, handle

    def proven() -> bool:
        if incumbent is None:
            return False
        b = best_value + off
        return (b - incumbent) / (max(unit, abs(b)) if proof_unit is None else proof_unit) <= max(goal, tol)

    it = 0
    termination = "iteration_limit"
    with progress_bar(total=max_iter, desc="lagrangian bound", unit="it", enabled=progress) as bar:
        while True:
            if proven():
                termination = "target_gap" if target_gap is not None else "converged"
                break
            if it >= max_iter:
                break
            if deadline is not None and time.perf_counter() >= deadline:
                termination = "time_limit"
                break
            it += 1
            a, r, g, handle, value = oracle.cut(y)
            if g > best_g:
                best_g, best_y = g, y.copy()
            consider(handle, value)
            bundle.add(a, r, handle)
            master = bundle.model_max()
            upper = best_value
            if master is not None:
                model_value, _, lam = master
                combined = oracle.combine(lam, bundle.u, it, it >= max_iter)
                if combined is not None:
                    consider(*combined)
                upper = min(model_value, best_value)
            history.append(best_value + off)
            bar.update(1)
            bar.set_postfix_str(f"bound {best_value + off:.10g}")
            # tolerances relative to the row-shifted values: a large offset must not end
            # the method early
            tscale = max(unit, abs(best_value), abs(best_g))
            if best_value - best_g <= tol * tscale:
                termination = "converged"
                break
            if len(history) > STALL and history[-1 - STALL] - history[-1] <= tol * tscale:
                termination = "stalled"
                break
            nxt = bundle.project(best_y, best_g + level * (upper - best_g))
            if nxt is None:
                nxt = best_y
            y = np.clip(nxt, 0.0, 1.0)
            if y.sum() < 1.0:  # G is finite only when the prices total at least 1
                y = np.clip(y + (1.0 - y.sum()) / m, 0.0, 1.0)
            bundle.prune()
    if best_handle is None:  # no iteration ran: the multipliers of the start point
        _, _, g, handle, value = oracle.cut(y)
        consider(handle, value)
        best_g = max(best_g, g)
        history.append(best_value + off)
    return DualRun(best_value, best_handle, float(best_g), history, it, termination, best_y)
