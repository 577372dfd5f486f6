"""The bound by column generation and the treatment elimination, against brute force."""

from itertools import combinations

import numpy as np
import pytest

import coarseopt as co
from coarseopt_solvers.bounds import columns
from coarseopt_solvers.bounds.columns import column_generation_bound, lagrangian_fixing, lagrangian_value_and_rho
from coarseopt_solvers.mip import _policy


def _all_values(P, k):
    """Every offered set of exactly ``k`` columns (sets of fewer are never better) and its value."""
    sets = list(combinations(range(P.shape[1]), k))
    values = np.array([P[:, list(s)].max(axis=1).sum() for s in sets])
    return sets, values


def _grid_profit(rng, n, arms, m):
    """Outcomes at a few arms interpolated to ``m`` levels, times a falling margin: low rank."""
    levels = np.linspace(0, 1, arms)
    grid = np.linspace(0, 1, m)
    y = np.cumsum(rng.gamma(1.0, 1.0, (n, arms)) * rng.uniform(0, 1, (n, 1)), axis=1)
    outcome = np.stack([np.interp(grid, levels, row) for row in y])
    return (1.2 - grid) * outcome - y[:, :1]


def _instances():
    rng = np.random.default_rng(7)
    for case in range(24):
        n, m = int(rng.integers(15, 40)), int(rng.integers(7, 12))
        k = int(rng.integers(1, 4))
        kind = ("grid", "low rank", "full rank", "ties")[case % 4]
        if kind == "grid":
            P = _grid_profit(rng, n, 3, m)
        elif kind == "low rank":
            P = rng.normal(size=(n, 2)) @ rng.normal(size=(2, m))
        elif kind == "full rank":
            P = rng.exponential(1.0, (n, m))
        else:
            P = rng.integers(0, 4, (n, m)).astype(float)
        yield pytest.param(P, k, id=f"{kind}-{case}")


@pytest.mark.parametrize("sampled", [False, True, "loose"],
                         ids=["", "started on a sample", "started on a sample, a loose target gap"])
@pytest.mark.parametrize("P,k", list(_instances()))
def test_elimination_keeps_every_treatment_of_every_optimal_set(P, k, sampled, monkeypatch):
    if sampled:  # the restricted problem's treatments first found on a third of the rows
        monkeypatch.setattr(columns, "SAMPLE_FROM", 10)
        monkeypatch.setattr(columns, "SAMPLE_ROWS", P.shape[0] // 3)
    # a loose target: the sample's multipliers carried to every row may meet it with no round
    target = 0.05 if sampled == "loose" else None
    sets, values = _all_values(P, k)
    best = values.max()
    rng = np.random.default_rng(0)
    # from the optimum itself, from a good set and from a poor one
    starts = [sets[int(values.argmax())], sets[int(np.argsort(values)[-2])], sets[int(rng.integers(len(sets)))]]
    for start in starts:
        value = float(P[:, list(start)].max(axis=1).sum())
        cb = column_generation_bound(P, k, list(start), target_gap=target)
        assert cb.bound >= best - 1e-9 * max(1.0, abs(best))
        out, into = lagrangian_fixing(cb.bound, cb.rho, k, value)
        # the fixing of the best multipliers, and the union over every round's multipliers
        assert set(out.tolist()) <= set(cb.fixed_out.tolist()) and set(into.tolist()) <= set(cb.fixed_in.tolist())
        for out, into in ((out, into), (cb.fixed_out, cb.fixed_in)):
            kept = set(range(P.shape[1])) - set(out.tolist())
            assert set(start) <= kept
            for s, v in zip(sets, values):
                if v >= best - 1e-9 * max(1.0, abs(best)):
                    assert set(s) <= kept, f"an optimal set {s} lost a treatment; kept {sorted(kept)}"
                if v > value + 1e-9 * max(1.0, abs(value)):  # every better set offers the columns fixed to 1
                    assert set(into.tolist()) <= set(s)


def test_elimination_removes_what_no_good_set_uses():
    rng = np.random.default_rng(3)
    P = _grid_profit(rng, 400, 4, 81)
    res = co.solve(co.CoarseProblem(P, k=3), "local-search", seed=0)
    cb = column_generation_bound(P, 3, res.offered)
    out, _ = lagrangian_fixing(cb.bound, cb.rho, 3, res.objective)
    assert out.size > 41  # the fine grid collapses to the neighbourhood of the offered levels
    assert cb.termination in ("converged", "target_gap")
    assert cb.columns.size < 81


@pytest.mark.parametrize("stage_gap", [1e-5, 1e-2], ids=["default stages", "coarse stages"])
@pytest.mark.parametrize("seed", range(4))
def test_mip_with_the_elimination_equals_brute_force(seed, stage_gap, monkeypatch):
    from coarseopt_solvers.mip import _solver

    rng = np.random.default_rng(seed)
    if seed < 2:
        P = _grid_profit(rng, 2100, 3, 36) if seed == 0 else rng.exponential(1.0, (2100, 36))
    else:  # a grid with noise: the bound needs rounds, and the coarse stages eliminate in steps
        P = _grid_profit(rng, 2100, 3, 36)
        P = P + rng.normal(0, 0.02 * P.std(), P.shape)
    k = 3 if seed > 0 else 2
    _, values = _all_values(P, k)
    monkeypatch.setattr(_policy, "ELIMINATION_MIN_ELEMENTS", 0)  # ``auto`` eliminates on this size
    monkeypatch.setattr(columns, "MIN_COLUMNS", 12)
    monkeypatch.setattr(_solver, "STAGE_GAP", stage_gap)  # coarse: several stages, each a looser bound
    res = co.solve(co.CoarseProblem(P, k=k), "mip", seed=0)
    assert res.extras.get("treatments_kept") is not None  # the elimination ran
    assert res.status == "optimal"
    assert res.objective == pytest.approx(values.max(), rel=1e-9)
    if stage_gap > 1e-3 and seed >= 2:
        assert res.extras["column_generation_stages"] >= 2


def test_a_large_row_offset_costs_the_elimination_no_precision(monkeypatch):
    """Each row plus its own large offset: the elimination runs on the profits as given, its
    accuracy stated net of the offsets (``unit``): the bound of the shifted matrix plus the
    offsets, and the optimum of brute force."""
    rng = np.random.default_rng(3)
    P = _grid_profit(rng, 2100, 3, 36)
    P = P + rng.normal(0, 0.02 * P.std(), P.shape)
    offset = rng.uniform(1e5, 2e5, (P.shape[0], 1))
    Q = P + offset
    k = 3
    _, values = _all_values(P, k)
    monkeypatch.setattr(_policy, "ELIMINATION_MIN_ELEMENTS", 0)
    monkeypatch.setattr(columns, "MIN_COLUMNS", 12)
    res = co.solve(co.CoarseProblem(Q, k=k), "mip", seed=0)
    assert res.extras.get("treatments_kept") is not None
    assert res.status == "optimal"
    assert res.objective == pytest.approx(values.max() + offset.sum(), rel=1e-12)
    start = co.solve(co.CoarseProblem(P, k=k), "local-search", seed=0)
    regret = P.max(axis=1).sum() - start.objective
    shifted = column_generation_bound(P - P.max(axis=1, keepdims=True), k, start.offered, tol=1e-9)
    given = column_generation_bound(Q, k, start.offered, tol=1e-9, unit=regret)
    net = shifted.bound + Q.max(axis=1).sum()
    assert given.bound >= res.objective - 1e-9 * abs(res.objective)
    assert given.bound - net == pytest.approx(0.0, abs=1e-6 * regret)
    with pytest.raises(ValueError, match="'unit'"):
        column_generation_bound(Q, k, start.offered, unit=0.0)


@pytest.mark.parametrize("warm", [False, True, "sampled"],
                         ids=["cold", "warm-started from a rough bound", "started on a sample of the rows"])
def test_column_generation_bound_meets_the_lp_bound_of_the_whole_problem(warm, monkeypatch):
    from coarseopt_solvers.bounds import columns as cg
    from coarseopt_solvers.bounds import lagrangian_bound

    calls = []
    if warm == "sampled":
        monkeypatch.setattr(cg, "SAMPLE_ROWS", 60)
        monkeypatch.setattr(cg, "SAMPLE_FROM", 200)
        sample_start = cg._sample_start
        monkeypatch.setattr(cg, "_sample_start", lambda *a: calls.append(a[0].shape) or sample_start(*a))
        warm = False
    rng = np.random.default_rng(11)
    P = _grid_profit(rng, 300, 3, 60)
    res = co.solve(co.CoarseProblem(P, k=4), "local-search", seed=0)
    full = lagrangian_bound(P, 4, incumbent=res.offered, tol=1e-9)
    start = {}
    if warm:
        rough = column_generation_bound(P, 4, res.offered, target_gap=1e-2)
        start = {"u0": rough.multipliers, "columns": rough.columns}
    cb = column_generation_bound(P, 4, res.offered, tol=1e-9, **start)
    assert cb.bound >= res.objective - 1e-9
    assert cb.bound <= full.bound + 1e-6 * abs(full.bound)
    if warm:
        assert np.isin(start["columns"], cb.columns).all()
    if cg.SAMPLE_FROM == 200:  # the start was found on a sample of the rows, once
        assert calls == [(300, 60)]


@pytest.mark.parametrize("sampled", [False, True], ids=["", "started on a sample"])
def test_a_bound_on_kept_columns_is_the_bound_of_their_copy(sampled, monkeypatch):
    """``kept`` restricts the problem to some columns without copying them: the bound, the
    fixings and every index refer to positions among the kept columns, the bound is valid
    for the restricted problem (enumeration) and its rho is that of the copy."""
    if sampled:
        monkeypatch.setattr(columns, "SAMPLE_FROM", 300)
        monkeypatch.setattr(columns, "SAMPLE_ROWS", 100)
    rng = np.random.default_rng(9)
    P = _grid_profit(rng, 400, 3, 40)
    kept = np.sort(rng.choice(40, 14, replace=False))
    k = 3
    sub = np.ascontiguousarray(P[:, kept])
    sets, values = _all_values(sub, k)
    start = list(sets[int(np.argsort(values)[-3])])
    value = float(sub[:, start].max(axis=1).sum())
    for target in (None, 1e-3):
        cb = column_generation_bound(P, k, start, kept=kept, target_gap=target)
        assert cb.bound >= values.max() - 1e-9 * abs(values.max())
        assert cb.rho.shape == (14,) and cb.columns.max() < 14 and cb.prices.shape == (14,)
        _, rho = lagrangian_value_and_rho(sub, k, cb.multipliers)
        np.testing.assert_allclose(cb.rho, rho, rtol=1e-12)
        copy = column_generation_bound(sub, k, start, target_gap=target)
        assert cb.bound == pytest.approx(copy.bound, rel=1e-6)
        for s, v in zip(sets, values):
            if v >= values.max() - 1e-9 * abs(values.max()):
                assert not set(s) & set(cb.fixed_out.tolist())
            if v > value + 1e-9 * abs(value):
                assert set(cb.fixed_in.tolist()) <= set(s)
    with pytest.raises(ValueError, match="'kept'"):
        column_generation_bound(P, k, start, kept=[3, 40])


def test_a_carried_start_that_meets_the_target_needs_no_round(monkeypatch):
    """From a sample of the rows, the multipliers carried to every row give a bound (computed
    on every row) that meets a loose target (as they do on held-out rows): returned with no
    round on all rows, valid (at least the optimum found by enumeration), with valid
    fixings; a tight target runs rounds."""
    from coarseopt_solvers.bounds import columns as cg

    monkeypatch.setattr(cg, "SAMPLE_ROWS", 200)
    monkeypatch.setattr(cg, "SAMPLE_FROM", 600)
    rng = np.random.default_rng(4)
    P = _grid_profit(rng, 2_000, 3, 90)
    k = 3
    sets, values = _all_values(P, k)
    best_set = sets[int(values.argmax())]
    res = co.solve(co.CoarseProblem(P, k=k), "local-search", seed=0)
    loose = column_generation_bound(P, k, res.offered, target_gap=3e-2)
    assert loose.rounds == 0 and loose.termination == "target_gap"
    assert values.max() <= loose.bound <= res.objective + 3e-2 * abs(loose.bound)
    assert not set(best_set) & set(loose.fixed_out.tolist())
    tight = column_generation_bound(P, k, res.offered, target_gap=1e-9)
    assert tight.rounds >= 1 and values.max() <= tight.bound <= loose.bound


def test_a_bad_warm_start_is_refused():
    P = _grid_profit(np.random.default_rng(12), 50, 3, 60)
    with pytest.raises(ValueError, match="'u0'"):
        column_generation_bound(P, 4, [0, 20], u0=np.zeros(5))
    with pytest.raises(ValueError, match="'columns'"):
        column_generation_bound(P, 4, [0, 20], columns=[60])


def test_a_passed_deadline_still_gives_a_valid_bound():
    rng = np.random.default_rng(5)
    P = rng.exponential(1.0, (200, 40))
    _, values = _all_values(P, 2)
    cb = column_generation_bound(P, 2, [0, 1], deadline=0.0)
    assert cb.termination == "time_limit"
    assert cb.bound >= values.max() - 1e-9
