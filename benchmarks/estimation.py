"""Step-1 benchmark: how much of the true coarse optimum do estimated profits recover?

Run from the repository root::

    python -m benchmarks.estimation              # full run (a few minutes on 2 cores)
    python -m benchmarks.estimation --quick      # smoke run (one seed, small n)
    python -m benchmarks.estimation --learning-curve   # S-learner, 5,000 to 80,000 customers
    python -m benchmarks.estimation --learning-curve --curve-learner smooth   # the smooth S-learner

**Promotions** (``co.datasets.make_promotions``; 5 randomized discount arms 0..0.4, a
17-level candidate grid, k = 5). For every seed: 20,000 training customers and 20,000
held-out customers from the same population. Each learner estimates profits on the
training customers (5-fold cross-fitting, default base model), step 2 picks the offered
set on those estimates, and the held-out customers are assigned their best offered
treatment under the learner's predictions for them. The policy's value is measured on the
held-out customers' *true* profit curves and divided by the value of the true-optimal
coarse policy (true curves, same k, solved exactly). Also reported: an arms-only
estimate (``grid=None``), the best single treatment and full personalization.

**Hillstrom** (bundled MineThatData e-mail experiment, ``spend`` and ``conversion``
outcomes, e-mail cost a parameter): end-to-end wall time on all 64,000 customers, the
policies for k = 1, 2, 3 with their estimated value, and an honest value: policies
learned on a random half, valued by AIPW on the other half.

Results: ``benchmarks/results/estimation.jsonl`` (one JSON object per measurement, the
first line holds versions and machine facts) and ``benchmarks/results/estimation.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import coarseopt as co
from coarseopt.estimation import SLearner, train_test_split_experiment

from ._measure import git_commit, machine_facts, versions

RESULTS = Path(__file__).resolve().parent / "results"
HILLSTROM_FEATURES = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]
LEARNERS = ("t", "s", "x", "dr", "smooth")


def pick_solver(problem: co.CoarseProblem) -> str:
    """``enumerate`` when C(m, k) <= 1000, else the best available of mip (exact), ot, local-search.

    (C(17, 5) = 6,188 sets on 20,000 customers take enumerate about 20 s; the MIP proves the
    same optimum in under a second.)
    """
    k = problem.k_effective
    if math.comb(problem.m, k) <= 1000:
        return "enumerate"
    for name in ("mip", "ot", "local-search"):
        if name in co.available_solvers():
            return name
    return "enumerate"


# ---------------------------------------------------------------------- promotions
def promotions(seed: int, n_train: int, n_test: int, k: int, learners: tuple[str, ...]) -> list[dict]:
    df, truth = co.datasets.make_promotions(n_train + n_test, seed=seed)
    train_rows, test_rows = np.arange(n_train), np.arange(n_train, n_train + n_test)
    exp = co.Experiment(df.iloc[train_rows], outcome="sales", treatment="discount", features=truth.features)
    true_test = truth.profit.to_numpy()[test_rows]
    # Profit without any promotion (the control's), to report recovery of total profit too.
    baseline = float(truth.margin * truth.outcome.to_numpy()[test_rows, 0].mean())
    opt_problem = co.CoarseProblem(true_test, k)
    opt = co.solve(opt_problem, pick_solver(opt_problem))
    opt_value = opt.objective / n_test
    base = {"suite": "promotions", "seed": seed, "n_train": n_train, "n_test": n_test, "k": k,
            "m": truth.grid.size, "arms": truth.arms.tolist()}
    rows = [{
        **base, "method": "truth", "optimal_value": opt_value, "optimal_status": opt.status, "solver": opt.solver,
        "baseline_profit": baseline,
        "optimal_offered": truth.grid[opt.offered].tolist(),
        "full_personalization": float(true_test.max(axis=1).mean()),
        "best_single": float(true_test.mean(axis=0).max()),
        "best_single_level": float(truth.grid[true_test.mean(axis=0).argmax()]),
    }]
    # Interpolation alone: the true expected sales at the arms, interpolated onto the grid.
    from scipy.interpolate import PchipInterpolator

    sales_arms = truth.expected_sales(truth.arms, test_rows)
    for label, curve in (("linear", lambda: _linear(sales_arms, truth.arms, truth.grid)),
                         ("pchip", lambda: PchipInterpolator(truth.arms, sales_arms, axis=1)(truth.grid))):
        sales = curve()
        prof = truth.economics.profit_matrix(sales, truth.grid, numeric=True)
        prof -= prof[:, [0]]
        interp_problem = co.CoarseProblem(prof, k)
        r = co.solve(interp_problem, pick_solver(interp_problem))
        value = float(true_test[np.arange(n_test), r.assignment].mean())
        rows.append({**base, "method": f"true-arms-{label}-interpolation", "recovery": value / opt_value,
                     "true_value_test": value})
    runs = [(name, truth.grid, 5, name) for name in learners]
    runs += [(SLearner(level_monotonic=1), truth.grid, 5, "s-monotone"),
             ("s", None, 5, "s-arms-only"), ("s", truth.grid, None, "s-in-sample")]
    for name, grid, cv, label in runs:
        t0 = time.perf_counter()
        est = co.estimate_profit(exp, truth.economics, learner=name, grid=grid, cv=cv, random_state=0)
        fit_s = time.perf_counter() - t0
        problem = est.to_problem(k)
        solver = pick_solver(problem)
        result = co.solve(problem, solver)
        held = est.predict(df.iloc[test_rows])
        assigned = held.assign(result)
        cols = truth.profit.columns.get_indexer(assigned.to_numpy())
        value = float(true_test[np.arange(n_test), cols].mean())
        rows.append({
            **base, "method": label, "learner": str(name) if not isinstance(name, str) else name, "cv": cv,
            "grid": "arms" if grid is None else int(len(truth.grid)), "solver": solver,
            "offered": [float(v) for v in est.profit.columns[result.offered]],
            "estimated_value_train": result.objective / n_train, "true_value_test": value,
            "recovery": value / opt_value,
            "recovery_total_profit": (value + baseline) / (opt_value + baseline),
            "fit_seconds": round(fit_s, 2),
        })
        print(f"promotions seed={seed} {rows[-1]['method']:>12s}: recovery {value / opt_value:.4f} "
              f"(fit {fit_s:.1f} s)", flush=True)
    return rows


def learning_curve(seed: int, sizes: list[int], n_test: int, k: int, learner: str) -> list[dict]:
    """Recovery of one learner as the number of training customers grows (same held-out set)."""
    n_max = max(sizes)
    df, truth = co.datasets.make_promotions(n_max + n_test, seed=seed)
    test_rows = np.arange(n_max, n_max + n_test)
    true_test = truth.profit.to_numpy()[test_rows]
    opt_problem = co.CoarseProblem(true_test, k)
    opt_value = co.solve(opt_problem, pick_solver(opt_problem)).objective / n_test
    rows = []
    for n in sizes:
        exp = co.Experiment(df.iloc[:n], outcome="sales", treatment="discount", features=truth.features)
        t0 = time.perf_counter()
        est = co.estimate_profit(exp, truth.economics, learner=learner, grid=truth.grid, cv=5, random_state=0)
        fit_s = time.perf_counter() - t0
        problem = est.to_problem(k)
        result = co.solve(problem, pick_solver(problem))
        held = est.predict(df.iloc[test_rows])
        cols = truth.profit.columns.get_indexer(held.assign(result).to_numpy())
        value = float(true_test[np.arange(n_test), cols].mean())
        rows.append({"suite": "learning_curve", "seed": seed, "learner": learner, "n_train": n, "n_test": n_test,
                     "k": k, "recovery": value / opt_value, "fit_seconds": round(fit_s, 2)})
        print(f"learning curve {learner} n={n}: recovery {value / opt_value:.4f} (fit {fit_s:.1f} s)", flush=True)
    return rows


def _linear(values: np.ndarray, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(grid, x, row) for row in values])


# ---------------------------------------------------------------------- hillstrom
def hillstrom(outcome: str, email_cost: float, value_per_conversion: float | None, learner: Any) -> list[dict]:
    t0 = time.perf_counter()
    df = co.datasets.load_hillstrom()
    if value_per_conversion is None:  # the 30% margin on the average order of a converter
        value_per_conversion = round(0.3 * float(df.loc[df["conversion"] == 1, "spend"].mean()), 2)
    if outcome == "spend":
        econ = co.Economics(margin=0.3, cost={"Mens E-Mail": email_cost, "Womens E-Mail": email_cost})
    else:
        econ = co.Economics(margin=value_per_conversion,
                            cost={"Mens E-Mail": email_cost, "Womens E-Mail": email_cost})
    exp = co.Experiment(df, outcome=outcome, treatment="segment", features=HILLSTROM_FEATURES, control="No E-Mail")
    est = co.estimate_profit(exp, econ, learner=learner, cv=5, random_state=0)
    policies = []
    for k in (1, 2, 3):
        r = co.solve(est.to_problem(k), "enumerate")
        policies.append((k, r))
    wall = time.perf_counter() - t0
    base = {"suite": "hillstrom", "outcome": outcome, "email_cost": email_cost, "learner": str(learner),
            "value_per_conversion": value_per_conversion if outcome == "conversion" else None}
    rows = [{**base, "method": "end_to_end", "wall_seconds": round(wall, 2), "n": exp.n,
             "arm_effects": {str(a): {c: float(v) for c, v in row.items()}
                             for a, row in est.arm_effects.iterrows()}}]
    for k, r in policies:
        rows.append({**base, "method": "policy_full_sample", "k": k,
                     "offered": [str(est.profit.columns[j]) for j in r.offered],
                     "shares": [round(float(s), 4) for s in r.shares],
                     "estimated_value": r.objective / exp.n})
    # Honest value: learn on a random half, value by AIPW on the other half.
    train, test = train_test_split_experiment(exp, test_size=0.5, random_state=0)
    est_tr = co.estimate_profit(train, econ, learner=learner, cv=5, random_state=0)
    held = est_tr.predict(test)
    for k in (1, 2, 3):
        r = co.solve(est_tr.to_problem(k), "enumerate")
        pv = held.policy_value(held.assign(r))
        rows.append({**base, "method": "policy_held_out", "k": k,
                     "offered": [str(est_tr.profit.columns[j]) for j in r.offered],
                     "estimated_value_train": r.objective / train.n,
                     "aipw_value_test": pv.estimate, "aipw_se_test": pv.se, "n_test": pv.n})
    print(f"hillstrom {outcome}: end to end {wall:.1f} s", flush=True)
    return rows


# ---------------------------------------------------------------------- report
def _fmt(x: float, d: int = 3) -> str:
    return f"{x:.{d}f}"


def report(meta: dict, rows: list[dict]) -> str:
    out = ["# Step 1 benchmark: estimated profits vs truth", "",
           f"Command: `{meta['command']}`  ", f"Commit: `{meta['commit']}`, "
           f"{meta['machine'].get('usable_cpus', '?')} usable CPUs ({meta['machine'].get('cpu', '')}), "
           f"load average {meta['machine'].get('load_average_1min')} at start", ""]
    promo = [r for r in rows if r["suite"] == "promotions"]
    if promo:
        truths = [r for r in promo if r["method"] == "truth"]
        seeds = [t["seed"] for t in truths]
        t0 = truths[0]
        out += ["## Promotions: recovery of the true-optimal coarse policy on held-out customers", "",
                f"make_promotions, {t0['n_train']:,} training + {t0['n_test']:,} held-out customers, arms "
                f"{t0['arms']}, {t0['m']} candidate levels, k = {t0['k']}. Recovery = true profit of the learned "
                "policy on held-out customers / true profit of the true-optimal coarse policy.", ""]
        methods = [r["method"] for r in promo if r["seed"] == seeds[0] and "fit_seconds" in r]
        header = ("| learner | " + " | ".join(f"seed {s}" for s in seeds)
                  + " | mean | min | mean, of total profit | fit s (mean) |")
        out += [header, "|" + "---|" * (len(seeds) + 5)]
        for m in methods:
            vals = [r["recovery"] for s in seeds for r in promo if r["seed"] == s and r["method"] == m]
            tot = [r["recovery_total_profit"] for r in promo if r["method"] == m]
            secs = [r["fit_seconds"] for r in promo if r["method"] == m]
            out.append(f"| {m} | " + " | ".join(f"{100 * v:.1f}%" for v in vals)
                       + f" | {100 * np.mean(vals):.1f}% | {100 * min(vals):.1f}% | {100 * np.mean(tot):.1f}% "
                       f"| {np.mean(secs):.1f} |")
        out += ["", "Recovery is of *incremental* profit (over sending no promotion). The column 'of total "
                "profit' adds the profit every customer brings without a promotion to both numerator and "
                "denominator."]
        out += ["", "Interpolation alone (the true expected sales at the arms, interpolated onto the grid, then "
                "the same economics and solver):", "", "| interpolation | " + " | ".join(f"seed {s}" for s in seeds)
                + " |", "|" + "---|" * (len(seeds) + 1)]
        for m in ("linear", "pchip"):
            vals = [r["recovery"] for s in seeds for r in promo
                    if r["seed"] == s and r["method"] == f"true-arms-{m}-interpolation"]
            out.append(f"| {m} | " + " | ".join(f"{100 * v:.2f}%" for v in vals) + " |")
        out += ["", "`smooth`: `SLearner(level_model=\"logit\")` (the default for numeric levels): logistic "
                "purchase probability in the level with feature-driven intercept and slope, times a boosted "
                "model of the size of non-zero outcomes. `s-monotone`: `SLearner(level_monotonic=1)`. "
                "`s-arms-only`: offered treatments restricted to the arms (`grid=None`). `s-in-sample`: no "
                "cross-fitting (`cv=None`).", "",
                "Estimated value on the training customers (what step 2 believes) vs true value on held-out "
                "customers, profit per customer:", "",
                "| learner | seed | estimated (train) | true (held out) | optimism |", "|---|---|---|---|---|"]
        for r in promo:
            if r["method"] in ("s", "s-in-sample", "smooth"):
                out.append(f"| {r['method']} | {r['seed']} | {_fmt(r['estimated_value_train'])} | "
                           f"{_fmt(r['true_value_test'])} | "
                           f"{100 * (r['estimated_value_train'] / r['true_value_test'] - 1):+.1f}% |")
        out += ["", "Reference points (true curves of the held-out customers, profit per customer):", "",
                "| seed | true-optimal coarse (k) | offered | best single treatment | full personalization "
                "| no promotion (total profit) |", "|---|---|---|---|---|---|"]
        for t in truths:
            out.append(f"| {t['seed']} | {_fmt(t['optimal_value'])} | {t['optimal_offered']} | "
                       f"{_fmt(t['best_single'])} (d = {t['best_single_level']}) | {_fmt(t['full_personalization'])} "
                       f"| {_fmt(t['baseline_profit'])} |")
        out.append("")
    curve = [r for r in rows if r["suite"] == "learning_curve"]
    if curve:
        c0 = curve[0]
        out += [f"## Learning curve: `{c0['learner']}` learner, seed {c0['seed']}, {c0['n_test']:,} held-out "
                f"customers, k = {c0['k']}", "", "| training customers | recovery | fit s |", "|---|---|---|"]
        out += [f"| {r['n_train']:,} | {100 * r['recovery']:.1f}% | {r['fit_seconds']:.1f} |" for r in curve]
        out.append("")
    hill = [r for r in rows if r["suite"] == "hillstrom"]
    for outcome, learner in [(o, lr) for o in ("spend", "conversion") for lr in ("t", "s")]:
        sub = [r for r in hill if r["outcome"] == outcome and r["learner"] == learner]
        if not sub:
            continue
        e2e = next(r for r in sub if r["method"] == "end_to_end")
        unit = "margin 0.3 on spend" if outcome == "spend" else f"{e2e['value_per_conversion']} per conversion"
        out += [f"## Hillstrom, outcome `{outcome}` ({unit}, e-mail cost {e2e['email_cost']}, learner "
                f"{e2e['learner']})", "",
                f"End to end (load, validate, 5-fold estimate on {e2e['n']:,} customers, solve k = 1, 2, 3): "
                f"**{e2e['wall_seconds']:.1f} s**.", "",
                "| k | offered (full sample) | shares | estimated value / customer | offered (learned on half) "
                "| AIPW value on other half ± SE |", "|---|---|---|---|---|---|"]
        for k in (1, 2, 3):
            f = next(r for r in sub if r["method"] == "policy_full_sample" and r["k"] == k)
            h = next(r for r in sub if r["method"] == "policy_held_out" and r["k"] == k)
            out.append(f"| {k} | {', '.join(f['offered'])} | {', '.join(map(str, f['shares']))} | "
                       f"{_fmt(f['estimated_value'], 4)} | {', '.join(h['offered'])} | "
                       f"{_fmt(h['aipw_value_test'], 4)} ± {_fmt(h['aipw_se_test'], 4)} |")
        out += ["", "Arm effects (mean incremental profit per customer vs No E-Mail: model vs AIPW ± SE):", "",
                "| arm | predicted | AIPW | SE |", "|---|---|---|---|"]
        for arm, v in e2e["arm_effects"].items():
            out.append(f"| {arm} | {_fmt(v['predicted'], 4)} | {_fmt(v['aipw'], 4)} | {_fmt(v['aipw_se'], 4)} |")
        out.append("")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.estimation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 4,000 + 4,000 customers, no Hillstrom")
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12],
                        help="data seeds (0 and 1 were used to choose the default base model; these are fresh)")
    parser.add_argument("--learners", default=",".join(LEARNERS))
    parser.add_argument("--email-cost", type=float, default=0.10)
    parser.add_argument("--value-per-conversion", type=float, default=None,
                        help="profit of one conversion (default: 0.3 x the mean spend of the converters)")
    parser.add_argument("--learning-curve", action="store_true",
                        help="only the learning curve of one learner (results: estimation_learning_curve.*, "
                             "or estimation_learning_curve_<learner>.* for another learner than 's')")
    parser.add_argument("--curve-learner", default="s", help="learner of --learning-curve (default: s)")
    parser.add_argument("--out", default=str(RESULTS))
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    learners = tuple(s.strip() for s in args.learners.split(",") if s.strip())
    command = "python -m benchmarks.estimation" + (" " + " ".join(argv) if argv else "")
    meta = {"suite": "meta", "command": command, "commit": git_commit(), "versions": versions(),
            "machine": machine_facts(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rows: list[dict] = []
    if args.learning_curve:
        rows += learning_curve(args.seeds[0], [5_000, 10_000, 20_000, 40_000, 80_000], 20_000, 5,
                               args.curve_learner)
    elif args.quick:
        rows += promotions(args.seeds[0], 4000, 4000, 5, learners)
    else:
        for seed in args.seeds:
            rows += promotions(seed, 20_000, 20_000, 5, learners)
        for outcome in ("spend", "conversion"):
            for learner in ("t", "s"):  # the default for labelled arms, and the S-learner for contrast
                rows += hillstrom(outcome, args.email_cost, args.value_per_conversion, learner)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "estimation_quick" if args.quick else "estimation"
    if args.learning_curve:
        stem = "estimation_learning_curve" + ("" if args.curve_learner == "s" else f"_{args.curve_learner}")
    with open(out / f"{stem}.jsonl", "w") as fh:
        for r in [meta, *rows]:
            fh.write(json.dumps(r, default=float) + "\n")
    (out / f"{stem}.md").write_text(report(meta, rows))
    print(f"wrote {out / stem}.jsonl and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
