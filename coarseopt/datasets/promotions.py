"""A synthetic randomized discount experiment whose true profit curves are known."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from coarseopt.exceptions import ProblemError

__all__ = ["make_promotions", "PromotionTruth"]

FEATURES = ["recency", "frequency", "avg_basket", "email_opens", "mobile", "tenure", "age"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True, eq=False)
class PromotionTruth:
    """The ground truth of :func:`make_promotions`.

    Customer ``i`` buys with probability ``p_i(d) = sigmoid(alpha_i + beta_i d)`` at discount
    depth ``d`` and then spends ``basket_i`` at list price on average, so expected sales are
    ``S_i(d) = basket_i p_i(d)`` and expected profit is ``(margin - d) S_i(d)``.

    Attributes
    ----------
    profit : pandas.DataFrame, shape (n, m)
        True expected incremental profit ``(margin - d) S_i(d) - margin S_i(0)`` on ``grid``,
        indexed like the data.
    outcome : pandas.DataFrame, shape (n, m)
        True expected sales ``S_i(d)`` on ``grid``.
    grid : ndarray of float, shape (m,)
        Candidate discount depths (the columns).
    arms : ndarray of float
        The randomized discount depths (0 is the control).
    arm_columns : ndarray of int
        Positions of the arms among the grid columns.
    features : list of str
        The feature columns of the data.
    economics : Economics
        ``Economics(margin=margin, proportional_cost="level")``: turns the ``sales``
        outcome into profit exactly as the truth does.
    margin : float
    alpha, beta, basket : ndarray of shape (n,)
        Each customer's demand parameters.
    """

    profit: Any
    outcome: Any
    grid: np.ndarray
    arms: np.ndarray
    arm_columns: np.ndarray
    features: list
    economics: Any
    margin: float
    alpha: np.ndarray = field(repr=False)
    beta: np.ndarray = field(repr=False)
    basket: np.ndarray = field(repr=False)

    def expected_sales(self, levels: Any, rows: Any = None) -> np.ndarray:
        """``(n_rows, len(levels))`` true expected sales at any discount depths."""
        d = np.atleast_1d(np.asarray(levels, dtype=np.float64))
        sl = slice(None) if rows is None else np.asarray(rows)
        p = _sigmoid(self.alpha[sl, None] + self.beta[sl, None] * d[None, :])
        return self.basket[sl, None] * p

    def profit_at(self, levels: Any, rows: Any = None) -> np.ndarray:
        """``(n_rows, len(levels))`` true incremental profit at any discount depths."""
        d = np.atleast_1d(np.asarray(levels, dtype=np.float64))
        sales = self.expected_sales(d, rows)
        base = self.margin * self.expected_sales([0.0], rows)
        return (self.margin - d)[None, :] * sales - base

    def best_level(self, rows: Any = None, resolution: int = 401) -> np.ndarray:
        """Each customer's profit-maximizing discount in ``[0, max arm]`` (fine grid search)."""
        d = np.linspace(0.0, float(self.arms.max()), resolution)
        return d[self.profit_at(d, rows).argmax(axis=1)]


def make_promotions(
    n: int = 10_000,
    seed: Any = 0,
    *,
    arms: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4),
    grid: Any = 17,
    margin: float = 0.5,
    basket_noise: float = 0.3,
    arm_probabilities: Sequence[float] | None = None,
):
    """A randomized promotion experiment with heterogeneous logit demand and known truth.

    Each customer is randomized to one of the discount depths ``arms`` (0 = no discount, the
    control), with equal probabilities unless ``arm_probabilities`` gives them. Demand is logit in the discount with
    customer-specific intercept and slope, both driven by the features:

    .. math::

        p_i(d) = \\sigma(\\alpha_i + \\beta_i d), \\qquad
        \\text{sales}_i = B_i\\, \\text{Bernoulli}(p_i(d_i))\\, \\varepsilon_i,

    with ``E[eps] = 1`` (log-normal, ``basket_noise`` its log-scale sd). Frequent, recent,
    engaged buyers buy anyway (high ``alpha``) and gain little from a discount; lapsed and
    mobile customers are price-sensitive (high ``beta``). ``sales`` is measured at list
    price, so profit at depth ``d`` is ``(margin - d) * sales``; the best discount differs
    across customers, often between two arms. ``tenure`` and ``age`` do not matter.

    Parameters
    ----------
    n : int, default=10000
        Customers.
    seed : int, Generator or None, default=0
    arms : sequence of float, default=(0, 0.1, 0.2, 0.3, 0.4)
        Randomized discount depths; must include 0 and lie in ``[0, margin)``.
    grid : int or array-like, default=17
        Candidate depths of the true curves: an int ``g`` for ``g`` equally spaced levels
        from 0 to the largest arm, or the levels; arms are always included.
    margin : float, default=0.5
        Gross margin at list price.
    basket_noise : float, default=0.3
        Log-scale standard deviation of a purchase's value around the customer's mean.
    arm_probabilities : sequence of float, optional
        Assignment probability of each arm (in the order of the sorted ``arms``); they must be
        positive and sum to 1. Default: equal.

    Returns
    -------
    data : pandas.DataFrame
        Features (``recency``, ``frequency``, ``avg_basket``, ``email_opens``, ``mobile``,
        ``tenure``, ``age``), ``discount`` (the arm) and ``sales`` (the outcome).
    truth : PromotionTruth
        ``truth.profit`` is the true ``(n, m)`` incremental profit on ``truth.grid``;
        ``truth.profit_at(levels)`` evaluates any depth.

    Examples
    --------
    >>> import coarseopt as co
    >>> df, truth = co.datasets.make_promotions(1000, seed=0)
    >>> df.shape, truth.profit.shape
    ((1000, 9), (1000, 17))
    >>> sorted(df["discount"].unique().tolist())
    [0.0, 0.1, 0.2, 0.3, 0.4]
    """
    import pandas as pd

    from coarseopt.estimation.economics import Economics

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ProblemError(f"The 'n' parameter of make_promotions must be an int in the range [1, inf). Got {n!r} instead.")
    arms_a = np.unique(np.asarray(arms, dtype=np.float64))
    if arms_a.size < 2 or not np.isclose(arms_a[0], 0.0) or arms_a[-1] >= margin:
        raise ProblemError(
            f"'arms' must hold at least two depths, include 0 (the control) and stay below margin = {margin}; "
            f"got {list(arms)}."
        )
    arms_a[0] = 0.0
    probs = None
    if arm_probabilities is not None:
        probs = np.asarray(arm_probabilities, dtype=np.float64).reshape(-1)
        if probs.size != arms_a.size or not np.isfinite(probs).all() or (probs <= 0).any() \
                or abs(probs.sum() - 1.0) > 1e-9:
            raise ProblemError(
                f"'arm_probabilities' must give one positive probability per arm ({arms_a.size}), summing to 1; "
                f"got {list(arm_probabilities)}."
            )
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        if grid < 2:
            raise ProblemError(f"'grid' as an int must be >= 2; got {grid}.")
        levels = np.linspace(0.0, arms_a[-1], int(grid))
    else:
        levels = np.asarray(grid, dtype=np.float64).reshape(-1)
        if levels.size == 0 or not np.isfinite(levels).all() or (levels < 0).any() or (levels > arms_a[-1] + 1e-12).any():
            raise ProblemError(f"'grid' levels must lie in [0, {arms_a[-1]}]; got {grid!r}.")
    levels = np.round(levels, 12)
    keep = [v for v in levels if not np.isclose(arms_a, v, rtol=0, atol=1e-9).any()]
    levels = np.unique(np.concatenate([arms_a, np.asarray(keep, dtype=np.float64)]))
    arm_columns = np.array([int(np.flatnonzero(levels == a)[0]) for a in arms_a], dtype=np.intp)

    rng = np.random.default_rng(seed)
    recency = np.minimum(rng.exponential(60.0, n), 365.0).round()
    frequency = rng.poisson(rng.lognormal(1.0, 0.6, n))
    avg_basket = rng.lognormal(np.log(60.0), 0.4, n).round(2)
    email_opens = rng.beta(2.0, 5.0, n).round(3)
    mobile = rng.binomial(1, 0.45, n)
    tenure = rng.uniform(0.0, 10.0, n).round(1)
    age = np.clip(rng.normal(45.0, 12.0, n), 18, 90).round()

    z_rec = (np.log1p(recency) - 3.7) / 0.9
    z_freq = (np.log1p(frequency) - 1.2) / 0.55
    z_open = (email_opens - 0.286) / 0.16
    alpha = -2.2 + 0.9 * z_freq - 0.7 * z_rec + 0.5 * z_open
    beta = 3.0 + 11.0 * _sigmoid(1.4 * z_rec - 1.0 * z_freq + 1.0 * mobile - 0.6)
    basket = 0.8 * avg_basket + 10.0

    discount = arms_a[rng.integers(0, arms_a.size, n) if probs is None else rng.choice(arms_a.size, size=n, p=probs)]
    buy = rng.random(n) < _sigmoid(alpha + beta * discount)
    eps = rng.lognormal(-0.5 * basket_noise**2, basket_noise, n)
    sales = np.where(buy, basket * eps, 0.0).round(2)

    data = pd.DataFrame(
        {
            "recency": recency.astype(np.int64),
            "frequency": frequency.astype(np.int64),
            "avg_basket": avg_basket,
            "email_opens": email_opens,
            "mobile": mobile.astype(np.int64),
            "tenure": tenure,
            "age": age.astype(np.int64),
            "discount": discount,
            "sales": sales,
        }
    )
    economics = Economics(margin=margin, proportional_cost="level")
    columns = pd.Index(levels, name="treatment")
    expected = basket[:, None] * _sigmoid(alpha[:, None] + beta[:, None] * levels[None, :])
    incremental = (margin - levels)[None, :] * expected - margin * expected[:, [0]]
    for a in (levels, arms_a, arm_columns, alpha, beta, basket):
        a.setflags(write=False)
    truth = PromotionTruth(
        profit=pd.DataFrame(incremental, index=data.index, columns=columns),
        outcome=pd.DataFrame(expected, index=data.index, columns=columns),
        grid=levels, arms=arms_a, arm_columns=arm_columns, features=list(FEATURES),
        economics=economics, margin=float(margin), alpha=alpha, beta=beta, basket=basket,
    )
    return data, truth
