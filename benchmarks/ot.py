"""Benchmark of the ``ot`` solver: quality against proven optima, speed at scale, share bounds.

Run from the repository root::

    python -m benchmarks.ot            # the full run (about 5-8 minutes on 2 cores)
    python -m benchmarks.ot --quick    # a smoke run on small instances

Four parts, each a block of rows in ``benchmarks/results/ot.jsonl`` (one JSON object per
line) and a table in ``benchmarks/results/ot.md``:

1. ``orlib``: OR-Library pmed1-10 against their published optima; ``ot`` (default), the plain
   Lloyd algorithm (``ot`` with ``restarts=1, polish=False, bound=False``: the paper's
   baseline) and ``local-search`` (default).
2. ``smooth``: synthetic promotion curves (``smooth_profit``) against the optimum proven by
   ``mip`` (or, when ``mip`` stops first, against the best proven bound: the gap is then an
   upper estimate); same three methods.
3. ``scale``: ``smooth_profit(10**6, 50)``, ``k = 5``: ``ot`` without the bound, ``ot`` with
   ``target_gap=5e-4``, the Lloyd baseline and ``local-search``, with the wall time of one
   numpy ``max(axis=1)`` pass measured in the same run (timings are ratios to it).
4. ``shares``: fixed shares (``min_share = max_share = 1/k``) at ``n = 10**5``, and the
   three transport methods (``emd``, ``sinkhorn``, ``dual``) on one offered set at
   ``n = 10**4``: time, objective, shares met exactly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

import coarseopt as co

from ._measure import git_commit, machine_facts, versions
from .instances import orlib, smooth_profit

RESULTS = Path(__file__).resolve().parent / "results"

METHODS = (
    ("ot", "ot", {}),
    ("ot (bound=False)", "ot", {"bound": False}),
    ("lloyd", "ot", {"restarts": 1, "polish": False, "bound": False}),
    ("local-search", "local-search", {}),
)
#: (n, m, k, noise, seed) of the synthetic promotion-curve instances.
SMOOTH = [(5000, 50, 3, 0.0, 1), (5000, 50, 5, 0.0, 2), (5000, 50, 8, 0.0, 3),
          (5000, 50, 5, 0.2, 4), (5000, 50, 8, 0.2, 5)]
SMOOTH_QUICK = [(1000, 20, 4, 0.0, 1), (1000, 20, 4, 0.2, 2)]


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _warm_up() -> None:
    """Import and run every method once on a tiny problem: first-call import costs are not
    what the timings measure."""
    p = co.CoarseProblem(np.random.default_rng(0).normal(size=(60, 6)), 2)
    for _, solver, options in METHODS:
        co.solve(p, solver, progress=False, **options)
    co.solve(co.CoarseProblem(p.profit, 2, min_share=0.3), "ot", progress=False)


def _row(part, instance, problem, method, result, seconds, reference, source, proven, **extra):
    gap = (reference - result.objective) / max(1.0, abs(reference))
    return {
        "part": part, "instance": instance, "n": problem.n, "m": problem.m, "k": problem.k,
        "method": method, "objective": result.objective, "reference": reference,
        "reference_source": source, "reference_proven": proven, "gap_pct": 100.0 * gap,
        "seconds": seconds, "status": result.status, "bound": result.bound,
        "certified_gap_pct": None if result.gap is None else 100.0 * result.gap, **extra,
    }


def bench_orlib(quick: bool) -> list[dict]:
    rows = []
    for name, problem, optimum in orlib(["pmed1", "pmed6"] if quick else None):
        for method, solver, options in METHODS:
            result, seconds = _timed(lambda: co.solve(problem, solver, seed=0, progress=False, **options))
            rows.append(_row("orlib", name, problem, method, result, seconds, -optimum,
                             "published (OR-Library)", True, cost=-result.objective, optimum=optimum))
            print(f"{name:7s} {method:13s} cost {-result.objective:8.0f} optimum {optimum:8.0f} "
                  f"gap {rows[-1]['gap_pct']:7.4f}% {seconds:6.2f} s {result.status}", flush=True)
    return rows


def bench_smooth(quick: bool) -> list[dict]:
    rows = []
    have_mip = "mip" in co.available_solvers()
    for n, m, k, noise, seed in SMOOTH_QUICK if quick else SMOOTH:
        problem = co.CoarseProblem(smooth_profit(n, m, seed=seed, noise=noise), k)
        name = f"smooth_profit({n}, {m}, seed={seed}, noise={noise})"
        results = {}
        for method, solver, options in METHODS:
            results[method] = _timed(lambda: co.solve(problem, solver, seed=0, progress=False, **options))
        reference, source, proven, exact_seconds = None, "", False, None
        if have_mip:
            exact, exact_seconds = _timed(lambda: co.solve(problem, "mip", time_limit=60 if not quick else 20,
                                                           progress=False))
            if exact.status == "optimal":
                reference, source, proven = exact.objective, "mip (optimal)", True
            elif exact.bound is not None:
                reference, source = exact.bound, f"mip bound ({exact.status})"
        ot_bound = results["ot"][0].bound
        if ot_bound is not None and (reference is None or (not proven and ot_bound < reference)):
            reference, source = ot_bound, "ot Lagrangian (LP) bound"
        if reference is not None and not proven:
            best = max(r.objective for r, _ in results.values())
            proven = reference <= best + 1e-9 * max(1.0, abs(best))
        for method, (result, seconds) in results.items():
            rows.append(_row("smooth", name, problem, method, result, seconds, reference, source, proven,
                             exact_seconds=exact_seconds))
            print(f"{name} k={k} {method:13s} objective {result.objective:12.3f} reference {reference:12.3f} "
                  f"[{source}] gap {rows[-1]['gap_pct']:7.4f}% {seconds:6.2f} s", flush=True)
    return rows


def bench_scale(quick: bool) -> list[dict]:
    n, m, k = (50_000, 50, 5) if quick else (10**6, 50, 5)
    profit = smooth_profit(n, m, seed=0)
    problem = co.CoarseProblem(profit, k)
    passes = [_timed(lambda: profit.max(axis=1))[1] for _ in range(5)]
    configs = [
        ("ot (bound=False)", "ot", {"bound": False}),
        ("ot (target_gap=5e-4)", "ot", {"target_gap": 5e-4}),
        ("lloyd", "ot", {"restarts": 1, "polish": False, "bound": False}),
        ("local-search", "local-search", {}),
    ]
    runs = []
    for method, solver, options in configs:
        result, seconds = _timed(lambda: co.solve(problem, solver, seed=0, progress=False, **options))
        runs.append((method, result, seconds))
    passes += [_timed(lambda: profit.max(axis=1))[1] for _ in range(5)]
    pass_time = statistics.median(passes)
    bound = min(r.bound for _, r, _ in runs if r.bound is not None)
    rows = []
    for method, result, seconds in runs:
        row = _row("scale", f"smooth_profit({n}, {m}, seed=0)", problem, method, result, seconds, bound,
                   "ot Lagrangian (LP) bound", False, max_pass_seconds=pass_time,
                   ratio_to_max_pass=seconds / pass_time, recovery=result.recovery,
                   bound_iterations=result.extras.get("bound_iterations"))
        rows.append(row)
        print(f"scale n={n} {method:22s} {seconds:6.2f} s = {row['ratio_to_max_pass']:6.1f} x one max pass "
              f"({pass_time:.3f} s); objective {result.objective:.3f}; gap to bound {row['gap_pct']:.4f}%; "
              f"certified gap {row['certified_gap_pct']}", flush=True)
    return rows


def bench_shares(quick: bool) -> list[dict]:
    from coarseopt_solvers._ot_transport import bounded_transport

    rows = []
    n, m, k = (5000, 30, 4) if quick else (10**5, 50, 5)
    profit = smooth_profit(n, m, seed=9, noise=0.1)
    problem = co.CoarseProblem(profit, k, min_share=1.0 / k, max_share=1.0 / k)
    result, seconds = _timed(lambda: co.solve(problem, "ot", seed=0, progress=False, restarts=8))
    free = co.solve(co.CoarseProblem(profit, k), "ot", seed=0, progress=False, bound=False)
    met = bool((result.counts >= problem.min_count[result.offered]).all()
               and (result.counts <= problem.max_count[result.offered]).all())
    rows.append({"part": "shares", "instance": f"smooth_profit({n}, {m}, seed=9, noise=0.1)", "n": n, "m": m,
                 "k": k, "method": "ot (fixed shares 1/k, shares_method=auto)", "seconds": seconds,
                 "objective": result.objective, "objective_without_shares": free.objective,
                 "counts": result.counts.tolist(), "shares_met_exactly": met, "status": result.status,
                 "transport_optimal": result.extras.get("transport_optimal"),
                 "certified_gap_pct": None if result.gap is None else 100.0 * result.gap})
    print(f"shares n={n} k={k}: {seconds:.2f} s, counts {result.counts.tolist()}, met {met}, objective "
          f"{result.objective:.3f} (without shares {free.objective:.3f})", flush=True)
    # the three transport methods on one offered set
    nt = 2000 if quick else 10**4
    sub = profit[:nt, free.offered]
    lo = hi = np.full(k, nt // k)
    lo[-1] = hi[-1] = nt - (k - 1) * (nt // k)
    for method in ("emd", "sinkhorn", "dual"):
        (pos, info), secs = _timed(lambda: bounded_transport(sub, lo, hi, method=method, reg=1e-2))
        value = float(sub[np.arange(nt), pos].sum())
        counts = np.bincount(pos, minlength=k)
        rows.append({"part": "transport", "instance": f"first {nt} rows, offered {free.offered.tolist()}",
                     "n": nt, "k": k, "method": method, "seconds": secs, "objective": value,
                     "shares_met_exactly": bool(np.array_equal(counts, lo)), "optimal": info["optimal"]})
        print(f"transport n={nt} {method:9s} {secs:6.3f} s objective {value:.6f} optimal {info['optimal']}",
              flush=True)
    return rows


def _table(rows: list[dict]) -> str:
    out = []
    quality = [r for r in rows if r["part"] in ("orlib", "smooth")]
    if quality:
        out += ["| instance | n | k | method | objective | reference | reference source | gap % | certified gap % "
                "| seconds | status |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in quality:
            cg = "n/a" if r["certified_gap_pct"] is None else f"{r['certified_gap_pct']:.4f}"
            out.append(f"| {r['instance']} | {r['n']} | {r['k']} | {r['method']} | {r['objective']:.3f} | "
                       f"{r['reference']:.3f} | {r['reference_source']} | {r['gap_pct']:.4f} | {cg} | "
                       f"{r['seconds']:.2f} | {r['status']} |")
        out.append("")
    scale = [r for r in rows if r["part"] == "scale"]
    if scale:
        out += ["| instance | k | method | seconds | one max(axis=1) pass | ratio | objective | gap to best bound % "
                "| certified gap % | status |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in scale:
            cg = "n/a" if r["certified_gap_pct"] is None else f"{r['certified_gap_pct']:.4f}"
            out.append(f"| {r['instance']} | {r['k']} | {r['method']} | {r['seconds']:.2f} | "
                       f"{r['max_pass_seconds']:.3f} | {r['ratio_to_max_pass']:.1f} | {r['objective']:.3f} | "
                       f"{r['gap_pct']:.4f} | {cg} | {r['status']} |")
        out.append("")
    shares = [r for r in rows if r["part"] in ("shares", "transport")]
    if shares:
        out += ["| part | instance | n | k | method | seconds | objective | shares met exactly |",
                "|---|---|---|---|---|---|---|---|"]
        for r in shares:
            out.append(f"| {r['part']} | {r['instance']} | {r['n']} | {r['k']} | {r['method']} | "
                       f"{r['seconds']:.3f} | {r['objective']:.4f} | {r['shares_met_exactly']} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ot", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small instances only (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for ot.jsonl / ot.md")
    parser.add_argument("--parts", default="orlib,smooth,scale,shares",
                        help="comma-separated: orlib,smooth,scale,shares")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    started = time.perf_counter()
    _warm_up()
    rows: list[dict] = []
    for part, bench in (("orlib", bench_orlib), ("smooth", bench_smooth), ("scale", bench_scale),
                        ("shares", bench_shares)):
        if part in parts:
            rows += bench(args.quick)
    command = "python -m benchmarks.ot" + (" --quick" if args.quick else "")
    if parts != {"orlib", "smooth", "scale", "shares"}:
        command += f" --parts {','.join(sorted(parts))}"
    meta = {"part": "meta", "command": command, "machine": machine_facts(), "versions": versions(),
            "commit": git_commit(), "total_seconds": time.perf_counter() - started}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "ot_quick" if args.quick else "ot"
    if parts != {"orlib", "smooth", "scale", "shares"}:  # a partial run never overwrites the full one
        stem += "_" + "_".join(sorted(parts))
    with open(args.out / f"{stem}.jsonl", "w") as fh:
        for row in [meta, *rows]:
            fh.write(json.dumps(row, default=_jsonable) + "\n")
    machine = meta["machine"]
    header = ["# ot benchmark", "",
              f"Command: `{meta['command']}` (commit {meta['commit']}, {machine.get('cpu', '')}, "
              f"{machine.get('logical_cpus', '')} logical CPUs, 1-minute load average "
              f"{machine.get('load_average_1min', 'n/a')} at the start). Total {meta['total_seconds']:.0f} s.", "",
              "Gap % is (reference - objective) / max(1, |reference|), the reference being the proven optimum "
              "(published for pmed, `mip` for the smooth curves) or, where none is proven, the best proven upper "
              "bound (then an upper estimate of the true gap). Certified gap % is the solver's own "
              "(bound - objective) / max(1, |bound|). Timings are wall seconds after a warm-up run; at scale "
              "the ratio is to one numpy `profit.max(axis=1)` pass over the same matrix, measured in the same run.",
              "", ""]
    (args.out / f"{stem}.md").write_text("\n".join(header) + _table(rows))
    print(f"wrote {args.out / f'{stem}.jsonl'} and .md")
    return 0


def _jsonable(x):
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


if __name__ == "__main__":
    raise SystemExit(main())
