"""The value of one targeting policy: :func:`policy_value`; and :func:`coarse_policy`, which
applies a solved coarse personalization problem to new (held-out) customers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._data import EvaluationError, build, check_alpha
from .compare import check_method, interval_fields, make_context
from .estimators import VALUE_ESTIMATORS
from .results import PolicyValue

__all__ = ["policy_value", "coarse_policy"]


def policy_value(
    y: Any,
    action: Any,
    policy: Any,
    *,
    propensity: Any = None,
    method: str = "snipw",
    alpha: float = 0.05,
    X: Any = None,
    outcome_model: Any = None,
    cv: int = 5,
    seed: int | None = 0,
) -> PolicyValue:
    r"""Mean outcome per customer if every customer received the action ``policy`` recommends.

    From an experiment randomized by action (RBA) with known probabilities ``e_i`` of the
    received action ``A_i``; ``R_i = 1{A_i = policy(x_i)}``:

    - ``"ipw"`` (Horvitz-Thompson): :math:`\hat V = \frac1n \sum_i R_i Y_i / e_i`;
    - ``"snipw"`` (Hajek, the default):
      :math:`\hat V = \sum_i R_i Y_i / e_i \big/ \sum_i R_i / e_i`, which with equal
      probabilities is the mean outcome of the customers who received the recommended
      action;
    - ``"dr"`` (augmented IPW): :math:`\hat V = \frac1n \sum_i \hat\mu(x_i, p_i) +
      R_i (Y_i - \hat\mu(x_i, p_i)) / e_i` with a cross-fitted outcome model.

    The standard error is that of the mean of the per-customer influence values.

    Parameters
    ----------
    y, action, propensity, alpha, X, outcome_model, cv, seed
        As in :func:`compare_policies` (design ``"rba"``). For an experiment randomized by
        policy, the value of a policy that was one of the arms is the mean outcome of its
        arm: ``compare_policies(..., design="rbp", method="naive").extras["value_a"]``.
    policy : array-like of shape (n,), SolveResult or callable
        The recommended action per customer (see :func:`compare_policies`).
    method : {"snipw", "ipw", "dr"}, default "snipw"

    Returns
    -------
    PolicyValue

    Raises
    ------
    SupportError
        The policy recommends an action the experiment never assigned with positive
        probability.

    References
    ----------
    D. Horvitz, D. Thompson (1952), *JASA* 47; J. Hajek (1971), *Foundations of Statistical
    Inference*; J. Robins, A. Rotnitzky, L. Zhao (1994), *JASA* 89.

    Examples
    --------
    >>> import coarseopt as co
    >>> v = co.evaluation.policy_value([1.0, 3.0, 2.0, 6.0], ["x", "y", "x", "y"], ["y"] * 4)
    >>> float(v.estimate)
    4.5
    """
    method = check_method(method, VALUE_ESTIMATORS)
    alpha = check_alpha(alpha)
    exp, codes = build(y, action, {"policy": policy}, design="rba", propensity=propensity, assigned=None, X=X)
    ctx = make_context(exp, outcome_model=outcome_model, cv=cv, seed=seed, poststratify=None)
    p = codes["policy"]
    est = VALUE_ESTIMATORS[method](ctx, p)
    fields = interval_fields(est.estimate, est.se, alpha)
    del fields["p_value"]  # a value has no null hypothesis to test
    return PolicyValue(**fields, n=exp.n, n_followed=int((exp.action == p).sum()), method=method, design="rba",
                       alpha=alpha, influence=est.psi)


def coarse_policy(result: Any, profit: Any):
    """Apply a coarse personalization result to (new) customers.

    Each customer gets the offered treatment with the highest estimated profit,
    ``argmax_{j in offered} profit[i, j]`` — the rule that defines the assignment of a
    solution without share bounds (Zhang & Misra, *Coarse Personalization*). Use it to
    evaluate a policy learned on a training split on held-out customers, whose profit
    comes from the same step-1 model.

    Parameters
    ----------
    result : SolveResult
        A solution (its ``offered`` columns and ``treatment_labels`` are used).
    profit : array-like or DataFrame of shape (n_new, m)
        Estimated profit of the new customers under every treatment, with the same columns
        as the problem that was solved (a DataFrame is matched by column label).

    Returns
    -------
    pandas.Series
        The recommended treatment (label) of each customer, indexed like ``profit``.
    """
    import pandas as pd

    from ..result import SolveResult

    if not isinstance(result, SolveResult):
        raise EvaluationError(f"The 'result' argument must be a SolveResult (from coarseopt.solve); got {type(result).__name__}.")
    if not result.has_solution:
        raise EvaluationError(f"The 'result' argument holds no solution (status {result.status!r}); solve again.")
    labels = list(result.treatment_labels)
    index = None
    if isinstance(profit, pd.DataFrame):
        index = profit.index
        if labels and all(lab in profit.columns for lab in labels):
            profit = profit[labels]
        profit = profit.to_numpy(dtype=np.float64)
    else:
        profit = np.asarray(profit, dtype=np.float64)
    m = len(labels) if labels else int(result.offered.max()) + 1
    if profit.ndim != 2 or (labels and profit.shape[1] != m) or profit.shape[1] < m:
        raise EvaluationError(
            f"'profit' must have shape (n_new, {m}) with the columns of the solved problem; got shape {profit.shape}."
        )
    if not np.isfinite(profit[:, result.offered]).all():
        raise EvaluationError("'profit' holds NaN or infinite values in the offered treatments' columns.")
    offered = np.asarray(result.offered)
    columns = offered[np.argmax(profit[:, offered], axis=1)]
    values = np.asarray(labels, dtype=object)[columns] if labels else columns
    return pd.Series(values, index=index, name="treatment")
