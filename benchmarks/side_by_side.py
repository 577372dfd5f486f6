"""Time two checkouts of coarseopt side by side on the solver cases the recorded benchmarks
report: a refactoring keeps every solver time within 10% and every objective unchanged.

Run from the repository root, with a second checkout of the older commit::

    git worktree add ../coarseopt-base <older commit>
    python -m benchmarks.side_by_side --base ../coarseopt-base --out benchmarks/results/side_by_side

Each case runs in a fresh process, alternately on the older checkout and on this one
(``--repeat`` times each), so that both see the same machine load; the table reports the
median wall time of each, the ratio of the medians and of the fastest runs (this / base;
the fastest run is the least disturbed by other jobs on a shared machine) and whether the
objectives agree. Plugin imports happen before the clock starts.
BLAS thread pools are limited to one thread, as in the other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _smooth(solver: str, options: str = "", with_status: bool = False) -> str:
    """A solve on ``smooth_profit(10**6, 50)``, handed over read-only (the problem keeps it
    without a copy, in either checkout)."""
    return f"""
profit = smooth_profit(10**6, 50, seed=0)
profit.setflags(write=False)
problem = co.CoarseProblem(profit, k=5)
t0 = time.perf_counter(); r = co.solve(problem, "{solver}", seed=0{options}); elapsed = time.perf_counter() - t0
result = (r.objective, r.offered.tolist(){", r.status" if with_status else ""})
"""


def _orlib(solver: str) -> str:
    """Solves of OR-Library pmed1-10, times and objectives summed over the instances."""
    return f"""
elapsed, result = 0.0, []
for name, problem, _ in orlib():
    t0 = time.perf_counter(); r = co.solve(problem, "{solver}", seed=0); elapsed += time.perf_counter() - t0
    result.append(r.objective)
"""


#: name -> code run in a fresh process; it sets ``result = (objective, offered)`` and the
#: runner times only the solve (``co.solve`` calls between the two clock readings).
CASES = {
    "local-search smooth 10^6 x 50, k=5": _smooth("local-search"),
    "local-search pmed1-10 (sum)": _orlib("local-search"),
    "ot smooth 10^6 x 50, k=5, target_gap=5e-4": _smooth("ot", ", target_gap=5e-4"),
    "ot pmed1-10 (sum)": _orlib("ot"),
    "mip pmed1-10 (sum)": _orlib("mip"),
    "mip smooth 10^6 x 50, k=5": _smooth("mip", with_status=True),
    "mip noisy 20,000 x 50 (sd 0.1), k=5, 60 s limit": """
profit = smooth_profit(20_000, 50, seed=0, noise=0.1)
problem = co.CoarseProblem(profit, k=5)
t0 = time.perf_counter(); r = co.solve(problem, "mip", seed=0, time_limit=60); elapsed = time.perf_counter() - t0
result = (r.objective, r.offered.tolist(), r.status)
""",
    # the uniform instance of benchmarks.instances.euclidean_pmed(1400, 100, seed=1400), built
    # here so that an older checkout without that generator runs it too
    "local-search euclidean 1400 uniform, p=100": """
pts = np.rint(np.random.default_rng(1400).uniform(0.0, 10_000.0, (1400, 2)))
problem = co.CoarseProblem(-np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)), k=100)
t0 = time.perf_counter(); r = co.solve(problem, "local-search", seed=0); elapsed = time.perf_counter() - t0
result = (r.objective, r.offered.tolist())
""",
    # a wide problem where the Lagrangian bound's master groups changed (10 groups, was 4)
    "mip euclidean 1060 uniform, p=20, 60 s limit": """
pts = np.rint(np.random.default_rng(1060).uniform(0.0, 10_000.0, (1060, 2)))
problem = co.CoarseProblem(-np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)), k=20)
t0 = time.perf_counter(); r = co.solve(problem, "mip", seed=0, time_limit=60, threads=1)
elapsed = time.perf_counter() - t0
result = (r.objective, r.offered.tolist(), r.status)
""",
    "chunked local-search 10^6 x 20 (float32, 10 chunks), k=5": """
import dask, dask.array as da
profit = da.from_array(smooth_profit(10**6, 20, seed=1, noise=0.1, dtype=np.float32), chunks=(100_000, 20))
problem = co.CoarseProblem(profit, k=5)
with dask.config.set(scheduler="threads"):
    t0 = time.perf_counter(); r = co.solve(problem, "local-search", seed=0); elapsed = time.perf_counter() - t0
result = (r.objective, r.offered.tolist())
""",
    "chunked ot 10^5 x 20 (float32, 10 chunks), k=5": """
import dask, dask.array as da
profit = da.from_array(smooth_profit(10**5, 20, seed=1, noise=0.1, dtype=np.float32), chunks=(10_000, 20))
problem = co.CoarseProblem(profit, k=5)
with dask.config.set(scheduler="threads"):
    t0 = time.perf_counter(); r = co.solve(problem, "ot", seed=0); elapsed = time.perf_counter() - t0
result = (r.objective, r.offered.tolist())
""",
}

PRELUDE = """
import json, time
import numpy as np
from threadpoolctl import threadpool_limits
threadpool_limits(1)
import coarseopt as co
from coarseopt_benchmarks.instances import orlib, smooth_profit
for _name in ("local-search", "ot", "mip"):  # plugin imports are not part of a solve's time
    co.get_solver(_name)
"""
EPILOGUE = """
print("RESULT " + json.dumps({"seconds": elapsed, "result": result}, default=float))
"""


def _import_root(checkout: Path, into: Path) -> Path:
    """A folder whose ``coarseopt``, ``coarseopt_solvers`` and ``coarseopt_benchmarks`` are
    those of ``checkout`` (links), to put first on ``PYTHONPATH``."""
    into.mkdir(parents=True, exist_ok=True)
    for name, folder in (("coarseopt", "coarseopt"), ("coarseopt_solvers", "solvers"),
                         ("coarseopt_benchmarks", "benchmarks")):
        link = into / name
        if not link.exists():
            link.symlink_to(checkout.resolve() / folder, target_is_directory=True)
    return into


def _run(code: str, root: Path, workdir: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", PRELUDE + code + EPILOGUE], env=env, cwd=workdir,
                         capture_output=True, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"case failed under {root}:\n{out.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, type=Path, help="checkout of the older commit")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "side_by_side")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each case on each checkout")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="only these cases")
    args = parser.parse_args(argv)
    rows = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    jsonl = args.out.with_suffix(".jsonl")
    jsonl.write_text("")
    with tempfile.TemporaryDirectory() as tmp:
        roots = {"base": _import_root(args.base, Path(tmp) / "base"), "this": _import_root(ROOT, Path(tmp) / "this")}
        for name in args.case or list(CASES):
            times: dict[str, list[float]] = {"base": [], "this": []}
            results: dict[str, object] = {}
            for _ in range(args.repeat):
                for side in ("base", "this"):
                    got = _run(CASES[name], roots[side], Path(tmp))
                    times[side].append(got["seconds"])
                    results[side] = got["result"]
            base, this = statistics.median(times["base"]), statistics.median(times["this"])
            fastest = min(times["this"]) / min(times["base"])
            row = {"case": name, "base_seconds": base, "this_seconds": this, "ratio": this / base,
                   "ratio_of_fastest": fastest,
                   "same_objectives": _same(results["base"], results["this"]), "times": times,
                   "base_result": results["base"], "this_result": results["this"]}
            rows.append(row)
            with open(jsonl, "a") as fh:  # row by row: an interrupted run keeps what it measured
                fh.write(json.dumps(row, default=float) + "\n")
            print(f"{name}: base {base:.2f} s, this {this:.2f} s, ratio {this / base:.3f} "
                  f"(fastest runs: {fastest:.3f}), "
                  f"same objectives {row['same_objectives']}", flush=True)
    lines = ["| case | base (s, median) | this (s, median) | ratio of medians | ratio of fastest runs | "
             "same objectives |", "|---|---:|---:|---:|---:|---|"]
    lines += [f"| {r['case']} | {r['base_seconds']:.2f} | {r['this_seconds']:.2f} | {r['ratio']:.3f} | "
              f"{r['ratio_of_fastest']:.3f} | {'yes' if r['same_objectives'] else 'no'} |" for r in rows]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
