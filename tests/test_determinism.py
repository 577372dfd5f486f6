"""Determinism and time limits.

- The same inputs and seed give the same result: twice in one process, in a fresh
  interpreter with another hash seed, and (lazy problems) for every chunking, scheduler and
  worker count (worker processes of a LocalCluster: ``test_dask.py``).
- Every available solver given ``time_limit=1`` on a larger instance comes back with a
  solution (or a clear refusal); how long it took is measured by
  ``python -m benchmarks.dask_scale --sections time-limits``, not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dask.array as da
import numpy as np
import pytest

import coarseopt as co
from coarseopt.exceptions import CoarseoptError

SOLVERS = co.available_solvers()
ROOT = Path(__file__).resolve().parents[1]


def instance(n: int = 600, m: int = 10, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, m)
    c = rng.choice([0.1, 0.4, 0.75], n) + rng.normal(0, 0.1, n)
    return (1 - ((t[None, :] - c[:, None]) / 0.6) ** 2) * rng.lognormal(0, 0.3, n)[:, None] + 0.3 * rng.standard_normal((n, m))


def make_problem(profit: np.ndarray, k: int = 3) -> co.CoarseProblem:
    return co.CoarseProblem(profit, k=k, features=profit[:, :2], arms=list(range(0, profit.shape[1], 3)))


def _fingerprint(result) -> dict:
    return dict(
        status=result.status, offered=result.offered.tolist(), objective=result.objective,
        assignment_hash=int(np.asarray(result.assignment, dtype=np.int64) @ np.arange(1, result.assignment.size + 1)),
    )


def _run(name: str, problem: co.CoarseProblem, seed: int = 5):
    try:
        return co.solve(problem, solver=name, seed=seed, progress=False)
    except CoarseoptError as exc:
        return exc


@pytest.mark.parametrize("solver", SOLVERS)
def test_same_seed_same_result_in_one_process(solver):
    problem = make_problem(instance())
    a, b = _run(solver, problem), _run(solver, problem)
    if isinstance(a, Exception):
        assert type(a) is type(b) and str(a) == str(b)
        return
    assert _fingerprint(a) == _fingerprint(b)
    np.testing.assert_array_equal(a.assignment, b.assignment)
    assert a.bound == b.bound


def test_same_seed_same_result_in_a_fresh_interpreter():
    """No dependence on hash randomization, import order or process state."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        import coarseopt as co
        from test_determinism import instance, make_problem, _fingerprint, _run
        problem = make_problem(instance())
        out = {{}}
        for name in {SOLVERS!r}:
            r = _run(name, problem)
            out[name] = repr(r) if isinstance(r, Exception) else _fingerprint(r)
        print(json.dumps(out))
        """
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    other = json.loads(proc.stdout.strip().splitlines()[-1])
    problem = make_problem(instance())
    for name in SOLVERS:
        r = _run(name, problem)
        here = repr(r) if isinstance(r, Exception) else _fingerprint(r)
        assert other[name] == json.loads(json.dumps(here)), name


@pytest.mark.parametrize("seed", [0, 1])
def test_different_seeds_still_give_valid_results(seed):
    problem = make_problem(instance())
    best = co.solve(problem, solver="mip" if "mip" in SOLVERS else "enumerate").objective
    for name in ("local-search", "ot"):
        if name in SOLVERS:
            r = co.solve(problem, solver=name, seed=seed)
            assert r.objective <= best + 1e-9 * abs(best)
            assert r.objective >= 0.95 * best


# ---------------------------------------------------------------------- lazy problems


@pytest.mark.parametrize("scheduler", ["synchronous", "threads-1", "threads-2", "threads-4"])
def test_lazy_results_do_not_depend_on_chunking_or_workers(scheduler):
    import dask

    from coarseopt_solvers.bounds import chunked as _chunked
    from coarseopt_solvers.local_search import swap_local_search
    from coarseopt_solvers.ot import lloyd

    profit = instance(2400, 12, seed=3)
    name, _, workers = scheduler.partition("-")
    config = {"scheduler": name}
    if workers:
        config["num_workers"] = int(workers)
    ref_ls = None
    ref_lloyd = None
    ref_bound = None
    with dask.config.set(config):
        for rows in (2400, 1000, 333):
            lazy = da.from_array(profit, chunks=(rows, 12))
            swap = swap_local_search(lazy, 4)
            alternation = lloyd(lazy, [0, 4, 8, 11])
            bound = _chunked.chunked_lagrangian_bound(lazy, 3, max_iter=5).bound
            if ref_ls is None:
                ref_ls, ref_lloyd, ref_bound = swap, alternation, bound
            assert swap[0].tolist() == ref_ls[0].tolist()
            assert swap[1] == pytest.approx(ref_ls[1], rel=1e-13)
            assert alternation[0].tolist() == ref_lloyd[0].tolist()
            assert bound == pytest.approx(ref_bound, rel=1e-9)
    # and the same answers as in memory
    assert ref_ls[0].tolist() == swap_local_search(profit, 4)[0].tolist()


def test_lazy_co_solve_is_repeatable():
    profit = instance(2000, 10, seed=8)
    results = []
    for rows in (2000, 650):
        problem = co.CoarseProblem(da.from_array(profit, chunks=(rows, 10)), k=3)
        results.append(co.solve(problem, solver="local-search", seed=4))
    eager = co.solve(co.CoarseProblem(profit, k=3), solver="local-search", seed=4)
    for r in results:
        assert r.offered.tolist() == eager.offered.tolist()
        np.testing.assert_array_equal(r.assignment, eager.assignment)


# ---------------------------------------------------------------------- time limits
@pytest.fixture(scope="module")
def larger_problem():
    profit = instance(12_000, 40, seed=21)
    return co.CoarseProblem(profit, k=6, features=profit[:, :3], arms=list(range(0, 40, 4)))


@pytest.mark.parametrize("solver", SOLVERS)
def test_time_limit_returns_the_best_incumbent(solver, larger_problem):
    try:
        result = co.solve(larger_problem, solver=solver, time_limit=1.0, seed=0, progress=False)
    except CoarseoptError as exc:  # e.g. enumerate refusing C(40, 6) sets: a clear, immediate refusal
        assert "\n" not in str(exc).strip()
        assert not isinstance(exc, co.SolverError)
        return
    assert result.status in ("optimal", "feasible", "time_limit")
    assert result.has_solution
    assert result.offered.size <= 6
    assert result.objective == pytest.approx(larger_problem.objective(result.assignment), rel=1e-12)
    if result.bound is not None:
        assert result.bound >= result.objective - 1e-6 * abs(result.objective)
