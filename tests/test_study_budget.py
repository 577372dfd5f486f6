"""The study's budget: ``[solve] budget`` (one number: every policy keeps it; a list: profit
against budget), ``budget_cost``, the batch assignment within a budget, the outputs."""

from __future__ import annotations

import itertools
import json
import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import coarseopt as co
from coarseopt.apply import apply_policy
from coarseopt.config import ConfigError, parse_config
from coarseopt.pipeline import run_study, write_outputs


def _raw(budget, n=3000, **solve):
    return {
        "data": {"dataset": "promotions", "n": n, "seed": 3},
        "estimation": {"base_model": "linear", "n_jobs": 1},
        "split": {"folds": 3},
        "solve": {"k": [1, 2], "solver": "ot", "budget": budget, **solve},
        "evaluation": {"all_estimators": False},
        "output": {"report": False},
    }


def _full_spend(n=3000):
    """What full personalization spends on the study's customers (the models' expectation)."""
    df, truth = co.datasets.make_promotions(n, seed=3)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    from sklearn.linear_model import LinearRegression

    est = co.estimate_profit(exp, truth.economics, base_estimator=LinearRegression())
    best = est.profit.to_numpy().argmax(axis=1)
    return float(est.spend().to_numpy()[np.arange(n), best].sum())


def test_config_budget_forms():
    assert parse_config({"solve": {"budget": 5}}).solve["budget"] == 5.0
    assert parse_config({"solve": {"budget": [30, 10, 10]}}).solve["budget"] == [10.0, 30.0]
    assert parse_config({}).solve["budget"] == []
    for bad in (-1, "lots", [1, "x"], float("inf")):
        with pytest.raises(ConfigError, match=r"\[solve\] budget"):
            parse_config({"solve": {"budget": bad}})


def test_expected_spend_by_hand():
    econ = co.Economics(margin=0.5, cost={"a": 0.25, "b": 0.0}, proportional_cost={"a": 0.1, "b": 0.2})
    outcome = np.array([[10.0, 20.0], [-5.0, 0.0]])
    got = econ.spend_matrix(outcome, ["a", "b"], numeric=False)
    # cost + proportional cost x outcome, never below 0
    np.testing.assert_allclose(got, [[0.25 + 1.0, 4.0], [0.0, 0.0]])


def test_budget_cost_column_is_checked(tmp_path):
    df, truth = co.datasets.make_promotions(600, seed=1)
    df["sms_cost"] = 0.05
    df.loc[3, "sms_cost"] = -1.0
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    raw = {"data": {"path": str(path)},
           "columns": {"outcome": "sales", "treatment": "discount", "features": list(truth.features)},
           "solve": {"budget": 10.0, "budget_cost": "sms_cost"}}
    with pytest.raises(ConfigError, match=r'budget_cost = "sms_cost".*finite and >= 0.*-1'):
        co.pipeline.check_study(parse_config(raw))
    raw["solve"]["budget_cost"] = "no_such"
    with pytest.raises(ConfigError, match=r'budget_cost = "no_such": no such column'):
        co.pipeline.check_study(parse_config(raw))


def test_a_solver_without_a_budget_is_refused_in_the_config():
    with pytest.raises(ConfigError, match=r'solver = "grid-search" cannot keep \[solve\] budget; solvers that can: .*ot'):
        parse_config({"solve": {"budget": 10.0, "solver": "grid-search"}})


def test_budget_with_share_bounds_is_refused():
    with pytest.raises(ConfigError, match="budget with min_share / max_share"):
        run_study(parse_config(_raw(1000.0, n=600, max_share=0.8)), progress=False)


def test_assign_within_budget_is_near_the_brute_force_optimum():
    """Every assignment of tiny batches, enumerated: the batch assignment meets the budget and
    loses at most one customer's profit range to the optimum (the knapsack's LP relaxation
    splits at most one customer)."""
    rng = np.random.default_rng(0)
    for _ in range(60):
        n, m = int(rng.integers(2, 6)), int(rng.integers(2, 4))
        P = rng.normal(size=(n, m))
        C = rng.uniform(0, 2, size=(n, m))
        C[:, 0] = 0.0                                   # a free column: every budget >= 0 is feasible
        B = float(rng.uniform(0, C.sum(axis=1).max()))
        cols = co.assign_within_budget(P, C, list(range(m)), B)
        assert C[np.arange(n), cols].sum() <= B + 1e-9
        best = max(P[np.arange(n), a].sum() for a in itertools.product(range(m), repeat=n)
                   if C[np.arange(n), a].sum() <= B + 1e-12)
        got = P[np.arange(n), cols].sum()
        assert got <= best + 1e-9
        assert got >= best - np.ptp(P, axis=1).max() - 1e-9


def test_assign_within_budget_refuses_an_impossible_budget():
    with pytest.raises(co.exceptions.InfeasibleProblemError, match="over_budget='cheapest'"):
        co.assign_within_budget(np.ones((3, 2)), np.ones((3, 2)), [0, 1], budget=2.0)
    with pytest.raises(co.exceptions.ProblemError, match="'over_budget'"):
        co.assign_within_budget(np.ones((3, 2)), np.ones((3, 2)), [0, 1], budget=2.0, over_budget="ignore")


def test_a_policy_over_its_budget_raises_or_gives_the_cheapest_offers(tmp_path):
    """A policy without the free control: a batch that cannot keep its budget is an error
    naming the remedy (Policy.assign, coarseopt apply), or each customer's cheapest offer."""
    df, truth = co.datasets.make_promotions(1200, seed=4)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, cv=None, base_estimator=LinearRegression())
    spend = est.spend().to_numpy()
    result = co.solve(est.to_problem(2), "mip", forbidden=[0])   # two discounts, no control
    lowest = spend[:, result.offered].min(axis=1)
    assert (lowest > 0).all()
    policy = co.Policy(est, result, budget=0.5 * lowest.mean(), rules_depth=None)
    with pytest.raises(co.exceptions.InfeasibleProblemError, match="over_budget"):
        policy.assign(df)
    with pytest.warns(UserWarning, match="cheapest offered treatment"):
        got = policy.assign(df, over_budget="cheapest")
    cols = np.array([list(est.profit.columns).index(t) for t in got])
    assert np.allclose(spend[np.arange(len(df)), cols], lowest)
    path = tmp_path / "new.csv"
    df.to_csv(path, index=False)
    with pytest.raises(co.exceptions.InfeasibleProblemError, match="over_budget"):
        apply_policy(policy, path, tmp_path / "a.csv", progress=False)
    with pytest.warns(UserWarning):
        apply_policy(policy, path, tmp_path / "b.csv", over_budget="cheapest", progress=False)
    assert pd.read_csv(tmp_path / "b.csv")["treatment"].tolist() == got.tolist()


def test_over_budget_cheapest_gives_each_customer_its_cheapest_offer():
    P = np.array([[5.0, 1.0, 2.0], [1.0, 4.0, 3.0], [2.0, 2.0, 9.0]])
    C = np.array([[3.0, 1.0, 1.0], [2.0, 2.0, 2.0], [1.0, 3.0, 5.0]])
    with pytest.warns(UserWarning, match="cheapest offered treatment"):
        got = co.assign_within_budget(P, C, [0, 1, 2], budget=3.0, over_budget="cheapest")
    # cheapest per row (ties: the more profitable): row 0 {1, 2} -> 2, row 1 all -> 1, row 2 -> 0
    assert got.tolist() == [2, 1, 0]
    # a budget that can be met is unaffected by the option
    ok = co.assign_within_budget(P, C, [0, 1, 2], budget=20.0, over_budget="cheapest")
    assert ok.tolist() == co.assign_within_budget(P, C, [0, 1, 2], budget=20.0).tolist()


@pytest.fixture(scope="module")
def budgeted():
    full = _full_spend()
    budget = round(0.4 * full)
    return budget, run_study(parse_config(_raw(float(budget))), progress=False)


def test_one_budget_every_policy_keeps_it(budgeted, tmp_path):
    budget, study = budgeted
    n = len(study.assignment)
    for k, res in study.results.items():           # learned on all customers within the budget
        assert res.extras["spend"] <= budget * (1 + 1e-9)
    deployed = study.deployed.spend().to_numpy()    # the deployed policy's customers, as one batch
    col = {t: j for j, t in enumerate(study.treatments)}
    for k in study.results:
        cols = np.array([col[t] for t in study.assignment[f"treatment_k{k}"]])
        assert deployed[np.arange(n), cols].sum() <= budget * (1 + 1e-9)
    for unit, pols in zip(study.units, study.unit_policies):   # every fold, within its share
        spend = unit.spend.to_numpy()
        for name in ("k=1", "k=2", "full personalization"):
            cols = np.array([col[t] for t in pols[name]])
            assert spend[np.arange(len(cols)), cols].sum() <= budget * len(cols) / n * (1 + 1e-9)
    ev = study.evaluation.set_index("policy")
    assert ev.loc["full personalization", "predicted_spend"] <= budget / n * (1 + 1e-9)
    assert (ev["spend_ci_low"] <= ev["spend"]).all() and (ev["spend"] <= ev["spend_ci_high"]).all()
    table = study.budget_table
    assert sorted(table["offers"]) == ["full personalization", "k=1", "k=2"]
    assert (table["budget"] == budget).all()
    out = tmp_path / "out"
    write_outputs(study, out)
    assert pd.read_csv(out / "budget.csv")["offers"].tolist() == table["offers"].tolist()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["budget"]["policies_keep"] and summary["budget"]["budgets"] == [budget]
    assert summary["results"]["1"]["spend"] <= budget * (1 + 1e-9)
    # the saved policy assigns the same customers as the study says it would, within the budget
    df, _ = co.datasets.make_promotions(3000, seed=3)
    for k in (1, 2):
        policy = co.load_policy(out / "policy", k=k)
        assert policy.budget["per_customer"] == pytest.approx(budget / n)
        got = policy.assign(df)
        assert got.tolist() == study.assignment[f"treatment_k{k}"].tolist()
        half = policy.assign(df.iloc[:1000])            # any batch keeps the budget per customer
        cols = np.array([col[t] for t in half])
        assert deployed[np.arange(1000), cols].sum() <= budget / n * 1000 * (1 + 1e-9)
    assert "budget" in repr(policy)


def test_a_list_of_budgets_draws_profit_against_budget(caplog):
    full = _full_spend()
    budgets = [round(0.2 * full), round(0.6 * full)]
    with caplog.at_level(logging.WARNING, logger="coarseopt"):
        study = run_study(parse_config(_raw([float(b) for b in budgets])), progress=False)
    assert not study.evaluation["policy"].str.startswith("budget=").any()
    assert "spend" in study.evaluation                       # the unbudgeted policies' spend too
    table = study.budget_table
    assert len(table) == 2 * 3
    assert set(table["budget"]) == set(budgets)
    for offers, rows in table.groupby("offers"):
        rows = rows.sort_values("budget")
        # the models' own expectation: a larger budget never spends less per customer here
        assert rows["predicted_spend"].is_monotonic_increasing, offers
        kept = rows["predicted_spend"].to_numpy() <= rows["budget"].to_numpy() / len(study.assignment) * (1 + 1e-9)
        assert kept.all() or "cannot meet the budget" in caplog.text
    fp = table[table["offers"] == "full personalization"].sort_values("budget")
    assert fp["true_lift"].iloc[1] > fp["true_lift"].iloc[0]    # more budget, more true profit
    for (b, k), res in study.curve_results.items():
        assert res.extras["spend"] <= b * (1 + 1e-9)


def test_a_cost_column_budget_is_kept_by_every_fold(tmp_path):
    """``budget_cost = "<column>"``: a customer costs the column's value under any treatment
    but the control (here an SMS price that varies by customer)."""
    df, truth = co.datasets.make_promotions(1500, seed=2)
    df["sms_cost"] = np.random.default_rng(0).uniform(0.05, 0.25, len(df))
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    budget = 0.3 * float(df["sms_cost"].sum())          # treat about a third of the customers
    raw = {"data": {"path": str(path)},
           "columns": {"outcome": "sales", "treatment": "discount", "features": list(truth.features)},
           "economics": {"margin": 0.5, "proportional_cost": "level"},
           "estimation": {"base_model": "linear", "n_jobs": 1}, "split": {"folds": 3},
           "solve": {"k": [2], "solver": "ot", "budget": budget, "budget_cost": "sms_cost"},
           "evaluation": {"all_estimators": False}, "output": {"report": False}}
    study = run_study(parse_config(raw), progress=False)
    cost = df["sms_cost"].to_numpy()
    control = study.control
    treated = study.assignment["treatment_k2"].to_numpy() != control
    assert cost[treated].sum() <= budget * (1 + 1e-9)
    assert 0 < treated.mean() < 1
    for unit, pols in zip(study.units, study.unit_policies):
        spent = cost[unit.rows][pols["k=2"] != control].sum()
        assert spent <= budget * len(unit.rows) / len(df) * (1 + 1e-9)
