"""Step 3: evaluating targeting policies from experiment data.

How much better is one targeting policy than another, and what is a policy worth, from a
randomized experiment -- with standard errors that use the structure of the problem:
customers on whom two policies agree contribute exactly zero to their difference
(Simester, Timoshenko & Zoumpoulis, Management Science 2020).

- :func:`compare_policies`: ``V(a) - V(b)`` with one estimator; :func:`compare_estimators`:
  every estimator side by side (a DataFrame).
- :func:`policy_value`: ``V(policy)``; :func:`coarse_policy`: a solved coarse policy applied
  to new customers.
- :func:`compare_many`: several policies (all pairs or against a champion), joint covariance,
  Holm / Bonferroni / max-|t| adjusted p-values.
- :func:`sample_size`: customers needed under each design and estimator.
- :func:`heterogeneity`: is there heterogeneity worth targeting? Calibration (BLP), GATES and
  rank-weighted average treatment effects (AUTOC, Qini) of predicted incremental profit;
  :func:`gates` and :func:`toc_curves` for the groups and curves behind them.

Two designs: ``"rba"`` (customers randomized to actions with known probabilities: any policy,
even one designed later, can be evaluated) and ``"rbp"`` (customers randomized to policies,
both recommendations logged).
"""

from __future__ import annotations

from ._data import DESIGNS, EvaluationError, EvaluationWarning, SupportError
from .compare import METHODS, compare_estimators, compare_policies
from .design import sample_size
from .estimators import DESCRIPTIONS
from .heterogeneity import BEST, gates, heterogeneity, heterogeneity_verdict, study_heterogeneity, toc_curves
from .multiple import ADJUSTMENTS, bonferroni, compare_many, holm
from .results import MultipleComparison, PolicyComparison, PolicyValue
from .value import coarse_policy, policy_value

__all__ = [
    "compare_policies",
    "compare_estimators",
    "compare_many",
    "policy_value",
    "coarse_policy",
    "sample_size",
    "heterogeneity",
    "gates",
    "toc_curves",
    "study_heterogeneity",
    "heterogeneity_verdict",
    "BEST",
    "holm",
    "bonferroni",
    "PolicyComparison",
    "PolicyValue",
    "MultipleComparison",
    "EvaluationError",
    "EvaluationWarning",
    "SupportError",
    "METHODS",
    "DESIGNS",
    "ADJUSTMENTS",
    "DESCRIPTIONS",
]
