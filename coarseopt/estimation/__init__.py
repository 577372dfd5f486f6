"""Step 1: from a randomized experiment to an individual x treatment profit matrix.

>>> import coarseopt as co
>>> df, truth = co.datasets.make_promotions(2000, seed=0)
>>> exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
>>> est = co.estimate_profit(exp, truth.economics, grid=9)
>>> result = co.solve(est.to_problem(k=2), solver="enumerate")

- :class:`Experiment`: validated experiment data (arms, control, features, propensities).
- :class:`Economics`: margins and costs that turn outcomes into profit.
- :func:`estimate_profit` -> :class:`ProfitEstimate`: cross-fitted CATE learners
  (:class:`TLearner`, :class:`SLearner`, :class:`XLearner`, :class:`DRLearner`; for numeric
  levels the default is the smooth ``SLearner(level_model="logit")``) and the profit matrix,
  with ``to_problem(k)`` for step 2.
- :func:`train_test_split_experiment`, :func:`policy_for`, ``ProfitEstimate.predict`` and
  ``ProfitEstimate.policy_value``: learn a policy on some customers, value it on others.
"""

from ._errors import EconomicsError, ExperimentError, LearnerError
from .economics import Economics
from .estimate import DEFAULT_LEARNER, LazyProfit, PolicyValue, ProfitEstimate, estimate_profit
from .experiment import Experiment
from .learners import (
    LEARNERS,
    CrossFitLearner,
    DRLearner,
    SLearner,
    TLearner,
    XLearner,
    default_estimator,
    make_learner,
)
from .nested import nested_cross_fit, stratified_folds
from .split import policy_for, train_test_split_experiment

__all__ = [
    "Experiment",
    "Economics",
    "estimate_profit",
    "ProfitEstimate",
    "LazyProfit",
    "PolicyValue",
    "DEFAULT_LEARNER",
    "SLearner",
    "TLearner",
    "XLearner",
    "DRLearner",
    "CrossFitLearner",
    "LEARNERS",
    "default_estimator",
    "make_learner",
    "train_test_split_experiment",
    "policy_for",
    "nested_cross_fit",
    "stratified_folds",
    "ExperimentError",
    "EconomicsError",
    "LearnerError",
]
