"""Benchmark of the exact ``mip`` solver.

Run from the repository root, one part per command (each part stays under ten minutes)::

    python -m benchmarks.mip --parts orlib          # OR-Library pmed1-10 vs published optima
    python -m benchmarks.mip --parts beasley        # stand-ins of the sizes of pmed11-40 (n <= 900, p <= 200)
    python -m benchmarks.mip --parts smooth         # n = 10**6, m = 50, k = 5 smooth curves
    python -m benchmarks.mip --parts versus         # default vs classic formulation, same run (30 s limit,
                                                    # each side the best of 5 interleaved solves under 5 s)
    python -m benchmarks.mip --parts noisy          # n = 20,000 noisy curves vs heuristics
    python -m benchmarks.mip --quick                # a smoke run of every part

Each part writes ``benchmarks/results/mip.<part>.jsonl`` (one JSON object a line, the first
one the command, commit, versions and machine facts) and ``benchmarks/results/mip.<part>.md``
(a table). HiGHS runs on one thread. Timings on a shared machine are noisy: compare the
ratios measured within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import coarseopt as co

from ._measure import git_commit, json_default, machine_facts, versions
from .instances import beasley_pmed, orlib, smooth_profit

RESULTS = Path(__file__).resolve().parent / "results"

#: The sizes (n, p) of OR-Library pmed11-40 (Beasley 1990), in order.
PMED11_40 = [(300, 5), (300, 10), (300, 30), (300, 60), (300, 100), (400, 5), (400, 10), (400, 40),
             (400, 80), (400, 133), (500, 5), (500, 10), (500, 50), (500, 100), (500, 167), (600, 5),
             (600, 10), (600, 60), (600, 120), (600, 200), (700, 5), (700, 10), (700, 70), (700, 140),
             (800, 5), (800, 10), (800, 80), (900, 5), (900, 10), (900, 90)]
#: (n, p, seed) stand-ins for pmed11-40: one random instance of each size, with seeds
#: (1011-1040) not used while designing the method.
BEASLEY = [(n, p, 1011 + i) for i, (n, p) in enumerate(PMED11_40)]
BEASLEY_QUICK = [(80, 5, 1), (120, 12, 2)]


def _solve(problem, **options):
    start = time.perf_counter()
    result = co.solve(problem, "mip", threads=1, **options)
    return result, time.perf_counter() - start


def _row(part, instance, problem, config, result, seconds, **more):
    return {
        "part": part, "instance": instance, "n": problem.n, "m": problem.m, "k": problem.k, "config": config,
        "status": result.status, "objective": result.objective, "bound": result.bound,
        "gap": result.gap, "seconds": seconds, "formulation": result.extras.get("formulation"),
        "exact_phase": result.extras.get("exact_phase"), "message": result.message, **more,
    }


def bench_orlib(quick: bool, limit: float) -> list[dict]:
    rows = []
    for name, problem, optimum in orlib(["pmed1", "pmed6"] if quick else None):
        result, seconds = _solve(problem, time_limit=limit)
        rows.append(_row("orlib", name, problem, "default", result, seconds, cost=-result.objective,
                         published_optimum=optimum, matches=bool(abs(-result.objective - optimum) < 1e-6)))
    return rows


def bench_beasley(quick: bool, limit: float) -> list[dict]:
    rows = []
    for n, p, seed in BEASLEY_QUICK if quick else BEASLEY:
        problem, _ = beasley_pmed(n, p, seed=seed)
        result, seconds = _solve(problem, time_limit=limit)
        rows.append(_row("beasley", f"beasley({n},{p},seed={seed})", problem, "default", result, seconds,
                         cost=-result.objective))
    return rows


def bench_smooth(quick: bool, limit: float) -> list[dict]:
    n = 20_000 if quick else 1_000_000
    t0 = time.perf_counter()
    profit = smooth_profit(n, 50, seed=0)
    gen = time.perf_counter() - t0
    problem = co.CoarseProblem(profit, 5)
    result, seconds = _solve(problem, time_limit=limit)
    model = result.extras.get("model", {})
    return [_row("smooth", f"smooth_profit({n},50)", problem, "default", result, seconds,
                 generate_seconds=gen, build_seconds=result.extras.get("build_seconds"),
                 solve_seconds=result.extras.get("solve_seconds"), distinct_sets=model.get("nodes"),
                 groups=model.get("groups"))]


#: ``versus`` times each side as the best of this many runs (one run for solves over 5 s).
VERSUS_REPEATS = 5


def _best_of_interleaved(problem, *configs):
    """For each config (a dict of options), the fastest of up to ``VERSUS_REPEATS`` identical
    solves, the configs taking turns so that a busy spell of a shared machine slows them
    alike (its noise only ever adds time); a config stops repeating once a solve of it
    takes more than 5 s. Returns ``[(result, seconds, runs), ...]``."""
    best = [None] * len(configs)
    runs = [0] * len(configs)
    for _ in range(VERSUS_REPEATS):
        for c, options in enumerate(configs):
            if runs[c] and best[c][1] > 5.0:
                continue
            result, t = _solve(problem, **options)
            runs[c] += 1
            if best[c] is None or t < best[c][1]:
                best[c] = (result, t)
    return [(b[0], b[1], r) for b, r in zip(best, runs)]


def bench_versus(quick: bool, limit: float) -> list[dict]:
    """Default and classic on the same instances, in the same run."""
    rows = []
    cases = []
    for name, problem, _ in orlib(["pmed1", "pmed2"] if quick else None):
        cases.append((name, problem))
    for n in ((1000,) if quick else (2000, 10000)):
        cases.append((f"smooth_profit({n},50)", co.CoarseProblem(smooth_profit(n, 50, seed=1), 5)))
    _solve(cases[0][1], time_limit=limit)  # warm-up: first-call imports are not the method's time
    _solve(cases[0][1], time_limit=limit, formulation="classic")
    for name, problem in cases:
        (default, t_default, runs_default), (classic, t_classic, runs_classic) = _best_of_interleaved(
            problem, {"time_limit": limit}, {"time_limit": limit, "formulation": "classic"})
        rows.append(_row("versus", name, problem, "default", default, t_default, runs=runs_default,
                         tree_seconds=default.extras.get("tree_first_seconds"),
                         tree_nodes=default.extras.get("tree_first_nodes"),
                         lp_rounds=default.extras.get("lp_rounds")))
        rows.append(_row("versus", name, problem, "classic", classic, t_classic, runs=runs_classic,
                         speedup=t_classic / t_default,
                         classic_finished=classic.status == "optimal",
                         same_objective=bool(abs(classic.objective - default.objective)
                                             <= 1e-6 * max(1.0, abs(default.objective)))))
    return rows


def bench_noisy(quick: bool, limit: float) -> list[dict]:
    rows = []
    n = 3000 if quick else 20_000
    heuristics = [s for s in ("local-search", "ot") if s in co.available_solvers()]
    for noise in (0.001, 0.01, 0.1):
        problem = co.CoarseProblem(smooth_profit(n, 50, seed=2, noise=noise), 5)
        best_heur = -math.inf
        for name in heuristics:
            start = time.perf_counter()
            h = co.solve(problem, name, seed=0)
            secs = time.perf_counter() - start
            best_heur = max(best_heur, h.objective)
            rows.append({"part": "noisy", "instance": f"smooth_profit({n},50,noise={noise})", "n": n, "m": 50,
                         "k": 5, "config": name, "status": h.status, "objective": h.objective,
                         "bound": h.bound, "gap": h.gap, "seconds": secs})
        result, seconds = _solve(problem, time_limit=limit)
        rows.append(_row("noisy", f"smooth_profit({n},50,noise={noise})", problem, "default", result, seconds,
                         time_limit=limit, overrun=seconds - limit, best_heuristic=best_heur,
                         not_worse=bool(result.objective >= best_heur - 1e-9 * abs(best_heur)),
                         lagrangian_bound=result.extras.get("lagrangian_bound")))
    return rows


PARTS = {"orlib": (bench_orlib, 60.0), "beasley": (bench_beasley, 60.0), "smooth": (bench_smooth, 60.0),
         "versus": (bench_versus, 30.0), "noisy": (bench_noisy, 60.0)}


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.10g}"
    return str(v)


def _table(rows: list[dict]) -> str:
    cols = ["instance", "n", "m", "k", "config", "formulation", "status", "objective", "bound", "gap", "seconds"]
    extra = []
    for r in rows:
        for key in r:
            if key not in cols and key not in extra and key not in ("part", "message"):
                extra.append(key)
    cols += extra
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    return "\n".join(lines) + "\n"




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mip", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small instances only (a smoke run)")
    parser.add_argument("--parts", default="orlib", help="comma-separated: " + ",".join(PARTS))
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per solve (default 60)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for part in parts:
        fn, default_limit = PARTS[part]
        limit = args.time_limit or (10.0 if args.quick else default_limit)
        started = time.perf_counter()
        rows = fn(args.quick, limit)
        command = f"python -m benchmarks.mip --parts {part}" + (" --quick" if args.quick else "")
        if args.time_limit:
            command += f" --time-limit {args.time_limit:g}"
        meta = {"part": "meta", "command": command, "commit": git_commit(), "versions": versions(),
                "machine": machine_facts(), "total_seconds": time.perf_counter() - started, "threads": 1}
        suffix = "_quick" if args.quick else ""
        stem = args.out / f"mip.{part}{suffix}"
        with open(f"{stem}.jsonl", "w") as fh:
            for row in [meta, *rows]:
                fh.write(json.dumps(row, default=json_default) + "\n")
        machine = meta["machine"]
        header = [f"# mip benchmark: {part}", "",
                  f"Command: `{command}` (commit {meta['commit']}, {machine.get('cpu', '')}, "
                  f"{machine.get('logical_cpus', '')} logical CPUs, 1-minute load average "
                  f"{machine.get('load_average_1min', 'n/a')} at the end; HiGHS on 1 thread). "
                  f"Total {meta['total_seconds']:.0f} s.", "",
                  "gap = (bound - objective) / max(1, |bound|); seconds = wall time of co.solve.", "", ""]
        Path(f"{stem}.md").write_text("\n".join(header) + _table(rows))
        print(f"wrote {stem}.jsonl and .md ({meta['total_seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
