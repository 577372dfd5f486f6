"""Peers outside coarseopt, measured in the same run on the same data.

- :func:`pyomo_classic`: the classic p-median model a modeller writes first in Pyomo,
  one continuous ``x[i, j]`` per individual and treatment, one binary ``y[j]`` per
  treatment, solved by HiGHS (Pyomo's ``appsi_highs``), with a time limit.
- :class:`PolicyTreePeer`: EconML's ``DRPolicyTree`` (doubly-robust policy learning
  with a tree) of depth ``floor(log2 k)``, so the learned policy has at most ``k`` leaves
  and so at most ``k`` distinct treatments: what a user of that library would do to get a
  policy with at most ``k`` segments. It can only recommend the experiment's arms.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["pyomo_classic", "PyomoResult", "PolicyTreePeer", "econml_available", "econml_version"]


def econml_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("econml") is not None


def econml_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("econml")
    except Exception:
        return None


@dataclass
class PyomoResult:
    """What the hand-written model returns (``objective`` recomputed from the assignment)."""

    status: str
    objective: float
    bound: float | None
    offered: np.ndarray
    assignment: np.ndarray
    build_time: float
    solve_time: float
    termination: str
    extras: dict = field(default_factory=dict)

    @property
    def wall_time(self) -> float:
        return self.build_time + self.solve_time


def pyomo_classic(profit: np.ndarray, k: int, *, time_limit: float | None = None) -> PyomoResult:
    """Solve ``max sum P_ij x_ij`` s.t. ``sum_j x_ij = 1``, ``x_ij <= y_j``, ``sum_j y_j <= k``.

    Written the way the textbook states it (Pyomo ``ConcreteModel`` with indexed rules), as
    a reference for what the ``mip`` plugin's formulations save. The incumbent found within
    ``time_limit`` is returned with HiGHS's bound; status ``optimal`` only when HiGHS proves
    it.
    """
    import pyomo.environ as pyo

    profit = np.asarray(profit, dtype=np.float64)
    n, m = profit.shape
    t0 = time.perf_counter()
    model = pyo.ConcreteModel()
    model.I = pyo.RangeSet(0, n - 1)
    model.J = pyo.RangeSet(0, m - 1)
    model.x = pyo.Var(model.I, model.J, bounds=(0, 1))
    model.y = pyo.Var(model.J, within=pyo.Binary)
    model.profit = pyo.Objective(
        expr=sum(float(profit[i, j]) * model.x[i, j] for i in model.I for j in model.J), sense=pyo.maximize
    )
    model.assign = pyo.Constraint(model.I, rule=lambda mdl, i: sum(mdl.x[i, j] for j in mdl.J) == 1)
    model.open = pyo.Constraint(model.I, model.J, rule=lambda mdl, i, j: mdl.x[i, j] <= mdl.y[j])
    model.count = pyo.Constraint(expr=sum(model.y[j] for j in model.J) <= k)
    build = time.perf_counter() - t0

    t1 = time.perf_counter()
    from pyomo.contrib.appsi.solvers import Highs

    opt = Highs()
    opt.config.load_solution = False
    opt.config.stream_solver = False
    if time_limit is not None:
        opt.config.time_limit = max(1.0, float(time_limit) - build)
    res = opt.solve(model)
    solve = time.perf_counter() - t1
    term = str(res.termination_condition).split(".")[-1]
    bound = res.best_objective_bound
    bound = None if bound is None or not np.isfinite(bound) else float(bound)
    if res.best_feasible_objective is None:
        return PyomoResult("time_limit" if "maxTime" in term or "Time" in term else "error", float("nan"), bound,
                           np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp), build, solve, term)
    res.solution_loader.load_vars()
    y = np.array([pyo.value(model.y[j]) for j in range(m)])
    offered = np.flatnonzero(y > 0.5)
    # x is integral once y is; the best offered treatment per individual is what it encodes.
    assignment = offered[profit[:, offered].argmax(axis=1)]
    objective = float(profit[np.arange(n), assignment].sum())
    optimal = term == "optimal"
    status = "optimal" if optimal else ("time_limit" if "Time" in term or "time" in term else "feasible")
    return PyomoResult(status, objective, bound, offered, assignment, build, solve, term,
                       extras={"variables": n * m + m, "constraints": n * m + n + 1})


def depth_for(k: int) -> int:
    """``floor(log2 k)``: the deepest binary tree with at most ``k`` leaves."""
    return int(math.floor(math.log2(int(k))))


class PolicyTreePeer:
    """EconML ``DRPolicyTree`` limited to at most ``k`` leaves (depth ``floor(log2 k)``).

    The nuisance models are given explicitly, as a user who knows the design would: the
    outcome model is the same gradient boosting as step 1's default
    (:func:`coarseopt.estimation.learners.default_estimator`), and the propensity model is
    the arms' frequencies (``DummyClassifier(strategy="prior")``), which is exact in a
    randomized experiment. (EconML's ``"auto"`` nuisances, which select among linear models
    by cross-validation, took about two minutes per fit on 10,000 customers here, and
    model selection is not what this peer is about.)

    Parameters
    ----------
    k : int
        Largest number of segments; the depth is ``floor(log2 k)`` (``k = 1``: one leaf).
    seed : int
        ``random_state`` of the tree and of the nuisance models' cross-fitting.
    """

    def __init__(self, k: int, seed: int = 0) -> None:
        self.k = int(k)
        self.depth = depth_for(self.k)
        self.seed = seed

    def fit(self, y: np.ndarray, arm: np.ndarray, x: np.ndarray) -> "PolicyTreePeer":
        """Fit on observed outcomes ``y``, received arms ``arm`` (codes 0..a-1) and features ``x``."""
        from econml.policy import DRPolicyTree
        from sklearn.dummy import DummyClassifier

        from coarseopt.estimation.learners import default_estimator

        self.model_ = DRPolicyTree(
            model_regression=default_estimator(self.seed), model_propensity=DummyClassifier(strategy="prior"),
            max_depth=self.depth, random_state=self.seed, cv=3,
        )
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_.fit(np.asarray(y, dtype=float), np.asarray(arm), X=np.asarray(x, dtype=float))
        self.fit_time_ = time.perf_counter() - t0
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The arm code the policy recommends for each row of ``x``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.model_.predict(np.asarray(x, dtype=float)), dtype=np.intp)


def describe_peer(name: str) -> dict[str, Any]:
    """One-line descriptions for the report."""
    return {
        "pyomo-classic": "hand-written Pyomo model, classic formulation, HiGHS",
        "econml-policy-tree": f"EconML {econml_version()} DRPolicyTree, depth floor(log2 k)",
    }.get(name, {})
