"""``mip`` on lazy (dask) problems: the chunked preprocessing of the aggregated model gives
the in-memory prefix sets, and the solver the in-memory optimum, for every chunking; the
fallbacks (load into memory, or incumbent + Lagrangian bound) are honest."""

from __future__ import annotations

import numpy as np
import pytest

import dask.array as da
import distributed  # noqa: F401
import highspy  # noqa: F401  (required, and pinned: see pyproject.toml)

import coarseopt as co  # noqa: E402
from coarseopt_solvers.mip import _formulation as F  # noqa: E402
from coarseopt_solvers.mip import _lazy  # noqa: E402

pytestmark = pytest.mark.timeout(300)


def curves(n: int, m: int, seed: int, noise: float) -> np.ndarray:
    """Single-peaked profit curves over an ordered grid (a few customer types), plus noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, m)
    c = rng.choice([0.1, 0.35, 0.6, 0.85], n) + rng.normal(0, 0.05, n)
    a = rng.lognormal(0.0, 0.4, n)
    w = rng.uniform(0.3, 0.8, n)
    p = a[:, None] * (1 - ((t[None, :] - c[:, None]) / w[:, None]) ** 2) - 0.2 * t
    return p + noise * rng.standard_normal((n, m))


SMOOTH = curves(4000, 16, seed=1, noise=0.0)
NOISY = curves(1200, 10, seed=2, noise=0.3)
CHUNKS = {"smooth": [4000, 1000, 333], "noisy": [1200, 500, 97]}


def lazy(array: np.ndarray, rows: int):
    return da.from_array(array, chunks=(rows, array.shape[1]))


def assert_same_prefix_sets(got: F.PrefixSets, want: F.PrefixSets) -> None:
    assert got.num_nodes == want.num_nodes
    for name in ("order", "group", "level", "node_of_level", "node_rep"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    np.testing.assert_allclose(got.node_coef, want.node_coef, rtol=1e-10, atol=1e-10)
    assert got.constant == pytest.approx(want.constant, rel=1e-12)
    for key in ("individuals", "levels", "groups", "kept_levels", "nodes"):
        assert got.stats.get(key) == want.stats.get(key), key


# ---------------------------------------------------------------------- preprocessing
@pytest.mark.parametrize("data", ["smooth", "noisy"])
@pytest.mark.parametrize(("k", "allowed", "full_range"), [(3, None, False), (4, [0, 2, 3, 5, 7, 8], False),
                                                         (2, None, True)])
def test_chunked_prefix_sets_equal_the_in_memory_ones(data, k, allowed, full_range):
    profit = SMOOTH if data == "smooth" else NOISY
    allowed = None if allowed is None else np.array(allowed)
    want = F.prefix_sets(profit, k, aggregate=True, allowed=allowed, full_range=full_range)
    for rows in CHUNKS[data]:
        got = _lazy.chunked_prefix_sets(lazy(profit, rows), k, allowed=allowed, full_range=full_range)
        assert_same_prefix_sets(got, want)
    if data == "smooth":
        assert want.stats["groups"] < 200  # smooth curves compress
    elif allowed is None:
        assert want.stats["groups"] > 0.5 * profit.shape[0]  # noisy ones hardly


@pytest.mark.parametrize("data", ["smooth", "noisy"])
def test_chunked_prefix_sets_with_small_sub_blocks(monkeypatch, data):
    """Blocks sorted and grouped a few rows at a time, groupings merged inside the block."""
    monkeypatch.setattr(_lazy, "_GROUP_ELEMENTS", 500)
    profit = SMOOTH if data == "smooth" else NOISY
    want = F.prefix_sets(profit, 3, aggregate=True, allowed=np.arange(1, 10))
    for rows in CHUNKS[data]:
        got = _lazy.chunked_prefix_sets(lazy(profit, rows), 3, allowed=np.arange(1, 10))
        assert_same_prefix_sets(got, want)
    want = co.solve(co.CoarseProblem(profit, k=3), "mip", formulation="aggregated")
    got = co.solve(co.CoarseProblem(lazy(profit, CHUNKS[data][1]), k=3), "mip", formulation="aggregated")
    assert got.offered.tolist() == want.offered.tolist() and got.status == "optimal"
    assert got.objective == pytest.approx(want.objective, rel=1e-12)


@pytest.mark.parametrize("sub_block", [1 << 20, 200])
def test_chunked_prefix_sets_of_distinct_rows_keep_row_order_and_give_up_past_the_cap(monkeypatch, sub_block):
    monkeypatch.setattr(_lazy, "_GROUP_ELEMENTS", sub_block)
    profit = np.random.default_rng(0).normal(size=(300, 9))  # every top order distinct
    want = F.prefix_sets(profit, 3, aggregate=True)
    assert want.stats["groups"] == 300
    for rows in (300, 64):
        assert_same_prefix_sets(_lazy.chunked_prefix_sets(lazy(profit, rows), 3), want)
        assert _lazy.chunked_prefix_sets(lazy(profit, rows), 3, max_entries=500) is None


def test_chunked_prefix_sets_with_k_at_least_m_have_no_levels():
    got = _lazy.chunked_prefix_sets(lazy(SMOOTH[:100], 30), 20)
    assert got.num_nodes == 0 and got.R == 0
    assert got.constant == pytest.approx(SMOOTH[:100].max(axis=1).sum(), rel=1e-12)


# ---------------------------------------------------------------------- the solver
CASES = [
    ("smooth", 4, {}),
    ("smooth", 3, {"forbidden": [4, 9]}),
    ("smooth", 4, {"forced": [0], "forbidden": [7]}),
    ("smooth", 3, {"exclusive": [(5, 6)], "warm_start": True}),
    ("noisy", 3, {"formulation": "aggregated"}),
    ("noisy", 3, {"formulation": "aggregated", "forbidden": [2], "forced": [9]}),
]


@pytest.mark.parametrize(("data", "k", "options"), CASES)
def test_lazy_mip_equals_in_memory(data, k, options):
    profit = SMOOTH if data == "smooth" else NOISY
    want = co.solve(co.CoarseProblem(profit, k=k), "mip", **options)
    assert want.status == "optimal"
    # The in-memory prefix sets of the same model (forbidden columns out; every level when
    # exclusive pairs may leave fewer than k offered): the chunked count must match.
    allowed = np.setdiff1d(np.arange(profit.shape[1]), options.get("forbidden", []))
    sets = F.prefix_sets(profit, k, aggregate=True, allowed=allowed, full_range="exclusive" in options)
    for rows in CHUNKS[data]:
        got = co.solve(co.CoarseProblem(lazy(profit, rows), k=k), "mip", **options)
        assert got.extras["lazy"] == "chunked preprocessing"
        assert got.extras["formulation"] == want.extras["formulation"]  # the same model as in memory
        assert got.status == "optimal", rows
        assert got.offered.tolist() == want.offered.tolist(), rows
        assert got.objective == pytest.approx(want.objective, rel=1e-12)
        assert got.bound == pytest.approx(want.bound, rel=1e-9)
        np.testing.assert_array_equal(got.assignment, want.assignment)
        assert got.extras["distinct_prefix_sets"] == sets.num_nodes
        assert got.extras["model"]["nonzeros"] == want.extras["model"]["nonzeros"]


def test_lazy_mip_against_exhaustive_search():
    """Independent of the mip code: the best offered set over all subsets."""
    from itertools import combinations

    profit = NOISY[:, :8]
    best = max(profit[:, list(s)].max(axis=1).sum() for s in combinations(range(8), 3))
    got = co.solve(co.CoarseProblem(lazy(profit, 250), k=3), "mip", formulation="aggregated")
    assert got.status == "optimal"
    assert got.objective == pytest.approx(best, rel=1e-12)


def test_lazy_mip_in_units_of_large_offsets():
    profit = 1e6 * SMOOTH[:1500] + 3e8
    want = co.solve(co.CoarseProblem(profit, k=3), "mip")
    got = co.solve(co.CoarseProblem(lazy(profit, 400), k=3), "mip")
    assert got.offered.tolist() == want.offered.tolist() and got.status == "optimal"
    assert got.objective == pytest.approx(want.objective, rel=1e-13)


def test_lazy_mip_auto_loads_a_noisy_matrix_that_fits():
    """auto with more than AUTO_NODE_LIMIT prefix sets: the in-memory choice (Benders)."""
    profit = curves(1000, 20, seed=4, noise=0.5)
    want = co.solve(co.CoarseProblem(profit, k=4), "mip")
    got = co.solve(co.CoarseProblem(lazy(profit, 500), k=4), "mip")
    assert got.extras["lazy"].startswith("loaded into memory")
    assert want.extras["formulation"] == got.extras["formulation"]  # the in-memory choice
    assert got.offered.tolist() == want.offered.tolist() and got.status == "optimal"


def test_lazy_mip_fallback_without_memory_is_honest(monkeypatch):
    """No compression and no room: the chunked incumbent and a valid Lagrangian bound."""
    from itertools import combinations

    monkeypatch.setattr(_lazy, "LAZY_GROUP_ENTRIES", 1000)
    monkeypatch.setattr(_lazy, "_fits", lambda problem: False)
    profit = NOISY[:, :8]
    best = max(profit[:, list(s)].max(axis=1).sum() for s in combinations(range(8), 3))
    got = co.solve(co.CoarseProblem(lazy(profit, 300), k=3), "mip")
    assert "does not compress" in got.extras["lazy_fallback"]
    assert got.status in ("feasible", "optimal")
    assert got.objective <= best + 1e-9 and got.bound >= best - 1e-9 * best
    if got.status == "optimal":  # only when the bound proves it
        assert got.bound - got.objective <= 1e-6 * abs(got.bound)
    # the rules on the offered set are kept by the fallback's incumbent
    ruled = co.solve(co.CoarseProblem(lazy(profit, 300), k=3), "mip", forced=[1], exclusive=[(2, 3)])
    assert 1 in ruled.offered.tolist() and not {2, 3} <= set(ruled.offered.tolist())
    assert ruled.bound >= ruled.objective


def test_lazy_mip_fallback_loads_when_it_fits(monkeypatch):
    monkeypatch.setattr(_lazy, "LAZY_GROUP_ENTRIES", 1000)
    want = co.solve(co.CoarseProblem(NOISY, k=3), "mip")
    got = co.solve(co.CoarseProblem(lazy(NOISY, 300), k=3), "mip")
    assert got.extras["lazy"].startswith("loaded into memory: the aggregation does not compress")
    assert got.offered.tolist() == want.offered.tolist() and got.status == want.status == "optimal"


def test_lazy_mip_assignment_constraints_load_or_refuse(monkeypatch):
    problem = co.CoarseProblem(lazy(SMOOTH[:400], 100), k=3, min_share=0.1)
    want = co.solve(co.CoarseProblem(SMOOTH[:400], k=3, min_share=0.1), "mip")
    got = co.solve(problem, "mip")
    assert got.extras["lazy"].startswith("loaded into memory: 400 groups of identical individuals do not halve")
    assert got.offered.tolist() == want.offered.tolist()
    np.testing.assert_array_equal(got.assignment, want.assignment)
    monkeypatch.setattr(_lazy, "_fits", lambda problem: False)
    with pytest.raises(co.UnsupportedProblemError, match="share bounds"):
        co.solve(problem, "mip")
    with pytest.raises(co.UnsupportedProblemError, match="a budget"):
        co.solve(co.CoarseProblem(lazy(SMOOTH[:400], 100), k=3, cost=np.ones(16), budget=1000.0), "mip")


def test_lazy_mip_time_limit_returns_a_solution():
    got = co.solve(co.CoarseProblem(lazy(NOISY, 300), k=3), "mip", formulation="aggregated", time_limit=0.05)
    assert got.has_solution and got.status in ("optimal", "feasible", "time_limit")
    assert got.bound is None or got.bound >= got.objective - 1e-9 * abs(got.objective)


def test_lazy_mip_infeasible_rules():
    got = co.solve(co.CoarseProblem(lazy(SMOOTH[:500], 100), k=2), "mip", forced=[0, 1, 2])
    assert got.status == "infeasible"


# ---------------------------------------------------------------------- on a cluster
@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_lazy_mip_on_a_local_cluster_equals_in_memory(client):
    want = co.solve(co.CoarseProblem(SMOOTH, k=4), "mip", forbidden=[3])
    want_prefix = F.prefix_sets(SMOOTH, 3, aggregate=True)
    for rows in (1000, 333):
        arr = lazy(SMOOTH, rows).persist()  # the blocks live on the workers
        assert_same_prefix_sets(_lazy.chunked_prefix_sets(arr, 3), want_prefix)
        got = co.solve(co.CoarseProblem(arr, k=4), "mip", forbidden=[3])
        assert got.extras["lazy"] == "chunked preprocessing" and got.status == "optimal"
        assert got.offered.tolist() == want.offered.tolist()
        assert got.objective == pytest.approx(want.objective, rel=1e-12)
