"""coarseopt: coarse personalization, end to end.

1. **Personalize** (:func:`estimate_profit`): from a randomized experiment to an
   individual x treatment profit matrix.
2. **Discretize** (:class:`CoarseProblem`, :func:`solve`): offer at most k treatments and
   decide who gets each, with a proven bound where one exists.
3. **Evaluate** (:mod:`coarseopt.evaluation`): how much better one targeting policy is than
   another, from experiment data, with standard errors.

Heavy dependencies (pyomo, highspy, POT, scikit-learn, dask) are imported only by the parts
that need them, so ``import coarseopt`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .exceptions import (
    ERRORS as _ERRORS,
    CoarseoptError,
    InfeasibleProblemError,
    OptionError,
    PolicyFileError,
    ProblemError,
    SchemaError,
    SolverError,
    SolverUnavailableError,
    UnknownSolverError,
    UnsupportedProblemError,
)
from .pmed import read_pmed
from .problem import CoarseProblem
from .registry import available_solvers, get_solver, register_solver, registered_solvers, solve
from .result import SolveResult
from .solver import Option, Solution, SolveContext, Solver

__version__ = "0.1.0"

# Loaded on first use: step 1 and step 3 pull in scikit-learn and pandas machinery.
_LAZY = {
    "Experiment": ("coarseopt.estimation", "Experiment"),
    "Economics": ("coarseopt.estimation", "Economics"),
    "estimate_profit": ("coarseopt.estimation", "estimate_profit"),
    "ProfitEstimate": ("coarseopt.estimation", "ProfitEstimate"),
    "LazyProfit": ("coarseopt.estimation", "LazyProfit"),
    "estimation": ("coarseopt.estimation", None),
    "evaluation": ("coarseopt.evaluation", None),
    "datasets": ("coarseopt.datasets", None),
    "read_profit_parquet": ("coarseopt.parquet", "read_profit_parquet"),
    "Policy": ("coarseopt.policy", "Policy"),
    "load_policy": ("coarseopt.policy", "load_policy"),
    "PolicyTree": ("coarseopt.rules", "PolicyTree"),
    "fit_policy_tree": ("coarseopt.rules", "fit_policy_tree"),
    "assign_offered": ("coarseopt.assign", "assign_offered"),
    "assign_within_budget": ("coarseopt.assign", "assign_within_budget"),
    "transport_potentials": ("coarseopt.assign", "transport_potentials"),
}

__all__ = [
    "CoarseProblem",
    "SolveResult",
    "Solver",
    "Solution",
    "SolveContext",
    "Option",
    "solve",
    "available_solvers",
    "registered_solvers",
    "get_solver",
    "register_solver",
    "read_pmed",
    *_ERRORS,
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'coarseopt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
