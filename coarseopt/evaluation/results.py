"""Frozen result types of policy evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

__all__ = ["PolicyComparison", "PolicyValue", "MultipleComparison"]


def _freeze(obj: Any, name: str) -> None:
    value = getattr(obj, name)
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.setflags(write=False)
    elif isinstance(value, Mapping):
        value = MappingProxyType(dict(value))
    object.__setattr__(obj, name, value)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _scalars(obj: Any, names: str) -> dict:
    """The named fields of a result (space-separated names), in that order, as a plain dict."""
    return {name: getattr(obj, name) for name in names.split()}


def _interval_text(r: Any) -> str:
    """``"<estimate> per customer (se <se>; 95% CI [<low>, <high>]"`` of a result."""
    return (f"{_fmt(r.estimate)} per customer (se {_fmt(r.se)}; {100 * (1 - r.alpha):g}% CI "
            f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]")


def _interval_repr(r: Any) -> str:
    """``"estimate=..., se=..., ci=[..., ...]"``: the interval part of a result's repr."""
    return f"estimate={r.estimate:.6g}, se={r.se:.6g}, ci=[{r.ci_low:.6g}, {r.ci_high:.6g}]"


@dataclass(frozen=True, eq=False)
class PolicyComparison:
    """The estimated difference ``V(policy_a) - V(policy_b)`` in mean outcome per customer.

    Attributes
    ----------
    estimate : float
        Point estimate of ``E[Y(a(X)) - Y(b(X))]`` over the whole population.
    se : float
        Its standard error.
    ci_low, ci_high : float
        The two-sided ``1 - alpha`` normal confidence interval.
    p_value : float
        Two-sided p-value of ``Delta = 0``.
    n : int
        Number of customers.
    n_disagree : int
        Customers for whom the two policies recommend different actions.
    method : str
        The estimator (``"disagreement"``, ``"naive"``, ``"regression"``, ``"ipw"``,
        ``"snipw"``, ``"dr"``).
    design : str
        ``"rba"`` or ``"rbp"``.
    alpha : float
        One minus the confidence level of the interval.
    extras : Mapping
        Estimator-specific facts (e.g. ``effect_disagree``, the mean difference among the
        disagreeing customers; ``value_a`` / ``value_b`` where the estimator computes them).
    influence : ndarray, shape (n,)
        Per-customer influence values of the estimate (``mean(influence) = 0``), so that
        estimates on the same customers can be combined with their joint covariance.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_disagree: int
    method: str
    design: str
    alpha: float = 0.05
    extras: Mapping[str, Any] = field(default_factory=dict)
    influence: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def __post_init__(self) -> None:
        _freeze(self, "extras")
        _freeze(self, "influence")

    @property
    def disagreement_share(self) -> float:
        """Share of customers on whom the policies disagree."""
        return self.n_disagree / self.n if self.n else float("nan")

    def to_dict(self) -> dict:
        """The scalar fields (and extras) as a plain dict."""
        out = _scalars(self, "method design estimate se ci_low ci_high p_value n n_disagree alpha")
        out.update({k: v for k, v in self.extras.items() if k not in out})
        return out

    def summary(self) -> str:
        """A few lines a person can read."""
        return "\n".join(
            [
                f"V(a) - V(b) = {_interval_text(self)}; p = {self.p_value:.4g})",
                f"method {self.method}, design {self.design}: {self.n} customers, {self.n_disagree} "
                f"({100 * self.disagreement_share:.1f}%) where the policies disagree",
            ]
        )

    def __repr__(self) -> str:
        return (
            f"PolicyComparison(method={self.method!r}, design={self.design!r}, {_interval_repr(self)}, "
            f"p_value={self.p_value:.4g}, n={self.n}, n_disagree={self.n_disagree})"
        )


@dataclass(frozen=True, eq=False)
class PolicyValue:
    """The estimated value ``V(policy) = E[Y(policy(X))]``: mean outcome per customer.

    Attributes
    ----------
    estimate, se, ci_low, ci_high : float
        Point estimate, standard error and ``1 - alpha`` normal interval.
    n : int
        Number of customers.
    n_followed : int
        Customers whose received action is the one the policy recommends (the customers
        that inform the estimate directly).
    method : str
        ``"ipw"``, ``"snipw"`` or ``"dr"``.
    design : str
    alpha : float
    influence : ndarray, shape (n,)
        Per-customer influence values.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    n_followed: int
    method: str
    design: str = "rba"
    alpha: float = 0.05
    influence: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def __post_init__(self) -> None:
        _freeze(self, "influence")

    def to_dict(self) -> dict:
        """The scalar fields as a plain dict."""
        return _scalars(self, "method design estimate se ci_low ci_high n n_followed alpha")

    def summary(self) -> str:
        """One line a person can read."""
        return (
            f"V = {_interval_text(self)}); method {self.method}, {self.n} customers, {self.n_followed} received "
            "the recommended action"
        )

    def __repr__(self) -> str:
        return f"PolicyValue(method={self.method!r}, {_interval_repr(self)}, n={self.n}, n_followed={self.n_followed})"


@dataclass(frozen=True, eq=False)
class MultipleComparison:
    """Several policy comparisons on the same customers, with adjusted p-values.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per comparison: ``policy_a``, ``policy_b``, ``estimate``, ``se``,
        ``ci_low``, ``ci_high`` (unadjusted), ``p_value``, ``p_adjusted``, ``reject``
        (``p_adjusted <= alpha``), ``n_disagree``; with ``adjust="maxt"`` also
        ``sim_ci_low`` / ``sim_ci_high``, simultaneous intervals.
    cov : pandas.DataFrame
        Joint covariance of the estimates (they share customers), indexed by comparison.
    values : pandas.DataFrame
        Each policy's value (mean outcome per customer) with its standard error.
    method, design, adjust : str
    alpha : float
    """

    table: Any
    cov: Any
    values: Any
    method: str
    design: str
    adjust: str
    alpha: float

    @property
    def corr(self):
        """Correlation matrix of the estimates."""
        sd = np.sqrt(np.diag(self.cov.to_numpy()))
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.cov / np.outer(sd, sd)

    def summary(self) -> str:
        cols = ["policy_a", "policy_b", "estimate", "se", "p_value", "p_adjusted", "reject"]
        head = (
            f"{len(self.table)} comparisons, method {self.method}, design {self.design}, "
            f"p-values adjusted by {self.adjust} (alpha {self.alpha:g})"
        )
        return head + "\n" + self.table[cols].to_string(index=False)

    def __repr__(self) -> str:
        return f"MultipleComparison(method={self.method!r}, adjust={self.adjust!r}, comparisons={len(self.table)})"
