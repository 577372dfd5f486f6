"""The Lagrangian bound with a budget: the budget multiplier on top of the LP bound.

Dualizing the budget :math:`\\sum_{ij} c_{ij} x_{ij} \\le B` with :math:`\\mu \\ge 0` next to
the assignment constraints gives

.. math::

    L(u, \\mu) = \\mu B + \\sum_i u_i + \\operatorname{top}_k \\rho(u, \\mu), \\qquad
    \\rho_j(u, \\mu) = \\sum_i \\max(0, P_{ij} - \\mu c_{ij} - u_i),

an upper bound on the best budgeted profit for every ``u`` and every :math:`\\mu \\ge 0`: for
a fixed :math:`\\mu` it is the Lagrangian bound (:func:`~.memory.lagrangian_bound`) of the
priced profit :math:`P - \\mu c`, plus :math:`\\mu B`. Its minimum over ``u`` is convex in
:math:`\\mu`; the search here starts at the heuristic's price (the price at which the
incumbent's offered set meets the budget, where the bound is tight when that set is the best
one under the priced profit) and walks along :math:`\\mu` while the bound falls. Every value
reported is :math:`L(u, \\mu)` of multipliers actually evaluated: a certified bound however
the search stops.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .memory import lagrangian_bound

__all__ = ["BudgetBound", "budget_lagrangian_bound"]

#: Relative step of the walk along the budget multiplier, and how often it may halve.
STEP = 0.05
HALVINGS = 3


@dataclass(frozen=True)
class BudgetBound:
    """The outcome of :func:`budget_lagrangian_bound`.

    Attributes
    ----------
    bound : float
        A certified upper bound on the best profit within the budget.
    price : float
        The budget multiplier :math:`\\mu` that gives ``bound``.
    iterations : int
        Bundle iterations over all evaluations.
    termination : str
        That of the last bundle run (``"time_limit"`` when the deadline stopped the search).
    history : list of (float, float)
        ``(mu, bound)`` of every multiplier evaluated.
    """

    bound: float
    price: float
    iterations: int
    termination: str
    history: list = field(default_factory=list)


def budget_lagrangian_bound(
    profit: np.ndarray,
    cost: np.ndarray,
    k: int,
    budget: float,
    *,
    price: float,
    incumbent: float,
    offered: Any,
    deadline: float | None = None,
    target_gap: float | None = None,
    max_iter: int | None = None,
    evaluations: int = 6,
    progress: bool | None = None,
) -> BudgetBound:
    """Minimize :math:`L(u, \\mu)` over ``u`` (the bundle method) and :math:`\\mu` (a walk).

    Parameters
    ----------
    profit, cost : ndarray of shape (n, m)
    k : int
    budget : float
    price : float
        The first :math:`\\mu` (the heuristic's price; 0 when the budget does not bind).
    incumbent : float
        The best known budgeted profit (for ``target_gap``).
    offered : array-like of int
        Its offered set (the bundle method's start).
    deadline, target_gap, max_iter, progress
        As in :func:`~.memory.lagrangian_bound`; ``target_gap`` is the gap to ``incumbent``
        at which the search stops.
    evaluations : int, default 6
        At most this many multipliers :math:`\\mu` are evaluated.
    """
    history: list[tuple[float, float]] = []
    iterations, termination = 0, "converged"
    u0 = None

    def at(mu: float) -> float:
        nonlocal iterations, termination, u0
        for seen, value in history:
            if seen == mu:
                return value
        priced = profit - mu * cost if mu else profit
        res = lagrangian_bound(priced, k, incumbent=incumbent - mu * budget, offered=offered, u0=u0,
                               deadline=deadline, target_gap=target_gap, max_iter=max_iter, progress=progress)
        iterations += res.iterations
        termination = res.termination
        u0 = res.multipliers
        value = float(res.bound + mu * budget)
        history.append((mu, value))
        return value

    def done() -> bool:
        best = min(v for _, v in history)
        gap = (best - incumbent) / max(1.0, abs(best))
        out_of_time = deadline is not None and time.perf_counter() >= deadline
        return out_of_time or gap <= (target_gap or 0.0) or len(history) >= evaluations

    mu = max(float(price), 0.0)
    value = at(mu)
    step = STEP * mu
    halvings = 0
    while not done() and step > 0:
        trial = [m for m in (mu + step, mu - step) if m >= 0]
        moved = False
        for t in trial:
            v = at(t)
            if v < value:
                mu, value, moved = t, v, True
                break
            if done():
                break
        if not moved:
            step, halvings = step / 2, halvings + 1
            if halvings > HALVINGS:
                break
    mu_best, bound = min(history, key=lambda h: h[1])
    if deadline is not None and time.perf_counter() >= deadline:
        termination = "time_limit"
    return BudgetBound(bound=bound, price=mu_best, iterations=iterations, termination=termination, history=history)
