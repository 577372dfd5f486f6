"""``coarseopt evaluate``: two policies compared on an experiment's file."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from .common import (
    EXIT_OK, UsageError, arg_of, column_list, finite, looks_like_id, no_column, one_line, read_table_arg,
)

__all__ = ["cmd_evaluate", "refuse_imbalanced", "IMBALANCE_P"]


def read_policy(value: str, column: str | None, data, data_path: str, flag: str, sep: str = ","):
    p = Path(value)
    if p.is_file():
        df = read_table_arg(value, flag, sep=sep)
        if len(df) != len(data):
            raise UsageError(
                f"{flag} {value!r}: has {len(df)} rows; the data has {len(data)} (one per customer, same order)."
            )
        if column is not None:
            if column not in df.columns:
                raise UsageError(
                    f"--column-{flag[-1]} {column!r}: no such column in {value!r}; columns: {column_list(df)}."
                )
            return df[column].to_numpy(dtype=object)
        candidates = [c for c in df.columns
                      if c not in ("row", "split", "id", "index") and not looks_like_id(c, df[c])]
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


def same_type(policy, action):
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


def names_of(text: str, flag: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise UsageError(f"{flag} {text!r}: name at least one column (comma-separated).")
    return names


def per_action(text: str, flag: str, actions: list) -> Any:
    """``--margin`` / ``--cost``: a number, or ``ARM=VALUE,ARM=VALUE`` keyed by actions."""
    from ..study.data import match_label

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
        action = match_label(name.strip(), actions)
        if action is None:
            raise UsageError(
                f"{flag}: {name.strip()!r} is not an action of the data; actions: {', '.join(map(str, actions))}."
            )
        out[action] = number
    return out


def profit_of(args: argparse.Namespace, y, action) -> Any:
    """The outcome as profit: ``margin * outcome - cost`` of the action received."""
    import numpy as np

    import coarseopt as co

    from ..study.data import sort_key

    actions = sorted(set(action.tolist()), key=sort_key)
    numeric = all(isinstance(a, (int, float, np.integer, np.floating)) for a in actions)
    margin = 1.0 if args.margin is None else per_action(args.margin, "--margin", actions)
    cost = 0.0 if args.cost is None else per_action(args.cost, "--cost", actions)
    try:
        a, c = co.Economics(margin=margin, cost=cost).unit_value(actions, numeric=numeric)
    except ValueError as exc:
        raise UsageError(f"--margin / --cost: {one_line(exc)}") from None
    pos = {lab: j for j, lab in enumerate(actions)}
    j = np.array([pos[x] for x in action.tolist()])
    return a[j] * y - c[j]


def covariates_of(args: argparse.Namespace, data, taken: set) -> list[str]:
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
    names = names_of(args.covariates, "--covariates")
    for c in names:
        if c not in data.columns:
            raise no_column("--covariates", c, data, args.data)
        if c in taken:
            raise UsageError(
                f"--covariates {c!r}: is the outcome, action, propensity, assigned or a policy column; a covariate "
                "must be known before the treatment."
            )
        if not pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]):
            raise UsageError(f"--covariates {c!r}: the column must be numeric (encode text columns first).")
    if args.design == "rba" and args.propensity is None:
        refuse_imbalanced(data, names, args.action)
    return names


#: A covariate whose mean differs between the randomized actions at this p-value is refused.
IMBALANCE_P = 1e-6


def refuse_imbalanced(data, names: list[str], action: str) -> None:
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

    from .. import evaluation as ev

    if not (0 < args.alpha < 1):
        raise UsageError(f"--alpha {args.alpha}: must be in (0, 1).")
    data = read_table_arg(args.data, "data file", sep=args.sep)
    for flag, col in (("--outcome", args.outcome), ("--action", args.action),
                      ("--propensity", args.propensity), ("--assigned", args.assigned)):
        if col is not None and col not in data.columns:
            raise no_column(flag, col, data, args.data)
    if args.design == "rbp" and args.assigned is None:
        raise UsageError("--design rbp: needs --assigned COLUMN (the policy each customer was assigned).")
    taken = {args.outcome, args.action, args.propensity, args.assigned, args.policy_a, args.policy_b} - {None}
    covariates = covariates_of(args, data, taken)
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
    a = same_type(read_policy(args.policy_a, args.column_a, data, args.data, "--policy-a", args.sep), action)
    b = same_type(read_policy(args.policy_b, args.column_b, data, args.data, "--policy-b", args.sep), action)
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
        y = profit_of(args, y, np.asarray(action))
    res = ev.compare_policies(y, np.asarray(action), a, b, **kwargs)
    fields = {}
    for key in ("estimate", "se", "ci_low", "ci_high", "p_value", "n", "n_disagree"):
        v = getattr(res, key, None)
        fields[key] = None if v is None else (int(v) if key in ("n", "n_disagree") else finite(v))
    unit = (f"profit per customer (margin x {args.outcome} - cost)" if economics
            else f"{args.outcome} per customer")
    fields.update(design=args.design, method=args.method, alpha=args.alpha, covariates=covariates, unit=unit)
    if args.json:
        print(json.dumps(fields, indent=2))
    elif not arg_of(args, "quiet"):
        conf = f"{100 * (1 - args.alpha):.0f}%"
        print(f"V(A) - V(B) = {fields['estimate']:.6g} {unit}  (se {fields['se']:.4g}, {conf} CI "
              f"[{fields['ci_low']:.6g}, {fields['ci_high']:.6g}], p = {fields['p_value']:.4g})")
        print(f"design {args.design}, method {args.method}: {fields['n']:,} customers, "
              f"{fields['n_disagree']:,} where the policies disagree"
              + (f"; covariates: {', '.join(covariates)}" if covariates else ""))
    return EXIT_OK
