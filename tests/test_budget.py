"""A budget on what the assignment spends: validation, every solver's answer, exactness.

The exact answer of a tiny problem comes from an independent brute force over every
assignment (``m ** n`` of them), not from any solver. Profits and costs are small integers
(or multiples of 0.1) so that sums are exact where the tests compare with equality.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import coarseopt as co
from coarseopt.exceptions import InfeasibleProblemError, OptionError, ProblemError, UnsupportedProblemError
from coarseopt_solvers.bounds import budget_lagrangian_bound
from coarseopt.pricing import price_assignment, repair

BUDGETED = ["enumerate", "mip", "ot", "local-search"]
EXACT = ["enumerate", "mip"]
HEURISTIC = ["ot", "local-search"]
PROPS = settings(max_examples=30, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def brute_force(profit, cost, k, budget, lo=None, hi=None) -> float:
    """The best total profit over every assignment with at most ``k`` treatments, spend within
    ``budget`` and (optionally) counts of each offered treatment in ``[lo, hi]``; -inf if none."""
    n, m = profit.shape
    cost = np.broadcast_to(cost, (n, m))
    rows = np.arange(n)
    best = -np.inf
    for a in itertools.product(range(m), repeat=n):
        a = np.array(a)
        used, counts = np.unique(a, return_counts=True)
        if used.size > k or cost[rows, a].sum() > budget + 1e-9:
            continue
        if lo is not None and ((counts < lo[used]).any() or (counts > hi[used]).any()):
            continue
        best = max(best, float(profit[rows, a].sum()))
    return best


@st.composite
def budgeted(draw, max_n=5, max_m=4, per_individual=None):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    k = draw(st.integers(1, 3))
    profit = np.array(draw(st.lists(st.integers(-20, 20), min_size=n * m, max_size=n * m)), float).reshape(n, m)
    each = draw(st.booleans()) if per_individual is None else per_individual
    size = n * m if each else m
    cost = np.array(draw(st.lists(st.integers(0, 5), min_size=size, max_size=size)), float)
    cost = cost.reshape(n, m) if each else cost
    full = np.broadcast_to(cost, (n, m))
    low, high = float(full.min(axis=1).sum()), float(full.max(axis=1).sum())
    budget = low + draw(st.integers(0, 10)) / 10 * (high - low)
    return profit, cost, k, budget


def _problem(profit, cost, k, budget, **kw):
    try:
        return co.CoarseProblem(profit, k, cost=cost, budget=budget, **kw)
    except InfeasibleProblemError:
        assume(False)


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(budget=3.0), ProblemError, "needs 'cost'"),
        (dict(cost=[1.0, 2.0]), ProblemError, r"shape \(3,\) .* or \(4, 3\)"),
        (dict(cost=[1.0, -1.0, 0.0]), ProblemError, "non-negative.*value -1.0"),
        (dict(cost=[1.0, np.nan, 0.0]), ProblemError, "finite"),
        (dict(cost=np.ones(3), budget=-1.0), ProblemError, "'budget' .* finite number >= 0. Got -1.0"),
        (dict(cost=np.ones(3), budget=np.inf), ProblemError, "'budget'"),
        (dict(cost=np.ones(3), budget=True), ProblemError, "'budget'"),
        (dict(cost=[[1.0, 2.0, 3.0]] * 4, budget=3.0), InfeasibleProblemError, "cheapest possible spend 4"),
    ],
)
def test_bad_cost_or_budget_names_the_argument(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        co.CoarseProblem(np.zeros((4, 3)), 2, **kwargs)


def test_a_budget_only_k_makes_infeasible_says_so():
    cost = np.array([[0.0, 5.0], [5.0, 0.0]])  # each individual has a free treatment, not the same one
    assert co.CoarseProblem(np.zeros((2, 2)), 2, cost=cost, budget=1.0).min_spend == 0.0
    with pytest.raises(InfeasibleProblemError, match="cannot be met with k = 1: .* at least 5"):
        co.CoarseProblem(np.zeros((2, 2)), 1, cost=cost, budget=1.0)
    with pytest.raises(InfeasibleProblemError, match="k = 1"):
        co.CoarseProblem(np.zeros((2, 2)), 2, cost=cost, budget=1.0).with_k(1)


def test_the_problem_keeps_its_own_cost():
    cost = np.array([1.0, 2.0])
    problem = co.CoarseProblem(np.eye(2), 1, cost=cost, budget=3.0)
    cost[0] = 100.0
    assert problem.cost.shape == (2, 2) and problem.cost[0, 0] == 1.0
    assert problem.spend(np.array([1, 1])) == 4.0
    assert "budget=3" in repr(problem)


def test_spend_is_reported_with_a_cost_and_no_budget():
    profit = np.array([[3.0, 1.0], [0.0, 2.0]])
    res = co.solve(co.CoarseProblem(profit, 2, cost=[1.0, 10.0]), "local-search")
    assert res.extras["spend"] == 11.0


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize("solver", ["grid-search", "kmeans-features", "kmeans-preferences"])
def test_baselines_refuse_a_budget(solver):
    problem = co.CoarseProblem(np.eye(3), 2, cost=np.ones(3), budget=3.0, features=np.eye(3), arms=[0, 1])
    with pytest.raises(UnsupportedProblemError, match="cannot honour a budget"):
        co.solve(problem, solver)


def test_refusals_say_what_to_do():
    problem = co.CoarseProblem(np.eye(4), 2, cost=np.ones(4), budget=4.0, min_share=0.25)
    with pytest.raises(UnsupportedProblemError, match="share bounds with a budget. Use solver='mip'"):
        co.solve(problem, "enumerate")
    with pytest.raises(UnsupportedProblemError, match="max_knapsack"):
        co.solve(co.CoarseProblem(np.eye(4), 2, cost=np.ones(4), budget=4.0), "enumerate", max_knapsack=4)
    with pytest.raises(OptionError, match="moved to the problem"):
        co.solve(co.CoarseProblem(np.eye(3), 1), "mip", budget=1.0, cost=np.ones(3))
    with pytest.raises(OptionError, match="profit_fn"):
        co.solve(co.CoarseProblem(np.eye(3), 1, cost=np.ones(3), budget=3.0, treatments=[0.0, 1.0, 2.0]), "ot",
                 profit_fn=lambda levels: np.zeros((3, len(levels))))


# ---------------------------------------------------------------------- every solver, tiny problems
@PROPS
@given(budgeted())
def test_every_solver_meets_the_budget_and_exact_ones_match_brute_force(case):
    profit, cost, k, budget = case
    problem = _problem(profit, cost, k, budget)
    best = brute_force(profit, cost, k, budget)
    for name in BUDGETED:
        res = co.solve(problem, name)
        if best == -np.inf:  # only the k limit makes it infeasible: no solver may answer
            assert not res.has_solution and res.status in ("infeasible", "error")
            continue
        assert res.extras["spend"] == pytest.approx(problem.spend(res.assignment))
        assert res.extras["spend"] <= budget + 1e-9
        assert res.objective <= best + 1e-9
        if res.bound is not None:
            assert res.bound >= best - 1e-9
        if name in EXACT:
            assert res.status == "optimal" and res.objective == pytest.approx(best, abs=1e-9)
        elif res.status == "optimal":  # a heuristic claims optimality only with a proof
            assert res.objective == pytest.approx(best, abs=1e-9)


@PROPS
@given(budgeted(max_n=5, max_m=3))
def test_share_bounds_and_a_budget_together(case):
    profit, cost, k, budget = case
    n = profit.shape[0]
    assume(n >= 3)
    problem = _problem(profit, cost, k, budget, min_share=0.2, max_share=0.8)
    best = brute_force(profit, cost, k, budget, problem.min_count, problem.max_count)
    for name in ("mip", "ot"):
        res = co.solve(problem, name)
        if best == -np.inf:
            assert not res.has_solution
            continue
        assert res.extras["spend"] <= budget + 1e-9
        counts = np.bincount(res.assignment, minlength=profit.shape[1])[res.offered]
        assert (counts >= problem.min_count[res.offered]).all() and (counts <= problem.max_count[res.offered]).all()
        assert res.objective <= best + 1e-9
        if name == "mip" or res.status == "optimal":
            assert res.objective == pytest.approx(best, abs=1e-9)


def _curves(seed, n=120, m=8, per_individual=False):
    rng = np.random.default_rng(seed)
    profit = (rng.normal(size=(n, m)) + np.linspace(0, 1, m)).round(1)
    cost = rng.integers(0, 6, size=(n, m)).astype(float) if per_individual else np.arange(m, dtype=float)
    full = np.broadcast_to(cost, (n, m))[np.arange(n), profit.argmax(axis=1)].sum()
    return profit, cost, 0.5 * float(full)


@pytest.mark.parametrize("seed", range(6))
def test_heuristics_are_within_one_percent_of_the_optimum(seed):
    profit, cost, budget = _curves(seed, per_individual=seed % 2 == 1)
    problem = co.CoarseProblem(profit, 3, cost=cost, budget=budget)
    exact = co.solve(problem, "enumerate")
    assert exact.status == "optimal"
    for name in HEURISTIC:
        res = co.solve(problem, name, seed=seed)
        assert res.extras["spend"] <= budget + 1e-9
        assert exact.objective - res.objective <= 0.01 * abs(exact.objective)
        assert res.bound >= exact.objective - 1e-9
        assert res.status != "optimal" or res.objective == pytest.approx(exact.objective)
        assert res.extras["budget_price"] >= 0.0


def test_mip_on_groups_of_identical_individuals_equals_the_classic_model():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(12, 5)).round(1)
    rows = rng.integers(0, 12, 200)
    profit, cost = base[rows], np.abs(base[rows]).round(1)  # identical profit rows have identical cost rows
    problem = co.CoarseProblem(profit, 2, cost=cost, budget=0.4 * float(cost.max(axis=1).sum()))
    grouped = co.solve(problem, "mip", formulation="aggregated", warm_start=False)
    classic = co.solve(problem, "mip", formulation="classic", warm_start=False)
    assert grouped.extras["formulation"] == "aggregated" and grouped.extras["identical_groups"] <= 12
    assert grouped.status == classic.status == "optimal"
    assert grouped.objective == pytest.approx(classic.objective)
    assert grouped.extras["spend"] <= problem.budget + 1e-9


def test_a_budget_that_does_not_bind_changes_nothing():
    profit, cost, _ = _curves(7)
    free = co.solve(co.CoarseProblem(profit, 3), "ot")
    roomy = co.solve(co.CoarseProblem(profit, 3, cost=cost, budget=1e9), "ot")
    assert roomy.objective == free.objective and roomy.extras["budget_price"] == 0.0


def test_dask_problem_with_a_budget_equals_in_memory():
    da = pytest.importorskip("dask.array")
    profit, cost, budget = _curves(8, n=400, per_individual=True)
    mem = co.CoarseProblem(profit, 3, cost=cost, budget=budget)
    for lazy_cost in (cost, da.from_array(cost, chunks=(100, 8))):
        lazy = co.CoarseProblem(da.from_array(profit, chunks=(100, 8)), 3, cost=lazy_cost, budget=budget)
        assert lazy.is_lazy
        for name in ("ot", "local-search", "mip"):
            want, got = co.solve(mem, name, seed=1), co.solve(lazy, name, seed=1)
            np.testing.assert_array_equal(got.assignment, want.assignment)
            assert got.extras["spend"] == pytest.approx(want.extras["spend"]) and got.extras["spend"] <= budget + 1e-9
    with pytest.raises(ProblemError, match="dask array but 'profit' is not"):
        co.CoarseProblem(profit, 3, cost=da.from_array(cost), budget=budget)


# ---------------------------------------------------------------------- the kernels
@PROPS
@given(budgeted(max_n=6, max_m=3, per_individual=True))
def test_price_assignment_fits_and_bounds_the_set(case):
    profit, cost, _, budget = case
    got = price_assignment(profit, cost, budget)
    best = brute_force(profit, cost, profit.shape[1], budget)
    assert got is not None
    assert got.spend <= budget + 1e-9 and got.upper >= best - 1e-9 and got.value <= best + 1e-9
    fixed = repair(profit, cost, profit.argmax(axis=1), budget)
    assert cost[np.arange(profit.shape[0]), fixed].sum() <= budget + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_price_assignment_meets_the_knapsack_lp(seed):
    """The price is the LP's: the bound ``upper`` equals the multiple-choice knapsack's LP
    optimum (scipy's HiGHS), the assignment fits and is within one individual's spread of it,
    on hundreds of individuals (most settled early in the bisection) and with integer ties."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, eye, kron

    rng = np.random.default_rng(seed)
    n, s = 400, 4
    if seed % 2:
        profit, cost = rng.integers(0, 6, (n, s)).astype(float), rng.integers(0, 4, (n, s)).astype(float)
    else:
        profit, cost = rng.normal(size=(n, s)), rng.exponential(1.0, (n, s))
    budget = float(cost.min(axis=1).sum() + 0.4 * (cost.max(axis=1).sum() - cost.min(axis=1).sum()))
    got = price_assignment(profit, cost, budget)
    one_each = kron(eye(n), np.ones((1, s)))  # x_i sums to 1 for every individual
    lp = linprog(-profit.ravel(), A_ub=csr_matrix(cost.ravel()[None, :]), b_ub=[budget], A_eq=one_each,
                 b_eq=np.ones(n), bounds=(0, 1), method="highs")
    assert lp.status == 0
    assert got.upper == pytest.approx(-lp.fun, rel=1e-9, abs=1e-9)
    assert got.spend <= budget + 1e-9
    assert -lp.fun - got.value <= np.ptp(profit, axis=1).max() + 1e-9


def test_budget_bound_is_valid_at_every_multiplier():
    profit, cost, budget = _curves(9, n=60, m=6)
    full = np.broadcast_to(cost, profit.shape)
    exact = co.solve(co.CoarseProblem(profit, 2, cost=cost, budget=budget), "enumerate")
    for price in (0.0, 0.1, 1.0, 10.0):
        res = budget_lagrangian_bound(profit, full, 2, budget, price=price, incumbent=exact.objective,
                                      offered=exact.offered, max_iter=30, evaluations=3)
        assert res.bound >= exact.objective - 1e-9
        assert all(b >= exact.objective - 1e-9 for _, b in res.history)


def test_benchmark_smoke_run(tmp_path):
    """The budget benchmark's quick run writes its results; every answer meets its budget."""
    import json

    from benchmarks.budget import main

    assert main(["--quick", "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "budget_quick.jsonl").read_text().splitlines()]
    results = [r for r in rows if r["part"] != "meta"]
    assert {r["part"] for r in results} == {"small", "scale"}
    assert all(r["spend"] <= r["budget"] * (1 + 1e-9) for r in results)
    assert all(r["gap_pct"] >= -1e-9 for r in results if r["gap_pct"] is not None)
    assert "## At scale" in (tmp_path / "budget_quick.md").read_text()


# ---------------------------------------------------------------------- mip: Benders decomposition
@PROPS
@given(budgeted())
def test_mip_benders_matches_brute_force(case):
    profit, cost, k, budget = case
    problem = _problem(profit, cost, k, budget)
    best = brute_force(profit, cost, k, budget)
    res = co.solve(problem, "mip", formulation="benders")
    if best == -np.inf:
        assert not res.has_solution and res.status == "infeasible"
        return
    assert res.status == "optimal" and res.objective == pytest.approx(best, abs=1e-9)
    assert res.bound >= best - 1e-9 and res.extras["spend"] <= budget + 1e-9


@PROPS
@given(budgeted(max_n=5, max_m=4), st.data())
def test_mip_benders_keeps_the_rules_on_the_offered_set(case, data):
    profit, cost, k, budget = case
    m = profit.shape[1]
    assume(m >= 2)
    a, b = data.draw(st.lists(st.integers(0, m - 1), min_size=2, max_size=2, unique=True))
    problem = _problem(profit, cost, k, budget)
    rules = data.draw(st.sampled_from([dict(exclusive=[(a, b)]), dict(forced=[a]), dict(forbidden=[a])]))
    # the brute force over the assignments that meet the rule
    n, rows = profit.shape[0], np.arange(profit.shape[0])
    full, best = np.broadcast_to(cost, profit.shape), -np.inf
    for assign in itertools.product(range(m), repeat=n):
        used = set(assign)
        if len(used) > k or full[rows, assign].sum() > budget + 1e-9:
            continue
        if ("exclusive" in rules and {a, b} <= used) or ("forbidden" in rules and a in used):
            continue
        if "forced" in rules and a not in used:
            if len(used) >= k:
                continue  # offering a too would exceed k (it need not be used: any superset works)
        best = max(best, float(profit[rows, assign].sum()))
    res = co.solve(problem, "mip", formulation="benders", **rules)
    if best == -np.inf:
        assert not res.has_solution
        return
    assert res.status == "optimal" and res.objective == pytest.approx(best, abs=1e-9)
    offered = set(np.asarray(res.offered).tolist())
    assert len(offered) <= k and set(res.assignment.tolist()) <= offered
    if "exclusive" in rules:  # (a forced treatment nobody is given is not in res.offered)
        assert not {a, b} <= offered
    elif "forbidden" in rules:
        assert a not in offered


@PROPS
@given(budgeted(max_n=6, max_m=3, per_individual=True))
def test_exact_knapsack_of_one_set_matches_brute_force(case):
    from coarseopt_solvers.mip._benders_budget import exact_knapsack

    profit, cost, _, budget = case
    priced = price_assignment(profit, cost, budget)
    assume(priced is not None)
    pos, value, upper, proven, _ = exact_knapsack(profit, cost, budget, priced.price, priced.pos)
    best = brute_force(profit, cost, profit.shape[1], budget)
    assert proven and value == pytest.approx(best, abs=1e-9) and upper >= best - 1e-9
    assert cost[np.arange(profit.shape[0]), pos].sum() <= budget + 1e-9


def test_mip_benders_on_smooth_curves_equals_classic():
    profit, cost, budget = _curves(10, n=200, m=8, per_individual=True)
    problem = co.CoarseProblem(profit, 3, cost=cost, budget=budget)
    benders = co.solve(problem, "mip", formulation="benders")
    exact = co.solve(problem, "enumerate")
    assert benders.status == "optimal" and benders.objective == pytest.approx(exact.objective)
    assert benders.extras["formulation"] == "benders" and benders.extras["prices"]
    assert benders.extras["spend"] <= budget + 1e-9


# ---------------------------------------------------------------------- mip on a dask matrix
def _repeating(seed, n=600, m=6):
    """Profits and per-individual costs drawn from 15 distinct rows: groups of identical individuals."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(15, m)).round(2)
    rows = rng.integers(0, 15, n)
    return base[rows], np.abs(base[rows]).round(1)


@pytest.mark.parametrize("kind", ["numpy", "dask", "per treatment", "with shares"])
def test_dask_budget_builds_the_grouped_model_chunk_by_chunk(kind):
    da = pytest.importorskip("dask.array")
    profit, cost = _repeating(5)
    if kind == "per treatment":
        cost = np.arange(profit.shape[1], dtype=float)
    n = profit.shape[0]
    budget = 0.5 * float(np.broadcast_to(cost, profit.shape)[np.arange(n), profit.argmax(axis=1)].sum())
    shares = dict(min_share=0.1, max_share=0.9) if kind == "with shares" else {}
    lazy_cost = da.from_array(cost, chunks=(90, 6)) if kind == "dask" else cost
    mem = co.CoarseProblem(profit, 2, cost=cost, budget=budget, **shares)
    lazy = co.CoarseProblem(da.from_array(profit, chunks=(70, 6)), 2, cost=lazy_cost, budget=budget, **shares)
    want, got = co.solve(mem, "mip"), co.solve(lazy, "mip")
    assert got.extras["lazy"] == "chunked grouping" and got.extras["chunks"] == 9
    assert got.extras["identical_groups"] == want.extras["identical_groups"] <= 15 * 3
    assert got.status == want.status == "optimal" and got.objective == pytest.approx(want.objective)
    np.testing.assert_array_equal(got.offered, want.offered)
    assert got.extras["spend"] <= budget + 1e-9


def test_dask_budget_model_too_large_names_the_size_and_the_remedy(monkeypatch):
    da = pytest.importorskip("dask.array")
    from coarseopt_solvers.mip import _lazy, _lazy_grouped

    profit, cost = _repeating(6)
    problem = co.CoarseProblem(da.from_array(profit, chunks=(100, 6)), 2, cost=cost, budget=float(cost.sum()) / 12)
    monkeypatch.setattr(_lazy_grouped, "LAZY_MODEL_ENTRIES", 36)
    monkeypatch.setattr(_lazy, "_fits", lambda problem: False)
    with pytest.raises(UnsupportedProblemError, match=r"more than 6 groups .* 36 assignment variables.*GiB.*"
                                                      r"Round the profits.*\(local-search, ot\)"):
        co.solve(problem, "mip")


def test_auto_uses_benders_under_a_budget_on_many_individuals():
    rng = np.random.default_rng(2)
    t = np.linspace(0.0, 1.0, 8)
    peak, scale = rng.uniform(0, 1, (5000, 1)), rng.lognormal(0, 0.5, (5000, 1))
    P = scale * (1.0 - (t - peak) ** 2)                   # single-peaked curves, no two alike
    cost = t.copy()
    free = co.solve(co.CoarseProblem(P, k=3), "mip")
    problem = co.CoarseProblem(P, k=3, cost=cost, budget=0.5 * float(cost[free.assignment].sum()))
    auto = co.solve(problem, "mip", time_limit=60)
    assert auto.extras["formulation"] == "benders"       # exactness vs brute force: the tests above
    assert auto.status == "optimal" and auto.gap <= 1e-6
    assert auto.extras["spend"] <= problem.budget * (1 + 1e-9)

