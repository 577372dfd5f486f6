"""One algorithm whatever the data's home: the in-memory and the chunked profit sources give
the same kernel sums, and the solvers the same answers at their default options."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import coarseopt as co  # noqa: E402
from coarseopt_solvers.kernels import ChunkedSource, InMemorySource, as_source  # noqa: E402

pytestmark = pytest.mark.timeout(600)


def curves(n: int, m: int, seed: int) -> np.ndarray:
    """Single-peaked profit curves over an ordered grid plus noise (no exact ties)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, m)
    c = rng.choice([0.15, 0.45, 0.8], n) + rng.normal(0, 0.08, n)
    a = rng.lognormal(0.0, 0.4, n)
    return a[:, None] * (1 - ((t[None, :] - c[:, None]) / 0.5) ** 2) - 0.2 * t + 0.3 * rng.standard_normal((n, m))


def f(profit: np.ndarray, offered) -> float:
    return float(profit[:, list(offered)].max(axis=1).sum())


def test_sources_give_the_same_kernel_sums():
    profit = curves(2000, 9, seed=4)
    mem = as_source(profit)
    chunked = as_source(da.from_array(profit, chunks=(333, 9)))
    assert isinstance(mem, InMemorySource) and isinstance(chunked, ChunkedSource)
    assert (mem.n, mem.m) == (chunked.n, chunked.m) == (2000, 9)
    offered = np.array([1, 4, 7])
    st_mem, st_chunked = mem.state(offered), chunked.state(offered)
    # against a direct computation of f(S)
    assert mem.total(st_mem) == pytest.approx(f(profit, offered), rel=1e-12)
    assert chunked.total(st_chunked) == pytest.approx(f(profit, offered), rel=1e-12)
    cand = np.array([0, 2, 8])
    np.testing.assert_allclose(chunked.add_gains(st_chunked, cand), mem.add_gains(st_mem[0], cand), rtol=1e-12)
    for got, want in zip(chunked.swap_terms(st_chunked, 3, None), mem.swap_terms(st_mem, 3, None)):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-9)
    # adding column 0 to {1, 4, 7} gains exactly f({0, 1, 4, 7}) - f({1, 4, 7})
    gain = mem.add_gains(st_mem[0], np.array([0]))[0]
    assert gain == pytest.approx(f(profit, [0, 1, 4, 7]) - f(profit, offered), rel=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("n", [3000, 30_000])  # the multistart on every individual / on a sample
def test_local_search_at_default_options_is_the_same_in_memory_and_chunked(n):
    """The same search, draws and answer, whether the data are in memory or chunked."""
    profit = curves(n, 10, seed=n)
    want = co.solve(co.CoarseProblem(profit, k=3), "local-search", seed=5)
    lazy = da.from_array(profit, chunks=(n // 3 + 1, 10))
    got = co.solve(co.CoarseProblem(lazy, k=3), "local-search", seed=5)
    assert got.offered.tolist() == want.offered.tolist()
    assert got.objective == pytest.approx(want.objective, rel=1e-12)
    for key in ("restarts", "relinks", "generations", "sample_size"):
        assert got.extras[key] == want.extras[key], key


def test_ot_lloyd_is_the_same_in_memory_and_chunked():
    from coarseopt_solvers.ot import lloyd

    profit = curves(3000, 12, seed=2)
    want = lloyd(profit, [0, 5, 11])
    got = lloyd(da.from_array(profit, chunks=(700, 12)), [0, 5, 11])
    assert got[0].tolist() == want[0].tolist() and got[2]["iterations"] == want[2]["iterations"]
    assert got[1] == pytest.approx(want[1], rel=1e-12)


def test_read_profit_parquet_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    profit = curves(900, 5, seed=1)
    frame = pd.DataFrame(profit, columns=[f"t{j}" for j in range(5)])
    for part, rows in enumerate(np.array_split(np.arange(900), 3)):
        frame.iloc[rows].to_parquet(tmp_path / f"part{part}.parquet")
    from coarseopt_solvers import read_profit_parquet

    arr = read_profit_parquet(tmp_path, columns=["t4", "t0"], dtype=np.float32)
    assert arr.shape == (900, 2) and arr.dtype == np.float32
    np.testing.assert_allclose(arr.compute(), profit[:, [4, 0]].astype(np.float32))
