"""Profit against budget on synthetic promotions with known truth: the study's budget curve.

The promotions study (default learner, the experiment's 5 depths, cross-fitted, solver ``ot``) runs
with ``[solve] budget`` set to a list of budgets (fractions of what full personalization of
the models would spend). For every budget, every k = 1..5 and full personalization under
the same budget (the multi-armed Qini curve of Sverdrup et al. 2023, as in the R package
``maq``: a budget, no limit on the number of treatments), recorded: the held-out value and
lift per customer with their 95% intervals, the estimated spend with its interval, the
models' predicted spend and the true lift (the generator's known profit curves), per
customer.

Run from the repository root::

    python -m benchmarks.budget_curve                    # n = 20,000
    python -m benchmarks.budget_curve --n 100000

Writes ``benchmarks/results/budget_curve_{n}.{jsonl,md}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ._measure import git_commit, machine_facts

RESULTS = Path(__file__).resolve().parent / "results"
FRACTIONS = (0.1, 0.25, 0.5, 0.75)


def full_spend(n: int, seed: int, grid: int) -> float:
    """What full personalization of a quick model spends on the study's customers: the scale
    of the budgets."""
    import coarseopt as co

    df, truth = co.datasets.make_promotions(n, seed=seed)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, grid=grid or None, cv=None)
    best = est.profit.to_numpy().argmax(axis=1)
    return float(est.spend().to_numpy()[np.arange(n), best].sum())


def run(n: int, seed: int, grid: int, ks: list[int]) -> tuple[list[dict], float]:
    from coarseopt.config import parse_config
    from coarseopt.pipeline import run_study

    scale = full_spend(n, seed, grid)
    budgets = [round(f * scale) for f in FRACTIONS]
    raw = {
        "data": {"dataset": "promotions", "n": n, "seed": seed},
        "estimation": {"grid": grid},
        "solve": {"k": ks, "solver": "ot", "budget": [float(b) for b in budgets]},
        "evaluation": {"all_estimators": False},
        "output": {"report": False},
    }
    t0 = time.perf_counter()
    study = run_study(parse_config(raw), progress=False)
    seconds = time.perf_counter() - t0
    rows = []
    for _, r in study.budget_table.iterrows():
        rows.append({key: (None if isinstance(v, float) and not np.isfinite(v) else v) for key, v in dict(
            n=n, seed=seed, budget=float(r["budget"]), per_customer=float(r["budget"]) / n, offers=r["offers"],
            offered=r["offered"], value=float(r["value"]), value_ci_low=float(r["value_ci_low"]),
            value_ci_high=float(r["value_ci_high"]), lift=float(r["lift"]), lift_ci_low=float(r["lift_ci_low"]),
            lift_ci_high=float(r["lift_ci_high"]), true_lift=float(r["true_lift"]),
            predicted_spend=float(r["predicted_spend"]), spend=float(r["spend"]),
            spend_ci_low=float(r["spend_ci_low"]), spend_ci_high=float(r["spend_ci_high"]),
        ).items()})
    return rows, seconds


def _cell(v, digits=3):
    return "n/a" if v is None else f"{v:.{digits}f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=int, default=0)
    parser.add_argument("--k", type=int, nargs="*", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows, seconds = run(args.n, args.seed, args.grid, args.k)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"budget_curve_{args.n}"
    facts = {**machine_facts(), "commit": git_commit(), "study_seconds": seconds}
    with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({**r, **facts}) + "\n")
    lines = [
        f"# Profit against budget (synthetic promotions, n = {args.n:,}, known truth)",
        "",
        f"Command: `python -m benchmarks.budget_curve {' '.join(argv or [])}`. Per customer: budget, held-out value "
        "and lift with 95% intervals (n/a: the policy offers levels between the arms, which no data can value), the "
        "true lift (known truth), the models' predicted spend and the spend estimated from the experiment with its "
        f"95% interval. Study: {seconds:.0f} s.",
        "",
        "| policy | budget per customer | offered | value [95% CI] | lift [95% CI] | true lift | predicted spend | "
        "spend [95% CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['offers']} | {r['per_customer']:.3f} | {r['offered']} | {_cell(r['value'])} "
            f"[{_cell(r['value_ci_low'])}, {_cell(r['value_ci_high'])}] | {_cell(r['lift'])} "
            f"[{_cell(r['lift_ci_low'])}, {_cell(r['lift_ci_high'])}] | {_cell(r['true_lift'])} | "
            f"{_cell(r['predicted_spend'])} | {_cell(r['spend'])} [{_cell(r['spend_ci_low'])}, "
            f"{_cell(r['spend_ci_high'])}] |")
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print((args.out / f"{name}.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
