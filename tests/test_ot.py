"""The ``ot`` solver: Lloyd/OT alternation, polish, bound, share bounds, off-grid atoms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coarseopt as co
from coarseopt.exceptions import OptionError
from coarseopt_solvers._ot_transport import bounded_transport, repair
from coarseopt_solvers._transport import bounded_assignment
from coarseopt_solvers.ot import OTSolver, lloyd, seed_atoms


def _solve(problem, **options):
    return co.solve(problem, "ot", progress=False, **options)


def _swap_values(profit, offered):
    """f(S - r + j) for every swap, by brute force."""
    offered = list(offered)
    out = []
    for r in range(len(offered)):
        for j in range(profit.shape[1]):
            if j in offered:
                continue
            s = offered.copy()
            s[r] = j
            out.append(float(profit[:, s].max(axis=1).sum()))
    return out


# ---------------------------------------------------------------------- free assignment
def test_registered_and_options_listed():
    assert "ot" in co.available_solvers()
    assert co.get_solver("ot") is OTSolver
    with pytest.raises(OptionError, match="restarts"):
        co.solve(co.CoarseProblem(np.eye(3), 1), "ot", nonsense=1)
    with pytest.raises(OptionError, match="'bound'"):
        co.solve(co.CoarseProblem(np.eye(3), 1), "ot", bound="sometimes")


@pytest.mark.parametrize("name", ["pmed1", "pmed3"])
def test_default_finds_and_proves_the_published_optimum(name):
    from benchmarks.instances import orlib

    (_, problem, opt), = orlib([name])
    res = _solve(problem)
    assert -res.objective == pytest.approx(opt)
    assert res.bound is not None and res.bound >= res.objective - 1e-9
    assert res.status in ("optimal", "feasible")
    if res.status == "optimal":
        assert res.gap <= 1e-8


def test_result_is_a_local_optimum_under_swaps_and_a_lloyd_fixed_point():
    rng = np.random.default_rng(11)
    profit = rng.normal(size=(150, 12))
    res = _solve(co.CoarseProblem(profit, 3), bound=False)
    assert max(_swap_values(profit, res.offered)) <= res.objective + 1e-9
    atoms, value, info = lloyd(profit, res.offered)
    assert value == pytest.approx(res.objective) and info["iterations"] <= 1


def test_plain_lloyd_configuration_is_a_fixed_point_and_no_better_than_default():
    from benchmarks.instances import orlib

    (_, problem, _), = orlib(["pmed2"])
    plain = _solve(problem, restarts=1, polish=False, bound=False)
    full = _solve(problem, bound=False)
    assert plain.status == "feasible" and plain.bound is None and plain.gap is None
    assert full.objective >= plain.objective - 1e-9
    atoms, value, _ = lloyd(np.asarray(problem.profit), plain.offered)
    assert value == pytest.approx(plain.objective)


def test_lloyd_never_decreases_and_reseeds_empty_segments():
    rng = np.random.default_rng(12)
    profit = rng.normal(size=(80, 10))
    profit[:, 9] -= 100.0  # column 9 is never anybody's best: its segment is empty
    start = np.array([0, 9])
    before = float(profit[:, start].max(axis=1).sum())
    atoms, value, info = lloyd(profit, start)
    assert value >= before
    assert 9 not in atoms and info["reseeded"] >= 1


def test_seeding_is_distinct_and_respects_allowed():
    rng = np.random.default_rng(13)
    profit = rng.normal(size=(50, 8))
    allowed = np.array([True, False] * 4)
    atoms = seed_atoms(profit, 3, rng, allowed=allowed)
    assert len(set(atoms.tolist())) == 3 and allowed[atoms].all()


def test_deterministic_for_a_seed():
    rng = np.random.default_rng(14)
    profit = rng.normal(size=(300, 15))
    p = co.CoarseProblem(profit, 4)
    a = _solve(p, seed=5, restarts=6)
    b = _solve(p, seed=5, restarts=6)
    assert np.array_equal(a.assignment, b.assignment) and a.bound == b.bound


def test_sampled_restarts_end_in_a_full_data_local_optimum():
    from benchmarks.instances import smooth_profit
    from coarseopt_solvers.local_search import swap_local_search

    profit = smooth_profit(6000, 20, seed=4, noise=0.2)
    res = _solve(co.CoarseProblem(profit, 4), sample_size=1000, restarts=4, bound=False)
    _, value = swap_local_search(profit, 4, res.offered)
    assert value == pytest.approx(res.objective)


def test_warm_start_and_its_validation():
    rng = np.random.default_rng(15)
    profit = rng.normal(size=(60, 8))
    p = co.CoarseProblem(profit, 3)
    res = _solve(p, init=[0, 1], restarts=1, bound=False)
    assert res.offered.size == 3
    with pytest.raises(OptionError, match="'init'"):
        _solve(p, init=[0, 42])
    with pytest.raises(OptionError, match="'init'"):
        _solve(p, init=[0, 0])


def test_k_at_least_m_is_full_personalization_and_proven():
    rng = np.random.default_rng(16)
    profit = rng.normal(size=(40, 4))
    res = _solve(co.CoarseProblem(profit, 6))
    assert res.objective == pytest.approx(profit.max(axis=1).sum())
    assert res.status == "optimal"


def test_target_gap_and_bound_off():
    from benchmarks.instances import smooth_profit

    p = co.CoarseProblem(smooth_profit(4000, 30, seed=6, noise=0.1), 4)
    loose = _solve(p, target_gap=0.05)
    assert loose.gap is not None and loose.gap <= 0.05
    assert loose.extras["bound_termination"] in ("target_gap", "converged")
    off = _solve(p, bound=False)
    assert off.bound is None and off.status == "feasible"


def _fine_grid(n, m, seed):
    """Step 1's shape: outcomes at 4 arms interpolated to ``m`` levels, times a falling margin."""
    from test_columns import _grid_profit

    return _grid_profit(np.random.default_rng(seed), n, 4, m)


def test_the_certificate_after_the_first_starts_ends_the_search_once_it_meets_target_gap():
    from coarseopt_solvers.ot import EARLY_STARTS

    p = co.CoarseProblem(_fine_grid(3000, 90, 4), 3)
    exact = co.solve(p, "mip")
    early = _solve(p, target_gap=1e-3, seed=0)
    assert early.extras["certified_after"] == EARLY_STARTS == early.extras["restarts"]
    assert early.gap <= 1e-3 and early.bound >= exact.objective - 1e-9 * abs(exact.objective)
    # a gap the first starts cannot certify (noise makes the LP bound loose): every start
    # runs, the bound stays valid
    noisy = co.CoarseProblem(_fine_grid(800, 90, 4) + np.random.default_rng(1).normal(0, 0.3, (800, 90)), 3)
    exact = co.solve(noisy, "mip")
    full = _solve(noisy, target_gap=1e-3, seed=0)
    assert "certified_after" not in full.extras and full.extras["restarts"] == 32
    assert full.gap > 1e-3 and full.bound >= exact.objective - 1e-9 * abs(exact.objective)
    # without target_gap, or on few treatments, the starts all run before the bound
    assert _solve(p, seed=0).extras["restarts"] == 32
    few = co.CoarseProblem(_fine_grid(3000, 30, 4), 3)
    assert _solve(few, target_gap=1e-3, seed=0).extras["restarts"] == 32


def test_time_limit_returns_a_feasible_answer():
    from benchmarks.instances import smooth_profit

    p = co.CoarseProblem(smooth_profit(20000, 40, seed=7, noise=0.1), 6)
    res = co.solve(p, "ot", time_limit=0.5, progress=False)
    assert res.has_solution and res.offered.size <= 6
    assert res.status in ("time_limit", "feasible", "optimal")


def test_lazy_profit_matches_in_memory():
    import dask.array as da
    rng = np.random.default_rng(17)
    profit = rng.normal(size=(1200, 8))
    lazy = co.CoarseProblem(da.from_array(profit, chunks=(500, 8)), 3)
    res = _solve(lazy)
    mem = _solve(co.CoarseProblem(profit, 3))
    assert res.objective == pytest.approx(mem.objective, rel=1e-9)
    assert res.bound >= res.objective - 1e-6


# ---------------------------------------------------------------------- share bounds
@pytest.mark.parametrize("method", ["emd", "dual", "sinkhorn"])
def test_transport_methods_are_exact(method):
    rng = np.random.default_rng(18)
    for _ in range(6):
        n, s = int(rng.integers(5, 40)), int(rng.integers(2, 5))
        sub = rng.normal(size=(n, s)).round(1)  # ties on purpose
        lo = rng.integers(0, n // s + 1, s)
        hi = lo + rng.integers(0, n, s)
        if lo.sum() > n or hi.sum() < n:
            continue
        pos, info = bounded_transport(sub, lo, hi, method=method, reg=1e-2)
        counts = np.bincount(pos, minlength=s)
        assert (counts >= lo).all() and (counts <= hi).all()
        ref, _ = bounded_assignment(sub, np.arange(s), lo, hi)
        assert sub[np.arange(n), pos].sum() == pytest.approx(ref, abs=1e-9)
        assert info["optimal"]


def test_repair_from_any_start_is_feasible_and_optimal():
    rng = np.random.default_rng(19)
    sub = rng.normal(size=(60, 4))
    lo, hi = np.array([10, 10, 5, 0]), np.array([20, 15, 30, 10])
    pos, optimal = repair(sub, np.zeros(60, dtype=int), lo, hi)
    counts = np.bincount(pos, minlength=4)
    assert optimal and (counts >= lo).all() and (counts <= hi).all()
    ref, _ = bounded_assignment(sub, np.arange(4), lo, hi)
    assert sub[np.arange(60), pos].sum() == pytest.approx(ref)


def test_fixed_shares_are_met_exactly_at_scale():
    from benchmarks.instances import smooth_profit

    profit = smooth_profit(20000, 20, seed=8, noise=0.1)
    p = co.CoarseProblem(profit, 4, min_share=0.25, max_share=0.25)
    res = _solve(p, restarts=3, shares_method="dual", bound=True)
    assert np.array_equal(res.counts, np.full(4, 5000))
    # the transport step is certified exact (no negative cycle is left by the repair)
    assert res.extras["transport_optimal"]
    assert res.bound is not None and res.bound >= res.objective


@st.composite
def share_instances(draw):
    n = draw(st.integers(3, 14))
    m = draw(st.integers(2, 5))
    k = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    lo = draw(st.sampled_from([None, 0.1, 0.2, 0.3]))
    hi = draw(st.sampled_from([None, 0.4, 0.6, 1.0]))
    profit = np.random.default_rng(seed).normal(size=(n, m)).round(2)
    return profit, k, lo, hi


@settings(max_examples=40, deadline=None)
@given(share_instances())
def test_share_bounds_against_enumerate(inst):
    profit, k, lo, hi = inst
    try:
        p = co.CoarseProblem(profit, k, min_share=lo, max_share=hi)
    except ValueError:
        return  # the bounds cannot be met: refused at construction
    exact = co.solve(p, "enumerate")
    res = _solve(p, restarts=4)
    if exact.status == "infeasible":
        assert res.status == "infeasible"
        return
    assert res.objective <= exact.objective + 1e-9
    if not p.has_share_bounds:
        assert res.objective == pytest.approx(float(profit[:, res.offered].max(axis=1).sum()))
        return
    counts = np.bincount(res.assignment, minlength=p.m)[res.offered]
    assert (counts >= p.min_count[res.offered]).all() and (counts <= p.max_count[res.offered]).all()
    # the assignment is the exact bounded transport for the offered set
    ref, _ = bounded_assignment(profit, res.offered, p.min_count[res.offered], p.max_count[res.offered])
    assert res.objective == pytest.approx(ref, abs=1e-9)
    assert res.bound is None or res.bound >= exact.objective - 1e-9


def test_share_bounds_reach_the_optimum_on_a_fixed_bank():
    rng = np.random.default_rng(20)
    checked = 0
    for _ in range(25):
        n, m, k = int(rng.integers(4, 25)), int(rng.integers(2, 6)), int(rng.integers(1, 4))
        profit = rng.normal(size=(n, m)).round(2)
        try:
            p = co.CoarseProblem(profit, k, min_share=float(rng.choice([0.0, 0.1, 0.2])),
                                 max_share=float(rng.choice([0.5, 0.7, 1.0])))
        except ValueError:
            continue
        exact = co.solve(p, "enumerate")
        if exact.status != "optimal":
            continue
        res = _solve(p)
        assert res.objective == pytest.approx(exact.objective, abs=1e-9)
        checked += 1
    assert checked >= 15


# ---------------------------------------------------------------------- off the grid
def _bump_problem(n=2000, seed=0, **shares):
    rng = np.random.default_rng(seed)
    c = rng.choice([0.13, 0.41, 0.77], n) + rng.normal(0, 0.03, n)
    a = rng.lognormal(0, 0.3, n)

    def profit_fn(t):
        t = np.atleast_1d(t)
        return a[:, None] * (1 - ((t[None, :] - c[:, None]) / 0.5) ** 2) - 0.2 * t[None, :]

    grid = np.linspace(0, 1, 11)
    return co.CoarseProblem(profit_fn(grid), 3, treatments=grid, **shares), profit_fn


def test_offgrid_atoms_improve_on_the_grid():
    p, fn = _bump_problem()
    res = _solve(p, profit_fn=fn)
    levels = np.asarray(res.extras["levels"])
    assert levels.shape == (3,)
    assert res.extras["grid_objective_fn"] == pytest.approx(res.objective)
    assert res.extras["offgrid_objective"] > res.objective
    # each level lies between the grid neighbours of its grid atom
    grid = p.treatments
    for lev, j in zip(levels, res.offered):
        assert grid[max(j - 1, 0)] - 1e-12 <= lev <= grid[min(j + 1, 10)] + 1e-12
    pos = res.extras["level_assignment"]
    value = fn(levels)[np.arange(p.n), pos].sum()
    assert value == pytest.approx(res.extras["offgrid_objective"])


def test_offgrid_keeps_the_shares():
    p, fn = _bump_problem(min_share=0.3)
    res = _solve(p, profit_fn=fn)
    counts = np.bincount(res.extras["level_assignment"], minlength=res.offered.size)
    assert np.array_equal(np.sort(counts), np.sort(res.counts))


def test_offgrid_errors():
    p, fn = _bump_problem(n=50)
    with pytest.raises(OptionError, match="profit_fn"):
        _solve(p, profit_fn=lambda t: np.zeros((3, 3)))
    plain = co.CoarseProblem(np.asarray(p.profit), 3)
    with pytest.raises(OptionError, match="treatments"):
        _solve(plain, profit_fn=fn)
    with pytest.raises(OptionError, match="profit_fn"):
        _solve(p, profit_fn=3)


def test_swap_helper_on_a_hand_checked_case():
    # guards the brute-force helper used above
    profit = np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]])
    assert _swap_values(profit, [2]) == [4.0, 4.0]  # {0}: 3 + 0 + 1, {1}: 0 + 3 + 1


def test_benchmark_runner_smoke(tmp_path):
    import json

    from benchmarks import ot as bench

    assert bench.main(["--quick", "--parts", "orlib", "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "ot_quick_orlib.jsonl").read_text().splitlines()]
    assert rows[0]["part"] == "meta" and rows[0]["versions"]["numpy"] == np.__version__
    results = [r for r in rows[1:] if r["part"] == "orlib"]
    assert {r["method"] for r in results} == {"ot", "ot (bound=False)", "lloyd", "local-search"}
    for r in results:
        if r["method"] == "ot":
            assert r["gap_pct"] == pytest.approx(0.0, abs=1e-9)  # pmed1 and pmed6: published optima
    assert "| pmed1 |" in (tmp_path / "ot_quick_orlib.md").read_text()
