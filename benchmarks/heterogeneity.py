"""Is there heterogeneity worth targeting? Calibration and RATE on simulations, Hillstrom and promotions.

``python -m benchmarks.heterogeneity [--quick] [--reps R] [--out DIR] [--docs PAGE]``

``--docs docs/evaluation.md`` rewrites the page's generated block ``heterogeneity`` from the
run, so every number there comes from this command.

1. **Simulation.** Three arms (0 = control) with effects ``0.2 + het * x0`` and
   ``0.2 - het * x1 / 2`` (unit noise, three standard normal features), under equal shares and
   under shares 0.6 / 0.3 / 0.1. A fast learner (least squares per arm) is fitted on one
   sample and :func:`coarseopt.evaluation.heterogeneity` evaluates its predictions on a fresh
   sample of the same size. With ``het = 0``: how often the calibration test rejects at 5% and
   how often the AUTOC and Qini intervals cover 0. With ``het = 0.5``: the power of the
   calibration test at the documented sizes, and how often the AUTOC, Qini, TOC(0.2) and
   GATES intervals cover the true values (computed by Monte Carlo for each learned model).
2. **Hillstrom.** The MineThatData e-mail experiment split in halves; the default learner of
   :func:`coarseopt.estimate_profit` on the training half predicts the held-out half, where
   the diagnostics are computed (outcome: spend, which is the profit here).
3. **Promotions.** ``make_promotions(n, seed=0)`` split in halves likewise, profit through the
   generator's economics (margin minus discount, times sales).

Writes ``heterogeneity.jsonl`` (one record per row), ``heterogeneity.md`` and
``heterogeneity_facts.json`` (versions, timings) into ``--out`` (default
``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import coarseopt as co
from coarseopt.evaluation.heterogeneity import BEST, _gates_table, _scores, _table, _toc_table

ev = co.evaluation

EQUAL = (1 / 3, 1 / 3, 1 / 3)
UNEQUAL = (0.6, 0.3, 0.1)
#: Customers per sample at which the calibration test has power >= 0.8 with ``het = 0.5``
#: (documented in docs/evaluation.md; checked in tests/test_heterogeneity.py).
POWER_SIZES = {EQUAL: 1000, UNEQUAL: 2000}
HILLSTROM_FEATURES = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]


# ----------------------------------------------------------------------------- simulation
def draw(n: int, shares, het: float, rng):
    """Features, arms, outcomes and true effects of one simulated experiment. Both arms have
    the same average effect, so with ``het = 0`` the best predicted arm's effect does not vary
    either (no heterogeneity in any row)."""
    X = rng.normal(size=(n, 3))
    A = rng.choice(3, size=n, p=shares)
    tau = np.c_[np.zeros(n), effects(X, het)]
    y = X @ np.array([1.0, 0.5, -0.5]) + tau[np.arange(n), A] + rng.normal(size=n)
    return X, A, y, tau


def effects(X, het: float) -> np.ndarray:
    """True lifts of arms 1 and 2 over the control."""
    return np.c_[0.2 + het * X[:, 0], 0.2 - 0.5 * het * X[:, 1]]


def learn(X, A, y):
    """A fast learner: one least-squares fit per arm; returns a function of the features
    giving the predicted lifts of arms 1 and 2 over the control."""
    Z = np.c_[np.ones(len(X)), X]
    B = [np.linalg.lstsq(Z[A == j], y[A == j], rcond=None)[0] for j in range(3)]
    coef = np.c_[B[1] - B[0], B[2] - B[0]]
    return lambda Xe: np.c_[np.ones(len(Xe)), Xe] @ coef


def experiment(X, A, y, propensity=None):
    df = pd.DataFrame({"y": y, "a": A, "x0": X[:, 0], "x1": X[:, 1], "x2": X[:, 2]})
    if propensity is not None:
        df["e"] = propensity
    return co.Experiment(df, outcome="y", treatment="a", features=["x0", "x1", "x2"],
                         propensity=None if propensity is None else "e")


def one_study(n: int, shares, het: float, rng):
    """A model learned on one sample, evaluated on a fresh one: (scores, predictor)."""
    f = learn(*draw(n, shares, het, rng)[:3])
    X, A, y, _ = draw(n, shares, het, rng)
    return _scores(experiment(X, A, y), pd.DataFrame(f(X), columns=[1, 2])), f


def simulate(shares, het: float, n: int, reps: int, seed: int) -> dict:
    """Rejection rate of the calibration test at 5% and coverage of 0 by the AUTOC / Qini
    intervals, per row (arm 1, arm 2, best predicted arm)."""
    rng = np.random.default_rng(seed)
    rej, cov_a, cov_q = [], [], []
    for _ in range(reps):
        tab = _table(one_study(n, shares, het, rng)[0], 5, 0.05)
        rej.append(tab["blp_het_p"].to_numpy() < 0.05)
        cov_a.append(((tab["autoc_ci_low"] <= 0) & (tab["autoc_ci_high"] >= 0)).to_numpy())
        cov_q.append(((tab["qini_ci_low"] <= 0) & (tab["qini_ci_high"] >= 0)).to_numpy())
    return {"reject": np.mean(rej, axis=0), "autoc_covers_0": np.mean(cov_a, axis=0),
            "qini_covers_0": np.mean(cov_q, axis=0)}


def true_values(f, het: float, rng, N: int = 20_000) -> list[dict]:
    """Population AUTOC, Qini, TOC(0.2) and quintile means (lowest first) of each row's
    priority under predictor ``f``, by Monte Carlo over ``N`` customers."""
    X = rng.normal(size=(N, 3))
    tau = effects(X, het)
    S = f(X)
    best = S.argmax(axis=1)
    S = np.c_[S, S.max(axis=1)]
    T = np.c_[tau, tau[np.arange(N), best]]
    u = (np.arange(N) + 0.5) / N
    out = []
    for j in range(3):
        t = T[np.argsort(-S[:, j]), j]
        out.append({
            "autoc": float(np.mean(t * (-np.log(u) - 1))),
            "qini": float(np.mean(t * (0.5 - u))),
            "toc": float(t[: N // 5].mean() - t.mean()),
            "gates": [float(t[N * (4 - k) // 5: N * (5 - k) // 5].mean()) for k in range(5)],
        })
    return out


def coverage(shares, het: float, n: int, reps: int, seed: int) -> np.ndarray:
    """Coverage of the true values by the 95% intervals: rows (arm 1, arm 2, best predicted
    arm) x (AUTOC, Qini, TOC(0.2), GATES: the share of the five group intervals)."""
    rng = np.random.default_rng(seed)
    hits = []
    for _ in range(reps):
        sc, f = one_study(n, shares, het, rng)
        tab, toc, gt = _table(sc, 5, 0.05), _toc_table(sc, np.array([0.2]), 0.05), _gates_table(sc, 5, 0.05)
        truth = true_values(f, het, rng)
        row = []
        for j in range(3):
            t, r, tc = truth[j], tab.iloc[j], toc.iloc[j]
            g = gt.iloc[5 * j: 5 * j + 5]
            row.append([
                r["autoc_ci_low"] <= t["autoc"] <= r["autoc_ci_high"],
                r["qini_ci_low"] <= t["qini"] <= r["qini_ci_high"],
                tc["ci_low"] <= t["toc"] <= tc["ci_high"],
                np.mean((g["ci_low"].to_numpy() <= t["gates"]) & (t["gates"] <= g["ci_high"].to_numpy())),
            ])
        hits.append(row)
    return np.mean(hits, axis=0)


def run_simulation(reps: int, seed: int) -> list[dict]:
    records = []
    for name, shares in (("equal", EQUAL), ("0.6/0.3/0.1", UNEQUAL)):
        for het, n in ((0.0, 1000), (0.5, POWER_SIZES[shares])):
            t0 = time.perf_counter()
            out = simulate(shares, het, n, reps, seed)
            for j, row in enumerate(["arm 1", "arm 2", BEST]):
                records.append({"section": "simulation", "shares": name, "het": het, "n": n, "reps": reps,
                                "row": row, **{k: float(v[j]) for k, v in out.items()},
                                "seconds": time.perf_counter() - t0})
        t0 = time.perf_counter()
        cov = coverage(shares, 0.5, 1000, reps, seed)
        for j, row in enumerate(["arm 1", "arm 2", BEST]):
            records.append({"section": "coverage", "shares": name, "het": 0.5, "n": 1000, "reps": reps, "row": row,
                            **dict(zip(("autoc", "qini", "toc_0.2", "gates"), map(float, cov[j]))),
                            "seconds": time.perf_counter() - t0})
    return records


# ----------------------------------------------------------------------------- data sets
def _diagnose(name: str, test, held_profit, economics=None) -> list[dict]:
    t0 = time.perf_counter()
    out = ev.study_heterogeneity(test, held_profit, economics=economics)
    seconds = time.perf_counter() - t0
    records = []
    for r in out["table"]:
        arm = r["arm"]
        records.append({"section": name, **r, "verdict": out["verdicts"][arm], "seconds": seconds})
    for g in out["gates"]:
        records.append({"section": f"{name}-gates", **g})
    return records


def run_hillstrom(seed: int) -> list[dict]:
    from coarseopt.estimation import train_test_split_experiment

    df = co.datasets.load_hillstrom()
    exp = co.Experiment(df, outcome="spend", treatment="segment", features=HILLSTROM_FEATURES, control="No E-Mail")
    train, test = train_test_split_experiment(exp, test_size=0.5, random_state=seed)
    est = co.estimate_profit(train, random_state=seed)
    return _diagnose("hillstrom", test, est.predict(test).profit)


def run_promotions(n: int, seed: int) -> list[dict]:
    from coarseopt.estimation import train_test_split_experiment

    df, truth = co.datasets.make_promotions(n, seed=seed)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=list(truth.features))
    train, test = train_test_split_experiment(exp, test_size=0.5, random_state=seed)
    est = co.estimate_profit(train, truth.economics, random_state=seed)
    return _diagnose("promotions", test, est.predict(test).profit, truth.economics)


# ----------------------------------------------------------------------------- report
def _fmt(v, digits=3):
    return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}g}"


def markdown(records: list[dict], facts: dict) -> str:
    df = pd.DataFrame(records)
    lines = []
    sim = df[df.section == "simulation"] if "section" in df else pd.DataFrame()
    if len(sim):
        lines += [f"Simulation ({int(sim['reps'].iloc[0])} experiments per line; a linear model learned on as many "
                  "other customers). With `het = 0` the rejection rate is the test's size and the coverage should be "
                  "95%; with `het = 0.5` the rejection rate is its power and an interval covering 0 is a miss:", "",
                  "| arm shares | het | customers | row | calibration test rejects at 5% | AUTOC CI covers 0 | "
                  "Qini CI covers 0 |", "|---|---|---|---|---|---|---|"]
        for _, r in sim.iterrows():
            lines.append(f"| {r['shares']} | {r['het']:g} | {int(r['n']):,} | {r['row']} | {r['reject']:.3f} | "
                         f"{r['autoc_covers_0']:.3f} | {r['qini_covers_0']:.3f} |")
    cov = df[df.section == "coverage"] if "section" in df else pd.DataFrame()
    if len(cov):
        lines += ["", f"Coverage of the true values by the 95% intervals with `het = 0.5` ({int(cov['reps'].iloc[0])} "
                      "experiments of 1,000 customers per line; truth by Monte Carlo over 20,000 customers; GATES: "
                      "the share of the five group intervals that cover their group's true mean lift):", "",
                  "| arm shares | row | AUTOC | Qini | TOC(0.2) | GATES |", "|---|---|---|---|---|---|"]
        for _, r in cov.iterrows():
            lines.append(f"| {r['shares']} | {r['row']} | {r['autoc']:.3f} | {r['qini']:.3f} | {r['toc_0.2']:.3f} | "
                         f"{r['gates']:.3f} |")
    for name, title in (("hillstrom", "Hillstrom (held-out half, spend in dollars)"),
                        ("promotions", f"make_promotions({facts.get('promotions_n', 0):,}, seed=0) "
                                       "(held-out half, profit)")):
        part = df[df.section == name] if "section" in df else pd.DataFrame()
        if not len(part):
            continue
        lines += ["", f"{title}, {int(part['customers'].iloc[0]):,} customers:", "",
                  "| priority | mean predicted | measured (SE) | mean coef. | calibration slope (SE) | one-sided p | "
                  "AUTOC (SE) | Qini (SE) | top - bottom quintile (SE) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for _, r in part.iterrows():
            lines.append(
                f"| {r['arm']} | {_fmt(r['mean_predicted'])} | {_fmt(r['ate'])} ({_fmt(r['ate_se'], 2)}) | "
                f"{_fmt(r['blp_ate'])} | {_fmt(r['blp_het'])} ({_fmt(r['blp_het_se'], 2)}) | {_fmt(r['blp_het_p'])} | "
                f"{_fmt(r['autoc'])} ({_fmt(r['autoc_se'], 2)}) | {_fmt(r['qini'])} ({_fmt(r['qini_se'], 2)}) | "
                f"{_fmt(r['gates_top_bottom'])} ({_fmt(r['gates_top_bottom_se'], 2)}) |")
        lines += [""] + [f"- {v}" for v in part["verdict"]]
    lines += ["", f"Commit {facts.get('commit') or 'unknown'}; simulation {facts.get('simulation_seconds', 0):.0f} s, "
                  f"Hillstrom {facts.get('hillstrom_seconds', 0):.0f} s, promotions "
                  f"{facts.get('promotions_seconds', 0):.0f} s."]
    return "\n".join(lines)


def write_docs(text: str, path: Path) -> None:
    """Rewrite the page's ``heterogeneity`` generated block."""
    page = Path(path).read_text()
    begin, end = "<!-- BEGIN generated: heterogeneity -->", "<!-- END generated: heterogeneity -->"
    if begin not in page or end not in page:
        raise SystemExit(f"{path}: no '{begin}' ... '{end}' block to rewrite")
    head, rest = page.split(begin, 1)
    _, tail = rest.split(end, 1)
    Path(path).write_text(head + begin + "\n" + text + "\n" + end + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.heterogeneity", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000, help="simulated experiments per line (default 1000)")
    parser.add_argument("--quick", action="store_true", help="20 experiments per line, small promotions, no Hillstrom")
    parser.add_argument("--promotions-n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--docs", default=None, help="rewrite this page's generated block from the run")
    args = parser.parse_args(argv)
    from ._measure import git_commit, machine_facts, versions

    reps = 20 if args.quick else args.reps
    given = argv if argv is not None else sys.argv[1:]
    facts: dict = {"command": " ".join(["python -m benchmarks.heterogeneity", *given]),
                   "reps": reps, "seed": args.seed, "commit": git_commit(), "versions": versions(),
                   "machine": machine_facts()}
    t0 = time.perf_counter()
    records = run_simulation(reps, args.seed)
    facts["simulation_seconds"] = time.perf_counter() - t0
    if not args.quick:
        t0 = time.perf_counter()
        records += run_hillstrom(args.seed)
        facts["hillstrom_seconds"] = time.perf_counter() - t0
    facts["promotions_n"] = 2000 if args.quick else args.promotions_n
    t0 = time.perf_counter()
    records += run_promotions(facts["promotions_n"], args.seed)
    facts["promotions_seconds"] = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "heterogeneity.jsonl", "w") as fh:
        for r in records:
            fh.write(json.dumps(r, default=lambda v: v.item() if hasattr(v, "item") else str(v)) + "\n")
    text = markdown(records, facts)
    (out / "heterogeneity.md").write_text(text + "\n")
    (out / "heterogeneity_facts.json").write_text(json.dumps(facts, indent=2) + "\n")
    if args.docs:
        write_docs(text, Path(args.docs))
    print(out / "heterogeneity.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
