"""Deployment benchmark: a saved policy applied to new customers, and ``coarseopt apply`` at scale.

Run from the repository root::

    python -m benchmarks.apply                 # quality (3 seeds) and scale (10^6 and 10^7 rows)
    python -m benchmarks.apply --quick         # smoke run (one seed, small n, 10^5 rows)
    python -m benchmarks.apply --no-scale      # quality only

**Quality** (``co.datasets.make_promotions``; 5 randomized discount arms, a 17-level grid).
For every seed, 20,000 training customers and 100,000 new customers from the same
population. Step 1 on the training customers (default learner, 5-fold cross-fitting) gives
the profits that step 2 solves (exact, ``enumerate``) and that the segment rules are fitted
on; the model refitted on all 20,000 customers is the deployed one, saved with
:meth:`coarseopt.Policy.save` and loaded back with :func:`coarseopt.load_policy`, as
``coarseopt run`` / ``coarseopt apply`` do. On the new customers (known truth):

- ``applied``: true mean profit per customer of the loaded policy's assignment;
- ``oracle_offered``: the same offered set with every customer given its truly best
  offered treatment (what a perfect model would do with this offered set);
- ``optimal``: the true-optimal coarse policy for the same k (solved on the truth);
- ``rules_d1..3``: the exact depth-1/2/3 policy trees (fitted on the training customers'
  cross-fitted profits), applied to the new customers;
- one run with ``max_share = 0.4`` (k = 3): largest share on the new customers when
  assigned as a batch (transport) and one at a time (potentials); solved with `ot`.

**Scale**: ``coarseopt apply`` as a subprocess on Parquet files of 10^6 and 10^7 new
customers (k = 3, default chunks of 100,000 rows), wall time and peak resident memory of
the process (``ru_maxrss``).

Results: ``benchmarks/results/apply.jsonl`` (first line: versions and machine facts) and
``benchmarks/results/apply.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import coarseopt as co
from coarseopt.rules import fit_policy_tree

from ._measure import git_commit, machine_facts, versions

RESULTS = Path(__file__).resolve().parent / "results"


def _true_mean(truth_profit: np.ndarray, columns, labels) -> float:
    cols = columns.get_indexer(np.asarray(labels, dtype=np.float64))
    return float(truth_profit[np.arange(len(cols)), cols].mean())


def quality(seed: int, n_train: int, n_new: int, ks: tuple[int, ...], tmp: Path) -> list[dict]:
    df, truth = co.datasets.make_promotions(n_train + n_new, seed=seed)
    train, new = df.iloc[:n_train], df.iloc[n_train:].drop(columns=["discount", "sales"])
    true_new = truth.profit.to_numpy()[n_train:]
    columns = truth.profit.columns
    exp = co.Experiment(train, outcome="sales", treatment="discount", features=truth.features)
    t0 = time.perf_counter()
    est_cf = co.estimate_profit(exp, truth.economics, grid=truth.grid, cv=5)
    est_full = co.estimate_profit(exp, truth.economics, grid=truth.grid, cv=None)
    fit_s = time.perf_counter() - t0
    X_new = est_full.encoder.encode(new)
    rows = []
    for k in ks:
        res = co.solve(est_cf.to_problem(k), "enumerate")
        opt = co.solve(co.CoarseProblem(true_new, k), "mip" if "mip" in co.available_solvers() else "enumerate")
        path = co.Policy(est_full, res, rules_depth=None).save(tmp / f"policy-{seed}-{k}")
        policy = co.load_policy(path)
        t = time.perf_counter()
        assigned = policy.assign(new)
        assign_s = time.perf_counter() - t
        offered = np.asarray(res.offered)
        row = {
            "suite": "quality", "seed": seed, "n_train": n_train, "n_new": n_new, "k": k,
            "offered": [float(x) for x in policy.offered], "fit_seconds": fit_s, "assign_seconds": assign_s,
            "applied": _true_mean(true_new, columns, assigned.to_numpy()),
            "oracle_offered": float(true_new[:, offered].max(axis=1).mean()),
            "optimal": opt.objective / n_new, "optimal_status": opt.status,
        }
        for depth in (1, 2, 3):
            t = time.perf_counter()
            tree = fit_policy_tree(est_cf.features, est_cf.profit.iloc[:, offered], depth=depth)
            row[f"rules_d{depth}_seconds"] = time.perf_counter() - t
            row[f"rules_d{depth}"] = _true_mean(true_new, columns, tree.predict(X_new))
        rows.append(row)
        print(json.dumps(row), flush=True)
    # share bounds kept on new customers
    k, cap = 3, 0.4
    res = co.solve(est_cf.to_problem(k, max_share=cap), "ot")  # enumerate re-solves a transport per set: slow
    policy = co.load_policy(co.Policy(est_full, res, max_share=cap, rules_depth=None).save(tmp / f"bounded-{seed}"))
    batch = policy.assign(new).value_counts(normalize=True)
    single = policy.assign(new, method="potentials").value_counts(normalize=True)
    free = co.Policy(est_full, res, rules_depth=None).assign(new).value_counts(normalize=True)
    row = {"suite": "bounds", "seed": seed, "k": k, "max_share": cap, "n_new": n_new,
           "train_max_share": float(res.shares.max()), "batch_max_share": float(batch.max()),
           "potentials_max_share": float(single.max()), "unbounded_max_share": float(free.max()),
           "applied_batch": _true_mean(true_new, columns, policy.assign(new).to_numpy())}
    rows.append(row)
    print(json.dumps(row), flush=True)
    return rows


def _write_features(path: Path, n: int, part: int = 1_000_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for i, start in enumerate(range(0, n, part)):
        df, _ = co.datasets.make_promotions(min(part, n - start), seed=10_000 + i)
        table = pa.Table.from_pandas(df.drop(columns=["discount", "sales"]), preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def scale(sizes: tuple[int, ...], tmp: Path, n_train: int = 20_000) -> list[dict]:
    df, truth = co.datasets.make_promotions(n_train, seed=0)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    est_cf = co.estimate_profit(exp, truth.economics, grid=truth.grid, cv=5)
    est_full = co.estimate_profit(exp, truth.economics, grid=truth.grid, cv=None)
    policy_dir = co.Policy(est_full, co.solve(est_cf.to_problem(3), "enumerate")).save(tmp / "scale-policy")
    rows = []
    for n in sizes:
        data = tmp / f"new-{n}.parquet"
        _write_features(data, n)
        out = tmp / f"out-{n}.parquet"
        cmd = [sys.executable, "-m", "coarseopt", "apply", str(policy_dir), str(data), "--k", "3", "--out",
               str(out), "--quiet"]
        # a fresh parent per run, so that ru_maxrss of its children is this run's peak alone
        probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
                 "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
                 "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
                 "p.returncode); sys.stderr.write(p.stderr)")
        proc = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True)
        if proc.returncode != 0 or not proc.stdout.strip() or proc.stdout.split()[-1] != "0":
            raise RuntimeError(proc.stderr)
        seconds, peak_kb = float(proc.stdout.split()[0]), float(proc.stdout.split()[1])
        import pyarrow.parquet as pq

        row = {"suite": "scale", "rows": n, "seconds": seconds, "rows_per_second": n / seconds,
               "peak_rss_mb": peak_kb / 1024.0,
               "output_rows": pq.ParquetFile(out).metadata.num_rows,
               "input_mb": data.stat().st_size / 2**20, "command": "coarseopt apply POLICY DATA --k 3 --out OUT"}
        rows.append(row)
        print(json.dumps(row), flush=True)
        data.unlink()
        out.unlink()
    return rows


def _markdown(rows: list[dict], facts: dict) -> str:
    q = [r for r in rows if r["suite"] == "quality"]
    lines = ["# Deployment benchmark (`python -m benchmarks.apply`)", "",
             f"Machine: {facts.get('cpu', '?')}, {facts.get('usable_cpus', '?')} usable cores; commit {facts.get('commit')}.", ""]
    if q:
        lines += ["## A saved policy on 100,000 new customers (true mean profit per customer)", "",
                  "| k | seeds | applied | oracle use of its offered set | applied / oracle | true optimum | "
                  "rules d=1 | rules d=2 | rules d=3 |", "|---|---|---|---|---|---|---|---|---|"]
        for k in sorted({r["k"] for r in q}):
            rs = [r for r in q if r["k"] == k]
            m = {key: float(np.mean([r[key] for r in rs])) for key in
                 ("applied", "oracle_offered", "optimal", "rules_d1", "rules_d2", "rules_d3")}
            lines.append(f"| {k} | {len(rs)} | {m['applied']:.4f} | {m['oracle_offered']:.4f} | "
                         f"{100 * m['applied'] / m['oracle_offered']:.1f}% | {m['optimal']:.4f} | "
                         f"{m['rules_d1']:.4f} | {m['rules_d2']:.4f} | {m['rules_d3']:.4f} |")
        fit = {d: float(np.mean([r[f"rules_d{d}_seconds"] for r in q])) for d in (1, 2, 3)}
        lines += ["", "Rules fitted on 20,000 customers in " + ", ".join(f"{fit[d]:.2f} s (depth {d})" for d in fit)
                  + " (mean over runs).", ""]
    b = [r for r in rows if r["suite"] == "bounds"]
    if b:
        lines += ["## Share bounds on new customers (k = 3, max_share = 0.4)", "",
                  "| seed | largest share: training | new, batch (transport) | new, one at a time (potentials) | "
                  "new, bounds ignored |", "|---|---|---|---|---|"]
        lines += [f"| {r['seed']} | {r['train_max_share']:.4f} | {r['batch_max_share']:.4f} | "
                  f"{r['potentials_max_share']:.4f} | {r['unbounded_max_share']:.4f} |" for r in b]
        lines.append("")
    s = [r for r in rows if r["suite"] == "scale"]
    if s:
        lines += ["## `coarseopt apply` at scale (Parquet in and out, k = 3, chunks of 100,000 rows)", "",
                  "| rows | seconds | rows / s | peak memory (MB) |", "|---|---|---|---|"]
        lines += [f"| {r['rows']:,} | {r['seconds']:.1f} | {r['rows_per_second']:,.0f} | {r['peak_rss_mb']:.0f} |"
                  for r in s]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    n_train, n_new = (3000, 5000) if args.quick else (20_000, 100_000)
    seeds = 1 if args.quick else args.seeds
    sizes = (100_000,) if args.quick else (1_000_000, 10_000_000)
    facts = {**machine_facts(), "versions": versions(), "commit": git_commit()}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="coarseopt-apply-") as d:
        tmp = Path(d)
        for seed in range(seeds):
            rows += quality(seed, n_train, n_new, (1, 2, 3), tmp)
        if not args.no_scale:
            rows += scale(sizes, tmp)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "apply_quick" if args.quick else "apply"
    with open(out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"facts": facts}) + "\n")
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    (out / f"{name}.md").write_text(_markdown(rows, facts), encoding="utf-8")
    print(_markdown(rows, facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
