"""Out-of-core and distributed solving with Dask, and time limits of every solver.

Run from the repository root::

    python -m benchmarks.dask_scale                 # the full run (20,000,000 x 50 out of core)
    python -m benchmarks.dask_scale --quick         # a small smoke run (seconds)
    python -m benchmarks.dask_scale --sections mip  # lazy mip only (the other sections' rows are kept)

Sections
--------
``scale``
    Smooth profit curves (:func:`benchmarks.instances.smooth_profit`, noise 0.1) are written
    to disk block by block as float32 ``.npy`` files (250,000 rows each, each block its own
    seed), never held in memory as a whole. Each measurement runs in a fresh child process,
    whose peak resident memory (``ru_maxrss``) is recorded:

    - ``lazy``: a dask array over the files (one chunk per file, loaded when a pass needs
      it), ``co.CoarseProblem`` (one validation pass) and ``co.solve(..., "local-search")``
      on the default threaded scheduler;
    - ``memory``: the same files concatenated in memory, the same ``co.solve``;
    - ``cluster`` (smaller sizes): the lazy path on a ``LocalCluster`` of 2 worker processes;
    - ``ot`` (``bound=False``) at the smallest size, lazily and in memory.

    ``co.solve`` sends a lazy problem to the map-reduce passes of
    ``coarseopt_solvers.bounds.chunked`` (the ``path`` field of a result says which path ran).

    At sizes both paths can do, the offered sets must agree and the time ratio
    lazy / memory is reported (measured in the same run: the machine is shared).
``mip``
    ``co.solve(..., "mip")`` on smooth curves without noise (float32 on disk, the same
    250,000-row files), lazily (the aggregated model's preprocessing as a map-reduce over the
    row blocks, :mod:`coarseopt_solvers.mip._lazy`) and in memory, at the sizes of ``--both``,
    plus a ``LocalCluster`` run at the smallest: seconds, peak memory, objective, status.
``bound``
    The chunked Lagrangian bound against the in-memory one (same iteration budget).
``time-limits``
    Every available solver with a time limit (``TIME_LIMIT_CASES``: 1 s at 50,000 x 50, 5 s at
    1,000,000 x 20): the wall time until ``co.solve`` returns, the status and whether a
    solution came back.

Results: ``benchmarks/results/dask_scale.jsonl`` (one JSON object per measurement, with
versions and machine facts) and ``benchmarks/results/dask_scale.md`` (tables). A run of some
sections keeps the recorded rows of the others (each row carries its own date).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
ROWS_PER_FILE = 250_000


# ---------------------------------------------------------------------- data on disk
def write_instance(directory: Path, n: int, m: int, seed: int = 0, noise: float = 0.1) -> list[Path]:
    """Write an ``(n, m)`` float32 smooth-curve instance as ``.npy`` blocks of whole rows."""
    from .instances import smooth_profit

    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for b, start in enumerate(range(0, n, ROWS_PER_FILE)):
        rows = min(ROWS_PER_FILE, n - start)
        path = directory / f"block{b:05d}.npy"
        if not path.exists():
            block = smooth_profit(rows, m, seed=seed * 100_003 + b, noise=noise, dtype=np.float32)
            np.save(path, block)
        files.append(path)
    return files


def lazy_array(files: list[Path], m: int):
    """A dask array with one chunk per file; each chunk is read from disk when a pass needs it
    (``np.load`` without pickle)."""
    import dask
    import dask.array as da

    parts = []
    for f in files:
        rows = int(np.load(f, mmap_mode="r").shape[0])
        parts.append(da.from_delayed(dask.delayed(np.load, pure=True)(str(f)), shape=(rows, m), dtype=np.float32))
    return da.concatenate(parts, axis=0)


# ---------------------------------------------------------------------- one measurement (child)
def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30


def measure(spec: dict) -> dict:
    """One measurement in this process (run by the parent in a fresh child)."""
    import coarseopt as co

    kind, files, m, k = spec["kind"], [Path(f) for f in spec["files"]], spec["m"], spec["k"]
    out = dict(spec)
    out.pop("files")
    client = None
    if kind == "cluster":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    t0 = time.perf_counter()
    if kind == "memory":
        profit = np.concatenate([np.load(f) for f in files])
    else:
        profit = lazy_array(files, m)
    problem = co.CoarseProblem(profit, k=k)
    out["load_validate_s"] = time.perf_counter() - t0
    if spec.get("task") == "bound":
        from coarseopt_solvers.bounds import lagrangian_bound
        from coarseopt_solvers.bounds.chunked import chunked_lagrangian_bound

        t1 = time.perf_counter()
        if kind == "memory":
            res = lagrangian_bound(problem.profit, k, max_iter=spec["max_iter"], offered=spec["offered"])
        else:
            res = chunked_lagrangian_bound(problem.profit, k, max_iter=spec["max_iter"], offered=spec["offered"])
        out.update(bound=res.bound, iterations=res.iterations, solve_s=time.perf_counter() - t1)
    else:
        t1 = time.perf_counter()
        name = spec.get("solver", "local-search")
        options = spec.get("options", {})
        result = co.solve(problem, solver=name, seed=0, progress=False, **options)
        out.update(
            solve_s=time.perf_counter() - t1, objective=result.objective, bound=result.bound,
            offered=result.offered.tolist(), status=result.status,
            passes=result.extras.get("passes"), chunks=result.extras.get("chunks"),
            path="map-reduce" if ("chunks" in result.extras or result.extras.get("lazy")) else "in-process",
        )
        if name == "mip":
            out.update(formulation=result.extras.get("formulation"), lazy=result.extras.get("lazy"),
                       nodes=result.extras.get("distinct_prefix_sets"),
                       preprocess_s=result.extras.get("preprocess_seconds"),
                       highs_s=result.extras.get("solve_seconds"))
    out["total_s"] = time.perf_counter() - t0
    out["peak_rss_gib"] = _peak_rss_gib()
    out["matrix_gib_float64"] = problem.n * problem.m * 8 / 2**30
    if client is not None:
        client.close()
        cluster.close()
    return out


def run_child(spec: dict) -> dict:
    """Run :func:`measure` in a fresh interpreter, so its peak memory is its own."""
    cmd = [sys.executable, "-m", __spec__.name, "--child", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        return dict(spec, files=None, error=proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- time limits
#: (n, m, k, time limit in s): a limit several times the time of a pass over the data, and a
#: limit close to the time of the non-interruptible set-up passes (sorting every row).
TIME_LIMIT_CASES = [(50_000, 50, 8, 1.0), (1_000_000, 20, 5, 5.0)]


def time_limits(n: int, m: int, k: int, limit: float) -> list[dict]:
    """Every available solver with ``time_limit=limit`` on one instance."""
    import coarseopt as co

    from .instances import smooth_profit

    profit = smooth_profit(n, m, seed=7, noise=0.3)
    problem = co.CoarseProblem(profit, k=k, features=profit[:, :3], arms=list(range(0, m, 5)))
    rows = []
    for name in co.available_solvers():
        t0 = time.perf_counter()
        try:
            r = co.solve(problem, solver=name, time_limit=limit, seed=0, progress=False)
            row = dict(solver=name, status=r.status, has_solution=bool(r.has_solution), objective=r.objective)
        except Exception as exc:  # recorded, not hidden
            row = dict(solver=name, error=f"{type(exc).__name__}: {exc}"[:200])
        row.update(section="time-limits", n=n, m=m, k=k, time_limit=limit, wall_s=time.perf_counter() - t0)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


# ---------------------------------------------------------------------- driver
def machine() -> dict:
    import dask
    import psutil

    return dict(
        python=platform.python_version(), numpy=np.__version__, dask=dask.__version__,
        cpus=os.cpu_count(), memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        platform=platform.platform(), date=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--large", type=int, default=20_000_000, help="rows of the out-of-core instance")
    ap.add_argument("--both", default="1000000,4000000", help="sizes run both lazily and in memory")
    ap.add_argument("--m", type=int, default=50)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--sections", default="scale,mip,bound,time-limits")
    ap.add_argument("--workdir", default=None, help="where the instance files go (deleted at the end)")
    ap.add_argument("--out", default=str(RESULTS / "dask_scale"))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(json.loads(args.child))), flush=True)
        return 0
    if args.quick:
        args.large, args.both = 600_000, "300000"
    both = [int(s) for s in args.both.split(",") if s]
    sections = set(args.sections.split(","))
    facts = machine()
    rows: list[dict] = []
    work = Path(args.workdir or tempfile.mkdtemp(prefix="coarseopt-dask-scale-"))
    free = shutil.disk_usage(work).free / 2**30
    need = args.large * args.m * 4 / 2**30
    if free < 1.5 * need:
        print(f"not enough free disk in the work directory: {free:.1f} GiB free, {need:.1f} GiB needed", file=sys.stderr)
        return 2
    try:
        if "scale" in sections:
            for n in both + [args.large]:
                t0 = time.perf_counter()
                files = write_instance(work / f"n{n}", n, args.m)
                write_s = time.perf_counter() - t0
                kinds = ["lazy", "memory"] if n in both else ["lazy"]
                if n == min(both + [args.large]):
                    kinds.append("cluster")
                runs = [("local-search", {}, kind) for kind in kinds]
                if n == min(both):
                    runs += [("ot", {"bound": False}, kind) for kind in ("lazy", "memory")]
                for solver, options, kind in runs:
                    spec = dict(section="scale", kind=kind, n=n, m=args.m, k=args.k, dtype="float32",
                                files=[str(f) for f in files], write_s=write_s, solver=solver, options=options)
                    row = run_child(spec)
                    row.update(facts)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                if n not in both:
                    shutil.rmtree(work / f"n{n}", ignore_errors=True)
        if "mip" in sections:
            for n in both:
                files = write_instance(work / f"mip{n}", n, args.m, noise=0.0)
                kinds = ["lazy", "memory"] + (["cluster"] if n == min(both) else [])
                for kind in kinds:
                    spec = dict(section="mip", kind=kind, n=n, m=args.m, k=args.k, dtype="float32", noise=0.0,
                                files=[str(f) for f in files], solver="mip", options={})
                    row = run_child(spec)
                    row.update(facts)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                shutil.rmtree(work / f"mip{n}", ignore_errors=True)
        if "bound" in sections:
            n = min(both)
            files = write_instance(work / f"n{n}", n, args.m)
            offered = next((r["offered"] for r in rows if r.get("n") == n and r.get("kind") == "memory"), None)
            for kind in ("memory", "lazy"):
                spec = dict(section="bound", task="bound", kind=kind, n=n, m=args.m, k=args.k, max_iter=20,
                            offered=offered, files=[str(f) for f in files])
                row = run_child(spec)
                row.update(facts)
                rows.append(row)
                print(json.dumps(row), flush=True)
        if "time-limits" in sections:
            cases = [(20_000, args.m, 8, 1.0)] if args.quick else TIME_LIMIT_CASES
            for n, m, k, limit in cases:
                for row in time_limits(n, m, k, limit):
                    row.update(facts)
                    rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.with_suffix(".jsonl").exists():  # keep the recorded rows of the sections not run
        with open(out.with_suffix(".jsonl")) as fh:
            kept = [json.loads(line) for line in fh if line.strip()]
        rows = [r for r in kept if r.get("section") not in sections] + rows
    with open(out.with_suffix(".jsonl"), "w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    out.with_suffix(".md").write_text(report(rows, facts))
    print(report(rows, facts))
    return 0


def report(rows: list[dict], facts: dict) -> str:
    """Markdown tables of a run."""
    lines = [
        "# dask_scale results",
        "",
        f"`python -m benchmarks.dask_scale` on {facts['cpus']} CPUs, {facts['memory_gib']} GiB, "
        f"Python {facts['python']}, numpy {facts['numpy']}, dask {facts['dask']}, last run {facts['date']} UTC "
        "(a run of some sections keeps the rows of the others; every row of `dask_scale.jsonl` has its date).",
        "",
        "## Scale: float32 on disk, k = 5",
        "",
        "| solver | n | m | path | chunks | load+validate s | solve s | total s | peak RSS GiB | matrix GiB (float64) | objective | offered |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    scale = [r for r in rows if r.get("section") == "scale"]
    lines += _scale_rows(scale)
    lines += ["", "Ratios lazy / memory (same run):", ""] + _ratios(scale)
    mip = [r for r in rows if r.get("section") == "mip"]
    if mip:
        lines += ["", "## mip: smooth curves without noise, float32 on disk, k = 5", "",
                  f"Run {mip[0].get('date', '?')} UTC (`python -m benchmarks.dask_scale --sections mip`).", "",
                  "| n | m | path | chunks | load+validate s | solve s (preprocess / HiGHS) | total s | peak RSS GiB | "
                  "matrix GiB (float64) | status | objective | offered | distinct prefix sets |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in mip:
            if "error" in r:
                lines.append(f"| {r['n']:,} | {r['m']} | {r['kind']} | error: {r['error']} |")
                continue
            parts = ""
            if r.get("preprocess_s") is not None:
                parts = f" ({r['preprocess_s']:.1f} / {r['highs_s']:.2f})"
            lines.append(
                f"| {r['n']:,} | {r['m']} | {r['kind']} | {r.get('chunks')} | {r['load_validate_s']:.1f} | "
                f"{r['solve_s']:.1f}{parts} | {r['total_s']:.1f} | {r['peak_rss_gib']:.2f} | "
                f"{r['matrix_gib_float64']:.2f} | {r['status']} | {r['objective']:.10g} | {r['offered']} | {r.get('nodes')} |"
            )
        lines += ["", "Ratios lazy / memory (same run):", ""] + _ratios(mip)
    lines += _other_sections(rows)
    return "\n".join(lines) + "\n"


def _scale_rows(scale: list[dict]) -> list[str]:
    lines = []
    for r in scale:
        if "error" in r:
            lines.append(f"| {r.get('solver')} | {r['n']:,} | {r['m']} | {r['kind']} | error: {r['error']} |")
            continue
        lines.append(
            f"| {r.get('solver')} {r.get('options') or ''} | {r['n']:,} | {r['m']} | {r['kind']} | {r.get('chunks')} | {r['load_validate_s']:.1f} | {r['solve_s']:.1f} | "
            f"{r['total_s']:.1f} | {r['peak_rss_gib']:.2f} | {r['matrix_gib_float64']:.2f} | {r['objective']:.6g} | {r['offered']} |"
        )
    return lines


def _ratios(scale: list[dict]) -> list[str]:
    lines = []
    for solver, n in sorted({(r.get("solver"), r["n"]) for r in scale}):
        by = {r["kind"]: r for r in scale if r["n"] == n and r.get("solver") == solver and "error" not in r}
        if "lazy" in by and "memory" in by:
            lz, mem = by["lazy"], by["memory"]
            same = lz["offered"] == mem["offered"]
            lines.append(
                f"- {solver}, n = {n:,}: total time {lz['total_s'] / mem['total_s']:.2f}x, solve time "
                f"{lz['solve_s'] / mem['solve_s']:.2f}x, peak memory {lz['peak_rss_gib'] / mem['peak_rss_gib']:.2f}x; "
                f"same offered set: {same}; objective difference {abs(lz['objective'] - mem['objective']):.3g}"
            )
    return lines


def _other_sections(rows: list[dict]) -> list[str]:
    lines: list[str] = []
    bound = [r for r in rows if r.get("section") == "bound" and "error" not in r]
    if bound:
        lines += ["", "## Lagrangian bound (20 iterations)", "", "| n | path | bound | iterations | s | peak RSS GiB |",
                  "|---|---|---|---|---|---|"]
        for r in bound:
            lines.append(f"| {r['n']:,} | {r['kind']} | {r['bound']:.10g} | {r['iterations']} | {r['solve_s']:.1f} | {r['peak_rss_gib']:.2f} |")
    tl = [r for r in rows if r.get("section") == "time-limits"]
    for case in dict.fromkeys((r["n"], r["m"], r["k"], r["time_limit"]) for r in tl):
        n, m, k, limit = case
        lines += ["", f"## Time limits: time_limit = {limit:g} s, n = {n:,}, m = {m}, k = {k}", "",
                  "| solver | wall s | status | solution |", "|---|---|---|---|"]
        for r in tl:
            if (r["n"], r["m"], r["k"], r["time_limit"]) == case:
                status = r.get("status", r.get("error", ""))
                lines.append(f"| {r['solver']} | {r['wall_s']:.2f} | {status} | {r.get('has_solution', '')} |")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
