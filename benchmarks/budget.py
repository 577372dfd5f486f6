"""Benchmark of a budget on the campaign's spend: quality on small instances, ``ot`` at scale, ``mip`` formulations.

Run from the repository root::

    python -m benchmarks.budget            # the full run (about 11 minutes on 2 cores)
    python -m benchmarks.budget --quick    # a smoke run on small instances
    python -m benchmarks.budget --parts mip  # the mip formulations only (about 6 minutes)

Three parts, each a block of rows in ``benchmarks/results/budget.jsonl`` (one JSON object per
line) and a table in ``benchmarks/results/budget.md``:

1. ``small``: ``smooth_profit(400, 16)`` with a cost per treatment (its level) and a cost per
   individual and treatment (the level times the individual's spend scale), budgets of 25%,
   50% and 75% of the unconstrained answer's spend, ``k = 3``: ``ot``, ``local-search`` and
   ``mip`` against the optimum proven by ``enumerate`` (exact under a budget).
2. ``scale``: ``smooth_profit(10**6, 50)``, ``k = 5``, the budget half of what the unconstrained
   ``ot`` answer spends: ``ot`` with ``target_gap=1e-3`` (its certified gap with the budget
   multiplier in the Lagrangian bound) and ``local-search``, for both kinds of cost.
3. ``mip``: ``smooth_profit(20000, 30)``, ``k = 5``, half the unconstrained spend: ``mip`` with
   ``formulation`` ``benders``, ``aggregated`` and ``classic`` (time limit 60 s each), for both
   kinds of cost. Not part of ``--quick``; alone: ``--parts mip``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import coarseopt as co

from ._measure import git_commit, machine_facts, measure, versions
from .instances import smooth_profit

RESULTS = Path(__file__).resolve().parent / "results"
FRACTIONS = (0.25, 0.5, 0.75)


def costs(n: int, m: int, seed: int) -> dict[str, np.ndarray]:
    """The two kinds of cost: the treatment's level (``(m,)``, e.g. a discount depth) and the
    level times a lognormal spend scale of each individual (``(n, m)``)."""
    t = np.linspace(0.0, 1.0, m)
    scale = np.random.default_rng(seed).lognormal(0.0, 0.3, n)
    return {"per treatment": t, "per individual": t[None, :] * scale[:, None]}


def unconstrained_spend(profit: np.ndarray, cost: np.ndarray, k: int) -> float:
    free = co.solve(co.CoarseProblem(profit, k), "ot", bound=False, progress=False)
    return float(np.broadcast_to(cost, profit.shape)[np.arange(profit.shape[0]), free.assignment].sum())


def _row(part, instance, kind, fraction, problem, method, result, seconds, peak_mb, reference=None, source=""):
    return {
        "part": part, "instance": instance, "cost": kind, "budget_fraction": fraction, "n": problem.n,
        "m": problem.m, "k": problem.k, "budget": problem.budget, "method": method, "status": result.status,
        "objective": result.objective, "spend": result.extras.get("spend"), "bound": result.bound,
        "certified_gap_pct": None if result.gap is None else 100.0 * result.gap,
        "reference": reference, "reference_source": source,
        "gap_pct": None if reference is None else 100.0 * (reference - result.objective) / max(1.0, abs(reference)),
        "price": result.extras.get("budget_price"), "seconds": seconds, "peak_mb": peak_mb,
    }


def bench_small(quick: bool) -> list[dict]:
    n, m, k = (150, 10, 3) if quick else (400, 16, 3)
    profit = smooth_profit(n, m, seed=3, noise=0.1)
    rows = []
    for kind, cost in costs(n, m, seed=3).items():
        full = unconstrained_spend(profit, cost, k)
        for fraction in FRACTIONS:
            problem = co.CoarseProblem(profit, k, cost=cost, budget=fraction * full)
            exact, *_ = measure(lambda: co.solve(problem, "enumerate", progress=False))
            reference = exact.objective if exact.status == "optimal" else None
            for method, options in (("ot", {}), ("local-search", {}), ("mip", {"time_limit": 60})):
                result, seconds, peak = measure(lambda: co.solve(problem, method, seed=0, progress=False, **options))
                rows.append(_row("small", f"smooth_profit({n}, {m}, noise=0.1)", kind, fraction, problem, method,
                                 result, seconds, peak, reference, "enumerate (optimal)"))
                print(f"{kind:14s} {fraction:.2f} {method:12s} {result.objective:11.3f} ref {reference:11.3f} "
                      f"gap {rows[-1]['gap_pct']:7.4f}% {seconds:6.2f} s {result.status}", flush=True)
    return rows


def bench_scale(quick: bool) -> list[dict]:
    n, m, k = (5_000, 30, 5) if quick else (10**6, 50, 5)
    profit = smooth_profit(n, m, seed=0)
    rows = []
    for kind, cost in costs(n, m, seed=1).items():
        full = unconstrained_spend(profit, cost, k)
        problem = co.CoarseProblem(profit, k, cost=cost, budget=0.5 * full)
        for method, options in (("ot", {"target_gap": 1e-3}), ("local-search", {})):
            result, seconds, peak = measure(lambda: co.solve(problem, method, seed=0, progress=False, **options))
            label = method + (" (target_gap=1e-3)" if options else "")
            rows.append(_row("scale", f"smooth_profit({n}, {m})", kind, 0.5, problem, label, result, seconds, peak))
            print(f"{kind:14s} {label:24s} {result.objective:13.3f} certified gap "
                  f"{rows[-1]['certified_gap_pct'] or float('nan'):.4f}% {seconds:6.1f} s {result.status}", flush=True)
    return rows


def bench_mip(quick: bool) -> list[dict]:
    n, m, k, limit = (2_000, 12, 3, 10.0) if quick else (20_000, 30, 5, 60.0)
    profit = smooth_profit(n, m, seed=0)
    rows = []
    for kind, cost in costs(n, m, seed=1).items():
        full = unconstrained_spend(profit, cost, k)
        problem = co.CoarseProblem(profit, k, cost=cost, budget=0.5 * full)
        for formulation in ("benders", "aggregated", "classic"):
            result, seconds, peak = measure(lambda: co.solve(problem, "mip", formulation=formulation, seed=0,
                                                             time_limit=limit, progress=False))
            label = f"mip {formulation} ({limit:.0f} s)"
            rows.append(_row("mip", f"smooth_profit({n}, {m})", kind, 0.5, problem, label, result, seconds, peak))
            print(f"{kind:14s} {label:26s} {result.objective:13.3f} certified gap "
                  f"{rows[-1]['certified_gap_pct'] if rows[-1]['certified_gap_pct'] is not None else float('nan'):.6f}% "
                  f"{seconds:6.1f} s {result.status}", flush=True)
    return rows


def _fmt(x, digits=3):
    if x is None:
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _table(rows: list[dict]) -> str:
    out = []
    for part, title in (("small", "Small instances: against the optimum proven by `enumerate`"),
                        ("scale", "At scale: 10^6 individuals x 50 treatments, k = 5, half the unconstrained spend"),
                        ("mip", "mip formulations: 20,000 individuals x 30 treatments, k = 5, half the unconstrained "
                                "spend")):
        block = [r for r in rows if r["part"] == part]
        if not block:
            continue
        out += [f"## {title}", "",
                "| cost | budget (share of unconstrained spend) | method | objective | spend / budget | gap % "
                "| certified gap % | price | seconds | peak MB | status |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in block:
            out.append(
                f"| {r['cost']} | {r['budget_fraction']:.2f} | {r['method']} | {_fmt(r['objective'])} "
                f"| {r['spend'] / r['budget']:.6f} | {_fmt(r['gap_pct'], 4)} | {_fmt(r['certified_gap_pct'], 4)} "
                f"| {_fmt(r['price'], 4)} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['status']} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small instances only (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for budget.jsonl / budget.md")
    parser.add_argument("--parts", default=None,
                        help="comma-separated: small,scale,mip (default: all; with --quick: small,scale)")
    args = parser.parse_args(argv)
    default = {"small", "scale"} if args.quick else {"small", "scale", "mip"}
    parts = default if args.parts is None else {p.strip() for p in args.parts.split(",") if p.strip()}
    started = time.perf_counter()
    co.solve(co.CoarseProblem(np.eye(4), 2, cost=np.ones(4), budget=4.0), "ot", progress=False)  # warm-up
    rows: list[dict] = []
    for part, bench in (("small", bench_small), ("scale", bench_scale), ("mip", bench_mip)):
        if part in parts:
            rows += bench(args.quick)
    command = "python -m benchmarks.budget" + (" --quick" if args.quick else "")
    if parts != default:
        command += f" --parts {','.join(sorted(parts))}"
    meta = {"part": "meta", "command": command, "machine": machine_facts(), "versions": versions(),
            "commit": git_commit(), "total_seconds": time.perf_counter() - started}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "budget_quick" if args.quick else "budget"
    if parts != default:  # a partial run never overwrites the full one
        stem += "_" + "_".join(sorted(parts))
    with open(args.out / f"{stem}.jsonl", "w") as fh:
        for row in [meta, *rows]:
            fh.write(json.dumps(row, default=float) + "\n")
    machine = meta["machine"]
    header = ["# budget benchmark", "",
              f"Command: `{meta['command']}` (commit {meta['commit']}, {machine.get('cpu', '')}, "
              f"{machine.get('logical_cpus', '')} logical CPUs, 1-minute load average "
              f"{machine.get('load_average_1min', 'n/a')} at the start). Total {meta['total_seconds']:.0f} s.", "",
              "Gap % is (reference - objective) / max(1, |reference|) against the optimum proven by `enumerate`. "
              "Certified gap % is the solver's own (bound - objective) / max(1, |bound|); for `ot` the bound is "
              "the Lagrangian bound with the budget multiplier, for `local-search` full personalization under "
              "the budget's price. Spend / budget is at most 1 for every answer. Price is the heuristic's "
              "Lagrangian price of the budget (`extras['budget_price']`). Peak MB is the memory the call added "
              "on top of its input.", "", ""]
    (args.out / f"{stem}.md").write_text("\n".join(header) + _table(rows))
    print(f"wrote {args.out / f'{stem}.jsonl'} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
