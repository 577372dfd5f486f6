"""Benchmark of proofs on fine treatment grids: answer, certificate and proven optimum.

Zhang & Misra's setting: a continuous treatment (discount depth) tried at a few arms and
offered on a fine grid. The profit matrices are step 1's output on ``make_promotions``
(five arms, the default learner, cross-fitted, outcomes interpolated linearly to ``grid``
levels). On each, ``local-search`` (the answer), ``ot`` with ``target_gap=1e-4`` (a
certified gap) and ``mip`` (a proven optimum) run with ``time_limit`` seconds each, every
solve in a fresh process, on this checkout and, with ``--base``, on an older one in the same
run (alternating, so both see the same machine load).

Run from the repository root::

    python -m benchmarks.fine_grid --base ../coarseopt-base            # n = 100,000
    python -m benchmarks.fine_grid --n 1000000 --grids 201 --base ../coarseopt-base
    python -m benchmarks.fine_grid --quick                             # a smoke run

Writes ``benchmarks/results/fine_grid_<n>.jsonl`` (one JSON object per solve) and
``benchmarks/results/fine_grid_<n>.md`` (a table: per grid and ``k``, each solver's time,
status and gap on each checkout, and the ratios to ``local-search``'s time that the
targets are stated in).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import coarseopt as co

from ._measure import git_commit, machine_facts, versions
from .side_by_side import ROOT, _import_root, _run

RESULTS = Path(__file__).resolve().parent / "results"

SOLVES = {
    "local-search": "",
    "ot": ", target_gap=1e-4",
    "mip": "",
}


def profit_matrix(n: int, grid: int, seed: int = 0) -> np.ndarray:
    """Step 1 on ``make_promotions(n)``: cross-fitted profit at ``grid`` discount levels."""
    df, truth = co.datasets.make_promotions(n, seed=seed)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, grid=grid, random_state=seed)
    return np.ascontiguousarray(est.profit.to_numpy(dtype=np.float64))


def _code(path: Path, k: int, solver: str, time_limit: float) -> str:
    return f"""
profit = np.load({str(path)!r})
profit.setflags(write=False)
problem = co.CoarseProblem(profit, k={k})
t0 = time.perf_counter()
r = co.solve(problem, "{solver}", seed=0, time_limit={time_limit}{SOLVES[solver]})
elapsed = time.perf_counter() - t0
result = {{"objective": r.objective, "status": r.status, "gap": r.gap, "bound": r.bound,
          "offered": r.offered.tolist(), "kept": r.extras.get("treatments_kept")}}
"""


def _command(argv: list[str], base_commit: str | None) -> str:
    """The command as run, the base checkout's path replaced by its commit (a path of this
    machine means nothing elsewhere)."""
    words = list(argv)
    for i, w in enumerate(words):
        if w == "--base" and i + 1 < len(words):
            words[i + 1] = f"<checkout of {base_commit}>"
        elif w.startswith("--base="):
            words[i] = f"--base=<checkout of {base_commit}>"
    return "python -m benchmarks.fine_grid " + " ".join(words)


def _table(rows: list[dict], sides: list[str]) -> str:
    both = len(sides) > 1
    head = "| grid | k | " + " | ".join(
        f"{s} {side} (s, status, gap)" for side in sides for s in SOLVES) + " | " + " | ".join(
        f"{s} / local-search ({side})" for side in sides for s in ("ot", "mip")) + " |" + (
        " ot this / base | mip this / base |" if both else "")
    lines = [head, "|" + "---|" * (2 + len(sides) * 5 + (2 if both else 0))]
    keys = sorted({(r["grid"], r["k"]) for r in rows})
    for grid, k in keys:
        got = {(r["side"], r["solver"]): r for r in rows if r["grid"] == grid and r["k"] == k}
        cells, ratios = [], []
        for side in sides:
            for s in SOLVES:
                r = got.get((side, s))
                gap = "-" if r is None or r["gap"] is None else f"{r['gap']:.1e}"
                cells.append("-" if r is None else f"{r['seconds']:.1f}, {r['status']}, {gap}")
            ls = got.get((side, "local-search"))
            for s in ("ot", "mip"):
                r = got.get((side, s))
                ratios.append("-" if r is None or ls is None else f"{r['seconds'] / ls['seconds']:.1f}")
        if both:
            for s in ("ot", "mip"):
                this, base = got.get(("this", s)), got.get(("base", s))
                ratios.append("-" if this is None or base is None else f"{this['seconds'] / base['seconds']:.2f}")
        lines.append(f"| {grid} | {k} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(lines) + "\n"


def write_md(path: Path, rows: list[dict], meta: dict) -> None:
    """The results page: how it was run, the table and the targets' ratios."""
    sides = ["this"] + (["base"] if any(r["side"] == "base" for r in rows) else [])
    machine = meta.get("machine", {})
    head = [f"# fine treatment grids, n = {meta['n']:,}", "",
            f"Command: `{meta['command']}` (commit {meta.get('commit')}"
            + (f", base {meta['base_commit']}" if meta.get("base_commit") else "")
            + f", {machine.get('cpu', '?')}, {machine.get('logical_cpus', '?')} logical CPUs; BLAS on 1 thread). "
            f"Time limit {meta['time_limit']:.0f} s per solve."
            + (f" Total {meta['seconds']:.0f} s." if meta.get("seconds") else ""), "",
            "Profit: `make_promotions(n)` through `estimate_profit(grid=g)` (5 arms, default learner, "
            "5-fold cross-fitting). local-search: default options; ot: `target_gap=1e-4`; mip: defaults. "
            "Every solve in a fresh process, seed 0; `this` and `base` alternate. The targets: mip at most "
            "10 times and ot at most 5 times local-search's time, on each row.", ""]
    path.write_text("\n".join(head) + "\n" + _table(rows, sides))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--grids", type=int, nargs="+", default=[101, 201, 401])
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per solve")
    parser.add_argument("--base", type=Path, help="checkout of an older commit, timed in the same run")
    parser.add_argument("--solvers", nargs="+", default=list(SOLVES), choices=list(SOLVES))
    parser.add_argument("--quick", action="store_true", help="n = 5,000, grid 41, k = 3 (a smoke run)")
    parser.add_argument("--name", default=None, help="results file stem (default fine_grid_<n>)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.grids, args.k, args.time_limit = 5_000, [41], [3], 60.0
    name = args.name or f"fine_grid_{args.n}"
    RESULTS.mkdir(exist_ok=True)
    jsonl = RESULTS / f"{name}.jsonl"
    started = time.perf_counter()
    meta = {"machine": machine_facts(), "versions": versions(), "commit": git_commit(),
            "base_commit": git_commit(args.base) if args.base else None, "n": args.n, "time_limit": args.time_limit}
    meta["command"] = _command(argv or sys.argv[1:], meta["base_commit"])
    jsonl.write_text(json.dumps(meta) + "\n")
    rows: list[dict] = []
    sides = ["this"] + (["base"] if args.base else [])
    with tempfile.TemporaryDirectory() as tmp:
        roots = {"this": _import_root(ROOT, Path(tmp) / "this")}
        if args.base:
            roots["base"] = _import_root(args.base, Path(tmp) / "base")
        for grid in args.grids:
            path = Path(tmp) / f"profit_{grid}.npy"
            np.save(path, profit_matrix(args.n, grid))
            for k in args.k:
                for solver in args.solvers:
                    for side in reversed(sides):  # the older checkout first
                        got = _run(_code(path, k, solver, args.time_limit), roots[side], Path(tmp))
                        row = {"n": args.n, "grid": grid, "k": k, "solver": solver, "side": side,
                               "seconds": got["seconds"], **got["result"]}
                        rows.append(row)
                        with open(jsonl, "a") as fh:
                            fh.write(json.dumps(row, default=float) + "\n")
                        print(f"grid {grid} k {k} {solver} ({side}): {got['seconds']:.1f} s, {row['status']}, "
                              f"objective {row['objective']:.6f}, gap {row['gap']}", flush=True)
    meta["seconds"] = time.perf_counter() - started
    write_md(RESULTS / f"{name}.md", rows, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
