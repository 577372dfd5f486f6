"""A budget on an offered set's assignment: the Lagrangian price, the repair, the improvement.

For an offered set ``S`` and a budget ``B`` the best assignment is a multiple-choice knapsack

.. math::

    \\max \\sum_i P_{i a(i)} \\quad\\text{s.t.}\\quad a(i) \\in S,\\; \\sum_i c_{i a(i)} \\le B.

Pricing the budget at :math:`\\lambda \\ge 0` makes it separable: each individual takes
:math:`\\arg\\max_{j \\in S} P_{ij} - \\lambda c_{ij}` (ties: the cheaper column), and
:math:`g(\\lambda) = \\sum_i \\max_{j \\in S}(P_{ij} - \\lambda c_{ij}) + \\lambda B` is an upper
bound on the knapsack's value for every :math:`\\lambda` (its minimum is the LP bound). The
spend of the priced assignment falls as :math:`\\lambda` rises, so the smallest price whose
assignment fits is found by bisection (:func:`price_assignment`); at that breakpoint the
LP solution splits one tie class, which the **improvement** step fills greedily: the switches
with the best profit gain per extra cost among those that still fit, then each individual's
best remaining upgrade the same way (Sinha & Zoltners, *The multiple-choice knapsack
problem*, Operations Research 27, 1979; Pisinger 1995). :func:`repair` does the opposite for
an assignment over the budget: the moves with the least profit lost per cost saved.

It lives in the core because the solvers and the core assign the same way: a solver prices
its own customers, :func:`coarseopt.assign_within_budget` a batch of new ones with the
policy's offered set. Everything works on the ``(n, s)`` sub-matrices ``P[:, S]``, ``c[:, S]`` and positions into
``S``; ``pos`` is the position of each individual's treatment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


#: Relative tolerance of the price kernels' comparisons (the solvers' ``REL_TOL``, which
#: imports it from here).
REL_TOL = 1e-12

__all__ = ["PricedAssignment", "first_price", "priced_positions", "price_assignment", "improve", "repair", "spend_of",
           "value_of", "REL_TOL"]

#: Bisection steps on the price (each halves the bracket; 2^-60 of its width is float noise).
PRICE_STEPS = 60
#: Rounds of the greedy fill / repair (each takes at least one move).
FILL_ROUNDS = 50


@dataclass
class PricedAssignment:
    """The assignment of one offered set under a budget.

    Attributes
    ----------
    pos : ndarray of int, shape (n,)
        Position in the offered set of each individual's treatment.
    price : float
        The smallest price :math:`\\lambda` (found to float precision) whose priced assignment
        meets the budget; 0 when the budget does not bind.
    value, spend : float
        Profit and spend of ``pos``.
    upper : float
        :math:`\\min g(\\lambda)` over the prices evaluated: an upper bound on the value of any
        assignment to this set within the budget.
    """

    pos: np.ndarray
    price: float
    value: float
    spend: float
    upper: float


def value_of(Ps: np.ndarray, pos: np.ndarray) -> float:
    return float(np.take_along_axis(Ps, pos[:, None], axis=1).sum())


def spend_of(Cs: np.ndarray, pos: np.ndarray) -> float:
    return float(np.take_along_axis(Cs, pos[:, None], axis=1).sum())


def priced_positions(Ps: np.ndarray, Cs: np.ndarray, price: float) -> tuple[np.ndarray, float]:
    """Each individual's best column under ``P - price * c`` (near-ties: the cheaper one, then
    the first) and :math:`\\sum_i \\max_j (P_{ij} - \\lambda c_{ij})`."""
    v = Ps - price * Cs if price else Ps
    best = v.max(axis=1)
    near = v >= (best - REL_TOL * np.maximum(1.0, np.abs(best)))[:, None]
    pos = np.where(near, Cs, np.inf).argmin(axis=1)
    return pos, float(best.sum())


def _tolerance(budget: float) -> float:
    return REL_TOL * max(1.0, abs(budget))


def price_assignment(Ps: np.ndarray, Cs: np.ndarray, budget: float) -> PricedAssignment | None:
    """The budgeted assignment of one offered set: the smallest fitting price by bisection, then
    the improvement step; None when even the cheapest assignment is over the budget.

    Parameters
    ----------
    Ps, Cs : ndarray of shape (n, s)
        Profit and cost of the offered columns.
    budget : float
    """
    pos, total = priced_positions(Ps, Cs, 0.0)
    spend = spend_of(Cs, pos)
    if spend <= budget + _tolerance(budget):
        value = value_of(Ps, pos)
        return PricedAssignment(pos, 0.0, value, spend, value)
    cheapest = Cs.min(axis=1).sum()
    if cheapest > budget + _tolerance(budget):
        return None
    lo, hi = 0.0, first_price(Ps, Cs)
    upper = total
    pos_hi, total_hi = priced_positions(Ps, Cs, hi)
    for _ in range(200):  # doubling: the spend falls to the cheapest assignment's
        if spend_of(Cs, pos_hi) <= budget + _tolerance(budget):
            break
        lo, hi = hi, 2.0 * hi
        pos_hi, total_hi = priced_positions(Ps, Cs, hi)
    upper = min(upper, total_hi + hi * budget)
    pos_lo = priced_positions(Ps, Cs, lo)[0]
    # An individual with the same column at ``lo`` and ``hi`` keeps it at every price between
    # (its priced profits are lines in the price; the best is their upper envelope, along
    # which the cost only falls): only the others are priced again, and they thin out fast.
    active = np.arange(pos_lo.size)
    settled_value = settled_spend = 0.0
    for _ in range(PRICE_STEPS):
        same = pos_lo[active] == pos_hi[active]
        if same.any():
            done = active[same]
            settled_value += float(Ps[done, pos_hi[done]].sum())
            settled_spend += float(Cs[done, pos_hi[done]].sum())
            active = active[~same]
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi or not active.size:
            break
        Pa, Ca = Ps[active], Cs[active]
        pos_mid, total_mid = priced_positions(Pa, Ca, mid)
        upper = min(upper, total_mid + settled_value - mid * settled_spend + mid * budget)
        if spend_of(Ca, pos_mid) + settled_spend <= budget + _tolerance(budget):
            hi = mid
            pos_hi[active] = pos_mid
        else:
            lo = mid
            pos_lo[active] = pos_mid
    pos = improve(Ps, Cs, pos_hi, budget, prefer=pos_lo)
    return PricedAssignment(pos, hi, value_of(Ps, pos), spend_of(Cs, pos), max(upper, value_of(Ps, pos)))


def first_price(Ps: np.ndarray, Cs: np.ndarray) -> float:
    """A starting price of the right order: the profit spread over the cost spread."""
    dp = float(np.mean(Ps.max(axis=1) - Ps.min(axis=1)))
    dc = float(np.mean(Cs.max(axis=1) - Cs.min(axis=1)))
    return max(dp, 1e-300) / max(dc, 1e-300)


def _take_best(ratio: np.ndarray, extra: np.ndarray, room: float) -> np.ndarray:
    """Indices of moves taken greedily by ``ratio`` (best first) while their ``extra`` cost
    fits in ``room``; a move that does not fit is skipped, later ones may still fit."""
    order = np.argsort(-ratio, kind="stable")
    taken = []
    for _ in range(FILL_ROUNDS):
        order = order[extra[order] <= room + _tolerance(room)]
        if not order.size:
            break
        csum = np.cumsum(extra[order])
        fit = int(np.searchsorted(csum, room + _tolerance(room), side="right"))
        fit = max(fit, 1)
        taken.append(order[:fit])
        room -= float(csum[fit - 1])
        order = order[fit:]
    return np.concatenate(taken) if taken else np.zeros(0, dtype=np.intp)


def improve(Ps: np.ndarray, Cs: np.ndarray, pos: np.ndarray, budget: float,
            prefer: np.ndarray | None = None) -> np.ndarray:
    """Spend what the budget leaves: first the switches to ``prefer`` (the assignment just
    below the price: the tie class the LP splits), then each individual's best upgrade,
    each time by profit gained per extra cost among the switches that fit."""
    pos = pos.copy()
    rows = np.arange(pos.size)
    for step in range(2):
        room = budget - spend_of(Cs, pos)
        if room <= 0:
            break
        cur_p, cur_c = Ps[rows, pos], Cs[rows, pos]
        if step == 0 and prefer is not None:
            target = prefer
        else:  # each individual's upgrade with the best gain per extra cost
            gain, extra = Ps - cur_p[:, None], Cs - cur_c[:, None]
            ratio = np.where((gain > 0) & (extra > 0), gain / np.where(extra > 0, extra, 1.0), -np.inf)
            target = ratio.argmax(axis=1)
        gain, extra = Ps[rows, target] - cur_p, Cs[rows, target] - cur_c
        cand = np.flatnonzero((gain > 0) & (extra > 0))
        if not cand.size:
            continue
        take = cand[_take_best(gain[cand] / extra[cand], extra[cand], room)]
        pos[take] = target[take]
    return pos


def repair(Ps: np.ndarray, Cs: np.ndarray, pos: np.ndarray, budget: float) -> np.ndarray | None:
    """Bring an assignment over the budget back within it: moves to cheaper offered columns
    with the least profit lost per cost saved, until the spend fits; None when even the
    cheapest columns do not fit."""
    pos = pos.copy()
    rows = np.arange(pos.size)
    for _ in range(FILL_ROUNDS):
        excess = spend_of(Cs, pos) - budget
        if excess <= _tolerance(budget):
            return pos
        cur_p, cur_c = Ps[rows, pos], Cs[rows, pos]
        loss, saving = cur_p[:, None] - Ps, cur_c[:, None] - Cs
        ratio = np.where(saving > 0, loss / np.where(saving > 0, saving, 1.0), np.inf)
        target = ratio.argmin(axis=1)
        best = ratio[rows, target]
        cand = np.flatnonzero(np.isfinite(best))
        if not cand.size:
            return None
        order = cand[np.argsort(best[cand], kind="stable")]
        csum = np.cumsum(saving[order, target[order]])
        upto = min(int(np.searchsorted(csum, excess)) + 1, order.size)
        take = order[:upto]
        pos[take] = target[take]
    return pos if spend_of(Cs, pos) <= budget + _tolerance(budget) else None
