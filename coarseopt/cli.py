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

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_INTERNAL", "EXIT_USAGE"]

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("coarseopt")


class UsageError(Exception):
    """Bad command-line input found after parsing (exit 2, one line)."""


# ---------------------------------------------------------------------------- parser
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
    p.add_argument("--chunksize", type=int, default=None, help="rows assigned at a time (default 100000)")
    p.add_argument("-f", "--force", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=cmd_apply)


def cmd_apply(args: argparse.Namespace) -> int:
    """``coarseopt apply``: score new customers with a saved policy."""
    from .apply import DEFAULT_CHUNKSIZE, apply_policy

    start = time.perf_counter()
    res = apply_policy(args.run_dir, args.data, args.out, k=args.k, id_column=args.id, profit=args.profit,
                       using="rules" if args.rules else "model", unseen=args.unseen, force=args.force,
                       chunksize=args.chunksize or DEFAULT_CHUNKSIZE, progress=_progress(args))
    shares = ", ".join(f"{lab} {100 * c / max(1, res['rows']):.1f}%" for lab, c in sorted(res["counts"].items()))
    _say(args, f"assigned {res['rows']:,} customers (k={res['k']}: {shares}) in "
               f"{time.perf_counter() - start:.1f} s -> {res['out']}")
    return EXIT_OK


# ---------------------------------------------------------------------------- helpers
def _flag(args: argparse.Namespace, name: str, default: Any = False) -> Any:
    return getattr(args, name, default)


def _progress(args: argparse.Namespace) -> bool | None:
    return False if _flag(args, "quiet") else None


def _say(args: argparse.Namespace, text: str = "") -> None:
    if not _flag(args, "quiet"):
        print(text, flush=True)


def _read_table(path: str, what: str, sep: str = ","):
    from .tabular import format_of, read_table

    p = Path(path)
    if not p.exists():
        raise UsageError(f"{what} {path!r}: no such file.")
    if not p.is_file():
        raise UsageError(f"{what} {path!r}: not a file.")
    fmt = format_of(p)
    if fmt is None:
        raise UsageError(
            f"{what} {path!r}: expected a .csv (also .csv.gz, .csv.bz2, .csv.zip, .csv.xz) or .parquet file; "
            f"got {''.join(p.suffixes) or 'no extension'}."
        )
    try:
        return read_table(p, fmt, sep=sep)
    except Exception as exc:  # the user's file: report the parser's reason in one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{what} {path!r}: cannot be read: {first}") from None


def _no_column(flag: str, column: str, df, path: str) -> UsageError:
    from .tabular import separator_hint

    return UsageError(
        f"{flag} {column!r}: no such column in {path!r}; columns: {_columns(df)}."
        + separator_hint(df.columns, "pass --sep")
    )


def _parse_options(items: list[str], flag: str) -> dict:
    from .config import ConfigError, parse_override

    out = {}
    for item in items:
        try:
            key, value = parse_override(item)
        except ConfigError:
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE.") from None
        out[key] = value
    return out


def _parse_k(values: list[str]) -> list[int]:
    ks: list[int] = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            try:
                k = int(part)
            except ValueError:
                raise UsageError(f"-k {part!r}: must be an integer >= 1.") from None
            if k < 1:
                raise UsageError(f"-k {k}: must be an integer >= 1 (the number of treatments to offer).")
            ks.append(k)
    return sorted(set(ks))


def _columns(df) -> str:
    names = [str(c) for c in df.columns]
    return ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


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
        _say(args, f"config {cfg.source}: OK")
        _say(args, f"  data {info['source']}: {info['rows_used']:,} customers; arms (customers): {arms}; "
                   f"{info['treatments']} candidate treatments; {len(info['features'])} features "
                   f"({info['encoded_features']} columns once encoded)")
        try:
            check_output_dir(out, args.force)
        except OutputError:  # an --out the user named is checked; the default one only noted
            if args.out or (out.exists() and not out.is_dir()):
                raise
            _say(args, f"  note: the default output directory {out} exists and is not empty: 'coarseopt run' "
                       "needs --force to replace it, or another --out")
        return EXIT_OK
    check_output_dir(out, args.force)
    start = time.perf_counter()
    log.info("running study %s into %s", cfg.source, out)
    study = run_study(cfg, progress=_progress(args))
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

    if _flag(args, "quiet"):
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


_ID_NAMES = ("id", "index", "key", "uuid", "row", "unnamed: 0")


def _looks_like_id(name: Any, col) -> bool:
    """An integer column, unique per row, named like an id (``customer_id``, ``ID``, ``index``)
    or numbering the rows (0..n-1 or 1..n)."""
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_integer_dtype(col) or pd.api.types.is_bool_dtype(col) or not col.is_unique:
        return False
    low = str(name).strip().lower()
    named = low in _ID_NAMES or low.endswith(("_id", " id", "-id", ".id", "_key", "_no", "_number")) or str(
        name).endswith(("Id", "ID"))
    values = np.sort(col.to_numpy())
    numbering = len(values) > 1 and values[-1] - values[0] == len(values) - 1 and values[0] in (0, 1)
    return named or numbering


def _profit_matrix(df, index: str | None, treatments: str | None, path: str):
    import pandas as pd

    ids = None
    if index is not None:
        if index not in df.columns:
            raise _no_column("--index", index, df, path)
        ids = df[index]
        df = df.drop(columns=[index])
    if treatments is not None:
        names = [c.strip() for c in treatments.split(",") if c.strip()]
        if not names:
            raise UsageError("--treatments: name at least one column (comma-separated).")
        for c in names:
            if c not in df.columns:
                raise _no_column("--treatments", c, df, path)
        df = df[names]
    else:
        idlike = [str(c) for c in df.columns if _looks_like_id(c, df[c])]
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

    ks = _parse_k(args.k)
    options = _parse_options(args.options, "--option")
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
        raise UsageError(f"--option: {_one_line(exc)}") from None
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() not in (".csv", ".parquet"):
            raise UsageError(f"--out {args.out!r}: name a .csv or .parquet file.")
        if out.exists() and not args.force:
            raise UsageError(f"--out {args.out!r}: the file exists; pass --force to overwrite it.")
    df = _read_table(args.profit, "profit file", sep=args.sep)
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
                                                             seed=args.seed, progress=_progress(args), **options))

    if args.json:
        payload = []
        for k, r in results.items():
            offered = offered_with_customers(r)
            payload.append({
                "k": k, "solver": r.solver, "status": r.status, "objective": _finite(r.objective),
                "objective_per_customer": _finite(r.objective / base.n), "bound": _finite(r.bound),
                "gap": _finite(r.gap), "recovery": _finite(r.recovery),
                "offered": [str(lab) for lab, _ in offered], "shares": [s for _, s in offered],
                "wall_time": r.wall_time,
            })
        print(json.dumps(payload, indent=2))
    elif not _flag(args, "quiet"):
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
        _atomic_table(table, Path(args.out))
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


def _finite(v: Any) -> Any:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _atomic_table(df, path: Path) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        if path.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _policy(value: str, column: str | None, data, data_path: str, flag: str, sep: str = ","):
    p = Path(value)
    if p.is_file():
        df = _read_table(value, flag, sep=sep)
        if len(df) != len(data):
            raise UsageError(
                f"{flag} {value!r}: has {len(df)} rows; the data has {len(data)} (one per customer, same order)."
            )
        if column is not None:
            if column not in df.columns:
                raise UsageError(
                    f"--column-{flag[-1]} {column!r}: no such column in {value!r}; columns: {_columns(df)}."
                )
            return df[column].to_numpy(dtype=object)
        candidates = [c for c in df.columns
                      if c not in ("row", "split", "id", "index") and not _looks_like_id(c, df[c])]
        if len(candidates) == 1:
            return df[candidates[0]].to_numpy(dtype=object)
        if "treatment" in df.columns:
            return df["treatment"].to_numpy(dtype=object)
        raise UsageError(
            f"{flag} {value!r}: several columns ({', '.join(map(str, candidates[:8]))}); pick one with "
            f"--column-{flag[-1]}."
        )
    if value in data.columns:
        return data[value].to_numpy(dtype=object)
    raise UsageError(f"{flag} {value!r}: neither a file nor a column of {data_path!r}.")


def _same_type(policy, action):
    """Cast policy labels to the type of the received actions (a CSV may read '1' as 1)."""
    import numpy as np

    kinds = {type(a) for a in action[:1000]}
    if all(isinstance(a, str) for a in action[:1000]):
        return np.array([str(x) for x in policy], dtype=object)
    if kinds and all(isinstance(a, (int, float, np.integer, np.floating)) for a in action[:1000]):
        try:
            return np.array([float(x) for x in policy], dtype=float).astype(np.asarray(action).dtype)
        except (TypeError, ValueError):
            return policy
    return policy


def _names(text: str, flag: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise UsageError(f"{flag} {text!r}: name at least one column (comma-separated).")
    return names


def _per_action(text: str, flag: str, actions: list) -> Any:
    """``--margin`` / ``--cost``: a number, or ``ARM=VALUE,ARM=VALUE`` keyed by actions."""
    from .pipeline import _match_label

    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"{flag} {text}: must be a finite number >= 0.")
        return value
    out = {}
    for part in text.split(","):
        name, eq, val = part.partition("=")
        try:
            number = float(val)
        except ValueError:
            number = float("nan")
        if not eq or not math.isfinite(number) or number < 0:
            raise UsageError(f"{flag} {text!r}: expected a number >= 0, or ACTION=VALUE,ACTION=VALUE,...")
        action = _match_label(name.strip(), actions)
        if action is None:
            raise UsageError(
                f"{flag}: {name.strip()!r} is not an action of the data; actions: {', '.join(map(str, actions))}."
            )
        out[action] = number
    return out


def _profit_of(args: argparse.Namespace, y, action) -> Any:
    """The outcome as profit: ``margin * outcome - cost`` of the action received."""
    import numpy as np

    import coarseopt as co

    from .pipeline import _sort_key

    actions = sorted(set(action.tolist()), key=_sort_key)
    numeric = all(isinstance(a, (int, float, np.integer, np.floating)) for a in actions)
    margin = 1.0 if args.margin is None else _per_action(args.margin, "--margin", actions)
    cost = 0.0 if args.cost is None else _per_action(args.cost, "--cost", actions)
    try:
        a, c = co.Economics(margin=margin, cost=cost).unit_value(actions, numeric=numeric)
    except ValueError as exc:
        raise UsageError(f"--margin / --cost: {_one_line(exc)}") from None
    pos = {lab: j for j, lab in enumerate(actions)}
    j = np.array([pos[x] for x in action.tolist()])
    return a[j] * y - c[j]


def _covariates(args: argparse.Namespace, data, taken: set) -> list[str]:
    import pandas as pd

    if args.covariates is None:
        if args.method in ("regression", "dr"):
            raise UsageError(
                f"--method {args.method}: name the covariates with --covariates COL,COL,... (columns known before "
                "the treatment, e.g. the features of the study; never an outcome or an id)."
            )
        return []
    if args.method not in ("regression", "dr"):
        raise UsageError(f"--covariates: only --method regression and dr use covariates; got --method {args.method}.")
    names = _names(args.covariates, "--covariates")
    for c in names:
        if c not in data.columns:
            raise _no_column("--covariates", c, data, args.data)
        if c in taken:
            raise UsageError(
                f"--covariates {c!r}: is the outcome, action, propensity, assigned or a policy column; a covariate "
                "must be known before the treatment."
            )
        if not pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]):
            raise UsageError(f"--covariates {c!r}: the column must be numeric (encode text columns first).")
    if args.design == "rba" and args.propensity is None:
        _refuse_imbalanced(data, names, args.action)
    return names


#: A covariate whose mean differs between the randomized actions at this p-value is refused.
IMBALANCE_P = 1e-6


def _refuse_imbalanced(data, names: list[str], action: str) -> None:
    """In an experiment randomized without regard to the customer, a column known before the
    treatment has the same distribution under every action; a column whose mean differs
    beyond chance (one-way F test, p < :data:`IMBALANCE_P`) was measured after it."""
    from scipy.stats import f_oneway

    groups = data.groupby(action, sort=False)
    if groups.ngroups < 2 or groups.size().min() < 2:
        return
    for c in names:
        samples = [g[c].to_numpy(dtype=float) for _, g in groups]
        if all(s.std() == 0 for s in samples):
            continue
        p = float(f_oneway(*samples).pvalue)
        if p < IMBALANCE_P:
            raise UsageError(
                f"--covariates {c!r}: its mean differs between the actions received (F test p = {p:.2g}); in a "
                "randomized experiment a column known before the treatment does not, so it looks measured after "
                "the treatment (an outcome). Leave it out."
            )


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``coarseopt evaluate``: compare two policies."""
    import numpy as np
    import pandas as pd

    from . import evaluation as ev

    if not (0 < args.alpha < 1):
        raise UsageError(f"--alpha {args.alpha}: must be in (0, 1).")
    data = _read_table(args.data, "data file", sep=args.sep)
    for flag, col in (("--outcome", args.outcome), ("--action", args.action),
                      ("--propensity", args.propensity), ("--assigned", args.assigned)):
        if col is not None and col not in data.columns:
            raise _no_column(flag, col, data, args.data)
    if args.design == "rbp" and args.assigned is None:
        raise UsageError("--design rbp: needs --assigned COLUMN (the policy each customer was assigned).")
    taken = {args.outcome, args.action, args.propensity, args.assigned, args.policy_a, args.policy_b} - {None}
    covariates = _covariates(args, data, taken)
    used = [args.outcome, args.action] + [c for c in (args.propensity, args.assigned) if c] + covariates
    nan = data[used].isna().sum()
    nan = nan[nan > 0]
    if len(nan):
        raise UsageError(
            f"data file {args.data!r}: column {str(nan.index[0])!r} has {int(nan.iloc[0])} missing value(s)."
        )
    if not pd.api.types.is_numeric_dtype(data[args.outcome]):
        raise UsageError(f"--outcome {args.outcome!r}: the column must be numeric.")
    action = data[args.action].to_numpy(dtype=object)
    a = _same_type(_policy(args.policy_a, args.column_a, data, args.data, "--policy-a", args.sep), action)
    b = _same_type(_policy(args.policy_b, args.column_b, data, args.data, "--policy-b", args.sep), action)
    kwargs: dict[str, Any] = dict(design=args.design, method=args.method, alpha=args.alpha)
    if args.propensity:
        kwargs["propensity"] = data[args.propensity].to_numpy(dtype=float)
    if args.assigned:
        kwargs["assigned"] = data[args.assigned].to_numpy(dtype=object)
    if covariates:
        kwargs["X"] = data[covariates].to_numpy(dtype=float)
    y = data[args.outcome].to_numpy(dtype=float)
    economics = args.margin is not None or args.cost is not None
    if economics:
        y = _profit_of(args, y, np.asarray(action))
    res = ev.compare_policies(y, np.asarray(action), a, b, **kwargs)
    fields = {}
    for key in ("estimate", "se", "ci_low", "ci_high", "p_value", "n", "n_disagree"):
        v = getattr(res, key, None)
        fields[key] = None if v is None else (int(v) if key in ("n", "n_disagree") else _finite(v))
    unit = (f"profit per customer (margin x {args.outcome} - cost)" if economics
            else f"{args.outcome} per customer")
    fields.update(design=args.design, method=args.method, alpha=args.alpha, covariates=covariates, unit=unit)
    if args.json:
        print(json.dumps(fields, indent=2))
    elif not _flag(args, "quiet"):
        conf = f"{100 * (1 - args.alpha):.0f}%"
        print(f"V(A) - V(B) = {fields['estimate']:.6g} {unit}  (se {fields['se']:.4g}, {conf} CI "
              f"[{fields['ci_low']:.6g}, {fields['ci_high']:.6g}], p = {fields['p_value']:.4g})")
        print(f"design {args.design}, method {args.method}: {fields['n']:,} customers, "
              f"{fields['n_disagree']:,} where the policies disagree"
              + (f"; covariates: {', '.join(covariates)}" if covariates else ""))
    return EXIT_OK


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
    out = bench.run(suites, Path(args.out), quick=args.quick, progress=_progress(args))
    _say(args, f"wrote {out}")
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
            entry.update(available=False, reason=_one_line(exc))
            rows.append(entry)
            continue
        doc = (cls.__doc__ or "").strip().splitlines()
        entry.update(
            available=True, exact=bool(cls.exact), supports_shares=bool(cls.supports_shares),
            summary=doc[0].replace("``", "") if doc else "",
            options={k: {"default": _json_default(o.default), "doc": o.doc} for k, o in cls.options.items()},
        )
        rows.append(entry)
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for e in rows:
        if not e["available"]:
            print(f"{e['name']}  (unavailable: {e['reason']})")
            continue
        tags = ["exact" if e["exact"] else "heuristic"] + (["share bounds"] if e["supports_shares"] else [])
        print(f"{e['name']}  [{', '.join(tags)}]  {e['summary']}")
        for k, o in e["options"].items():
            print(f"    {k} = {o['default']!r}  {o['doc']}")
    return EXIT_OK


def _json_default(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    return str(v)


# ---------------------------------------------------------------------------- main
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
    verbose = int(_flag(args, "verbose", 0) or 0)
    _setup_logging(verbose)
    if _flag(args, "quiet") and not verbose:
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
            print(f"coarseopt {args.command}: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        traceback.print_exc()
        print(
            f"coarseopt {args.command}: internal error: {_one_line(exc)} (this is a bug; please report it "
            "with the traceback above)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
