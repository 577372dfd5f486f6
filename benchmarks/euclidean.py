"""Benchmark on Euclidean p-median instances of 1,060-1,400 points: ``local-search`` and ``mip``.

Run from the repository root::

    python -m benchmarks.euclidean            # 6 instances x p = 10, 20, 50, 100 (about 25 minutes)
    python -m benchmarks.euclidean --quick    # a smoke run (one small instance)
    python -m benchmarks.euclidean --instances uniform-1400 --p 10 20 --time-limit 900 --name euclidean_long

The instances are :func:`benchmarks.instances.euclidean_pmed`: every point a client and a
candidate site (``m = n``), profit = minus the Euclidean distance; uniform points, or points
in a few dozen clusters of unequal size and spread (the look of TSPLIB's drilling and
circuit-board instances, e.g. u1060, fl1400, on which the p-median literature benchmarks);
the seed of an instance is its number of points. For each instance and p:

- ``local-search`` with its default options (seed 0);
- ``mip`` with ``time_limit=60`` (HiGHS on 1 thread): status, bound, gap, wall time and
  its ratio to the limit (``overrun``: wall time / limit, when the limit stopped it).

``ls_gap_pct`` is local-search's objective below the best proven bound (``mip``'s), in
percent of it: its distance to the optimum when ``mip`` proved one, an upper bound on that
distance otherwise. ``best_known`` is the better of the two objectives.

Writes ``benchmarks/results/euclidean.jsonl`` (one JSON object a line, the first the
command, commit, versions and machine facts) and ``benchmarks/results/euclidean.md``. BLAS
runs on one thread. Timings on a shared machine are noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import coarseopt as co

from ._measure import git_commit, json_default, machine_facts, versions
from .instances import euclidean_pmed

RESULTS = Path(__file__).resolve().parent / "results"

#: (points, layout) of the instances; the seed is the number of points.
INSTANCES = [(1060, "clustered"), (1060, "uniform"), (1304, "clustered"), (1304, "uniform"),
             (1400, "clustered"), (1400, "uniform")]
INSTANCES_QUICK = [(300, "clustered")]
PS = (10, 20, 50, 100)
PS_QUICK = (5, 20)
MIP_LIMIT = 60.0


def _solve(problem, solver, **options):
    start = time.perf_counter()
    result = co.solve(problem, solver, seed=0, **options)
    return result, time.perf_counter() - start


def bench(quick: bool, limit: float, solvers: tuple[str, ...], only: list[str] | None = None,
          ps: list[int] | None = None) -> list[dict]:
    rows = []
    for n, layout in INSTANCES_QUICK if quick else INSTANCES:
        if only and f"{layout}-{n}" not in only:
            continue
        for p in ps or (PS_QUICK if quick else PS):
            problem, _ = euclidean_pmed(n, p, seed=n, layout=layout)
            row = {"instance": f"{layout}-{n}", "n": n, "p": p}
            if "local-search" in solvers:
                ls, ls_seconds = _solve(problem, "local-search")
                row.update(ls_seconds=ls_seconds, ls_objective=ls.objective, ls_status=ls.status,
                           ls_restarts=ls.extras.get("restarts"), ls_relinks=ls.extras.get("relinks"))
            if "mip" in solvers:
                mip, mip_seconds = _solve(problem, "mip", time_limit=limit, threads=1)
                row.update(mip_seconds=mip_seconds, mip_status=mip.status, mip_objective=mip.objective,
                           mip_bound=mip.bound, mip_gap=mip.gap, mip_limit=limit,
                           mip_overrun=mip_seconds / limit if mip.status == "time_limit" else None,
                           mip_exact_phase=mip.extras.get("exact_phase"))
            if "local-search" in solvers and "mip" in solvers:
                bound = row["mip_bound"]
                row["best_known"] = max(row["ls_objective"], row["mip_objective"])
                row["ls_gap_pct"] = None if bound is None else 100.0 * (bound - row["ls_objective"]) / abs(bound)
                row["ls_vs_optimum"] = "optimum" if row["mip_status"] == "optimal" else "bound"
            rows.append(row)
            print(json.dumps(row, default=float), flush=True)
    return rows


COLUMNS = [("instance", "instance"), ("p", "p"), ("ls_seconds", "local-search s"),
           ("ls_gap_pct", "local-search gap %"), ("ls_vs_optimum", "gap to"),
           ("mip_seconds", "mip s"), ("mip_status", "mip status"), ("mip_gap", "mip gap"),
           ("mip_overrun", "mip wall / limit")]


def _fmt(key: str, v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if key == "ls_gap_pct":
            return f"{v:.3f}"
        if key == "mip_gap":
            return f"{v:.1e}"
        if key == "mip_overrun":
            return f"{v:.3f}"
        return f"{v:.1f}"
    return str(v)


def table(rows: list[dict]) -> str:
    cols = [(k, h) for k, h in COLUMNS if any(k in r for r in rows)]
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(k, r.get(k)) for k, _ in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.euclidean", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small instance (a smoke run)")
    parser.add_argument("--time-limit", type=float, default=None, help=f"mip seconds per solve (default {MIP_LIMIT:g})")
    parser.add_argument("--solvers", default="local-search,mip", help="comma-separated: local-search, mip")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for euclidean.jsonl / .md")
    parser.add_argument("--instances", nargs="+", default=None,
                        help="only these instances, e.g. uniform-1400 (default: all six)")
    parser.add_argument("--p", type=int, nargs="+", default=None, help=f"values of p (default {list(PS)})")
    parser.add_argument("--name", default=None, help="results file stem (default euclidean)")
    args = parser.parse_args(argv)
    known = [f"{layout}-{n}" for n, layout in INSTANCES + INSTANCES_QUICK]
    for name in args.instances or []:
        if name not in known:
            parser.error(f"--instances: unknown instance {name!r}; choose from {known}")
    solvers = tuple(s.strip() for s in args.solvers.split(",") if s.strip())
    limit = args.time_limit or (10.0 if args.quick else MIP_LIMIT)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    for name in solvers:  # plugin imports are not part of a solve's time
        co.get_solver(name)
    started = time.perf_counter()
    rows = bench(args.quick, limit, solvers, args.instances, args.p)
    command = "python -m benchmarks.euclidean" + (" --quick" if args.quick else "")
    if args.instances:
        command += " --instances " + " ".join(args.instances)
    if args.p:
        command += " --p " + " ".join(map(str, args.p))
    if args.name:
        command += f" --name {args.name}"
    if args.time_limit:
        command += f" --time-limit {args.time_limit:g}"
    if args.solvers != "local-search,mip":
        command += f" --solvers {args.solvers}"
    meta = {"part": "meta", "command": command, "commit": git_commit(), "versions": versions(),
            "machine": machine_facts(), "total_seconds": time.perf_counter() - started, "mip_threads": 1}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / (args.name or ("euclidean_quick" if args.quick else "euclidean"))
    with open(f"{stem}.jsonl", "w") as fh:
        for row in [meta, *rows]:
            fh.write(json.dumps(row, default=json_default) + "\n")
    machine = meta["machine"]
    header = [
        "# Euclidean p-median benchmark", "",
        f"Command: `{command}` (commit {meta['commit']}, {machine.get('cpu', '')}, "
        f"{machine.get('logical_cpus', '')} logical CPUs, 1-minute load average "
        f"{machine.get('load_average_1min', 'n/a')} at the end; BLAS and HiGHS on 1 thread). "
        f"Total {meta['total_seconds']:.0f} s.", "",
        "local-search: default options, seed 0; its gap is its objective below mip's bound, in % "
        "(to the optimum where mip proved one). mip: time_limit = "
        f"{limit:g} s; gap = (bound - objective) / max(1, |bound|); wall / limit when the limit "
        "stopped it.", "", "",
    ]
    Path(f"{stem}.md").write_text("\n".join(header) + table(rows))
    print(f"wrote {stem}.jsonl and .md ({meta['total_seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
