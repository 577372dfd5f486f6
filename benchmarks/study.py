"""The cross-fitted study against the holdout study, on synthetic promotions with known truth.

For each size ``n`` and seed, the promotions study (``examples/promotions.toml``: grid of 9
depths, k = 1..4, solver ``ot``; default learner) runs twice, with ``[split] method =
"crossfit"`` and ``"holdout"``. Recorded per k: the true profit per customer of the
*deployed* policy (the one each study tells the user to use: learned on all customers when
cross-fitted, on the training half otherwise), evaluated with the generator's known profit
curves on all of the study's customers; the width of the reported 95% interval of the lift
(where the policy can be valued); and the study's wall time and peak memory.

Run from the repository root::

    python -m benchmarks.study                       # n = 20,000 (3 seeds) and 100,000 (1 seed)
    python -m benchmarks.study --n 1000000 --seeds 1 --k 3 --grid 0   # the cost at scale

Writes ``benchmarks/results/study*.{jsonl,md}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ._measure import PeakMemory, git_commit, machine_facts

RESULTS = Path(__file__).resolve().parent / "results"


def one(n: int, seed: int, method: str, ks: list[int], grid: int) -> list[dict]:
    from coarseopt.config import parse_config
    from coarseopt.datasets import make_promotions
    from coarseopt.pipeline import run_study

    raw = {
        "data": {"dataset": "promotions", "n": n, "seed": seed},
        "estimation": {"grid": grid},
        "split": {"method": method},
        "solve": {"k": ks, "solver": "ot"},
        "evaluation": {"all_estimators": False},
        "output": {"report": False},
    }
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        study = run_study(parse_config(raw), progress=False)
    seconds = time.perf_counter() - t0
    _, truth = make_promotions(n, seed=seed)
    levels = np.asarray(study.treatments, dtype=float)
    true = truth.profit_at(levels, rows=study.source_rows)
    col = {t: j for j, t in enumerate(study.treatments)}
    ev = study.evaluation.set_index("policy")
    rows = []
    for k in ks:
        assigned = np.array([col[t] for t in study.assignment[f"treatment_k{k}"]])
        row = ev.loc[f"k={k}"]
        width = float(row["lift_ci_high"] - row["lift_ci_low"]) if np.isfinite(row["lift"]) else None
        rows.append(dict(
            n=n, seed=seed, method=method, k=k, grid=grid,
            deployed_true_profit=float(true[np.arange(len(assigned)), assigned].mean()),
            lift=None if not np.isfinite(row["lift"]) else float(row["lift"]),
            lift_ci_width=width, valued=bool(np.isfinite(row["lift"])),
            seconds=seconds, peak_mb=mem.peak_mb, peak_tree_mb=mem.peak_tree_mb, estimate_seconds=study.timings.get("estimate"),
        ))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[20_000, 100_000])
    parser.add_argument("--seeds", type=int, default=None, help="seeds per size (default 3 at 20,000, else 1)")
    parser.add_argument("--k", type=int, nargs="*", default=[1, 2, 3, 4])
    parser.add_argument("--grid", type=int, default=9)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="study")
    parser.add_argument("--methods", nargs="*", default=["crossfit", "holdout"])
    args = parser.parse_args(argv)
    rows = []
    for n in args.n:
        seeds = args.seeds or (3 if n <= 20_000 else 1)
        for seed in range(seeds):
            for method in args.methods:
                rows += one(n, seed, method, args.k, args.grid)
                print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    facts = {**machine_facts(), "commit": git_commit()}
    with open(args.out / f"{args.name}.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({**r, **facts}) + "\n")
    lines = [
        "# Cross-fitted vs holdout study (synthetic promotions, known truth)",
        "",
        f"Command: `python -m benchmarks.study {' '.join(argv or [])}`. True profit: mean true incremental profit "
        "per customer of the deployed policy over the study's customers; CI width: the reported 95% lift interval "
        "(levels between arms cannot be valued: n/a). Peak MB: this process's largest resident size above its "
        "start; with workers: plus the unique memory of the parallel model fits' worker processes.",
        "",
        "| n | seed | k | true profit (crossfit) | true profit (holdout) | CI width (crossfit) | CI width (holdout) | "
        "width ratio | time crossfit / holdout | peak MB crossfit / holdout | peak MB with workers |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    key = {(r["n"], r["seed"], r["k"], r["method"]): r for r in rows}
    for (n, seed, k, method), r in key.items():
        if method != "crossfit":
            continue
        h = key.get((n, seed, k, "holdout"))
        if h is None:
            lines.append(f"| {n:,} | {seed} | {k} | {r['deployed_true_profit']:.4f} | | "
                         f"{r['lift_ci_width'] or float('nan'):.4f} | | | {r['seconds']:.0f} s | {r['peak_mb']:.0f} | {r.get('peak_tree_mb', float('nan')):.0f} |")
            continue
        wc, wh = r["lift_ci_width"], h["lift_ci_width"]
        ratio = f"{wc / wh:.2f}" if wc and wh else "n/a"
        lines.append(
            f"| {n:,} | {seed} | {k} | {r['deployed_true_profit']:.4f} | {h['deployed_true_profit']:.4f} | "
            f"{'n/a' if wc is None else f'{wc:.4f}'} | {'n/a' if wh is None else f'{wh:.4f}'} | {ratio} | "
            f"{r['seconds']:.0f} s / {h['seconds']:.0f} s | {r['peak_mb']:.0f} / {h['peak_mb']:.0f} | "
            f"{r.get('peak_tree_mb', float('nan')):.0f} / {h.get('peak_tree_mb', float('nan')):.0f} |"
        )
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print((args.out / f"{args.name}.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
