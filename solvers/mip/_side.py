"""Option checks for the side constraints of ``mip`` and their resolution against a problem.

Options are checked in two steps, as in scikit-learn: the type and range when the solver is
created (:func:`check_treatment_list`, :func:`check_pairs`), and the
values that depend on the problem (labels, shapes) when it is solved
(:func:`resolve_side`). Both raise :class:`~coarseopt.exceptions.OptionError` with the
option's name, the value and the remedy.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from coarseopt.exceptions import OptionError

from ._formulation import SideConstraints

__all__ = ["check_treatment_list", "check_pairs", "check_callable", "check_mapping",
           "check_warm_start", "check_backend", "resolve_side", "diagnose_treatment_rules"]


def check_treatment_list(value: Any) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError("must be a list of treatment column indices or labels")
    return tuple(v.item() if isinstance(v, np.generic) else v for v in value)


def check_pairs(value: Any) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError("must be a list of pairs (a, b) of treatment indices or labels")
    out = []
    for pair in value:
        if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise ValueError(f"must be a list of pairs (a, b) of treatment indices or labels; {pair!r} is not a pair")
        out.append(tuple(v.item() if isinstance(v, np.generic) else v for v in pair))
    return tuple(out)


def check_callable(value: Any) -> Any:
    if not callable(value):
        raise TypeError("must be a callable taking the Pyomo model")
    return value


def check_mapping(value: Any) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError("must be a dict of backend option names (str) to values")
    return dict(value)


def check_backend(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("must be the name of a MIP solver, such as 'highs', 'cbc', 'glpk', 'gurobi' or 'scip'")
    return value


def check_warm_start(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value in ("auto", "local-search", "greedy"):
        return value
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise ValueError("must be 'auto', True, False, 'local-search', 'greedy' or a list of column indices to offer")
    arr = np.asarray(list(value))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("must be 'auto', True, False, 'local-search', 'greedy' or a non-empty list of column indices")
    return tuple(int(v) for v in arr)


def _column(problem: Any, option: str, value: Any) -> int:
    labels = problem.treatment_labels
    if value in labels and not (isinstance(value, numbers.Integral) and labels == tuple(range(problem.m))):
        return labels.index(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= int(value) < problem.m:
        return int(value)
    raise OptionError(
        f"The {option!r} option of solver 'mip' names treatment {value!r}, which is neither a column "
        f"index in [0, {problem.m}) nor a column label (labels: {list(labels)[:10]}). Use indices or labels "
        "of the problem's columns."
    )


def resolve_side(problem: Any, params: dict) -> SideConstraints:
    """Map labels to column indices and check shapes; returns the :class:`SideConstraints`."""
    forced = sorted({_column(problem, "forced", v) for v in (params["forced"] or ())})
    forbidden = sorted({_column(problem, "forbidden", v) for v in (params["forbidden"] or ())})
    pairs = []
    for a, b in params["exclusive"] or ():
        ja, jb = _column(problem, "exclusive", a), _column(problem, "exclusive", b)
        if ja == jb:
            raise OptionError(
                f"The 'exclusive' option of solver 'mip' pairs treatment {a!r} with itself. Each pair must "
                "name two different treatments."
            )
        pairs.append(sorted((ja, jb)))
    exclusive = np.unique(np.array(pairs, dtype=np.intp).reshape(-1, 2), axis=0)
    # the budget is the problem's (CoarseProblem(cost=..., budget=...)); cost is an (n, m) view
    budget = problem.budget
    cost = problem.cost if budget is not None else None
    return SideConstraints(
        forced=np.array(forced, dtype=np.intp), forbidden=np.array(forbidden, dtype=np.intp),
        exclusive=exclusive, cost=cost, budget=budget,
        min_count=problem.min_count, max_count=problem.max_count,
    )


def diagnose_treatment_rules(problem: Any, side: SideConstraints) -> str | None:
    """A message naming the constraint family that makes the problem infeasible, when that
    can be told without solving (rules on which treatments are offered), else None."""
    k = problem.k
    label = problem.label
    clash = np.intersect1d(side.forced, side.forbidden)
    if clash.size:
        return (f"forced/forbidden: treatment {label(clash[0])!r} is both forced and forbidden. "
                "Remove it from one of the two lists.")
    if side.forced.size > k:
        return (f"forced: {side.forced.size} treatments are forced but at most k = {k} may be offered. "
                "Force fewer treatments or raise k.")
    forced = set(side.forced.tolist())
    for a, b in side.exclusive.tolist():
        if a in forced and b in forced:
            return (f"exclusive: treatments {label(a)!r} and {label(b)!r} are both forced but may not be "
                    "offered together. Drop the pair or one of the forced treatments.")
    if side.forbidden.size == problem.m:
        return "forbidden: every treatment is forbidden. Allow at least one."
    if side.min_count is not None:
        for j in side.forced:
            if side.min_count[j] > side.max_count[j]:
                return (f"shares: forced treatment {label(j)!r} cannot meet its own share bounds. Relax "
                        "min_share / max_share or do not force it.")
    if side.budget is not None:
        allowed = np.setdiff1d(np.arange(problem.m), side.forbidden)
        cheapest = float(side.cost[:, allowed].min(axis=1).sum())
        if cheapest > side.budget + 1e-9 * max(1.0, abs(side.budget)):
            return (f"budget: giving every individual its cheapest allowed treatment already costs "
                    f"{cheapest:.6g}, more than the budget {side.budget:.6g}. Raise the budget.")
    return None
