"""Benchmark of the ``local-search`` solver: quality against proven optima, and speed at scale.

Run from the repository root::

    python -m benchmarks.local_search            # the full run (a few minutes)
    python -m benchmarks.local_search --quick    # a smoke run on small instances

Three parts, each a block of rows in ``benchmarks/results/local_search.jsonl`` (one JSON
object per line) and a table in ``benchmarks/results/local_search.md``:

1. OR-Library pmed1-10 (Beasley 1985) against their published, proven optima; the default
   configuration and plain greedy + swap descent (``restarts=1, path_relinking=False``).
2. Random Beasley-style instances (``beasley_pmed``, not used to design the method) and
   mid-size smooth profit curves (``smooth_profit``, n above the first sample, so the
   multilevel refinement decides) against the optimum proven by the ``mip`` solver.
3. ``smooth_profit(10**6, 50)`` with ``k = 5``: wall time of the solver as a ratio to one
   numpy ``max(axis=1)`` pass over the same matrix measured in the same run, and the gap to
   a certified Lagrangian (LP) upper bound.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import coarseopt as co

from ._measure import git_commit, json_default, machine_facts, versions
from .instances import beasley_pmed, orlib, smooth_profit

RESULTS = Path(__file__).resolve().parent / "results"

#: (n, p, seed) of the random instances; mip proves their optima in seconds.
BEASLEY = [(150, 5, 1), (150, 15, 2), (200, 25, 4), (250, 20, 5), (300, 30, 7), (300, 60, 8),
           (400, 100, 10), (400, 40, 9)]
BEASLEY_QUICK = [(60, 3, 1), (80, 8, 2)]
#: (n, m, k, seed) of mid-size smooth instances.
SMOOTH = [(20000, 50, 5, 3), (20000, 50, 8, 7), (50000, 50, 6, 4), (100000, 50, 10, 5)]
SMOOTH_QUICK = [(5000, 30, 4, 1)]


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bench_orlib(quick: bool) -> list[dict]:
    rows = []
    names = ["pmed1", "pmed6"] if quick else None
    for name, problem, optimum in orlib(names):
        for config, options in (("default", {}), ("greedy+descent", {"restarts": 1, "path_relinking": False})):
            result, seconds = _timed(lambda: co.solve(problem, "local-search", seed=0, **options))
            cost = -result.objective
            rows.append({
                "part": "orlib", "instance": name, "n": problem.n, "m": problem.m, "k": problem.k,
                "config": config, "cost": cost, "optimum": optimum, "optimum_source": "published (OR-Library)",
                "gap_pct": 100.0 * (cost - optimum) / optimum, "seconds": seconds,
                "status": result.status, "passes": result.extras["passes"] + result.extras.get("sample_passes", 0),
            })
            print(f"{name:7s} {config:15s} cost {cost:8.0f} optimum {optimum:8.0f} "
                  f"gap {rows[-1]['gap_pct']:6.3f}% {seconds:6.2f} s", flush=True)
    return rows


def bench_beasley(quick: bool) -> list[dict]:
    rows = []
    have_mip = "mip" in co.available_solvers()
    for n, p, seed in BEASLEY_QUICK if quick else BEASLEY:
        problem, _ = beasley_pmed(n, p, seed=seed)
        if have_mip:
            exact, exact_seconds = _timed(lambda: co.solve(problem, "mip", time_limit=120))
            source = f"mip ({exact.status})"
        else:
            exact, exact_seconds = _timed(lambda: co.solve(problem, "enumerate"))
            source = f"enumerate ({exact.status})"
        reference = -exact.bound if exact.bound is not None else -exact.objective
        for config, options in (("default", {}), ("greedy+descent", {"restarts": 1, "path_relinking": False})):
            result, seconds = _timed(lambda: co.solve(problem, "local-search", seed=0, **options))
            cost = -result.objective
            rows.append({
                "part": "beasley", "instance": f"beasley_pmed({n}, {p}, seed={seed})", "n": n, "m": n, "k": p,
                "config": config, "cost": cost, "optimum": reference, "optimum_source": source,
                "proven": exact.status == "optimal", "gap_pct": 100.0 * (cost - reference) / reference,
                "seconds": seconds, "exact_seconds": exact_seconds, "status": result.status,
            })
            print(f"beasley({n},{p},{seed}) {config:15s} cost {cost:8.0f} optimum {reference:8.0f} [{source}] "
                  f"gap {rows[-1]['gap_pct']:6.3f}% {seconds:6.2f} s (exact {exact_seconds:.1f} s)", flush=True)
    return rows


def bench_smooth(quick: bool) -> list[dict]:
    """Mid-size smooth instances (the multilevel regime: n above the first sample) against
    the optimum proven by ``mip``, four solver seeds each."""
    rows = []
    if "mip" not in co.available_solvers():
        print("smooth: mip not available, part skipped")
        return rows
    for n, m, k, seed in SMOOTH_QUICK if quick else SMOOTH:
        problem = co.CoarseProblem(smooth_profit(n, m, seed=seed), k)
        exact, exact_seconds = _timed(lambda: co.solve(problem, "mip", time_limit=120))
        reference = exact.bound if exact.bound is not None else exact.objective
        for solver_seed in range(4):
            result, seconds = _timed(lambda: co.solve(problem, "local-search", seed=solver_seed))
            gap = 100.0 * (reference - result.objective) / abs(reference)
            rows.append({
                "part": "smooth", "instance": f"smooth_profit({n}, {m}, seed={seed})", "n": n, "m": m, "k": k,
                "config": f"default, seed {solver_seed}", "cost": result.objective, "optimum": reference,
                "optimum_source": f"mip ({exact.status})", "proven": exact.status == "optimal",
                "gap_pct": gap, "seconds": seconds, "exact_seconds": exact_seconds, "status": result.status,
            })
            print(f"smooth({n},{m},{seed}) k={k} seed {solver_seed}: objective {result.objective:.4f} "
                  f"optimum {reference:.4f} [{exact.status}] gap {gap:.5f}% {seconds:.2f} s", flush=True)
    return rows


def bench_scale(quick: bool) -> list[dict]:
    n, m, k = (20_000, 50, 5) if quick else (10**6, 50, 5)
    profit = smooth_profit(n, m, seed=0)
    problem = co.CoarseProblem(profit, k)
    max_pass = statistics.median(_timed(lambda: profit.max(axis=1))[1] for _ in range(5))
    runs = []
    cpu = []
    for seed in (0, 1, 2):
        start_cpu = time.process_time()
        result, seconds = _timed(lambda: co.solve(problem, "local-search", seed=seed))
        cpu.append(time.process_time() - start_cpu)
        runs.append((seconds, result))
    max_pass_after = statistics.median(_timed(lambda: profit.max(axis=1))[1] for _ in range(5))
    best = max(r.objective for _, r in runs)
    bound_value, bound_seconds, bound_note = None, None, ""
    try:
        from coarseopt_solvers.bounds import lagrangian_bound

        incumbent = max(runs, key=lambda t: t[1].objective)[1].offered
        lb, bound_seconds = _timed(lambda: lagrangian_bound(
            profit, k, incumbent=incumbent, deadline=time.perf_counter() + (20 if quick else 90)))
        bound_value = float(lb.bound)
        bound_note = "Lagrangian (LP) bound of coarseopt_solvers.bounds"
    except ImportError:  # pragma: no cover - the bound module ships with the solvers
        bound_note = "no bound available"
    rows = []
    pass_time = statistics.median([max_pass, max_pass_after])
    for seed, (seconds, result) in enumerate(runs):
        row = {
            "part": "scale", "instance": f"smooth_profit({n}, {m}, seed=0)", "n": n, "m": m, "k": k,
            "config": "default", "seed": seed, "seconds": seconds, "cpu_seconds": cpu[seed],
            "max_pass_seconds": pass_time,
            "ratio_to_max_pass": seconds / pass_time, "objective": result.objective,
            "recovery": result.recovery, "offered": result.offered.tolist(), "status": result.status,
            "relative_to_best_seed": (best - result.objective) / abs(best),
            "levels": result.extras.get("levels"), "final_swaps": result.extras["final_swaps"],
            "bound": bound_value, "bound_source": bound_note, "bound_seconds": bound_seconds,
            "gap_to_bound_pct": None if bound_value is None else
            100.0 * (bound_value - result.objective) / max(1.0, abs(bound_value)),
        }
        rows.append(row)
        print(f"scale n={n} seed {seed}: {seconds:.2f} s ({cpu[seed]:.2f} s CPU) = "
              f"{row['ratio_to_max_pass']:.1f} x one max pass "
              f"({pass_time:.3f} s); objective {result.objective:.2f}; gap to bound "
              f"{row['gap_to_bound_pct'] if bound_value is None else round(row['gap_to_bound_pct'], 4)}%",
              flush=True)
    return rows


def _table(rows: list[dict]) -> str:
    out = []
    quality = [r for r in rows if r["part"] in ("orlib", "beasley", "smooth")]
    if quality:
        out += ["| instance | n | k | config | cost | optimum | source | gap % | seconds |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in quality:
            digits = 0 if r["part"] != "smooth" else 3
            out.append(f"| {r['instance']} | {r['n']} | {r['k']} | {r['config']} | {r['cost']:.{digits}f} | "
                       f"{r['optimum']:.{digits}f} | {r['optimum_source']} | {r['gap_pct']:.4f} | {r['seconds']:.2f} |")
        out.append("")
    scale = [r for r in rows if r["part"] == "scale"]
    if scale:
        out += ["| instance | k | seed | seconds | CPU seconds | one max(axis=1) pass | ratio | objective | "
                "gap to LP bound % | status |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in scale:
            gap = "n/a" if r["gap_to_bound_pct"] is None else f"{r['gap_to_bound_pct']:.4f}"
            out.append(f"| {r['instance']} | {r['k']} | {r['seed']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | "
                       f"{r['max_pass_seconds']:.3f} | {r['ratio_to_max_pass']:.1f} | {r['objective']:.2f} | "
                       f"{gap} | {r['status']} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.local_search", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small instances only (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for local_search.jsonl / .md")
    parser.add_argument("--parts", default="orlib,beasley,smooth,scale",
                        help="comma-separated: orlib,beasley,smooth,scale")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    started = time.perf_counter()
    rows: list[dict] = []
    if "orlib" in parts:
        rows += bench_orlib(args.quick)
    if "beasley" in parts:
        rows += bench_beasley(args.quick)
    if "smooth" in parts:
        rows += bench_smooth(args.quick)
    if "scale" in parts:
        rows += bench_scale(args.quick)
    meta = {"part": "meta", "command": "python -m benchmarks.local_search" + (" --quick" if args.quick else ""),
            "machine": machine_facts(), "versions": versions(), "commit": git_commit(),
            "total_seconds": time.perf_counter() - started}
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    with open(args.out / f"local_search{suffix}.jsonl", "w") as fh:
        for row in [meta, *rows]:
            fh.write(json.dumps(row, default=json_default) + "\n")
    machine = meta["machine"]
    header = [f"# local-search benchmark", "",
              f"Command: `{meta['command']}` (commit {meta['commit']}, {machine.get('cpu', '')}, "
              f"{machine.get('logical_cpus', '')} logical CPUs, 1-minute load average "
              f"{machine.get('load_average_1min', 'n/a')} at the start). Total {meta['total_seconds']:.0f} s.", "",
              "For the p-median instances 'cost' is the p-median cost (-objective) and gap % is "
              "(cost - optimum) / optimum; for the smooth instances 'cost' is the profit objective "
              "and gap % is (optimum - objective) / |optimum|; at scale gap % is "
              "(bound - objective) / |bound|. Ratio is the solver's wall time over one "
              "numpy `profit.max(axis=1)` pass over the same matrix, measured in the same run.", "", ""]
    (args.out / f"local_search{suffix}.md").write_text("\n".join(header) + _table(rows))
    print(f"wrote {args.out / f'local_search{suffix}.jsonl'} and .md")
    return 0




if __name__ == "__main__":
    raise SystemExit(main())
