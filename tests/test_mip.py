"""Tests of the ``mip`` solver: formulations, backends, side constraints, statuses, options."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import coarseopt as co
from coarseopt.exceptions import InfeasibleProblemError, OptionError, SolverUnavailableError

import highspy  # noqa: F401  (required, and pinned: see pyproject.toml)
import pyomo.environ as pyo

from coarseopt_solvers.mip import build_model, decode  # noqa: E402
from coarseopt_solvers.mip._formulation import SideConstraints, classic, prefix_sets, radius  # noqa: E402
from coarseopt_solvers.mip._highs import HIGHS_TERMINATION  # noqa: E402

EXACT = ("classic", "radius", "aggregated", "benders")


def brute_force(profit, k, ok=lambda s: True):
    """Best ``f(S)`` over every offered set of 1..k columns that passes ``ok``."""
    m = profit.shape[1]
    best = -np.inf
    for r in range(1, min(k, m) + 1):
        for s in itertools.combinations(range(m), r):
            if ok(set(s)):
                best = max(best, float(profit[:, list(s)].max(axis=1).sum()))
    return best


# ---------------------------------------------------------------------- a bank of small problems
BANK = [
    # (profit, k, optimum) checked by hand
    (np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]]), 1, 6.0),
    (np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]]), 2, 7.0),
    (np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]]), 3, 8.0),
    (np.array([[-1.0, -2.0], [-3.0, -1.0]]), 1, -3.0),
    (np.array([[5.0]]), 3, 5.0),
    (np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]), 2, 2.0),  # all ties
]


@pytest.mark.parametrize("formulation", EXACT)
@pytest.mark.parametrize("case", range(len(BANK)))
def test_bank(formulation, case):
    profit, k, optimum = BANK[case]
    res = co.solve(co.CoarseProblem(profit, k), solver="mip", formulation=formulation)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(optimum)
    assert res.bound == pytest.approx(optimum)
    assert res.offered.size <= k


# ---------------------------------------------------------------------- agreement with enumerate
profits = st.integers(1, 12).flatmap(
    lambda n: st.integers(1, 6).flatmap(
        lambda m: st.lists(st.integers(-20, 20), min_size=n * m, max_size=n * m).map(
            lambda v: np.array(v, dtype=float).reshape(n, m) / 4.0
        )
    )
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profit=profits, k=st.integers(1, 4), formulation=st.sampled_from(("auto",) + EXACT))
def test_matches_enumerate(profit, k, formulation):
    problem = co.CoarseProblem(profit, k)
    expected = co.solve(problem, solver="enumerate")
    res = co.solve(problem, solver="mip", formulation=formulation)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(expected.objective, abs=1e-9)
    assert res.bound >= res.objective - 1e-9


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profit=profits, k=st.integers(1, 3), lo=st.sampled_from([0.0, 0.2, 0.3]), hi=st.sampled_from([0.5, 0.8, 1.0]))
def test_matches_enumerate_with_shares(profit, k, lo, hi):
    try:
        problem = co.CoarseProblem(profit, k, min_share=lo, max_share=hi)
    except InfeasibleProblemError:
        return
    expected = co.solve(problem, solver="enumerate")
    res = co.solve(problem, solver="mip")
    assert res.status == expected.status
    if expected.status == "optimal":
        assert res.objective == pytest.approx(expected.objective, abs=1e-9)
        counts = np.bincount(res.assignment, minlength=problem.m)[res.offered]
        assert (counts >= problem.min_count[res.offered]).all()
        assert (counts <= problem.max_count[res.offered]).all()


# ---------------------------------------------------------------------- formulations
def test_radius_models_have_the_classic_lp_bound():
    rng = np.random.default_rng(0)
    profit = rng.normal(size=(40, 8))
    from coarseopt_solvers.mip._highs import solve_highs

    side = SideConstraints()
    bounds = []
    for form in (classic(profit, 3, side), radius(profit, 3, side, aggregate=False)[0],
                 radius(profit, 3, side, aggregate=True)[0]):
        r = solve_highs(form, time_limit=None, mip_gap=0.0, threads=1, seed=0, relax=True)
        bounds.append(r.bound)
    assert bounds[1] == pytest.approx(bounds[0], rel=1e-9)
    assert bounds[2] == pytest.approx(bounds[0], rel=1e-9)


def test_aggregation_is_small_for_smooth_curves():
    t = np.linspace(0, 1, 20)
    rng = np.random.default_rng(1)
    centre = rng.uniform(0, 1, 5000)
    profit = 1.0 - (t[None, :] - centre[:, None]) ** 2  # single-peaked in an ordered treatment
    agg = prefix_sets(profit, 3, aggregate=True)
    plain = prefix_sets(profit, 3, aggregate=False)
    assert agg.num_nodes <= 20 * 20  # intervals of the grid: at most m^2
    assert plain.num_nodes > 10 * agg.num_nodes
    # the summed coefficients carry the whole objective
    assert agg.node_coef.sum() == pytest.approx(plain.node_coef.sum())
    problem = co.CoarseProblem(profit[:300], 3)
    a = co.solve(problem, solver="mip", formulation="aggregated")
    b = co.solve(problem, solver="mip", formulation="radius")
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective)


def test_prefix_keys_are_exact_beyond_64_treatments():
    rng = np.random.default_rng(2)
    profit = rng.integers(0, 4, size=(12, 130)).astype(float)  # many ties, m > 64: three-word masks
    problem = co.CoarseProblem(profit, 2)
    a = co.solve(problem, solver="mip", formulation="aggregated")
    b = co.solve(problem, solver="mip", formulation="classic")
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective)


def test_pmed1_published_optimum():
    from coarseopt.pmed import read_pmed  # noqa: F401  (the reader is part of the core)
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "orlib" / "pmed1.txt"
    problem = co.read_pmed(path)
    for formulation in ("auto", "benders"):
        res = co.solve(problem, solver="mip", formulation=formulation, threads=1)
        assert res.status == "optimal"
        assert -res.objective == pytest.approx(5819.0)


def test_noisy_benders_not_worse_than_heuristic_and_bound_valid():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 1, 25)
    profit = 1.0 - (t[None, :] - rng.uniform(0, 1, (1500, 1))) ** 2 + 0.01 * rng.standard_normal((1500, 25))
    problem = co.CoarseProblem(profit, 4)
    heur = co.solve(problem, solver="local-search")
    res = co.solve(problem, solver="mip", formulation="benders", time_limit=30)
    assert res.objective >= heur.objective - 1e-9
    assert res.bound is not None and res.bound >= res.objective - 1e-9
    assert res.bound <= problem.full_profit() + 1e-9
    if res.status == "optimal":
        exact = co.solve(problem, solver="mip", formulation="aggregated")
        assert exact.objective == pytest.approx(res.objective, rel=1e-9)


# ---------------------------------------------------------------------- Pyomo path
@pytest.mark.parametrize("formulation", ("classic", "radius", "aggregated"))
def test_pyomo_path_gives_the_same_answer(formulation):
    rng = np.random.default_rng(4)
    for _ in range(3):
        profit = rng.normal(size=(25, 6)).round(2)
        problem = co.CoarseProblem(profit, 2)
        direct = co.solve(problem, solver="mip", formulation=formulation)
        through = co.solve(problem, solver="mip", formulation=formulation, model_hook=lambda model: None)
        assert through.extras["backend_status"].startswith(("highs", "appsi_highs"))
        assert direct.status == through.status == "optimal"
        assert direct.objective == pytest.approx(through.objective)


def test_build_model_extend_and_solve():
    profit = np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]])
    problem = co.CoarseProblem(profit, 2)
    model = build_model(problem, formulation="classic")
    assert set(model.y) == {0, 1, 2}
    model.not_both = pyo.Constraint(expr=model.y[0] + model.y[1] <= 1)
    pyo.SolverFactory("highs").solve(model)
    assert decode(model) in ([0, 2], [1, 2])
    assert pyo.value(model.profit) == pytest.approx(7.0)


def test_model_hook_constraint_is_honoured():
    rng = np.random.default_rng(5)
    profit = rng.normal(size=(30, 6))
    problem = co.CoarseProblem(profit, 3)
    free = co.solve(problem, solver="mip")
    banned = int(free.offered[0])

    def hook(model):
        model.ban = pyo.Constraint(expr=model.y[banned] == 0)

    hooked = co.solve(problem, solver="mip", model_hook=hook)
    assert banned not in hooked.offered
    assert hooked.objective == pytest.approx(brute_force(profit, 3, lambda s: banned not in s))
    same = co.solve(problem, solver="mip", forbidden=[banned])
    assert same.objective == pytest.approx(hooked.objective)


def test_missing_backend_lists_the_available_ones():
    problem = co.CoarseProblem(np.eye(3), 1)
    with pytest.raises(SolverUnavailableError, match="Available backends: .*highs"):
        co.solve(problem, solver="mip", backend="no-such-solver")


# ---------------------------------------------------------------------- side constraints
def _random(seed, n=20, m=6):
    return np.random.default_rng(seed).normal(size=(n, m)).round(2)


@pytest.mark.parametrize("seed", range(3))
def test_forced_forbidden_exclusive(seed):
    profit = _random(seed)
    problem = co.CoarseProblem(profit, 3)
    opts = dict(forced=[1], forbidden=[2], exclusive=[(0, 3), (4, 5)])

    def ok(s):
        return 1 in s and 2 not in s and not {0, 3} <= s and not {4, 5} <= s

    expected = brute_force(profit, 3, ok)
    for formulation in EXACT:
        res = co.solve(problem, solver="mip", formulation=formulation, **opts)
        assert res.status == "optimal", formulation
        assert res.objective == pytest.approx(expected), formulation
        assert ok(set(res.offered.tolist()))


def test_labels_name_treatments():
    import pandas as pd

    profit = pd.DataFrame(_random(7, m=4), columns=["none", "5%", "10%", "20%"])
    res = co.solve(co.CoarseProblem(profit, 2), solver="mip", forced=["20%"], forbidden=["none"])
    assert "20%" in res.offered_labels and "none" not in res.offered_labels


def test_budget_against_brute_force():
    rng = np.random.default_rng(8)
    n, m, k = 5, 3, 2
    profit = rng.normal(size=(n, m)).round(2)
    cost = np.array([0.0, 1.0, 2.5])
    budget = 4.0
    best = -np.inf
    for a in itertools.product(range(m), repeat=n):
        a = np.array(a)
        if len(set(a.tolist())) <= k and cost[a].sum() <= budget:
            best = max(best, float(profit[np.arange(n), a].sum()))
    res = co.solve(co.CoarseProblem(profit, k, cost=cost, budget=budget), solver="mip")
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best)
    assert cost[res.assignment].sum() <= budget + 1e-9


@pytest.mark.parametrize(
    "opts, family",
    [
        (dict(forced=[0, 1, 2]), "forced"),
        (dict(forced=[1], forbidden=[1]), "forced/forbidden"),
        (dict(forced=[0, 1], exclusive=[(0, 1)]), "exclusive"),
        (dict(forbidden=[0], problem=dict(cost=[0.0, 1.0, 1.0, 1.0], budget=3.0)), "budget"),
        (dict(forbidden=[0, 1, 2, 3]), "forbidden"),
    ],
)
def test_infeasible_names_the_family(opts, family):
    opts = dict(opts)
    problem = co.CoarseProblem(_random(9, n=6, m=4), 2, **opts.pop("problem", {}))
    res = co.solve(problem, solver="mip", **opts)
    assert res.status == "infeasible"
    assert not res.has_solution
    assert res.message.startswith(f"Infeasible: {family}")


def test_infeasible_combination_found_by_resolving():
    # each share bound is satisfiable alone, but with this budget no split is affordable
    profit = _random(10, n=10, m=3)
    cost = np.array([0.0, 0.0, 5.0])
    problem = co.CoarseProblem(profit, 2, min_share=0.4, max_share=0.6, cost=cost, budget=10.0)  # two treatments needed
    res = co.solve(problem, solver="mip", forbidden=[1])
    assert res.status == "infeasible"
    assert res.message.startswith("Infeasible: budget")


# ---------------------------------------------------------------------- options and statuses
@pytest.mark.parametrize(
    "opts, pattern",
    [
        (dict(formulation="best"), "'formulation'"),
        (dict(mip_gap=2.0), "'mip_gap'"),
        (dict(threads=0), "'threads'"),
        (dict(warm_start="maybe"), "'warm_start'"),
        (dict(backend_options=[1]), "'backend_options'"),
        (dict(model_hook=3), "'model_hook'"),
        (dict(exclusive=[(1,)]), "'exclusive'"),
        (dict(forced="abc"), "'forced'"),
        (dict(cost=[[np.nan]]), "'cost'"),
        (dict(colour="red"), "Valid options"),
    ],
)
def test_bad_options_are_named(opts, pattern):
    with pytest.raises(OptionError, match=pattern):
        co.solve(co.CoarseProblem(np.eye(3), 1), solver="mip", **opts)


@pytest.mark.parametrize(
    "opts, pattern",
    [
        (dict(budget=1.0), "moved to the problem"),
        (dict(cost=np.ones(2), budget=1.0), "moved to the problem"),
        (dict(forced=[7]), "'forced' option .* treatment 7"),
        (dict(exclusive=[(1, 1)]), "with itself"),
        (dict(formulation="radius", problem=dict(cost=np.ones(3), budget=5.0)), "'radius' model .*cannot express.*'benders'"),
        (dict(backend_options={"no_such_option": 1}), "rejected the option 'no_such_option'"),
    ],
)
def test_problem_dependent_option_errors(opts, pattern):
    opts = dict(opts)
    problem = co.CoarseProblem(np.eye(3), 2, **opts.pop("problem", {}))
    with pytest.raises(OptionError, match=pattern):
        co.solve(problem, solver="mip", **opts)


def test_every_highs_status_is_mapped():
    import highspy

    assert set(highspy.HighsModelStatus.__members__) <= set(HIGHS_TERMINATION)


def test_time_limit_returns_incumbent_and_bound():
    rng = np.random.default_rng(11)
    profit = rng.normal(size=(400, 40))
    problem = co.CoarseProblem(profit, 6)
    res = co.solve(problem, solver="mip", formulation="radius", time_limit=0.5, threads=1, warm_start=True)
    assert res.has_solution
    assert res.status in ("time_limit", "optimal")
    assert res.objective >= res.extras["warm_start_objective"] - 1e-9
    assert res.bound is None or res.bound >= res.objective - 1e-9  # a bound needs the root LP


def test_import_coarseopt_stays_light():
    code = "import sys, coarseopt; print(any(m.startswith(('pyomo', 'highspy')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_benchmark_runner_smoke(tmp_path):
    """The benchmark runner keeps working (its quick Beasley part)."""
    import json

    from benchmarks import mip as bench

    assert bench.main(["--quick", "--parts", "beasley", "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "mip.beasley_quick.jsonl").read_text().splitlines()]
    assert rows[0]["part"] == "meta" and rows[0]["command"].startswith("python -m benchmarks.mip")
    solved = [r for r in rows if r["part"] == "beasley"]
    assert len(solved) == 2 and all(r["status"] == "optimal" for r in solved)
    assert "| beasley(80,5,seed=1) |" in (tmp_path / "mip.beasley_quick.md").read_text()


@pytest.mark.parametrize("factor", [1e-12, 1.0, 1e12, 1e150])
@pytest.mark.parametrize("formulation", ("auto", "classic", "benders"))
def test_profits_of_any_magnitude(factor, formulation):
    """Normalized units: HiGHS's absolute tolerances and infinity do not see the magnitude."""
    profit = np.array([[0.0, 0.7, 0.0], [0.5, 0.0, 0.2], [0.0, 0.1, 0.3]]) * factor + 3.0 * factor
    problem = co.CoarseProblem(profit, 1)
    res = co.solve(problem, solver="mip", formulation=formulation)
    assert res.status == "optimal"
    assert res.offered.tolist() == [1]
    assert res.objective == pytest.approx(brute_force(profit, 1), rel=1e-12)
    assert res.bound >= res.objective


def test_stopped_early_never_worse_than_a_swap_descent():
    # Noisy curves, small n: the automatic warm start is skipped and the Benders loop stops
    # on its time limit; the returned set must still be a local optimum under swaps.
    from benchmarks.instances import smooth_profit

    problem = co.CoarseProblem(smooth_profit(1000, 30, seed=4, noise=0.2), k=5)
    heuristic = co.solve(problem, "local-search", seed=0)
    result = co.solve(problem, "mip", time_limit=3)
    assert result.has_solution
    assert result.objective >= heuristic.objective - 1e-9 * abs(heuristic.objective)
    assert result.bound is not None and result.bound >= result.objective


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 12), st.integers(1, 140), st.integers(1, 4), st.booleans())
def test_prefix_set_count_stops_early_and_agrees(seed, n, m, k, ties):
    """``prefix_sets(max_nodes=...)`` (the ``auto`` rule's early stop) returns ``None`` exactly
    when the aggregated model has more distinct prefix sets than the limit (bitmasks of more
    than one word from m = 65 on), and the same sets otherwise."""
    rng = np.random.default_rng(seed)
    profit = rng.integers(0, 4, size=(n, m)).astype(float) if ties else rng.normal(size=(n, m))
    full = prefix_sets(profit, k, aggregate=True)
    for limit in sorted({0, max(0, full.num_nodes - 1), full.num_nodes, full.num_nodes + 5}):
        got = prefix_sets(profit, k, aggregate=True, max_nodes=limit)
        if full.num_nodes > limit:
            assert got is None
        else:
            assert got is not None and got.num_nodes == full.num_nodes
            np.testing.assert_array_equal(got.node_coef, full.node_coef)
