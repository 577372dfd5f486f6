"""Policy evaluation (step 3): Monte Carlo study of the estimators and the Hillstrom e-mail case.

``python -m benchmarks.evaluation [--quick] [--reps R] [--out DIR] [--no-hillstrom] [--docs PAGE]``

``--docs docs/evaluation.md`` rewrites the page's generated blocks (simulation evidence and
the Hillstrom comparison) from the run, so every number there comes from this command;
``--from-results`` rebuilds report and blocks from an earlier run's files.

1. **Simulation.** A process whose truth is known (below), randomized by action (RBA, four
   equally likely actions) and by policy (RBP, one half each), for disagreement shares
   ``p_D`` from 5% to 80%: bias, spread, mean reported SE and 95% coverage of every
   estimator over ``R`` replications; under RBA the correlation of the two policy values and
   the ratio of the disagreement to the naive SE; under RBP the variance of the
   disagreement estimator over the naive one against ``p_D`` and against the design
   calculator; and RBA over RBP variance of the disagreement estimator against ``K / 2``.
2. **Hillstrom.** The MineThatData e-mail experiment split in halves: profit models and
   coarse policies (k = 1, 2, 3) learned on the training half, then e-mail policies compared
   on the held-out half with every estimator.

Writes ``evaluation.jsonl`` (one record per row), ``evaluation.md`` (tables),
``evaluation.png`` (variance ratios and coverage against the disagreement share) and
``evaluation_facts.json`` (versions, machine, commit, timings) into ``--out``
(default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import coarseopt as co

ev = co.evaluation

METHODS = list(ev.METHODS)
K = 4                                           # actions of the simulated RBA experiment
INTERCEPT = np.array([1.0, 1.1, 1.0, 0.9])
SLOPE = np.array([1.0, 0.5, 0.8, 1.2])


# ----------------------------------------------------------------------------- simulation
def policies(x: np.ndarray, p_d: float) -> tuple[np.ndarray, np.ndarray]:
    """Two policies that disagree exactly when ``x < p_d``, in two cells: (1 vs 2) below
    ``p_d / 2`` and (3 vs 2) between ``p_d / 2`` and ``p_d``; both give action 0 above."""
    a = np.where(x < p_d / 2, 1, np.where(x < p_d, 3, 0))
    b = np.where(x < p_d, 2, 0)
    return a, b


def mu(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    return INTERCEPT[k] + SLOPE[k] * x


def truth(p_d: float) -> dict:
    """Exact moments of the process (midpoint rule; the integrands are piecewise linear)."""
    g = (np.arange(400_000) + 0.5) / 400_000
    a, b = policies(g, p_d)
    ya, yb = mu(g, a), mu(g, b)
    dis = a != b
    return {
        "delta": float(np.mean(ya - yb)),
        "p_d": float(dis.mean()),
        "tau": float(np.mean((ya - yb)[dis])),
        "var": float((np.var(ya) + np.var(yb)) / 2 + 1.0),
        "var_d": float((np.var(ya[dis]) + np.var(yb[dis])) / 2 + 1.0),
    }


def simulate(design: str, p_d: float, reps: int, n: int, seed: int) -> pd.DataFrame:
    """One row per (replication, method): estimate and SE; naive rows also carry V(a), V(b)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(reps):
        x = rng.uniform(size=n)
        a, b = policies(x, p_d)
        kwargs = {"design": design, "X": x[:, None]}
        if design == "rba":
            action = rng.integers(0, K, size=n)
        else:
            to_a = rng.uniform(size=n) < 0.5
            action = np.where(to_a, a, b)
            kwargs["assigned"] = np.where(to_a, "a", "b")
        y = mu(x, action) + rng.normal(size=n)
        with warnings.catch_warnings(record=True) as caught:
            # Small cells at small p_D: counted (``few_outcomes``), not printed.
            warnings.simplefilter("always", ev.EvaluationWarning)
            table = ev.compare_estimators(y, action, a, b, **kwargs)
        few = any(issubclass(w.category, ev.EvaluationWarning) for w in caught)
        naive = ev.compare_policies(y, action, a, b, method="naive", **kwargs)
        for m in METHODS:
            row = {"rep": r, "method": m, "estimate": table.loc[m, "estimate"], "se": table.loc[m, "se"],
                   "few_outcomes": few}
            if m == "naive":
                row.update(value_a=naive.extras["value_a"], value_b=naive.extras["value_b"])
            rows.append(row)
    return pd.DataFrame(rows)


def summarize(design: str, p_d: float, sims: pd.DataFrame, t: dict) -> list[dict]:
    out = []
    reps = sims["rep"].nunique()
    naive_sd = sims.loc[sims.method == "naive", "estimate"].std(ddof=1)
    for m, g in sims.groupby("method", sort=False):
        est, se = g["estimate"].to_numpy(), g["se"].to_numpy()
        out.append(
            {
                "section": "simulation",
                "design": design,
                "p_d": p_d,
                "method": m,
                "reps": reps,
                "truth": t["delta"],
                "bias": float(est.mean() - t["delta"]),
                "bias_se": float(est.std(ddof=1) / np.sqrt(reps)),
                "sd": float(est.std(ddof=1)),
                "mean_se": float(np.sqrt(np.mean(se**2))),
                "se_over_sd": float(np.sqrt(np.mean(se**2)) / est.std(ddof=1)),
                "coverage": float(np.mean(np.abs(est - t["delta"]) <= 1.959964 * se)),
                "var_vs_naive": float(est.var(ddof=1) / naive_sd**2),
                "reps_with_few_outcomes": int(g["few_outcomes"].sum()),
            }
        )
    return out


def design_prediction(t: dict) -> dict:
    """The design calculator's ``n Var`` for this process (equal splits, K actions)."""
    table = ev.sample_size(
        effect=max(abs(t["delta"]), 1e-9), sd=np.sqrt(t["var"]), sd_disagree=np.sqrt(t["var_d"]),
        disagreement_share=t["p_d"], n_actions=K,
    ).set_index(["design", "estimator"])["var_per_customer"]
    return {f"{d}_{e}": float(v) for (d, e), v in table.items()}


def run_simulation(reps: int, n: int, shares: list[float], seed: int) -> tuple[list[dict], list[dict]]:
    records, extra = [], []
    for i, p_d in enumerate(shares):
        t = truth(p_d)
        pred = design_prediction(t)
        sd_by = {}
        for j, design in enumerate(("rba", "rbp")):
            sims = simulate(design, p_d, reps, n, seed + 100 * i + j)
            records += summarize(design, p_d, sims, t)
            d = sims[sims.method == "disagreement"]
            nv = sims[sims.method == "naive"]
            sd_by[design] = d["estimate"].var(ddof=1)
            row = {
                "section": "simulation-summary",
                "design": design,
                "p_d": p_d,
                "se_ratio_disagreement_vs_naive": float(d["se"].mean() / nv["se"].mean()),
                "se_ratio_squared": float((d["se"] ** 2).mean() / (nv["se"] ** 2).mean()),
                "var_ratio_disagreement_vs_naive": float(d["estimate"].var(ddof=1) / nv["estimate"].var(ddof=1)),
                "predicted_var_ratio": pred[f"{design}_disagreement"] / pred[f"{design}_naive"],
            }
            if design == "rba":
                row["corr_value_a_value_b"] = float(np.corrcoef(nv["value_a"], nv["value_b"])[0, 1])
                row["naive_se_over_sd"] = float(np.sqrt(np.mean(nv["se"] ** 2)) / nv["estimate"].std(ddof=1))
            extra.append(row)
        extra.append(
            {
                "section": "rba-vs-rbp",
                "p_d": p_d,
                "var_ratio_rba_vs_rbp": sd_by["rba"] / sd_by["rbp"],
                "predicted": pred["rba_disagreement"] / pred["rbp_disagreement"],
                "k_over_2": K / 2,
            }
        )
    return records, extra


# ----------------------------------------------------------------------------- Hillstrom
HILLSTROM_FEATURES = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]


def run_hillstrom(seed: int) -> tuple[list[dict], dict]:
    """Learn coarse e-mail policies on one half of Hillstrom, compare policies on the other."""
    from coarseopt.estimation import train_test_split_experiment

    df = co.datasets.load_hillstrom()
    exp = co.Experiment(df, outcome="spend", treatment="segment", features=HILLSTROM_FEATURES, control="No E-Mail")
    train, test = train_test_split_experiment(exp, test_size=0.5, random_state=seed)
    t0 = time.perf_counter()
    est = co.estimate_profit(train, random_state=seed)
    est_test = est.predict(test)
    fit_seconds = time.perf_counter() - t0
    n = test.n
    pols = {
        "no e-mail": np.full(n, "No E-Mail", dtype=object),
        "all mens": np.full(n, "Mens E-Mail", dtype=object),
        "all womens": np.full(n, "Womens E-Mail", dtype=object),
    }
    offered = {}
    for k in (1, 2, 3):
        res = co.solve(est.to_problem(k), solver="enumerate")
        offered[f"coarse k={k}"] = res.offered_labels
        pols[f"coarse k={k}"] = ev.coarse_policy(res, est_test.profit).to_numpy()
    womens_only = (test.data["womens"].to_numpy() == 1) & (test.data["mens"].to_numpy() == 0)
    pols["rule: womens buyers"] = np.where(womens_only, "Womens E-Mail", "Mens E-Mail").astype(object)
    y = test.y
    action = test.data["segment"].to_numpy()
    X = test.X
    pairs = [
        ("coarse k=2", "all mens"),
        ("coarse k=3", "coarse k=2"),
        ("coarse k=2", "rule: womens buyers"),
        ("all mens", "no e-mail"),
        ("coarse k=2", "no e-mail"),
    ]
    records = []
    for pa, pb in pairs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ev.EvaluationWarning)
            table = ev.compare_estimators(y, action, pols[pa], pols[pb], X=X)
        few = any(issubclass(w.category, ev.EvaluationWarning) for w in caught)
        for m, row in table.iterrows():
            records.append({"section": "hillstrom", "policy_a": pa, "policy_b": pb, "method": m, "few_outcomes": few,
                            **{c: (row[c].item() if hasattr(row[c], "item") else row[c]) for c in table.columns
                               if c != "description"}})
    for name, p in pols.items():
        v = ev.policy_value(y, action, p, X=X, method="dr")
        records.append({"section": "hillstrom-value", "policy": name, "value": v.estimate, "se": v.se,
                        "n_followed": v.n_followed, "shares": json.dumps(pd.Series(p).value_counts(normalize=True)
                                                                          .round(4).to_dict())})
    names = ["coarse k=2", "coarse k=3", "all mens", "all womens", "rule: womens buyers", "no e-mail"]
    many = ev.compare_many(y, action, {k: pols[k] for k in names}, reference="no e-mail", adjust="holm")
    for _, row in many.table.iterrows():
        records.append({"section": "hillstrom-many", **{k: (v.item() if hasattr(v, "item") else v)
                                                         for k, v in row.items()}})
    info = {"n_train": train.n, "n_test": test.n, "fit_seconds": round(fit_seconds, 1), "offered": offered}
    return records, info


# ----------------------------------------------------------------------------- report
def _md(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = [
            str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) >= 1000
            else format(v, floatfmt) if isinstance(v, float) else str(v)
            for v in r
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(records: list[dict], facts: dict) -> str:
    df = pd.DataFrame(records)
    parts = ["# Policy evaluation benchmark", "", f"Command: `{facts['command']}`", ""]
    sim = df[df.section == "simulation"]
    if len(sim):
        cols = ["design", "p_d", "method", "reps", "truth", "bias", "bias_se", "sd", "mean_se", "se_over_sd",
                "coverage", "var_vs_naive", "reps_with_few_outcomes"]
        parts += ["## Simulation: every estimator", "",
                  _md(sim[[c for c in cols if c in sim.columns]]), "",
                  "`reps_with_few_outcomes`: replications in which some disagreement cell had fewer than five "
                  "customers in an arm (an `EvaluationWarning`); they are kept in every statistic.", ""]
        s = df[df.section == "simulation-summary"].dropna(axis=1, how="all")
        parts += ["## Disagreement vs naive", "", _md(s.drop(columns="section")), ""]
        s = df[df.section == "rba-vs-rbp"].dropna(axis=1, how="all")
        parts += ["## RBA vs RBP (disagreement estimator)", "", _md(s.drop(columns="section")), ""]
    h = df[df.section == "hillstrom"]
    if len(h):
        parts += ["## Hillstrom: held-out comparisons (spend per customer, $)", "",
                  _md(h[["policy_a", "policy_b", "method", "estimate", "se", "ci_low", "ci_high", "p_value",
                         "n_disagree", "width_vs_naive"]]), ""]
        v = df[df.section == "hillstrom-value"]
        parts += ["## Hillstrom: policy values (doubly robust)", "",
                  _md(v[["policy", "value", "se", "n_followed", "shares"]]), ""]
        mm = df[df.section == "hillstrom-many"]
        parts += ["## Hillstrom: each policy vs no e-mail, Holm-adjusted", "",
                  _md(mm[["policy_a", "policy_b", "estimate", "se", "p_value", "p_adjusted", "reject"]]), ""]
    parts += ["## Run facts", "", "```", json.dumps(facts, indent=2, default=str), "```", ""]
    return "\n".join(parts)


def _fmt_list(values, fmt: str = ".3f") -> str:
    return ", ".join(format(float(v), fmt) for v in values)


def docs_simulation(records: list[dict], facts: dict) -> str:
    """The simulation evidence of docs/evaluation.md, as Markdown."""
    df = pd.DataFrame(records)
    sim = df[df.section == "simulation"].copy()
    summ = df[df.section == "simulation-summary"]
    both = df[df.section == "rba-vs-rbp"]
    sim["z"] = sim["bias"] / sim["bias_se"]
    worst = sim.loc[sim["z"].abs().idxmax()]
    honest = sim[~((sim.design == "rba") & (sim.method == "naive"))]
    rba_naive = sim[(sim.design == "rba") & (sim.method == "naive")]
    rba = summ[summ.design == "rba"].sort_values("p_d").set_index("p_d")
    rbp = summ[summ.design == "rbp"].sort_values("p_d").set_index("p_d")
    both = both.sort_values("p_d").set_index("p_d")
    shares = ", ".join(f"{100 * p:g}%" for p in rba.index)
    lines = [
        f"{facts['reps']} replications of {facts['n']} customers for each `p_D` in {{{shares}}}, under RBA "
        f"({K} equally likely actions) and RBP (one half each).",
        "",
        f"- **No bias, right coverage.** Over the {len(sim)} (design, `p_D`, estimator) rows the largest bias is "
        f"{abs(worst['z']):.2f} of its Monte Carlo standard errors ({worst['design'].upper()}, `p_D` = "
        f"{worst['p_d']:g}, {worst['method']}). The 95% intervals of every estimator with an exact variance cover "
        f"{100 * honest['coverage'].min():.1f}% to {100 * honest['coverage'].max():.1f}%, and their reported SE is "
        f"{honest['se_over_sd'].min():.3f} to {honest['se_over_sd'].max():.3f} times the spread of the estimates.",
        f"- **RBA: the naive analysis overstates its SE**; its coverage is {100 * rba_naive['coverage'].min():.1f}% "
        f"to {100 * rba_naive['coverage'].max():.1f}%. The disagreement SE matches the spread and is correctly "
        "narrower. **SE(disagreement) / SE(naive)** is the fourth column below.",
        "- **RBP: Var(disagreement) / Var(naive) ≈ `p_D`** (sixth column), as the design calculator predicts.",
        f"- **RBA vs RBP:** the disagreement estimator's variance under RBA over RBP (last column) against "
        f"`K / 2 = {K / 2:g}`.",
        "",
        "| `p_D` | RBA corr(V_a, V_b) | RBA naive SE / spread | RBA SE(disagr.) / SE(naive) | its square "
        "(predicted) | RBP Var(disagr.) / Var(naive) (predicted) | Var RBA / Var RBP (predicted) |",
        "|---|---|---|---|---|---|---|",
    ]
    for p_d in rba.index:
        a, b, c = rba.loc[p_d], rbp.loc[p_d], both.loc[p_d]
        lines.append(
            f"| {p_d:g} | {a['corr_value_a_value_b']:.3f} | {a['naive_se_over_sd']:.2f} | "
            f"{a['se_ratio_disagreement_vs_naive']:.3f} | {a['se_ratio_squared']:.3f} ({a['predicted_var_ratio']:.3f}) | "
            f"{b['var_ratio_disagreement_vs_naive']:.3f} ({b['predicted_var_ratio']:.3f}) | "
            f"{c['var_ratio_rba_vs_rbp']:.2f} ({c['predicted']:.2f}) |"
        )
    return "\n".join(lines)


def docs_hillstrom(records: list[dict], facts: dict) -> str:
    """The Hillstrom section of docs/evaluation.md, as Markdown."""
    df = pd.DataFrame(records)
    h = df[df.section == "hillstrom"]
    info = facts["hillstrom"]
    offered = "; ".join(f"{k}: {', '.join(v)}" for k, v in info["offered"].items())
    methods = [m for m in METHODS if m in set(h["method"])]
    lines = [
        f"Training half: {info['n_train']:,} customers; held-out half: {info['n_test']:,}. Offered sets learned on "
        f"the training half: {offered}. Dollars of spend per customer, estimate (SE):",
        "",
        "| A vs B | customers where they disagree | " + " | ".join(methods) + " | CI width disagreement / naive |",
        "|---|---|" + "---|" * len(methods) + "---|",
    ]
    widths, flagged = [], False
    for (pa, pb), g in h.groupby(["policy_a", "policy_b"], sort=False):
        g = g.set_index("method")
        cells = [f"{g.loc[m, 'estimate']:+.3f} ({g.loc[m, 'se']:.3f})" for m in methods]
        w = g.loc["disagreement", "se"] / g.loc["naive", "se"]
        share = g["n_disagree"].iloc[0] / info["n_test"]
        few = bool(g.get("few_outcomes", pd.Series([False])).fillna(False).any())
        flagged |= few
        if share < 1 and not few:
            widths.append(w)
        mark = " †" if few else ""
        lines.append(f"| {pa} vs {pb}{mark} | {int(g['n_disagree'].iloc[0]):,} ({100 * share:.1f}%) | "
                     + " | ".join(cells) + f" | {w:.2f} |")
    if flagged:
        lines += ["", "† Some disagreement cell has fewer than five customers in an arm (`EvaluationWarning`): "
                      "the standard errors rest on a handful of outcomes and are not to be trusted."]
    v = df[df.section == "hillstrom-value"]
    lines += ["", "Policy values on the held-out half (doubly robust, dollars per customer):", "",
              "| policy | value (SE) | customers who received the recommended e-mail | shares |", "|---|---|---|---|"]
    for _, r in v.iterrows():
        shares = ", ".join(f"{k} {100 * x:.1f}%" for k, x in json.loads(r["shares"]).items())
        lines.append(f"| {r['policy']} | {r['value']:.3f} ({r['se']:.3f}) | {int(r['n_followed']):,} | {shares} |")
    mm = df[df.section == "hillstrom-many"]
    lines += ["", "Each policy against no e-mail (`compare_many`, disagreement estimator, Holm-adjusted):", "",
              "| policy | lift (SE) | p | Holm p | rejected at 5% |", "|---|---|---|---|---|"]
    for _, r in mm.iterrows():
        lines.append(f"| {r['policy_a']} | {r['estimate']:+.3f} ({r['se']:.3f}) | {r['p_value']:.3g} | "
                     f"{r['p_adjusted']:.3g} | {'yes' if r['reject'] else 'no'} |")
    if widths:
        lines += ["", f"Where the policies disagree on part of the customers (and every cell has enough of them), "
                      f"the disagreement interval is {1 / max(widths):.1f}- to {1 / min(widths):.1f}-fold narrower "
                      "than the naive one."]
    return "\n".join(lines)


def write_docs(records: list[dict], facts: dict, path: Path) -> None:
    """Rewrite the generated blocks of a documentation page from this run."""
    text = Path(path).read_text()
    blocks = {"simulation": docs_simulation}
    if "hillstrom" in facts:
        blocks["hillstrom"] = docs_hillstrom
    for name, make in blocks.items():
        begin = f"<!-- BEGIN generated: {name} -->"
        end = f"<!-- END generated: {name} -->"
        if begin not in text or end not in text:
            raise SystemExit(f"{path}: no '{begin}' ... '{end}' block to rewrite")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + begin + "\n" + make(records, facts) + "\n" + end + tail
    Path(path).write_text(text)


def plot(records: list[dict], path: Path) -> None:
    """Two panels: variance ratios against the disagreement share, and coverage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.DataFrame(records)
    s = df[df.section == "simulation-summary"]
    sim = df[df.section == "simulation"]
    if s.empty:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for design, marker in (("rbp", "o"), ("rba", "s")):
        g = s[s.design == design].sort_values("p_d")
        y = g["var_ratio_disagreement_vs_naive"] if design == "rbp" else g["se_ratio_squared"]
        label = "RBP: Var(disagreement) / Var(naive)" if design == "rbp" else "RBA: (SE disagreement / SE naive)^2"
        left.plot(g["p_d"], y, marker=marker, linestyle="", label=label)
        left.plot(g["p_d"], g["predicted_var_ratio"], color="grey", linewidth=0.8)
    left.plot([0, 1], [0, 1], color="black", linestyle=":", linewidth=0.8, label="ratio = p_D")
    left.set_xlabel("disagreement share p_D")
    left.set_ylabel("variance ratio (grey: design calculator)")
    left.legend(fontsize=7)
    labels = []
    for i, ((design, method), g) in enumerate(sim.groupby(["design", "method"], sort=False)):
        right.plot(g["p_d"], g["coverage"], marker="o", linewidth=0.8, label=f"{design} {method}")
        labels.append(f"{design} {method}")
    right.axhspan(0.93, 0.97, color="green", alpha=0.1)
    right.set_xlabel("disagreement share p_D")
    right.set_ylabel("coverage of the 95% interval")
    right.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.evaluation", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results", help="results directory")
    parser.add_argument("--reps", type=int, default=1000, help="replications per simulated configuration")
    parser.add_argument("--n", type=int, default=2000, help="customers per replication")
    parser.add_argument("--quick", action="store_true", help="20 replications, two shares, no Hillstrom")
    parser.add_argument("--no-hillstrom", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--docs", default=None, help="also rewrite the generated blocks of this page")
    parser.add_argument("--from-results", action="store_true",
                        help="do not simulate: rebuild the report (and --docs) from the results in --out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.from_results:
        records = [json.loads(line) for line in (out / "evaluation.jsonl").read_text().splitlines()]
        facts = json.loads((out / "evaluation_facts.json").read_text())
        (out / "evaluation.md").write_text(report(records, facts))
        plot(records, out / "evaluation.png")
        if args.docs:
            write_docs(records, facts, Path(args.docs))
        print(out / "evaluation.md")
        return 0
    from ._measure import git_commit, machine_facts, versions

    shares = [0.05, 0.1, 0.2, 0.4, 0.8]
    reps, n = args.reps, args.n
    if args.quick:
        shares, reps, n = [0.2, 0.8], 20, 400
    facts = {"command": " ".join(["python -m benchmarks.evaluation", *(argv if argv is not None else sys.argv[1:])]),
             "reps": reps, "n": n, "shares": shares, "seed": args.seed, "commit": git_commit(),
             "versions": versions(), "machine": machine_facts()}
    t0 = time.perf_counter()
    records, extra = run_simulation(reps, n, shares, args.seed)
    facts["simulation_seconds"] = round(time.perf_counter() - t0, 1)
    records += extra
    if not (args.quick or args.no_hillstrom):
        t0 = time.perf_counter()
        hill, info = run_hillstrom(args.seed)
        records += hill
        facts["hillstrom"] = info
        facts["hillstrom_seconds"] = round(time.perf_counter() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "evaluation.jsonl", "w") as fh:
        for r in records:
            fh.write(json.dumps(r, default=str) + "\n")
    (out / "evaluation_facts.json").write_text(json.dumps(facts, indent=2, default=str) + "\n")
    (out / "evaluation.md").write_text(report(records, facts))
    plot(records, out / "evaluation.png")
    if args.docs:
        write_docs(records, facts, Path(args.docs))
    print(out / "evaluation.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
