"""Comparing two targeting policies on experiment data: :func:`compare_policies`, and
:func:`compare_estimators` (every estimator side by side)."""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import numpy as np

from ._data import EvaluationError, build, check_alpha
from .estimators import DESCRIPTIONS, PAIR_ESTIMATORS, Context, Estimate, check_outcome_model
from .results import PolicyComparison

__all__ = ["compare_policies", "compare_estimators", "METHODS"]

#: Names accepted by ``method=`` of :func:`compare_policies`.
METHODS = tuple(PAIR_ESTIMATORS)


def check_method(method: Any, allowed: Iterable[str], argument: str = "method") -> str:
    allowed = tuple(allowed)
    if not isinstance(method, str) or method.lower() not in allowed:
        raise EvaluationError(
            f"The '{argument}' argument must be one of {', '.join(map(repr, allowed))}; got {method!r}."
        )
    return method.lower()


def check_cv(cv: Any, seed: Any) -> None:
    if isinstance(cv, bool) or not isinstance(cv, numbers.Integral) or cv < 2:
        raise EvaluationError(f"The 'cv' argument (cross-fitting folds) must be an int >= 2; got {cv!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise EvaluationError(f"The 'seed' argument must be an int or None; got {seed!r}.")


def normal_interval(estimate: float, se: float, alpha: float) -> tuple[float, float, float]:
    """``(ci_low, ci_high, p_value)`` of a normal approximation."""
    from scipy.special import ndtr, ndtri

    z = float(ndtri(1.0 - alpha / 2.0))
    if se > 0 and np.isfinite(se):
        p = float(2.0 * ndtr(-abs(estimate) / se))
    else:
        p = 1.0 if estimate == 0 else 0.0
    return estimate - z * se, estimate + z * se, p


def interval_fields(estimate: float, se: float, alpha: float) -> dict[str, float]:
    """``estimate``, ``se``, ``ci_low``, ``ci_high`` and ``p_value`` of a normal approximation,
    named as the result types and tables of the evaluation name them."""
    lo, hi, p = normal_interval(estimate, se, alpha)
    return {"estimate": float(estimate), "se": float(se), "ci_low": float(lo), "ci_high": float(hi), "p_value": p}


def make_context(exp, *, outcome_model, cv, seed, poststratify) -> Context:
    check_cv(cv, seed)
    return Context(
        exp, outcome_model=check_outcome_model(outcome_model), cv=int(cv), seed=seed, poststratify=poststratify
    )


def comparison_from(est: Estimate, *, n: int, n_disagree: int, method: str, design: str, alpha: float) -> PolicyComparison:
    return PolicyComparison(**interval_fields(est.estimate, est.se, alpha), n=n, n_disagree=n_disagree, method=method,
                            design=design, alpha=alpha, extras=est.extras, influence=est.psi)


def _pair_context(y, action, policy_a, policy_b, *, design, propensity, assigned, X, outcome_model, cv,
                  seed, poststratify):
    """The validated experiment of a two-policy comparison, the estimators' shared context,
    and the two policies' recommended actions as codes."""
    exp, codes = build(
        y,
        action,
        {"policy_a": policy_a, "policy_b": policy_b},
        design=design,
        propensity=propensity,
        assigned=assigned,
        X=X,
        names=("a", "b"),
    )
    ctx = make_context(exp, outcome_model=outcome_model, cv=cv, seed=seed, poststratify=poststratify)
    return ctx, codes["policy_a"], codes["policy_b"]


def compare_policies(
    y: Any,
    action: Any,
    policy_a: Any,
    policy_b: Any,
    *,
    design: str = "rba",
    propensity: Any = None,
    assigned: Any = None,
    method: str = "disagreement",
    alpha: float = 0.05,
    X: Any = None,
    outcome_model: Any = None,
    cv: int = 5,
    seed: int | None = 0,
    poststratify: bool | None = None,
) -> PolicyComparison:
    r"""Estimate how much better ``policy_a`` is than ``policy_b``, with a confidence interval.

    The estimand is the difference in mean outcome per customer of the population,

    .. math:: \Delta = V(a) - V(b) = E[Y(a(X)) - Y(b(X))]
              = p_D \, E[Y(a(X)) - Y(b(X)) \mid D = 1],

    where ``D = 1{a(X) != b(X)}``: customers on whom the policies agree contribute exactly
    zero, which the ``"disagreement"`` estimator exploits (Simester, Timoshenko &
    Zoumpoulis, Management Science 2020).

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome (profit) of each customer.
    action : array-like of shape (n,)
        The action each customer received (any labels: strings, numbers). Under
        ``design="rbp"`` it may be None (then it is the recommendation of the assigned
        policy); if given it must equal that recommendation.
    policy_a, policy_b : array-like of shape (n,), SolveResult or callable
        The action each policy recommends for each customer; a
        :class:`~coarseopt.SolveResult` whose assignment covers these customers (apply one to
        new customers with :func:`coarse_policy`); or a callable ``policy(X)``.
    design : {"rba", "rbp"}, default "rba"
        ``"rba"``: customers were randomized to actions with known probabilities (any
        policy can be evaluated afterwards). ``"rbp"``: customers were randomized to the
        two policies (champion vs challenger) and both recommendations are logged.
    propensity : None, float, array-like, mapping or DataFrame
        Assignment probabilities. Under RBA: None (every action equally likely), an
        ``(n,)`` array of the probability of the action each customer received, a mapping
        ``{action: probability}`` (the same for every customer) or a DataFrame with one
        column per action (per-customer probabilities, used to check support). Under RBP:
        None (one half each), the probability of policy ``a``, an ``(n,)`` array of the
        probability of each customer's assigned policy, or ``{"a": pa, "b": pb}``.
        Probabilities must lie in (0, 1].
    assigned : array-like of shape (n,), optional
        Under RBP (required there): ``"a"`` or ``"b"``, the policy each customer was
        randomized to.
    method : str, default "disagreement"
        ``"disagreement"`` (only customers on whom the policies disagree; post-stratified by
        the recommended pair under RBA; paired variance), ``"naive"`` (difference of the
        policies' aggregate means analysed as two independent samples), ``"regression"``
        (the disagreement estimator adjusted by covariates ``X``, robust variance),
        ``"ipw"``, ``"snipw"`` (Horvitz-Thompson / Hajek weighting, paired variance),
        ``"dr"`` (doubly robust with a cross-fitted outcome model on ``X``).
    alpha : float, default 0.05
        The interval has confidence ``1 - alpha``.
    X : array-like or DataFrame of shape (n, p), optional
        Covariates for ``"regression"`` and ``"dr"`` (and for callable policies).
    outcome_model : None, "linear", "mean" or scikit-learn regressor
        Outcome model of ``"dr"``, one fitted per action on the customers who received it,
        cross-fitted over ``cv`` folds. Default: least squares on ``X`` (per-action means
        without ``X``).
    cv : int, default 5
        Cross-fitting folds of ``"dr"``.
    seed : int or None, default 0
        Seed of the fold split.
    poststratify : bool, optional
        Cells of the disagreement estimator: by recommended pair (default under RBA) or one
        pooled cell (default under RBP).

    Returns
    -------
    PolicyComparison
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value``, ``n``, ``n_disagree``.

    Raises
    ------
    SupportError
        A policy recommends an action the experiment never assigned with positive
        probability (or, for the disagreement estimator, one that no customer of a cell
        received): its value would be an extrapolation.
    EvaluationError
        Inconsistent input (lengths, missing values, design vs ``assigned``, probabilities
        outside (0, 1], unknown method).

    Notes
    -----
    Under RBA the naive analysis overstates the standard error: the same customers (those on
    whom the policies agree and who received the common action) inform both policy values,
    so the two means move together, yet a two-sample analysis adds their variances. Every
    other method uses the paired variance ``sum(psi_i^2) / (n (n - 1))`` of its per-customer
    influence values ``psi_i`` (see :mod:`coarseopt.evaluation.estimators`).

    References
    ----------
    .. [1] D. Simester, A. Timoshenko, S. Zoumpoulis. Efficiently evaluating targeting
       policies: improving on champion vs. challenger experiments. *Management Science*
       66(8), 2020.
    .. [2] J. Hajek. Comment on a paper by D. Basu. *Foundations of Statistical Inference*,
       1971 (self-normalized weighting).
    .. [3] J. Robins, A. Rotnitzky, L. Zhao. Estimation of regression coefficients when some
       regressors are not always observed. *JASA* 89, 1994 (augmented IPW).

    Examples
    --------
    >>> import numpy as np
    >>> import coarseopt as co
    >>> rng = np.random.default_rng(0)
    >>> n = 4000
    >>> x = rng.uniform(size=n)
    >>> action = rng.integers(0, 2, size=n)              # a two-arm experiment
    >>> y = 1.0 + action * (x - 0.3) + rng.normal(size=n)
    >>> target = (x > 0.3).astype(int)                   # treat those who gain
    >>> everyone = np.ones(n, dtype=int)
    >>> cmp = co.evaluation.compare_policies(y, action, target, everyone)
    >>> cmp.n_disagree == int((x <= 0.3).sum())
    True
    >>> bool(cmp.ci_low < 0.045 < cmp.ci_high)             # true value 0.3**2 / 2
    True
    """
    method = check_method(method, METHODS)
    alpha = check_alpha(alpha)
    ctx, a, b = _pair_context(y, action, policy_a, policy_b, design=design, propensity=propensity,
                              assigned=assigned, X=X, outcome_model=outcome_model, cv=cv, seed=seed,
                              poststratify=poststratify)
    est = PAIR_ESTIMATORS[method](ctx, a, b, (0, 1))
    return comparison_from(
        est, n=ctx.exp.n, n_disagree=int((a != b).sum()), method=method, design=ctx.exp.design, alpha=alpha
    )


def compare_estimators(
    y: Any,
    action: Any,
    policy_a: Any,
    policy_b: Any,
    *,
    design: str = "rba",
    propensity: Any = None,
    assigned: Any = None,
    methods: Iterable[str] | None = None,
    alpha: float = 0.05,
    X: Any = None,
    outcome_model: Any = None,
    cv: int = 5,
    seed: int | None = 0,
    poststratify: bool | None = None,
):
    """Every estimator of ``V(a) - V(b)`` on the same data, one row each.

    Parameters are those of :func:`compare_policies`; ``methods`` lists the estimators
    (default: all of :data:`METHODS`).

    Returns
    -------
    pandas.DataFrame
        Indexed by method, with columns ``estimate``, ``se``, ``ci_low``, ``ci_high``,
        ``p_value``, ``n``, ``n_disagree``, ``width_vs_naive`` (interval width over the
        naive one's, when ``"naive"`` is among the methods) and ``description``.
    """
    import pandas as pd

    methods = list(METHODS) if methods is None else [check_method(m, METHODS, "methods") for m in methods]
    if not methods:
        raise EvaluationError("The 'methods' argument lists no estimator; give at least one of " + ", ".join(METHODS))
    alpha = check_alpha(alpha)
    ctx, a, b = _pair_context(y, action, policy_a, policy_b, design=design, propensity=propensity,
                              assigned=assigned, X=X, outcome_model=outcome_model, cv=cv, seed=seed,
                              poststratify=poststratify)
    n_dis = int((a != b).sum())
    columns = ("estimate", "se", "ci_low", "ci_high", "p_value", "n", "n_disagree")
    rows = {}
    for m in methods:
        est = PAIR_ESTIMATORS[m](ctx, a, b, (0, 1))
        r = comparison_from(est, n=ctx.exp.n, n_disagree=n_dis, method=m, design=ctx.exp.design, alpha=alpha)
        rows[m] = [getattr(r, c) for c in columns]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(columns))
    table.index.name = "method"
    if "naive" in table.index:
        table["width_vs_naive"] = table["se"] / table.loc["naive", "se"]
    table["description"] = [DESCRIPTIONS[m] for m in table.index]
    return table
