"""From predicted outcomes to profit: margins and per-treatment costs."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ._errors import EconomicsError, describe

__all__ = ["Economics"]


@dataclass(frozen=True)
class Economics:
    """How an outcome turns into profit under each treatment.

    Profit of a customer with outcome ``y`` under treatment ``t``:

    .. math::

        \\pi(t, y) = (\\text{margin}(t) - \\text{proportional\\_cost}(t))\\, y - \\text{cost}(t)

    and the *incremental* profit reported by :func:`estimate_profit` is
    ``pi(t, y_hat(t)) - pi(control, y_hat(control))``: what offering ``t`` instead of the
    control earns. Each term is a number (the same for every treatment), a mapping from arm
    (label or level) to a number (labelled arms left out get 0 for costs), or a function of
    the numeric level. With numeric levels a mapping is interpolated linearly between its
    keys, so costs are defined on a grid finer than the arms, and it must reach every level:
    a level outside its keys is an error naming the level, never a free treatment.

    Parameters
    ----------
    margin : float, mapping or callable, default=1.0
        Profit per unit of outcome (e.g. a 0.3 gross margin on spend, or the profit of one
        conversion when the outcome is 0/1). ``1.0`` when the outcome already is profit.
    cost : float, mapping or callable, default=0.0
        Fixed cost per customer who is given the treatment (e.g. 0.10 per e-mail sent).
    proportional_cost : float, mapping, callable or "level", default=0.0
        Cost per unit of outcome, e.g. a discount paid on spend at list price. ``"level"``:
        the numeric level itself is the fraction (a discount depth of 0.2 costs 0.2 * spend).

    Examples
    --------
    >>> import coarseopt as co
    >>> econ = co.Economics(margin=0.3, cost={"Mens E-Mail": 0.10, "Womens E-Mail": 0.10})
    >>> float(econ.profit(10.0, "Mens E-Mail")), float(econ.profit(10.0, "No E-Mail"))
    (2.9, 3.0)
    >>> disc = co.Economics(margin=0.5, proportional_cost="level")
    >>> float(disc.profit(100.0, 0.2))
    30.0
    """

    margin: Any = 1.0
    cost: Any = 0.0
    proportional_cost: Any = 0.0

    def __post_init__(self) -> None:
        for name in ("margin", "cost", "proportional_cost"):
            value = getattr(self, name)
            if name == "proportional_cost" and isinstance(value, str):
                if value != "level":
                    raise EconomicsError(
                        f"The 'proportional_cost' parameter of Economics must be a number, a mapping, a "
                        f"callable or 'level'. Got {value!r} instead."
                    )
                continue
            if isinstance(value, Mapping):
                for key, v in value.items():
                    if not _is_number(v):
                        raise EconomicsError(
                            f"'{name}' maps {key!r} to {describe(v)}; values must be finite numbers."
                        )
            elif not callable(value) and not _is_number(value):
                raise EconomicsError(
                    f"The '{name}' parameter of Economics must be a finite number, a mapping from arm to "
                    f"number or a function of the level. Got {describe(value)} instead."
                )

    # ------------------------------------------------------------------ evaluation
    def _term(self, name: str, treatments: Sequence[Any], *, numeric: bool, default: float,
              strict: bool = True) -> np.ndarray:
        value = getattr(self, name)
        if isinstance(value, str):  # proportional_cost="level"
            if not numeric:
                raise EconomicsError(
                    "proportional_cost='level' needs numeric treatment levels (a discount depth); "
                    "the arms here are labels. Give a mapping from arm to cost fraction instead."
                )
            return np.asarray(treatments, dtype=np.float64)
        if callable(value) and not isinstance(value, Mapping):
            if not numeric:
                raise EconomicsError(
                    f"'{name}' is a function of the level, but the arms are labels; give a mapping instead."
                )
            out = np.array([float(value(float(t))) for t in treatments])
            if not np.isfinite(out).all():
                raise EconomicsError(f"'{name}' returned a non-finite value for levels {list(treatments)}.")
            return out
        if isinstance(value, Mapping):
            return self._from_mapping(name, value, treatments, numeric=numeric, default=default, strict=strict)
        return np.full(len(treatments), float(value))

    def _from_mapping(self, name: str, value: Mapping, treatments: Sequence[Any], *, numeric: bool,
                      default: float, strict: bool) -> np.ndarray:
        if numeric:
            try:
                keys = np.array([float(k) for k in value], dtype=np.float64)
            except (TypeError, ValueError):
                raise EconomicsError(
                    f"'{name}' has keys {list(value)[:10]} but the arms are numeric levels; key it by level."
                ) from None
            vals = np.array([float(v) for v in value.values()])
            order = np.argsort(keys)
            keys, vals = keys[order], vals[order]
            t = np.asarray(treatments, dtype=np.float64)
            outside = t[(t < keys[0] - 1e-12) | (t > keys[-1] + 1e-12)]
            if outside.size:  # a cost left out would be 0: the deepest discount free
                raise EconomicsError(
                    f"'{name}' is given for levels {keys.tolist()} but not for level(s) {outside.tolist()[:10]}; "
                    f"cover every level{' (0 for a level that costs nothing)' if name != 'margin' else ''}, "
                    "or pass a number or a function of the level."
                )
            exact = [np.flatnonzero(np.isclose(keys, x)) for x in t]
            return np.array([vals[e[0]] if e.size else np.interp(x, keys, vals) for e, x in zip(exact, t)])
        unknown = [k for k in value if k not in list(treatments)]
        if unknown and strict:
            raise EconomicsError(
                f"'{name}' names arm(s) {unknown} that the experiment does not have; arms: {list(treatments)}."
            )
        if name == "margin":
            absent = [t for t in treatments if t not in value]
            if absent:
                raise EconomicsError(f"'margin' is a mapping but lacks arm(s) {absent}; give a margin for every arm.")
        return np.array([float(value.get(t, default)) for t in treatments])

    def unit_value(self, treatments: Sequence[Any], *, numeric: bool,
                   strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(a, c)`` per treatment with ``profit = a * y - c``.

        ``strict``: a mapping that names a treatment not in ``treatments`` is an error
        (a misspelled arm would otherwise cost nothing, silently).
        """
        margin = self._term("margin", treatments, numeric=numeric, default=1.0, strict=strict)
        prop = self._term("proportional_cost", treatments, numeric=numeric, default=0.0, strict=strict)
        cost = self._term("cost", treatments, numeric=numeric, default=0.0, strict=strict)
        return margin - prop, cost

    def spend_terms(self, treatments: Sequence[Any], *, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(proportional, fixed)`` per treatment: what the firm pays out for an outcome ``y``
        under treatment ``t`` is ``proportional[t] * y + fixed[t]`` (at least 0)."""
        prop = self._term("proportional_cost", treatments, numeric=numeric, default=0.0)
        cost = self._term("cost", treatments, numeric=numeric, default=0.0)
        return prop, cost

    def spend_matrix(self, outcome: np.ndarray, treatments: Sequence[Any], *, numeric: bool) -> np.ndarray:
        """What the firm pays out for an ``(n, m)`` matrix of outcomes, column ``j`` under
        ``treatments[j]``: ``cost(t) + proportional_cost(t) * y`` (the discount paid plus the
        fixed cost), at least 0. A budget caps its sum (``[solve] budget``)."""
        return spend_of_outcome(outcome, *self.spend_terms(treatments, numeric=numeric))

    def profit(self, outcome: Any, treatment: Any) -> np.ndarray:
        """Profit ``pi(t, y)`` of outcome(s) ``y`` under one treatment ``t`` (label or level)."""
        numeric = _is_number(treatment)
        a, c = self.unit_value([treatment], numeric=numeric, strict=False)
        return a[0] * np.asarray(outcome, dtype=np.float64) - c[0]

    def profit_matrix(self, outcome: np.ndarray, treatments: Sequence[Any], *, numeric: bool) -> np.ndarray:
        """Profit of an ``(n, m)`` matrix of outcomes, column ``j`` under ``treatments[j]``."""
        a, c = self.unit_value(treatments, numeric=numeric)
        return np.asarray(outcome, dtype=np.float64) * a[None, :] - c[None, :]


def spend_of_outcome(outcome: np.ndarray, proportional: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """``proportional * outcome + fixed`` column by column, at least 0 (see
    :meth:`Economics.spend_terms`)."""
    out = np.asarray(outcome, dtype=np.float64) * np.asarray(proportional)[None, :] + np.asarray(fixed)[None, :]
    return np.maximum(out, 0.0)


def spend_of_column(cost: np.ndarray, m: int, control_column: int) -> np.ndarray:
    """``(n, m)`` spend when each customer costs ``cost[i]`` under any of the ``m`` treatments
    but the control (column ``control_column``), which costs nothing."""
    treated = np.arange(m) != control_column
    return np.asarray(cost, dtype=np.float64)[:, None] * treated[None, :]


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and np.isfinite(float(x))
