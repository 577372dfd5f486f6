"""Honest evaluation: learn a policy on some customers, measure it on others."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ._errors import ExperimentError, describe
from .experiment import Experiment

__all__ = ["train_test_split_experiment", "policy_for"]


def train_test_split_experiment(
    experiment: Experiment, test_size: float = 0.5, *, random_state: Any = None
) -> tuple[Experiment, Experiment]:
    """Split an experiment's customers into a training and a test experiment, stratified by arm.

    Both parts keep the arms, control, feature encoding and design propensities of the
    whole, so a model (and a policy) learned on the training part applies to the test part.
    Learn the offered set on ``train`` and value it on ``test``: the estimate of a policy
    chosen on the very customers it is valued on is biased upward (the selection fits
    their noise).

    Parameters
    ----------
    experiment : Experiment
    test_size : float in (0, 1) or int, default=0.5
        Share (or number) of customers in the test part.
    random_state : int, RandomState or None

    Returns
    -------
    train, test : Experiment

    Examples
    --------
    >>> import coarseopt as co
    >>> from coarseopt.estimation import train_test_split_experiment
    >>> df, truth = co.datasets.make_promotions(1000, seed=0)
    >>> exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    >>> train, test = train_test_split_experiment(exp, test_size=0.3, random_state=0)
    >>> train.n, test.n
    (700, 300)
    """
    from sklearn.model_selection import train_test_split

    if not isinstance(experiment, Experiment):
        raise ExperimentError(f"'experiment' must be an Experiment; got {type(experiment).__name__}.")
    valid = (isinstance(test_size, numbers.Real) and 0 < test_size < 1) or (
        isinstance(test_size, numbers.Integral) and 0 < test_size < experiment.n
    )
    if isinstance(test_size, bool) or not valid:
        raise ExperimentError(
            f"The 'test_size' parameter must be a float in (0, 1) or an int in [1, {experiment.n - 1}]. "
            f"Got {describe(test_size)} instead."
        )
    rows = np.arange(experiment.n)
    train, test = train_test_split(rows, test_size=test_size, random_state=random_state,
                                   stratify=experiment.arm_index)
    return experiment.subset(np.sort(train)), experiment.subset(np.sort(test))


def policy_for(offered: Any, estimate: Any):
    """Apply an offered set (a SolveResult or treatment labels) to customers' estimated profits.

    Each customer gets their most profitable offered treatment under ``estimate`` (a
    :class:`~coarseopt.estimation.ProfitEstimate`, typically of held-out or new customers:
    ``est_train.predict(test)``). Same as ``estimate.assign(offered)``.
    """
    if not hasattr(estimate, "assign"):
        raise ExperimentError(f"'estimate' must be a ProfitEstimate; got {type(estimate).__name__}.")
    return estimate.assign(offered)
