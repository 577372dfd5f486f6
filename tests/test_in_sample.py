"""Evaluating a policy on the customers it was learned from warns
(:class:`coarseopt.exceptions.InSampleEvaluationWarning`); held-out evaluation does not."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import coarseopt as co
from coarseopt.exceptions import InSampleEvaluationWarning


def _learned(n=400, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.Index([f"c{i}" for i in range(n)], name="customer")
    profit = pd.DataFrame(rng.normal(size=(n, 3)), index=index, columns=["a", "b", "c"])
    result = co.solve(co.CoarseProblem(profit, k=2), "enumerate")
    y = pd.Series(rng.normal(size=n), index=index)
    action = pd.Series(rng.choice(["a", "b", "c"], size=n), index=index)
    return result, y, action


def test_solve_result_knows_its_rows():
    result, y, _ = _learned()
    assert list(result.learned_on) == list(y.index)
    assert list(result.assignment_series().attrs["coarseopt_learned_on"]) == list(y.index)


def test_evaluating_a_solve_result_on_its_own_customers_warns():
    result, y, action = _learned()
    with pytest.warns(InSampleEvaluationWarning, match="learned on 400"):
        co.evaluation.compare_policies(y, action, result, "a")
    with pytest.warns(InSampleEvaluationWarning):
        co.evaluation.policy_value(y.to_numpy(), action.to_numpy(), result.assignment_series())


def test_held_out_rows_do_not_warn_and_overlap_is_counted():
    result, y, action = _learned()
    policy = result.assignment_series()
    other = pd.Index([f"new{i}" for i in range(len(y))])
    with warnings.catch_warnings():
        warnings.simplefilter("error", InSampleEvaluationWarning)
        co.evaluation.policy_value(pd.Series(y.to_numpy(), index=other), action.to_numpy(), policy.to_numpy())
        co.evaluation.policy_value(pd.Series(y.to_numpy(), index=other), action.to_numpy(),
                                   pd.Series(policy.to_numpy(), index=other, name="p"))
    half = other[:200].append(y.index[:200])
    with pytest.warns(InSampleEvaluationWarning, match="learned on 200 of"):
        co.evaluation.policy_value(pd.Series(y.to_numpy(), index=half), action.to_numpy(), policy)


def test_profit_estimate_policy_value_warns_for_its_own_solution():
    df, _ = co.datasets.make_promotions(2000, seed=1)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=["recency", "frequency", "avg_basket"])
    est = co.estimate_profit(exp, learner="t", cv=2)
    arms = est.profit.iloc[:, list(est.arm_columns)]
    result = co.solve(co.CoarseProblem(arms, k=2), "enumerate")
    with pytest.warns(InSampleEvaluationWarning):
        est.policy_value(result)
