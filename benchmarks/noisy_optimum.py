"""Proven optima of noisy profit curves by exhaustive search, against the fast solvers.

On noisy curves (as from flexible CATE learners) the LP bound is loose (2-3% on
``smooth_profit(5000, 50, noise=0.2)``), so neither ``ot``'s certified gap nor ``mip`` within
a minute proves how close the heuristics are. For ``k = 5`` of ``m = 50`` the offered sets
can still be enumerated (``C(50, 5) = 2,118,760`` sets): ``f`` is monotone, so the best set
of exactly ``k`` treatments is the optimum. This benchmark does that and reports the gap of
``ot`` (default and plain Lloyd), ``local-search`` and ``mip`` (60 s) to the proven optimum.

Run from the repository root::

    python -m benchmarks.noisy_optimum            # about 5-10 minutes on 2 cores

Writes ``benchmarks/results/noisy_optimum.{jsonl,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import coarseopt as co

from .instances import smooth_profit

RESULTS = Path(__file__).resolve().parent / "results"

CONFIGS = [
    ("ot", "ot", {}),
    ("ot (plain Lloyd)", "ot", {"restarts": 1, "polish": False, "bound": False}),
    ("local-search", "local-search", {}),
    ("mip (60 s)", "mip", {}),
]


def run(instances: list[tuple[int, int, int, float, int]], out: Path) -> list[dict]:
    rows = []
    for n, m, k, noise, seed in instances:
        problem = co.CoarseProblem(smooth_profit(n, m, seed=seed, noise=noise), k=k)
        name = f"smooth_profit({n}, {m}, seed={seed}, noise={noise})"
        work = math.comb(m, k) * n * k
        t0 = time.perf_counter()
        exact = co.solve(problem, "enumerate", max_work=work + 1)
        rows.append(dict(instance=name, n=n, m=m, k=k, method="enumerate", objective=exact.objective,
                         status=exact.status, seconds=time.perf_counter() - t0, gap_to_optimum=0.0))
        assert exact.status == "optimal"
        for label, solver, options in CONFIGS:
            t0 = time.perf_counter()
            limit = 60.0 if solver == "mip" else None
            res = co.solve(problem, solver, time_limit=limit, seed=0, **options)
            rows.append(dict(
                instance=name, n=n, m=m, k=k, method=label, objective=res.objective, status=res.status,
                seconds=time.perf_counter() - t0,
                gap_to_optimum=(exact.objective - res.objective) / max(1.0, abs(exact.objective)),
                certified_gap=res.gap,
            ))
    out.mkdir(parents=True, exist_ok=True)
    facts = dict(python=platform.python_version(), machine=platform.machine(), processor=platform.processor(),
                 coarseopt=co.__version__)
    with open(out / "noisy_optimum.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({**row, **facts}) + "\n")
    lines = [
        "# Noisy curves: heuristics against the proven optimum (exhaustive search)",
        "",
        "Command: `python -m benchmarks.noisy_optimum`. gap = (optimum - objective) / max(1, |optimum|);",
        "certified gap = the solver's own (bound - objective) / max(1, |bound|).",
        "",
        "| instance | k | method | objective | status | gap to optimum % | certified gap % | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cg = r.get("certified_gap")
        lines.append(
            f"| {r['instance']} | {r['k']} | {r['method']} | {r['objective']:.4f} | {r['status']} | "
            f"{100 * r['gap_to_optimum']:.4f} | {'n/a' if cg is None else f'{100 * cg:.4f}'} | {r['seconds']:.2f} |"
        )
    (out / "noisy_optimum.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="one small instance (n = 1000, m = 30)")
    args = parser.parse_args(argv)
    if args.quick:
        instances = [(1000, 30, 5, 0.2, 4)]
    else:
        instances = [(5000, 50, 5, 0.2, 4), (5000, 50, 5, 0.2, 6)]
    run(instances, args.out)
    print((args.out / "noisy_optimum.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
