"""The ``coarseopt`` command line.

::

    coarseopt run                      # the embedded default study, end to end
    coarseopt run study.toml --out results/
    coarseopt run --print-default-config > study.toml
    coarseopt solve profit.parquet -k 5 --solver mip --time-limit 60
    coarseopt evaluate holdout.csv --policy-a a.csv --policy-b b.csv --design rba
    coarseopt benchmark --suite smoke --out bench/
    coarseopt solvers                  # registered solvers and their options

Exit codes: 0 success; 2 bad input or config (one line on standard error naming what is
wrong, no traceback); 1 an internal error (with its traceback). ``--verbose`` logs each
step (and shows tracebacks); ``--quiet`` turns progress bars and the summary off. Progress
bars are shown only when standard error is a terminal.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Sequence

from .commands.common import (
    EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, UsageError, arg_of, atomic_table, finite, json_default, looks_like_id,
    no_column, one_line, parse_k, parse_options, progress_of, read_table_arg, say,
)
from .commands.evaluate import cmd_evaluate

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_INTERNAL", "EXIT_USAGE", "UsageError"]


log = logging.getLogger("coarseopt")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("output control")
    g.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                   help="log each step (-vv: debug); show tracebacks")
    g.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bars, no summary (errors only)")
    return p


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``coarseopt`` command."""
    from . import __version__

    common = _common()
    parser = _Parser(
        prog="coarseopt",
        description="Coarse personalization: estimate per-customer profit of each treatment from a "
        "randomized experiment, choose at most k treatments to offer and who gets each, and "
        "evaluate targeting policies.",
        parents=[common],
        epilog="Run 'coarseopt COMMAND --help' for the options of a command. Docs: docs/index.md.",
    )
    parser.add_argument("--version", action="version", version=f"coarseopt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # run
    p = sub.add_parser("run", parents=[common], help="run a study end to end (estimate, solve, evaluate, report)",
                       description="Run a study end to end: estimate profit on a training split, choose "
                       "treatments for each k, evaluate the policies on the held-out split, write a report. "
                       "Without CONFIG the embedded default study (the bundled Hillstrom experiment) runs.")
    p.add_argument("config", nargs="?", help="a study config (TOML); default: the embedded default")
    p.add_argument("--out", metavar="DIR", help="output directory (default: [output] dir, 'coarseopt-results')")
    p.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set solve.k=[1,2] --set solve.solver=mip "
                   "(the value is read as TOML, else as text); repeatable")
    p.add_argument("--print-default-config", action="store_true",
                   help="print the commented default config and exit")
    p.add_argument("--sep", metavar="CHAR", help="CSV field separator of the data file (same as --set data.sep=CHAR)")
    p.add_argument("--check", action="store_true",
                   help="validate the config and the data (columns, types, arm counts, economics, k) and exit")
    p.set_defaults(func=cmd_run)

    # solve
    p = sub.add_parser("solve", parents=[common], help="choose at most k treatments for a profit matrix",
                       description="Solve the coarse personalization problem for a profit matrix: rows are "
                       "customers, numeric columns are treatments (e.g. profit.parquet written by 'run').")
    p.add_argument("profit", help="a .csv or .parquet file: one row per customer, one column per treatment")
    p.add_argument("-k", dest="k", action="append", required=True, metavar="K",
                   help="how many treatments to offer (int >= 1); repeat or comma-separate for several")
    p.add_argument("--solver", default="ot", help="a registered solver (default: ot; see 'coarseopt solvers')")
    p.add_argument("--time-limit", type=float, metavar="SECONDS", help="time limit per k")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("-o", "--option", dest="options", action="append", default=[], metavar="NAME=VALUE",
                   help="a solver option (value read as TOML, else text); repeatable")
    p.add_argument("--index", metavar="COLUMN", help="a column of customer ids (kept in the output, not a treatment)")
    p.add_argument("--treatments", metavar="COLS",
                   help="comma-separated treatment columns (default: every column but --index); a column that "
                   "looks like an id is refused unless named here or by --index")
    p.add_argument("--sep", metavar="CHAR", default=",", help="CSV field separator (default ',')")
    p.add_argument("--out", metavar="FILE", help="write the assignment (.csv or .parquet): one column per k")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=cmd_solve)

    # evaluate
    p = sub.add_parser("evaluate", parents=[common], help="compare two targeting policies on experiment data",
                       description="Estimate V(policy A) - V(policy B), the difference in mean profit per "
                       "customer, from experiment data, with a confidence interval.")
    p.add_argument("data", help="a .csv or .parquet file: one row per customer (outcome, action received)")
    p.add_argument("--policy-a", required=True, metavar="FILE|COLUMN",
                   help="policy A: a file with one recommended action per row (same order), or a column of DATA")
    p.add_argument("--policy-b", required=True, metavar="FILE|COLUMN", help="policy B, likewise")
    p.add_argument("--column-a", metavar="NAME", help="the column of the policy-A file to use")
    p.add_argument("--column-b", metavar="NAME", help="the column of the policy-B file to use")
    p.add_argument("--outcome", default="profit", help="outcome (profit) column of DATA (default: profit)")
    p.add_argument("--action", default="treatment", help="received-action column (default: treatment)")
    p.add_argument("--design", choices=["rba", "rbp"], default="rba",
                   help="rba: customers randomized to actions; rbp: to policies (needs --assigned)")
    p.add_argument("--propensity", metavar="COLUMN", help="rba: probability of the received action")
    p.add_argument("--assigned", metavar="COLUMN", help="rbp: the policy ('a'/'b') each customer was assigned")
    p.add_argument("--method", default="disagreement",
                   choices=["disagreement", "naive", "regression", "ipw", "snipw", "dr"],
                   help="the estimator (default: disagreement); regression and dr adjust for --covariates")
    p.add_argument("--covariates", metavar="COLS",
                   help="comma-separated columns of DATA known before the treatment (needed by --method "
                   "regression and dr; never outcomes)")
    p.add_argument("--margin", metavar="M",
                   help="profit per unit of the outcome: a number, or ACTION=M,ACTION=M,...; with "
                   "--margin or --cost the outcome column is turned into profit = margin * outcome - cost")
    p.add_argument("--cost", metavar="C", help="cost per customer of the action received: a number, or ACTION=C,... "
                   "(labelled actions not listed cost 0; numeric levels must all be covered)")
    p.add_argument("--sep", metavar="CHAR", default=",", help="CSV field separator (default ',')")
    p.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_evaluate)

    # benchmark
    p = sub.add_parser("benchmark", parents=[common], help="run a benchmark suite",
                       description="Run benchmark suites (machine-readable results, tables and plots).")
    p.add_argument("--suite", action="append", metavar="NAME", help="a suite to run (repeatable; default: smoke)")
    p.add_argument("--out", metavar="DIR", default="benchmark-results",
                   help="output directory (default: benchmark-results)")
    p.add_argument("--quick", action="store_true", help="smaller instances")
    p.add_argument("--list", action="store_true", help="list the suites and exit")
    p.set_defaults(func=cmd_benchmark)

    # solvers
    p = sub.add_parser("solvers", parents=[common], help="list the registered solvers and their options")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_solvers)
    _add_apply(sub, common)
    return parser


# ---------------------------------------------------------------------------- apply
def _add_apply(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("apply", parents=[common], help="assign new customers with a saved study's policy",
                       description="Assign every customer of DATA (CSV or Parquet) with the policy that "
                       "`coarseopt run` saved in RUN_DIR: one output row per input row with `row`, the --id "
                       "column, `treatment` (and with --profit the predicted profit of each offered "
                       "treatment). Large files are streamed in chunks; share bounds are kept.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="output directory of `coarseopt run`")
    p.add_argument("data", metavar="DATA", help="customers to assign (.csv or .parquet)")
    p.add_argument("-k", "--k", type=int, default=None, help="number of offered treatments (default: the "
                   "study's recommended k)")
    p.add_argument("--out", metavar="FILE", required=True, help="output file (.csv or .parquet)")
    p.add_argument("--id", metavar="COLUMN", default=None, help="a column of DATA copied to the output")
    p.add_argument("--profit", action="store_true", help="also write the predicted profit of each offered "
                   "treatment")
    p.add_argument("--rules", action="store_true", help="assign with the readable segment rules instead of "
                   "the models")
    p.add_argument("--unseen", choices=("error", "ignore"), default="error", help="a category the study never "
                   "saw: an error (default), or encoded as none of the seen categories")
    p.add_argument("--over-budget", choices=("raise", "cheapest"), default="raise", help="a policy with a budget "
                   "and a chunk whose cheapest offered treatments already cost more than its budget: an error "
                   "(default), or each customer's cheapest offered treatment, with a warning")
    p.add_argument("--chunksize", type=int, default=None, help="rows assigned at a time (default 100000)")
    p.add_argument("-f", "--force", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=cmd_apply)


def cmd_apply(args: argparse.Namespace) -> int:
    """``coarseopt apply``: score new customers with a saved policy."""
    from .apply import DEFAULT_CHUNKSIZE, apply_policy

    start = time.perf_counter()
    res = apply_policy(args.run_dir, args.data, args.out, k=args.k, id_column=args.id, profit=args.profit,
                       using="rules" if args.rules else "model", unseen=args.unseen, over_budget=args.over_budget,
                       force=args.force, chunksize=args.chunksize or DEFAULT_CHUNKSIZE, progress=progress_of(args))
    shares = ", ".join(f"{lab} {100 * c / max(1, res['rows']):.1f}%" for lab, c in sorted(res["counts"].items()))
    say(args, f"assigned {res['rows']:,} customers (k={res['k']}: {shares}) in "
               f"{time.perf_counter() - start:.1f} s -> {res['out']}")
    return EXIT_OK


# ---------------------------------------------------------------------------- commands
def cmd_run(args: argparse.Namespace) -> int:
    """``coarseopt run``: the whole study."""
    from .config import default_config_text, load_config, parse_override
    from .pipeline import OutputError, check_output_dir, check_study, run_study, write_outputs

    if args.print_default_config:
        sys.stdout.write(default_config_text())
        return EXIT_OK
    overrides = [parse_override(s) for s in args.overrides]
    if args.sep is not None:
        overrides.append(("data.sep", args.sep))
    cfg = load_config(args.config, overrides=overrides)
    out = Path(args.out) if args.out else Path(cfg.output["dir"])
    if args.check:
        info = check_study(cfg)
        arms = ", ".join(f"{a} ({n:,})" for a, n in info["arms"].items())
        say(args, f"config {cfg.source}: OK")
        say(args, f"  data {info['source']}: {info['rows_used']:,} customers; arms (customers): {arms}; "
                   f"{info['treatments']} candidate treatments; {len(info['features'])} features "
                   f"({info['encoded_features']} columns once encoded)")
        try:
            check_output_dir(out, args.force)
        except OutputError:  # an --out the user named is checked; the default one only noted
            if args.out or (out.exists() and not out.is_dir()):
                raise
            say(args, f"  note: the default output directory {out} exists and is not empty: 'coarseopt run' "
                       "needs --force to replace it, or another --out")
        return EXIT_OK
    check_output_dir(out, args.force)
    start = time.perf_counter()
    log.info("running study %s into %s", cfg.source, out)
    study = run_study(cfg, progress=progress_of(args))
    write_outputs(study, out, force=args.force)
    _print_study(args, study, out, time.perf_counter() - start)
    return EXIT_OK


def _beats_baseline(row: Any) -> bool:
    """Whether a policy's lift interval lies above zero: the simultaneous one over all k
    (the recommended k was picked among them) where the study has it, else the interval."""
    for key in ("lift_sim_ci_low", "lift_ci_low"):
        low = row.get(key)
        if low is not None and math.isfinite(float(low)):
            return float(low) > 0
    return False


def _print_study(args: argparse.Namespace, study: Any, out: Path, seconds: float) -> None:
    from .pipeline import offered_with_customers, profit_unit

    if arg_of(args, "quiet"):
        return
    cfg = study.config
    info = study.data_info
    conf = f"{100 * (1 - cfg.evaluation['alpha']):.0f}%"
    base = cfg.evaluation["baseline"]
    base_name = "control" if base == "control" else f"everyone: {base}"
    split = (f"cross-fitted, {cfg.split['folds']} folds" if study.split_method == "crossfit"
             else f"{len(study.train_index):,} training / {len(study.test_index):,} held out")
    print(f"study: {info.get('source')}, {info.get('rows_used', 0):,} customers ({split}), "
          f"solver {cfg.solve['solver']}" + (f", learner {study.learner}" if study.learner else ""))
    print(f"values: {profit_unit(cfg)}; lift: over '{base_name}'")
    ev = study.evaluation.set_index("policy")
    rec = study.recommended_k
    rec_beats = rec is not None and f"k={rec}" in ev.index and _beats_baseline(ev.loc[f"k={rec}"])
    for k, res in study.results.items():
        offered = ", ".join(f"{lab} {100 * s:.0f}%" for lab, s in offered_with_customers(res))
        row = ev.loc[f"k={k}"]
        mark = "  <- recommended" if rec_beats and k == rec else ""
        if math.isfinite(row["lift"]):
            lift = (f"lift {row['lift']:+.4f} per customer, {conf} CI [{row['lift_ci_low']:+.4f}, "
                    f"{row['lift_ci_high']:+.4f}], simultaneous [{row['lift_sim_ci_low']:+.4f}, "
                    f"{row['lift_sim_ci_high']:+.4f}]")
        elif math.isfinite(row.get("lift_lower", float("nan"))):
            lift = (f"lift between {row['lift_lower']:+.4f} and {row['lift_upper']:+.4f} per customer under "
                    f"[evaluation] shape = \"{cfg.evaluation['shape']}\", {conf} CI [{row['lift_ci_low']:+.4f}, "
                    f"{row['lift_ci_high']:+.4f}]")
        else:
            lift = f"lift: n/a ({row.get('note') or 'not evaluable'})"
        if "true_lift" in row and math.isfinite(row["true_lift"]):
            lift += f"; true lift {row['true_lift']:+.4f}"
        recov = f"{100 * res.recovery:.1f}%" if math.isfinite(res.recovery) else "n/a"
        print(f"  k={k}: offer {offered} | recovery {recov} ({res.status}) | {lift}{mark}")
    if rec is not None and not rec_beats:
        print(f"no k beats the baseline: no k's {conf} interval of the lift over '{base_name}' (simultaneous over "
              f"all k where the study has one) lies above zero (the study's pick: k={rec}); keep the baseline or "
              "collect more data")
    print(f"wrote {out}{'/' if not str(out).endswith('/') else ''} (report.html, summary.json, segments.json, "
          f"assignment.{cfg.output['assignment_format']}, evaluation.csv) in {seconds:.1f} s")


def _profit_matrix(df, index: str | None, treatments: str | None, path: str):
    import pandas as pd

    ids = None
    if index is not None:
        if index not in df.columns:
            raise no_column("--index", index, df, path)
        ids = df[index]
        df = df.drop(columns=[index])
    if treatments is not None:
        names = [c.strip() for c in treatments.split(",") if c.strip()]
        if not names:
            raise UsageError("--treatments: name at least one column (comma-separated).")
        for c in names:
            if c not in df.columns:
                raise no_column("--treatments", c, df, path)
        df = df[names]
    else:
        idlike = [str(c) for c in df.columns if looks_like_id(c, df[c])]
        if idlike:
            raise UsageError(
                f"profit file {path!r}: column {idlike[0]!r} looks like a customer id (integers, one per row), not "
                f"a treatment's profit; name it with --index {idlike[0]}, or list the treatment columns with "
                "--treatments if it really is one."
            )
    bad = [str(c) for c, t in df.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    if bad:
        raise UsageError(
            f"profit file {path!r}: column(s) {', '.join(bad[:5])} are not numeric; every column must be "
            "a treatment's profit (name an id column with --index)."
        )
    nan = df.isna().sum()
    nan = nan[nan > 0]
    if len(nan):
        raise UsageError(
            f"profit file {path!r}: column {str(nan.index[0])!r} has {int(nan.iloc[0])} missing value(s); "
            "every customer needs a profit for every treatment."
        )
    if ids is not None:
        df = df.set_axis(pd.Index(ids.to_numpy(), name=index), axis=0)
    return df


def cmd_solve(args: argparse.Namespace) -> int:
    """``coarseopt solve``: one profit matrix, one or more k."""
    import numpy as np
    import pandas as pd

    import coarseopt as co

    from .exceptions import OptionError, UnknownSolverError
    from .pipeline import certify_optimum, offered_with_customers

    ks = parse_k(args.k)
    options = parse_options(args.options, "--option")
    if args.time_limit is not None and not (args.time_limit > 0 and math.isfinite(args.time_limit)):
        raise UsageError(f"--time-limit {args.time_limit}: must be a positive number of seconds.")
    try:
        cls = co.get_solver(args.solver)
    except UnknownSolverError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = co.available_solvers()
        raise UsageError(f"--solver {args.solver!r}: unknown solver; available: {', '.join(names)}.") from None
    try:
        cls.check_options(options)
    except OptionError as exc:
        raise UsageError(f"--option: {one_line(exc)}") from None
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() not in (".csv", ".parquet"):
            raise UsageError(f"--out {args.out!r}: name a .csv or .parquet file.")
        if out.exists() and not args.force:
            raise UsageError(f"--out {args.out!r}: the file exists; pass --force to overwrite it.")
    df = read_table_arg(args.profit, "profit file", sep=args.sep)
    profit = _profit_matrix(df, args.index, args.treatments, args.profit)
    m = profit.shape[1]
    if ks[-1] > m:
        fit = ",".join(str(k) for k in sorted({k for k in ks if k <= m} | {m}))
        raise UsageError(
            f"-k {ks[-1]}: the profit file has {m} treatment column(s), so k can be at most {m} (k = {m} offers "
            f"every treatment); use -k {fit}."
        )
    base = co.CoarseProblem(profit, k=ks[0])
    results = {}
    for k in ks:
        log.info("solving k=%d with %s", k, args.solver)
        problem = base.with_k(k)
        results[k] = certify_optimum(problem, co.solve(problem, args.solver, time_limit=args.time_limit,
                                                             seed=args.seed, progress=progress_of(args), **options))

    if args.json:
        payload = []
        for k, r in results.items():
            offered = offered_with_customers(r)
            payload.append({
                "k": k, "solver": r.solver, "status": r.status, "objective": finite(r.objective),
                "objective_per_customer": finite(r.objective / base.n), "bound": finite(r.bound),
                "gap": finite(r.gap), "recovery": finite(r.recovery),
                "offered": [str(lab) for lab, _ in offered], "shares": [s for _, s in offered],
                "wall_time": r.wall_time,
            })
        print(json.dumps(payload, indent=2))
    elif not arg_of(args, "quiet"):
        print(f"profit: {base.n:,} customers x {base.m} treatments ({args.profit}); the objective is the total "
              "over all customers, in the profit file's units")
        for k, r in results.items():
            print(f"k={k}: " + _solve_text(r, base.n).replace("\n", "\n     "))
    if args.out:
        table = pd.DataFrame(index=profit.index)
        for k, r in results.items():
            table[f"treatment_k{k}"] = np.asarray(r.assignment_series(labels=True).to_numpy(), dtype=object).astype(str)
        keep = args.index is not None or profit.index.name is not None
        table = table.reset_index() if keep else table.reset_index(drop=True)
        atomic_table(table, Path(args.out))
        log.info("wrote %s", args.out)
    return EXIT_OK


def _solve_text(r: Any, n: int) -> str:
    """A result's lines for a person: status, total and per-customer objective, offered treatments."""
    from .pipeline import offered_with_customers

    bound = "none" if r.bound is None else f"{r.bound:.6g}"
    gap = "n/a" if r.gap is None else f"{100 * r.gap:.4f}%"
    recov = "n/a" if not math.isfinite(r.recovery) else f"{100 * r.recovery:.3f}%"
    lines = [
        f"solver {r.solver}: status {r.status} ({r.termination}) in {r.wall_time:.3f} s",
        f"objective {r.objective:.6g} in total ({r.objective / n:.6g} per customer)   bound {bound}   gap {gap}   "
        f"recovery {recov}",
        "offered: " + ", ".join(f"{lab} ({100 * s:.1f}%)" for lab, s in offered_with_customers(r)),
    ]
    if r.message:
        lines.append(r.message)
    return "\n".join(lines)


def _benchmark_module():
    """``coarseopt_benchmarks.suite``; in a source checkout whose editable install predates the
    benchmark package, the checkout's ``benchmarks/`` folder under that same name."""
    import importlib
    import importlib.util

    try:
        return importlib.import_module("coarseopt_benchmarks.suite")
    except ImportError as exc:
        reason = exc
    folder = Path(__file__).resolve().parent.parent / "benchmarks"
    if (folder / "__init__.py").is_file() and (folder / "suite.py").is_file():
        spec = importlib.util.spec_from_file_location(
            "coarseopt_benchmarks", folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules["coarseopt_benchmarks"] = module
            try:
                spec.loader.exec_module(module)
                return importlib.import_module("coarseopt_benchmarks.suite")
            except ImportError as exc:
                sys.modules.pop("coarseopt_benchmarks", None)
                reason = exc
    raise UsageError(
        f"the benchmark suite is not installed (module 'coarseopt_benchmarks.suite': {reason}); it ships "
        "with a source checkout: run 'pip install -e .' there."
    )


def cmd_benchmark(args: argparse.Namespace) -> int:
    """``coarseopt benchmark``: run suites from the benchmark package."""
    bench = _benchmark_module()
    suites_known = list(getattr(bench, "SUITES", {}))
    if args.list:
        for name in suites_known:
            entry = bench.SUITES[name] if isinstance(bench.SUITES, dict) else None
            doc = entry if isinstance(entry, str) else getattr(entry, "__doc__", None) if entry is not None else None
            print(name + (f": {doc.strip().splitlines()[0]}" if doc else ""))
        return EXIT_OK
    suites = args.suite or ["smoke"]
    for s in suites:
        if suites_known and s not in suites_known:
            raise UsageError(f"--suite {s!r}: unknown suite; available: {', '.join(suites_known)}.")
    out = bench.run(suites, Path(args.out), quick=args.quick, progress=progress_of(args))
    say(args, f"wrote {out}")
    return EXIT_OK


def cmd_solvers(args: argparse.Namespace) -> int:
    """``coarseopt solvers``: what is registered and what each accepts."""
    import coarseopt as co

    rows = []
    for name in co.registered_solvers():
        entry: dict[str, Any] = {"name": name}
        try:
            cls = co.get_solver(name)
        except Exception as exc:  # unavailable plugins are listed with the reason
            entry.update(available=False, reason=one_line(exc))
            rows.append(entry)
            continue
        doc = (cls.__doc__ or "").strip().splitlines()
        entry.update(
            available=True, exact=bool(cls.exact), supports_shares=bool(cls.supports_shares),
            supports_budget=bool(cls.supports_budget),
            summary=doc[0].replace("``", "") if doc else "",
            options={k: {"default": json_default(o.default), "doc": o.doc} for k, o in cls.options.items()},
        )
        rows.append(entry)
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for e in rows:
        if not e["available"]:
            print(f"{e['name']}  (unavailable: {e['reason']})")
            continue
        tags = (["exact" if e["exact"] else "heuristic"] + (["share bounds"] if e["supports_shares"] else [])
                + (["budget"] if e["supports_budget"] else []))
        print(f"{e['name']}  [{', '.join(tags)}]  {e['summary']}")
        for k, o in e["options"].items():
            print(f"    {k} = {o['default']!r}  {o['doc']}")
    return EXIT_OK


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("coarseopt: %(message)s"))
    root = logging.getLogger("coarseopt")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _is_user_error(exc: BaseException) -> bool:
    from .exceptions import (
        CoarseoptError, InfeasibleProblemError, OptionError, ProblemError, SolverUnavailableError,
        UnknownSolverError, UnsupportedProblemError,
    )

    if isinstance(exc, (UsageError, ProblemError, InfeasibleProblemError, OptionError, UnknownSolverError,
                        SolverUnavailableError, UnsupportedProblemError)):
        return True
    return isinstance(exc, CoarseoptError) and isinstance(exc, ValueError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coarseopt`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = int(arg_of(args, "verbose", 0) or 0)
    _setup_logging(verbose)
    if arg_of(args, "quiet") and not verbose:
        warnings.simplefilter("ignore")
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("coarseopt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        if _is_user_error(exc):
            if verbose:
                traceback.print_exc()
            print(f"coarseopt {args.command}: error: {one_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        traceback.print_exc()
        print(
            f"coarseopt {args.command}: internal error: {one_line(exc)} (this is a bug; please report it "
            "with the traceback above)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
