"""Validation of experiment data for policy evaluation, and its one internal form.

Every design is reduced to the same facts per customer: the outcome ``y``, the action
actually received (an integer code into ``labels``) and the probability ``e`` with which the
experiment assigned that action. Under randomization by action (RBA) ``e`` is given (or
uniform). Under randomization by policy (RBP) it is *induced* by the policy lottery: a
customer assigned to policy ``g`` with probability ``q_g`` receives action ``r`` with
probability ``sum_l q_l 1{policy_l(x) = r}``. So a customer on whom two policies agree
receives their common action with the sum of their probabilities, and every estimator of
this package applies to both designs unchanged.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..exceptions import ProblemError
from ..propensity import arm_shares, check_propensity_counts

__all__ = ["EvaluationError", "EvaluationWarning", "SupportError", "DESIGNS"]

DESIGNS = ("rba", "rbp")


class EvaluationError(ProblemError):
    """Experiment data or arguments that cannot be used to evaluate a policy."""


class EvaluationWarning(UserWarning):
    """An estimate that can be computed but whose standard error deserves caution."""


class SupportError(EvaluationError):
    """A policy recommends an action the experiment never assigned with positive probability.

    Its value would be an extrapolation, not an estimate: the experiment holds no customer
    who received that action (or none in a cell where it is needed).
    """


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_1d(name: str, value: Any, n: int | None = None, *, numeric: bool = False) -> np.ndarray:
    """A 1-D numpy array from a list, array or pandas Series, with no missing values."""
    if value is None:
        raise EvaluationError(f"The '{name}' argument is required.")
    if hasattr(value, "to_numpy") and getattr(value, "ndim", 1) == 1:
        arr = value.to_numpy()
    else:
        arr = np.asarray(value)
        if arr.ndim == 2 and 1 in arr.shape:
            arr = arr.ravel()
    if arr.ndim != 1:
        raise EvaluationError(f"'{name}' must be 1-D (one entry per customer); got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise EvaluationError(
            f"'{name}' has {arr.shape[0]} entries but 'y' has {n}: give one entry per customer, in the same order."
        )
    if numeric:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise EvaluationError(f"'{name}' must hold numbers; got dtype {arr.dtype}.") from None
        bad, what, remedy = ~np.isfinite(arr), "NaN or infinite", "drop those customers or impute the values first"
    else:
        bad, what, remedy = _missing(arr), "missing", "every customer needs a value"
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise EvaluationError(f"'{name}' holds {int(bad.sum())} {what} values (first at position {first}); {remedy}.")
    return arr


def _missing(arr: np.ndarray) -> np.ndarray:
    """Where a 1-D array of labels or numbers is missing (NaN, None, pandas' NA)."""
    if arr.dtype.kind in "fc":
        return np.isnan(arr)
    if arr.dtype.kind == "O":
        import pandas as pd

        return pd.isna(arr)
    return np.zeros(arr.shape, dtype=bool)


def as_features(X: Any, n: int) -> np.ndarray | None:
    """Covariates as a float matrix (categorical DataFrame columns are one-hot encoded)."""
    if X is None:
        return None
    import pandas as pd

    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        if any(not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in X.dtypes):
            X = pd.get_dummies(X, drop_first=True, dtype=float)
        arr = X.to_numpy(dtype=np.float64)
    else:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise EvaluationError(
                "'X' must be numeric (or a pandas DataFrame, whose categorical columns are one-hot encoded)."
            ) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise EvaluationError(f"'X' must have shape (n, p) with n = {n} customers; got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise EvaluationError("'X' holds NaN or infinite values; impute or drop them before evaluating.")
    return arr


def resolve_policy(name: str, policy: Any, n: int, X: Any = None, rows: Any = None) -> np.ndarray:
    """The action a policy recommends for each customer.

    ``policy`` may be an array-like of actions, one action for everyone, a fitted
    :class:`~coarseopt.SolveResult` whose assignment covers these customers, or a callable
    ``policy(X) -> actions``. A
    policy learned on any of these customers (``rows``: their labels, when known) warns
    with :class:`~coarseopt.exceptions.InSampleEvaluationWarning`.
    """
    from ..result import SolveResult, warn_if_in_sample

    warn_if_in_sample(name, policy, rows)

    if isinstance(policy, SolveResult):
        if policy.assignment.shape[0] != n:
            raise EvaluationError(
                f"'{name}' is a SolveResult for {policy.assignment.shape[0]} individuals but there are {n} customers; "
                "apply it to these customers with coarseopt.evaluation.coarse_policy(result, profit) first."
            )
        return np.asarray(policy.assignment_series(labels=True).to_numpy())
    if np.ndim(policy) == 0 and not callable(policy):  # one action for everyone
        return np.full(n, policy, dtype=object)
    if callable(policy):
        if X is None:
            raise EvaluationError(f"'{name}' is a callable policy, so the covariates 'X' it maps are required.")
        return as_1d(name, policy(X), n)
    return as_1d(name, policy, n)


@dataclass(frozen=True)
class ExperimentData:
    """The internal form of the data: codes, probabilities and, under RBP, the policy lottery.

    Attributes
    ----------
    y : float array (n,)
    action : int array (n,), codes into ``labels``
    e : float array (n,), probability of the received action
    labels : object array of the action labels
    design : "rba" or "rbp"
    group : int array (n,) or None, under RBP the index of the assigned policy
    group_prob : float array (n,) or None, under RBP the probability of the assigned policy
    X : float array (n, p) or None
    shares_estimated : bool, True when ``e`` is each action's share of these customers (no
        propensity given): the estimators' influence values then carry the term of the
        estimated shares
    """

    y: np.ndarray
    action: np.ndarray
    e: np.ndarray
    labels: np.ndarray
    design: str
    group: np.ndarray | None = None
    group_prob: np.ndarray | None = None
    X: np.ndarray | None = None
    shares_estimated: bool = False

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


def encode(arrays: Mapping[str, np.ndarray], extra_labels: Any = ()) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Integer codes of several label arrays over their common set of labels."""
    import pandas as pd

    names = list(arrays)
    parts = [np.asarray(arrays[k]) for k in names]
    kinds = {p.dtype.kind for p in parts}
    if kinds <= set("biuf"):
        joined = np.concatenate(parts)
    else:
        joined = np.concatenate([p.astype(object) for p in parts])
    extra = np.asarray(list(extra_labels), dtype=object)
    if extra.size:
        joined = np.concatenate([joined.astype(object), extra])
    codes, uniques = pd.factorize(joined, sort=False)
    out, start = {}, 0
    for k, p in zip(names, parts):
        out[k] = codes[start : start + p.shape[0]].astype(np.int64)
        start += p.shape[0]
    return out, np.asarray(uniques, dtype=object)


def check_design(design: Any) -> str:
    if not isinstance(design, str) or design.lower() not in DESIGNS:
        raise EvaluationError(
            f"The 'design' argument must be 'rba' (customers randomized to actions) or 'rbp' (customers randomized "
            f"to policies); got {_describe(design)}."
        )
    return design.lower()


def check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 < float(alpha) < 1.0:
        raise EvaluationError(f"The 'alpha' argument must be a number in (0, 1), e.g. 0.05; got {_describe(alpha)}.")
    return float(alpha)


def _check_probability(name: str, p: np.ndarray) -> None:
    bad = ~((p > 0.0) & (p <= 1.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise EvaluationError(
            f"'{name}' must lie in (0, 1] (a probability the design assigned); found {int(bad.sum())} values "
            f"outside, first {p[first]!r} at position {first}."
        )


def _rba_propensity(propensity: Any, n: int) -> tuple[np.ndarray | None, dict | None]:
    """Read an RBA ``propensity``: ``(e, None)`` for the probability of the received action,
    ``(None, table)`` for a full table ``{action label: (n,) probabilities}``, ``(None, None)``
    for uniform assignment."""
    import pandas as pd

    if propensity is None:
        return None, None
    if isinstance(propensity, numbers.Real) and not isinstance(propensity, bool):
        p = np.full(n, float(propensity))
        _check_probability("propensity", p)
        return p, None
    if isinstance(propensity, Mapping):
        table = {}
        for label, prob in propensity.items():
            if isinstance(prob, bool) or not isinstance(prob, numbers.Real) or not 0.0 <= float(prob) <= 1.0:
                raise EvaluationError(
                    f"'propensity' maps action {label!r} to {_describe(prob)}; each probability must be in [0, 1]."
                )
            table[label] = np.full(n, float(prob))
        total = sum(float(v) for v in propensity.values())
        if abs(total - 1.0) > 1e-6:
            raise EvaluationError(
                f"The probabilities in 'propensity' sum to {total:.6g}, not 1: give every action's assignment "
                "probability."
            )
        return None, table
    if isinstance(propensity, pd.DataFrame):
        if propensity.shape[0] != n:
            raise EvaluationError(
                f"'propensity' has {propensity.shape[0]} rows but 'y' has {n}: give one row per customer."
            )
        try:
            mat = propensity.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise EvaluationError("'propensity' (a DataFrame of probabilities) must hold numbers.") from None
        if not np.isfinite(mat).all() or (mat < 0).any() or (mat > 1).any():
            raise EvaluationError("'propensity' (a probability per customer and action) must hold values in [0, 1].")
        sums = mat.sum(axis=1)
        worst = int(np.argmax(np.abs(sums - 1.0)))
        if abs(sums[worst] - 1.0) > 1e-6:
            raise EvaluationError(
                f"Each row of 'propensity' must sum to 1 over the actions; row {worst} sums to {sums[worst]:.6g}. "
                "Include a column for every action of the experiment."
            )
        return None, {col: mat[:, j] for j, col in enumerate(propensity.columns)}
    if np.ndim(propensity) == 2 and 1 not in np.shape(propensity):
        raise EvaluationError(
            "A 2-D 'propensity' must be a pandas DataFrame whose columns name the actions "
            "(or give a 1-D array: the probability of the action each customer received)."
        )
    p = as_1d("propensity", propensity, n, numeric=True)
    _check_probability("propensity", p)
    return p, None


def _label_list(labels: np.ndarray, codes: np.ndarray, limit: int = 5) -> str:
    shown = [repr(labels[c]) for c in codes[:limit]]
    return ", ".join(shown) + (", ..." if len(codes) > limit else "")


def build_rba(y: np.ndarray, action: Any, policies: Mapping[str, np.ndarray], propensity: Any, X: np.ndarray | None):
    """The internal form of an experiment randomized by action, and the policies' codes."""
    n = y.shape[0]
    action_raw = as_1d("action", action, n)
    e, table = _rba_propensity(propensity, n)
    codes, labels = encode({"action": action_raw, **policies}, extra_labels=list(table) if table else ())
    A = codes.pop("action")
    if table is not None:
        index = {lab: j for j, lab in enumerate(labels)}
        P = np.zeros((n, labels.size))
        for lab, col in table.items():
            P[:, index[lab]] = col
        e = P[np.arange(n), A]
        if (e <= 0).any():
            first = int(np.flatnonzero(e <= 0)[0])
            raise EvaluationError(
                f"Customer {first} received action {labels[A[first]]!r}, to which 'propensity' gives probability 0; "
                "the propensities must be those of the experiment that produced 'action'."
            )
        for name, c in codes.items():
            zero = P[np.arange(n), c] <= 0
            if zero.any():
                acts = np.unique(c[zero])
                raise SupportError(
                    f"'{name}' recommends actions the experiment assigned with probability 0 to some customers "
                    f"({int(zero.sum())} customers; actions {_label_list(labels, acts)}): their value cannot be "
                    "estimated from this experiment. Restrict the policy to actions the experiment assigned."
                )
    else:
        observed = np.zeros(labels.size, dtype=bool)
        observed[A] = True
        for name, c in codes.items():
            missing = np.unique(c[~observed[c]])
            if missing.size:
                raise SupportError(
                    f"'{name}' recommends actions that no customer in the experiment received "
                    f"({_label_list(labels, missing)}; {int((~observed[c]).sum())} customers): their value cannot "
                    f"be estimated from this experiment. The experiment's actions are "
                    f"{_label_list(labels, np.flatnonzero(observed), 10)}."
                )
        if e is None:  # the one propensity rule: each action's share of the customers given
            e = arm_shares(A, labels.size)
    if table is not None or propensity is not None:
        check_propensity_counts(A, labels, e=e if table is None else None, table=P if table is not None else None)
    return ExperimentData(y=y, action=A, e=e, labels=labels, design="rba", X=X,
                          shares_estimated=propensity is None), codes


def build_rbp(
    y: np.ndarray,
    action: Any,
    policies: Mapping[str, np.ndarray],
    assigned: Any,
    propensity: Any,
    X: np.ndarray | None,
    names: tuple[str, ...] | None = None,
):
    """The internal form of an experiment randomized by policy.

    ``assigned`` names, for each customer, the policy (a key of ``policies``, or the
    alias in ``names`` at the same position) whose recommendation the customer received.
    ``propensity`` is None (equal probabilities), a mapping policy -> probability, a number
    (the probability of the first policy, two policies only) or an (n,) array (the
    probability of the policy each customer was assigned, two policies only).
    """
    n = y.shape[0]
    keys = list(policies)
    aliases = list(names) if names is not None else keys
    L = len(keys)
    if assigned is None:
        raise EvaluationError(
            f"design='rbp' needs 'assigned': which policy ({', '.join(map(repr, aliases))}) each customer was "
            "randomized to. For an experiment that randomized actions use design='rba'."
        )
    assigned_raw = as_1d("assigned", assigned, n)
    lookup = {str(a): j for j, a in enumerate(aliases)}
    lookup.update({str(k): j for j, k in enumerate(keys)})
    import pandas as pd

    codes_g, uniques_g = pd.factorize(assigned_raw)
    found = np.array([lookup.get(str(u), -1) for u in uniques_g], dtype=np.int64)
    if (found < 0).any():
        bad = uniques_g[int(np.flatnonzero(found < 0)[0])]
        raise EvaluationError(
            f"'assigned' holds {str(bad)!r}; each entry must name a policy: one of {', '.join(map(repr, aliases))}."
        )
    G = found[codes_g]
    if propensity is None:  # each policy's share of the customers given
        counts = np.bincount(G, minlength=L)
        if (counts == 0).any():
            empty = [aliases[j] for j in np.flatnonzero(counts == 0)]
            raise EvaluationError(
                f"No customer was assigned policy {empty[0]!r} in 'assigned', so its assignment probability "
                "cannot be taken from the data: give 'propensity' (a mapping policy -> probability)."
            )
        Q = np.broadcast_to(counts / n, (n, L)).copy()
    elif isinstance(propensity, Mapping):
        q = np.zeros(L)
        for k, v in propensity.items():
            if str(k) not in lookup:
                raise EvaluationError(f"'propensity' names {k!r}, which is not a policy: use {aliases!r}.")
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= float(v) <= 1.0:
                raise EvaluationError(f"'propensity' gives policy {k!r} probability {_describe(v)}; use [0, 1].")
            q[lookup[str(k)]] = float(v)
        if abs(q.sum() - 1.0) > 1e-6:
            raise EvaluationError(f"The policy probabilities in 'propensity' sum to {q.sum():.6g}, not 1.")
        Q = np.broadcast_to(q, (n, L)).copy()
    elif L != 2:
        raise EvaluationError(
            "With more than two policies under design='rbp', give 'propensity' as a mapping policy -> probability."
        )
    elif isinstance(propensity, numbers.Real) and not isinstance(propensity, bool):
        p = float(propensity)
        _check_probability("propensity", np.array([p]))
        if p == 1.0:
            raise EvaluationError("'propensity' = 1 would assign every customer to the first policy; use a value in (0, 1).")
        Q = np.tile([p, 1.0 - p], (n, 1))
    else:
        p = as_1d("propensity", propensity, n, numeric=True)
        _check_probability("propensity", p)
        Q = np.empty((n, 2))
        Q[np.arange(n), G] = p
        Q[np.arange(n), 1 - G] = 1.0 - p
    gp = Q[np.arange(n), G]
    if propensity is not None and (gp > 0).all():
        check_propensity_counts(G, np.asarray(aliases, dtype=object), table=Q, what="policy")
    if (gp <= 0).any():
        first = int(np.flatnonzero(gp <= 0)[0])
        raise EvaluationError(
            f"Customer {first} was assigned policy {aliases[G[first]]!r}, whose probability in 'propensity' is 0."
        )
    parts = dict(policies)
    if action is not None:
        parts = {"action": as_1d("action", action, n), **parts}
    codes, labels = encode(parts)
    R = np.stack([codes[k] for k in keys], axis=1)
    recommended = R[np.arange(n), G]
    if action is not None:
        A = codes.pop("action")
        bad = A != recommended
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise EvaluationError(
                f"Under design='rbp' each customer receives the action of the assigned policy, but 'action' differs "
                f"from it for {int(bad.sum())} customers (first at position {first}: received "
                f"{labels[A[first]]!r}, policy {aliases[G[first]]!r} recommends {labels[recommended[first]]!r}). "
                "Check 'assigned', or pass action=None to take the recommendations as the actions."
            )
    else:
        A = recommended
    # Induced probability of the received action: every policy recommending it contributes.
    e = (Q * (R == A[:, None])).sum(axis=1)
    exp = ExperimentData(y=y, action=A, e=e, labels=labels, design="rbp", group=G, group_prob=gp, X=X)
    return exp, {k: codes[k] for k in keys}


def build(
    y: Any,
    action: Any,
    policies: Mapping[str, Any],
    *,
    design: Any,
    propensity: Any,
    assigned: Any,
    X: Any,
    names: tuple[str, ...] | None = None,
):
    """Validate everything at the boundary; return ``(ExperimentData, {policy: codes})``."""
    design = check_design(design)
    y_raw = y
    y = as_1d("y", y, numeric=True)
    n = y.shape[0]
    if n < 2:
        raise EvaluationError(f"'y' must hold at least two customers; got {n}.")
    import pandas as pd

    rows = y_raw.index if isinstance(y_raw, pd.Series) else None
    resolved = {k: resolve_policy(k, p, n, X, rows) for k, p in policies.items()}
    Xf = as_features(X, n)
    if design == "rba":
        if assigned is not None:
            raise EvaluationError(
                "'assigned' is only used with design='rbp' (customers randomized to policies); under design='rba' "
                "give the received 'action' and its 'propensity' instead."
            )
        return build_rba(y, action, resolved, propensity, Xf)
    return build_rbp(y, action, resolved, assigned, propensity, Xf, names)
