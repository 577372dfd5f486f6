"""Lazy (dask) problems: map-reduce passes on a LocalCluster of worker processes and on the
threaded scheduler give the in-memory answers, for every chunking and worker count."""

from __future__ import annotations

import numpy as np
import pytest

import dask.array as da
import distributed  # noqa: F401  (a required dependency: the LocalCluster tests use it)

import coarseopt as co  # noqa: E402
from coarseopt.solver import SolveContext  # noqa: E402
from coarseopt_solvers.bounds import chunked as _chunked  # noqa: E402
from coarseopt_solvers.bounds import lagrangian_value  # noqa: E402
from coarseopt_solvers.heuristics.lloyd import segment_column_sums  # noqa: E402
from coarseopt_solvers.heuristics.swap import search  # noqa: E402
from coarseopt_solvers.kernels import read_profit_parquet  # noqa: E402
from coarseopt_solvers.ot import lloyd  # noqa: E402
from coarseopt_solvers.local_search import LocalSearchSolver, swap_local_search  # noqa: E402

pytestmark = pytest.mark.timeout(300)


def curves(n: int, m: int, seed: int, noise: float = 0.3) -> np.ndarray:
    """Single-peaked profit curves over an ordered grid plus noise (no exact ties)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, m)
    c = rng.choice([0.15, 0.45, 0.8], n) + rng.normal(0, 0.08, n)
    a = rng.lognormal(0.0, 0.4, n)
    return a[:, None] * (1 - ((t[None, :] - c[:, None]) / 0.5) ** 2) - 0.2 * t + noise * rng.standard_normal((n, m))


def lazy(array: np.ndarray, rows: int):
    """A dask array held by the workers (as data read from files would be), so that a pass
    ships only the small per-block results, not the test's matrix."""
    return da.from_array(array, chunks=(rows, array.shape[1])).persist()


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def profit() -> np.ndarray:
    return curves(3000, 12, seed=1)


CHUNKS = [3000, 777, 250]


# ---------------------------------------------------------------------- local search
@pytest.mark.parametrize("k", [1, 3, 5])
def test_chunked_swap_search_equals_in_memory_on_a_cluster(client, profit, k):
    want, want_value = swap_local_search(profit, k)
    for rows in CHUNKS:
        got, value = swap_local_search(lazy(profit, rows), k)
        assert got.tolist() == want.tolist(), rows
        assert value == pytest.approx(want_value, rel=1e-12)


def test_chunked_swap_search_from_a_warm_start(client, profit):
    want, _ = swap_local_search(profit, 4, offered=[0, 11])
    got, _ = swap_local_search(lazy(profit, 500), 4, offered=[0, 11])
    assert got.tolist() == want.tolist()


def _lazy_local_search(profit, chunks, k, seed, **options):
    problem = co.CoarseProblem(lazy(profit, chunks), k=k)
    solver = LocalSearchSolver(**options)
    sol = search(problem, SolveContext(None, seed, False), solver.params, None)
    return problem, sol


@pytest.mark.parametrize("seed", [0, 7])
def test_lazy_local_search_solver_equals_in_memory(client, seed):
    # n larger than the sample size: the multistart runs on the same random sample of rows
    profit = curves(4000, 10, seed=3)
    want = co.solve(co.CoarseProblem(profit, k=3), "local-search", seed=seed, sample_size=1500, restarts=4)
    for rows in (4000, 999):
        problem, sol = _lazy_local_search(profit, rows, 3, seed, sample_size=1500, restarts=4)
        assert np.sort(sol.offered).tolist() == want.offered.tolist()
        assert sol.status == "feasible" and sol.bound >= want.objective - 1e-9


def test_co_solve_on_a_lazy_problem_matches_in_memory(client, profit):
    problem = co.CoarseProblem(lazy(profit, 700), k=4)
    eager = co.CoarseProblem(profit, k=4)
    for name, options in [("local-search", {}), ("enumerate", {}), ("ot", {"bound_iter": 10})]:
        got = co.solve(problem, name, seed=3, **options)
        want = co.solve(eager, name, seed=3, **options)
        assert got.offered.tolist() == want.offered.tolist(), name
        np.testing.assert_array_equal(got.assignment, want.assignment)
        assert got.objective == pytest.approx(want.objective, rel=1e-12)


# ---------------------------------------------------------------------- Lloyd / OT pass
@pytest.mark.parametrize("start", [[0, 5, 11], [2, 3], [0, 1, 2, 3, 4]])
def test_chunked_lloyd_equals_the_in_memory_alternation(client, profit, start):

    want, want_value, want_info = lloyd(profit, start)
    for rows in CHUNKS:
        got, value, info = lloyd(lazy(profit, rows), start)
        assert got.tolist() == want.tolist(), rows
        assert value == pytest.approx(want_value, rel=1e-12)
        assert info == want_info


def test_chunked_lloyd_reseeds_an_empty_segment_like_in_memory(client, profit):

    dominated = np.hstack([profit, profit.min(axis=1, keepdims=True) - 1.0])  # column 12 serves nobody
    want = lloyd(dominated, [3, 12])
    got = lloyd(lazy(dominated, 500), [3, 12])
    assert got[2]["reseeded"] == want[2]["reseeded"] >= 1
    assert got[0].tolist() == want[0].tolist()


@pytest.mark.parametrize(("n", "sample_size"), [(3000, 20000), (6000, 1500)])
def test_lazy_ot_equals_in_memory(client, n, sample_size):
    data = curves(n, 12, seed=2)
    options = dict(sample_size=sample_size, restarts=6, bound_iter=10)
    want = co.solve(co.CoarseProblem(data, k=4), "ot", seed=3, **options)
    got = co.solve(co.CoarseProblem(lazy(data, 900), k=4), "ot", seed=3, **options)
    assert got.offered.tolist() == want.offered.tolist()
    np.testing.assert_array_equal(got.assignment, want.assignment)
    assert got.bound >= want.objective - 1e-9 * abs(want.objective)


def test_segment_column_sums(client, profit):
    offered = [1, 6, 9]
    sums, counts, total = segment_column_sums(lazy(profit, 450), offered)
    pos = profit[:, offered].argmax(axis=1)
    for r in range(3):
        np.testing.assert_allclose(sums[r], profit[pos == r].sum(axis=0), rtol=1e-12, atol=1e-9)
    assert counts.tolist() == np.bincount(pos, minlength=3).tolist()
    assert total == pytest.approx(profit[:, offered].max(axis=1).sum(), rel=1e-12)


# ---------------------------------------------------------------------- Lagrangian bound
def test_chunked_bound_is_valid_certified_and_chunking_invariant(client):
    profit = curves(1500, 8, seed=5, noise=0.5)
    from itertools import combinations

    for k in (1, 2, 3):
        best = max(profit[:, list(s)].max(axis=1).sum() for s in combinations(range(8), k))
        values = []
        for rows in (1500, 400):
            res = _chunked.chunked_lagrangian_bound(lazy(profit, rows), k, max_iter=8)
            assert res.bound >= best - 1e-9
            u = res.multipliers.compute()
            assert u.shape == (1500,)
            assert lagrangian_value(profit, k, u) <= res.bound + 1e-9 * abs(res.bound)  # certified
            values.append(res.bound)
        assert values[0] == pytest.approx(values[1], rel=1e-9)


def test_chunked_bound_with_k_at_least_m_is_the_full_profit(client, profit):
    res = _chunked.chunked_lagrangian_bound(lazy(profit, 1000), 20)
    assert res.bound == pytest.approx(profit.max(axis=1).sum(), rel=1e-12)


def test_chunked_bound_value_of_given_prices(client, profit):
    y = np.zeros(12)
    y[[2, 7]] = 1.0
    arr = lazy(profit, 800)
    value = _chunked.chunked_lagrangian_value(arr, 2, y)
    assert value >= profit[:, [2, 7]].max(axis=1).sum() - 1e-9  # G(y) at an offered set is its objective
    with pytest.raises(ValueError, match="'y'"):
        _chunked.chunked_lagrangian_value(arr, 2, np.zeros(12))


# ---------------------------------------------------------------------- inputs
def test_float32_storage_gives_the_float32_answer(client, profit):
    p32 = profit.astype(np.float32)
    problem = co.CoarseProblem(lazy(p32, 500), k=3)
    assert problem.profit.dtype == np.float32 and problem.is_lazy
    got, _ = swap_local_search(problem.profit, 3)
    want, _ = swap_local_search(p32.astype(np.float64), 3)
    assert got.tolist() == want.tolist()


def test_parquet_dataset_read_lazily(client, profit, tmp_path):
    import pandas as pd

    frame = pd.DataFrame(profit, columns=[f"t{j}" for j in range(12)])
    for part, rows in enumerate(np.array_split(np.arange(3000), 3)):
        frame.iloc[rows].to_parquet(tmp_path / f"part{part}.parquet")
    arr = read_profit_parquet(tmp_path, columns=list(frame.columns))
    problem = co.CoarseProblem(arr, k=3)
    assert problem.is_lazy and problem.n == 3000
    got, _ = swap_local_search(problem.profit, 3)
    assert got.tolist() == swap_local_search(profit, 3)[0].tolist()


def test_lazy_validation_finds_bad_values_and_odd_chunks(client):
    bad = np.ones((100, 4))
    bad[77, 2] = np.nan
    with pytest.raises(co.ProblemError, match="finite"):
        co.CoarseProblem(lazy(bad, 30), k=2)
    with pytest.raises(co.ProblemError, match="too large"):
        co.CoarseProblem(da.from_array(np.full((10, 2), 1e300), chunks=(5, 2)), k=1)
    odd = co.CoarseProblem(da.from_array(np.arange(40.0).reshape(10, 4), chunks=(3, 2)), k=2)
    assert len(odd.profit.chunks[1]) == 1  # whole rows per block
    assert co.solve(odd, "local-search").offered.tolist() == [3]


def test_dask_scale_benchmark_smoke(tmp_path):
    """The out-of-core benchmark's pieces on a tiny instance (its full run is not a test)."""
    from benchmarks import dask_scale

    files = dask_scale.write_instance(tmp_path / "inst", 3000, 8)
    rows = []
    for kind in ("lazy", "memory"):
        spec = dict(section="scale", kind=kind, n=3000, m=8, k=3, files=[str(f) for f in files])
        rows.append(dask_scale.measure(spec))
    lazy_row, memory_row = rows
    assert lazy_row["path"] == "map-reduce" and memory_row["path"] == "in-process"
    assert lazy_row["offered"] == memory_row["offered"]
    assert lazy_row["objective"] == pytest.approx(memory_row["objective"], rel=1e-12)
    text = dask_scale.report(rows, dask_scale.machine())
    assert "same offered set: True" in text
