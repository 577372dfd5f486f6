r"""Design calculator: how many customers an experiment needs to detect a difference between
two policies, under randomization by action (RBA) or by policy (RBP), analysed with the
naive or the disagreement estimator.

Let ``Delta`` be the difference in mean outcome per customer between the policies,
``p_D`` the share of customers on whom they disagree, ``sigma`` the outcome's standard
deviation (``sigma_D`` among the disagreeing customers), ``tau = Delta / p_D`` the effect
among them. With ``n`` customers, ``n Var(Delta_hat)`` is about:

========  ==============  ==============================================================
design    estimator       ``n Var``
========  ==============  ==============================================================
RBP       naive           ``sigma^2 / (q (1 - q))``
RBP       disagreement    ``p_D sigma_D^2 / (q (1 - q)) + tau^2 p_D (1 - p_D)``
RBA       naive           ``sigma^2 (1 / e_a + 1 / e_b)`` (two-sample analysis)
RBA       disagreement    ``p_D sigma_D^2 (1 / e_a + 1 / e_b) + tau^2 p_D (1 - p_D)``
========  ==============  ==============================================================

``q`` is the share randomized to policy ``a`` under RBP; ``e_a``, ``e_b`` the
probabilities of the two recommended actions under RBA (``1 / K`` with ``K`` equally likely
actions, so ``1 / e_a + 1 / e_b = 2 K``). A two-sided level-``alpha`` test has power
``1 - beta`` when ``n >= n Var (z_{1 - alpha/2} + z_{1 - beta})^2 / Delta^2``. Hence the
rules of thumb (Simester, Timoshenko & Zoumpoulis, Management Science 2020): the
disagreement estimator needs about ``p_D`` times the customers of the naive one, and
RBA needs about ``K / 2`` times the customers of RBP for a pair fixed in advance -- the
price of being able to evaluate any policy afterwards.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ._data import EvaluationError

__all__ = ["sample_size"]


def _positive(name: str, value: Any, *, upper: float | None = None, closed_upper: bool = True) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if ok and upper is not None:
        ok = value <= upper if closed_upper else value < upper
    if not ok:
        rng = "(0, inf)" if upper is None else f"(0, {upper:g}{']' if closed_upper else ')'}"
        raise EvaluationError(f"The '{name}' argument must be a number in {rng}; got {value!r}.")
    return float(value)


def sample_size(
    effect: float,
    sd: float,
    disagreement_share: float,
    n_actions: int = 2,
    *,
    sd_disagree: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    share_a: float = 0.5,
    action_probs: tuple[float, float] | None = None,
):
    """Customers needed to detect ``effect`` = ``V(a) - V(b)`` under each design and estimator.

    Parameters
    ----------
    effect : float
        The difference in mean outcome per customer to detect (``Delta``; its sign is
        ignored).
    sd : float
        Standard deviation of the outcome.
    disagreement_share : float in (0, 1]
        Share ``p_D`` of customers for whom the two policies recommend different actions.
    n_actions : int, default 2
        Number ``K`` of actions an RBA experiment randomizes over (equally likely unless
        ``action_probs`` is given).
    sd_disagree : float, optional
        Outcome standard deviation among the disagreeing customers (default ``sd``).
    alpha : float, default 0.05
        Level of the two-sided test.
    power : float, default 0.8
        Probability of detecting ``effect``.
    share_a : float, default 0.5
        Under RBP, the share of customers randomized to policy ``a``.
    action_probs : (float, float), optional
        Under RBA, the assignment probabilities of the two recommended actions (default
        ``(1/K, 1/K)``).

    Returns
    -------
    pandas.DataFrame
        One row per (design, estimator): ``var_per_customer`` (``n Var``), ``n_customers``
        (rounded up) and ``relative`` (customers relative to RBP with the disagreement
        estimator).

    Examples
    --------
    >>> t = sample_size(effect=0.1, sd=1.0, disagreement_share=0.2, n_actions=4)
    >>> t[["design", "estimator", "n_customers"]].to_dict("split")["data"]
    [['rbp', 'naive', 3140], ['rbp', 'disagreement', 660], ['rba', 'naive', 6280], ['rba', 'disagreement', 1288]]
    """
    import pandas as pd
    from scipy.stats import norm

    effect = abs(float(effect)) if isinstance(effect, numbers.Real) and not isinstance(effect, bool) else effect
    effect = _positive("effect", effect)
    sd = _positive("sd", sd)
    sd_d = sd if sd_disagree is None else _positive("sd_disagree", sd_disagree)
    p_d = _positive("disagreement_share", disagreement_share, upper=1.0)
    if isinstance(n_actions, bool) or not isinstance(n_actions, numbers.Integral) or n_actions < 2:
        raise EvaluationError(f"The 'n_actions' argument must be an int >= 2; got {n_actions!r}.")
    alpha = _positive("alpha", alpha, upper=1.0, closed_upper=False)
    power = _positive("power", power, upper=1.0, closed_upper=False)
    q = _positive("share_a", share_a, upper=1.0, closed_upper=False)
    if action_probs is None:
        e_a = e_b = 1.0 / n_actions
    else:
        if len(action_probs) != 2:
            raise EvaluationError(f"'action_probs' must be two probabilities (of a's and b's actions); got {action_probs!r}.")
        e_a = _positive("action_probs[0]", action_probs[0], upper=1.0)
        e_b = _positive("action_probs[1]", action_probs[1], upper=1.0)
        if e_a + e_b > 1.0 + 1e-12:
            raise EvaluationError(f"'action_probs' sum to {e_a + e_b:g} > 1; they are probabilities of two different actions.")
    tau = effect / p_d
    share_var = tau**2 * p_d * (1.0 - p_d)
    inv_rba = 1.0 / e_a + 1.0 / e_b
    inv_rbp = 1.0 / (q * (1.0 - q))
    rows = [
        ("rbp", "naive", sd**2 * inv_rbp),
        ("rbp", "disagreement", p_d * sd_d**2 * inv_rbp + share_var),
        ("rba", "naive", sd**2 * inv_rba),
        ("rba", "disagreement", p_d * sd_d**2 * inv_rba + share_var),
    ]
    factor = (norm.ppf(1.0 - alpha / 2.0) + norm.ppf(power)) ** 2 / effect**2
    table = pd.DataFrame(rows, columns=["design", "estimator", "var_per_customer"])
    table["n_customers"] = [math.ceil(v * factor) for v in table["var_per_customer"]]
    table["relative"] = table["n_customers"] / table.loc[1, "n_customers"]
    return table
