"""The end-to-end study behind ``coarseopt run``: estimate, discretize, evaluate, report.

1. **Data**: a bundled experiment or a CSV / Parquet file; used columns checked (present,
   no missing values unless ``dropna``), text features one-hot encoded.
2. **Split**: customers are split into a training and a held-out half (stratified by arm).
3. **Personalize** (step 1): :func:`coarseopt.estimate_profit` on the training half, with
   cross-fitted (out-of-fold) predictions; the fitted models predict the held-out half.
4. **Discretize** (step 2): for every ``k``, :func:`coarseopt.solve` with the configured
   solver picks at most ``k`` treatments; each customer gets the most profitable offered one.
5. **Evaluate** (step 3): on the held-out half, which the models never saw, the realized
   profit of each policy (``k`` = 1, 2, ..., full personalization, and the baseline) is
   estimated from the experiment with :mod:`coarseopt.evaluation`, with confidence intervals.
6. **Outputs**: JSON, CSV / Parquet and a self-contained HTML report, written atomically.

The functions here are the library form of the command: ``run_study(load_config(path))``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import ConfigError, StudyConfig, dump_toml
from .exceptions import CoarseoptError
from .progress import progress_bar

__all__ = [
    "OutputError",
    "Study",
    "run_study",
    "load_data",
    "check_output_dir",
    "write_outputs",
]

log = logging.getLogger("coarseopt")


class OutputError(CoarseoptError, ValueError):
    """An output directory that cannot be written (exists and is not empty, not a directory)."""


# ---------------------------------------------------------------------------- results
@dataclass
class Study:
    """Everything a study produced (what :func:`write_outputs` writes).

    Attributes
    ----------
    config : StudyConfig
    data_info : dict
        Rows read, rows dropped, arms and their counts, features used.
    treatments : list
        Labels of the candidate treatments (columns of the profit matrix).
    control : object
        The control arm.
    features : list of str
        Encoded feature names (one-hot columns are ``name=value``).
    train_index, test_index : ndarray
        Row positions (in the data after dropping rows) of the two halves.
    profit : pandas.DataFrame
        Cross-fitted incremental profit of the training customers (rows) per treatment.
    test_profit : pandas.DataFrame
        Predicted incremental profit of the held-out customers.
    results : dict
        ``k -> SolveResult`` on the training half.
    policies : dict
        ``name -> ndarray`` of recommended treatments for every held-out customer.
    segments : dict
        ``k -> list of segment profiles`` (one per offered treatment).
    evaluation : pandas.DataFrame
        One row per policy: held-out value and lift over the baseline with intervals.
    comparisons : pandas.DataFrame
        Each k against the next smaller one: does offering more treatments pay?
    assignment : pandas.DataFrame
        Per customer (all rows): split and the recommended treatment for each k.
    timings : dict
        Seconds per step.
    """

    config: StudyConfig
    data_info: dict = field(default_factory=dict)
    treatments: list = field(default_factory=list)
    control: Any = None
    features: list = field(default_factory=list)
    train_index: Any = None
    test_index: Any = None
    profit: Any = None
    test_profit: Any = None
    results: dict = field(default_factory=dict)
    policies: dict = field(default_factory=dict)
    segments: dict = field(default_factory=dict)
    evaluation: Any = None
    comparisons: Any = None
    assignment: Any = None
    recommended_k: int | None = None
    timings: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------- data
def _read_file(cfg: StudyConfig):
    import pandas as pd

    path = cfg.data_path
    fmt = cfg.data["format"]
    try:
        if fmt == "csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as exc:  # parser errors of all kinds: the user's file, not our bug
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"[data] path = \"{cfg.data['path']}\": cannot be read as {fmt.upper()}: {msg}"
        ) from None


def _bundled(cfg: StudyConfig):
    from . import datasets

    name = cfg.data["dataset"]
    if name == "hillstrom":
        return datasets.load_hillstrom()
    df, _truth = datasets.make_promotions(cfg.data["n"], seed=cfg.data["seed"])
    return df


def load_data(cfg: StudyConfig):
    """The experiment as a DataFrame with only what the study uses, checked.

    Returns
    -------
    df : pandas.DataFrame
        Columns: outcome, treatment, optional propensity, then encoded features.
    features : list of str
        Encoded feature names.
    info : dict
        Rows read, dropped, used.

    Raises
    ------
    ConfigError
        A missing column, missing values (without ``dropna``), a non-numeric outcome or an
        unknown control arm: the message names the key and the column.
    """
    import pandas as pd

    raw = _read_file(cfg) if cfg.data_path is not None else _bundled(cfg)
    source = f"\"{cfg.data['path']}\"" if cfg.data_path is not None else f"dataset \"{cfg.data['dataset']}\""
    info: dict[str, Any] = {"source": source.strip('"'), "rows_read": int(len(raw))}
    cols = cfg.columns
    if not cols["features"] and cfg.data["dataset"] == "promotions":
        skip = {cols["outcome"], cols["treatment"], cols["propensity"]}
        cols = dict(cols, features=[c for c in raw.columns if c not in skip])
        cfg.columns["features"] = cols["features"]
    available = [str(c) for c in raw.columns]

    def require(key: str, column: str) -> None:
        if column not in raw.columns:
            raise ConfigError(
                f"[columns] {key} = \"{column}\": no such column in {source}; columns: "
                f"{', '.join(available[:30])}{' ...' if len(available) > 30 else ''}."
            )

    require("outcome", cols["outcome"])
    require("treatment", cols["treatment"])
    if cols["propensity"]:
        require("propensity", cols["propensity"])
    if not cols["features"]:
        raise ConfigError("[columns] features = []: list at least one column to personalize on.")
    for f in cols["features"]:
        if f not in raw.columns:
            raise ConfigError(
                f"[columns] features: no column \"{f}\" in {source}; columns: "
                f"{', '.join(available[:30])}{' ...' if len(available) > 30 else ''}."
            )
    used = [cols["outcome"], cols["treatment"]] + ([cols["propensity"]] if cols["propensity"] else [])
    used += [f for f in cols["features"] if f not in used]
    df = raw[used].copy()

    missing = df.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        if not cfg.data["dropna"]:
            col, count = str(missing.index[0]), int(missing.iloc[0])
            more = f" (and {len(missing) - 1} more column(s))" if len(missing) > 1 else ""
            raise ConfigError(
                f"[data] column \"{col}\" has {count} missing value(s){more}; clean the file or set "
                "[data] dropna = true to drop those rows."
            )
        before = len(df)
        df = df.dropna().reset_index(drop=True)
        info["rows_dropped"] = before - len(df)
        log.info("dropped %d rows with missing values", before - len(df))
    else:
        info["rows_dropped"] = 0
    if cfg.data["sample"] and cfg.data["sample"] < len(df):
        df = df.sample(n=cfg.data["sample"], random_state=cfg.data["seed"]).reset_index(drop=True)
        info["sampled"] = int(cfg.data["sample"])
    if not pd.api.types.is_numeric_dtype(df[cols["outcome"]]) or pd.api.types.is_bool_dtype(df[cols["outcome"]]):
        raise ConfigError(
            f"[columns] outcome = \"{cols['outcome']}\": the column must be numeric; got "
            f"{df[cols['outcome']].dtype}."
        )
    if cols["propensity"]:
        p = df[cols["propensity"]]
        if not pd.api.types.is_numeric_dtype(p) or not ((p > 0) & (p <= 1)).all():
            raise ConfigError(
                f"[columns] propensity = \"{cols['propensity']}\": must hold probabilities in (0, 1]."
            )
    arms = sorted(df[cols["treatment"]].unique().tolist(), key=_sort_key)
    if len(arms) < 2:
        raise ConfigError(
            f"[columns] treatment = \"{cols['treatment']}\": the experiment needs at least two arms; "
            f"found {arms}."
        )
    if cols["control"]:
        control = _match_label(cols["control"], arms)
        if control is None:
            raise ConfigError(
                f"[columns] control = \"{cols['control']}\": not an arm of column "
                f"\"{cols['treatment']}\"; arms: {', '.join(map(str, arms))}."
            )
    else:
        control = arms[0]
    if len(df) < 20 * len(arms):
        raise ConfigError(
            f"[data] only {len(df)} usable rows for {len(arms)} arms; a study needs at least "
            f"{20 * len(arms)}."
        )

    # one-hot encode text / categorical / boolean features (numeric ones stay as they are)
    encoded = []
    parts = [df[used[: len(used) - len(cols["features"])]]]
    for f in cols["features"]:
        s = df[f]
        if pd.api.types.is_bool_dtype(s):
            parts.append(s.astype(float).rename(f))
            encoded.append(f)
        elif pd.api.types.is_numeric_dtype(s):
            parts.append(s.astype(float).rename(f))
            encoded.append(f)
        else:
            levels = sorted(s.astype(str).unique().tolist())
            if len(levels) > 50:
                raise ConfigError(
                    f"[columns] features: column \"{f}\" is text with {len(levels)} distinct values; "
                    "encode it as numbers or drop it (at most 50 categories are one-hot encoded)."
                )
            for level in levels:
                name = f"{f}={level}"
                parts.append((s.astype(str) == level).astype(float).rename(name))
                encoded.append(name)
    out = pd.concat(parts, axis=1)
    info.update(
        rows_used=int(len(out)),
        arms={str(a): int((df[cols["treatment"]] == a).sum()) for a in arms},
        features=list(cols["features"]),
        encoded_features=len(encoded),
    )
    return out, encoded, arms, control, info


def _sort_key(x: Any):
    return (0, x, "") if isinstance(x, (int, float, np.integer, np.floating)) else (1, 0, str(x))


def _match_label(text: Any, labels: list) -> Any:
    """The label among ``labels`` that ``text`` names (labels may be numbers)."""
    for lab in labels:
        if lab == text or str(lab) == str(text):
            return lab
        if isinstance(lab, (int, float, np.integer, np.floating)):
            try:
                if float(text) == float(lab):
                    return lab
            except (TypeError, ValueError):
                pass
    return None


def _per_arm(value: Any, arms: list, key: str) -> Any:
    """A number, or a per-treatment table keyed by the arms' labels (unlisted arms: 0)."""
    if not isinstance(value, dict):
        return float(value)
    out = {}
    for name, v in value.items():
        lab = _match_label(name, arms)
        if lab is None:
            raise ConfigError(
                f"[economics] {key}: \"{name}\" is not an arm of the experiment; arms: "
                f"{', '.join(map(str, arms))}."
            )
        out[lab] = float(v)
    return out


def _arm_values(value: Any, actions: np.ndarray, default: float) -> np.ndarray:
    if not isinstance(value, dict):
        return np.full(actions.shape, float(value))
    return np.array([value.get(a, default) for a in actions], dtype=float)


# ---------------------------------------------------------------------------- steps
def _split(df, cfg: StudyConfig, treatment: str):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(df))
    strat = df[treatment].to_numpy() if cfg.split["stratify"] else None
    try:
        train, test = train_test_split(
            idx, test_size=cfg.split["test_size"], random_state=cfg.split["seed"], stratify=strat
        )
    except ValueError as exc:
        raise ConfigError(f"[split] test_size = {cfg.split['test_size']}: {exc}") from None
    return np.sort(train), np.sort(test)


def _estimate(cfg: StudyConfig, train_df, features, control, economics, progress):
    import coarseopt as co

    cols = cfg.columns
    exp = co.Experiment(
        train_df.reset_index(drop=True),
        outcome=cols["outcome"],
        treatment=cols["treatment"],
        features=features,
        control=control,
        propensity=cols["propensity"] or None,
    )
    learner = cfg.estimation["learner"]
    kwargs = dict(economics=economics, learner=None if learner == "default" else learner, cv=cfg.estimation["cv"])
    if _accepts(co.estimate_profit, "progress"):
        kwargs["progress"] = progress
    if _accepts(co.estimate_profit, "seed"):
        kwargs["seed"] = cfg.split["seed"]
    try:
        return co.estimate_profit(exp, **kwargs)
    except (ValueError, TypeError) as exc:
        text = str(exc)
        if "learner" in text.lower():
            raise ConfigError(f"[estimation] learner = \"{learner}\": {text}") from None
        raise


def _accepts(fn: Any, name: str) -> bool:
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _predict(est, test_df, features):
    """Predicted incremental profit of new customers from the fitted step-1 models."""
    for name in ("predict_profit", "predict"):
        fn = getattr(est, name, None)
        if callable(fn):
            return fn(test_df.reset_index(drop=True))
    raise CoarseoptError("The profit estimate cannot predict new customers (no predict method).")


def _evaluate_value(y, action, policy, propensity, cfg):
    """Held-out value of one policy: mean profit per customer with a confidence interval."""
    from . import evaluation as ev

    for name in ("policy_value", "evaluate_policy", "estimate_value"):
        fn = getattr(ev, name, None)
        if callable(fn):
            kwargs = dict(design="rba", propensity=propensity, alpha=cfg.evaluation["alpha"])
            res = fn(y, action, policy, **kwargs)
            return _as_row(res)
    return _hajek_value(y, action, policy, propensity, cfg.evaluation["alpha"])


def _hajek_value(y, action, policy, propensity, alpha):
    from scipy import stats

    y = np.asarray(y, dtype=float)
    match = np.asarray(action) == np.asarray(policy)
    if propensity is None:
        labels, counts = np.unique(np.asarray(action), return_counts=True)
        share = dict(zip(labels.tolist(), (counts / counts.sum()).tolist()))
        propensity = np.array([share[a] for a in np.asarray(action).tolist()])
    w = match / np.asarray(propensity, dtype=float)
    value = float((w * y).sum() / w.sum())
    psi = w * (y - value) / w.mean()
    se = float(psi.std(ddof=1) / math.sqrt(len(y)))
    z = stats.norm.ppf(1 - alpha / 2)
    return {"estimate": value, "se": se, "ci_low": value - z * se, "ci_high": value + z * se}


def _as_row(res: Any) -> dict:
    keys = ("estimate", "se", "ci_low", "ci_high", "p_value", "n", "n_disagree")
    out = {}
    for key in keys:
        v = res.get(key) if isinstance(res, dict) else getattr(res, key, None)
        if v is not None:
            out[key] = float(v) if key not in ("n", "n_disagree") else int(v)
    return out


def _compare(y, action, a, b, propensity, cfg):
    from . import evaluation as ev

    res = ev.compare_policies(
        y, action, a, b, design="rba", propensity=propensity,
        method=cfg.evaluation["method"], alpha=cfg.evaluation["alpha"],
    )
    return _as_row(res)


def _segment_profiles(result, train_X, profit_df, treatments) -> list[dict]:
    """Who gets each offered treatment: size, estimated profits and feature means."""
    overall_mean = train_X.mean()
    overall_sd = train_X.std(ddof=0).replace(0, np.nan)
    out = []
    assign = np.asarray(result.assignment)
    for j, share in zip(result.offered, result.shares):
        mask = assign == j
        seg = train_X[mask]
        mean = seg.mean()
        z = ((mean - overall_mean) / overall_sd).fillna(0.0)
        order = z.abs().sort_values(ascending=False).index[:3]
        out.append(
            {
                "treatment": _jsonable(treatments[j]),
                "count": int(mask.sum()),
                "share": float(share),
                "mean_profit": {
                    str(t): float(profit_df.iloc[mask, c].mean()) for c, t in enumerate(treatments)
                },
                "profile": {str(c): float(mean[c]) for c in train_X.columns},
                "distinctive": [
                    {
                        "feature": str(c),
                        "segment_mean": float(mean[c]),
                        "overall_mean": float(overall_mean[c]),
                        "std_diff": float(z[c]),
                    }
                    for c in order
                    if abs(z[c]) > 0.05
                ],
            }
        )
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def run_study(
    cfg: StudyConfig,
    *,
    progress: bool | None = None,
) -> Study:
    """Run the whole study described by ``cfg`` (nothing is written; see :func:`write_outputs`).

    Parameters
    ----------
    cfg : StudyConfig
        From :func:`coarseopt.config.load_config`.
    progress : bool, optional
        Progress bars (default: only when standard error is a terminal).

    Returns
    -------
    Study

    Raises
    ------
    ConfigError
        Data that does not fit the config (missing columns, missing values, unknown arms).
    """
    import pandas as pd

    import coarseopt as co

    study = Study(config=cfg)
    t0 = time.perf_counter()
    cols = cfg.columns
    df, features, arms, control, info = load_data(cfg)
    study.data_info, study.features, study.control = info, features, control
    margin = _per_arm(cfg.economics["margin"], arms, "margin")
    cost = _per_arm(cfg.economics["cost"], arms, "cost")
    baseline = "control"
    if cfg.evaluation["baseline"] != "control":
        baseline = _match_label(cfg.evaluation["baseline"], arms)
        if baseline is None:
            raise ConfigError(
                f"[evaluation] baseline = \"{cfg.evaluation['baseline']}\": must be \"control\" or an arm; "
                f"arms: {', '.join(map(str, arms))}."
            )
    study.timings["load"] = time.perf_counter() - t0
    log.info("data: %d rows, arms %s, %d features", len(df), info["arms"], len(features))

    t = time.perf_counter()
    train_idx, test_idx = _split(df, cfg, cols["treatment"])
    study.train_index, study.test_index = train_idx, test_idx
    train_df, test_df = df.iloc[train_idx], df.iloc[test_idx]
    study.timings["split"] = time.perf_counter() - t
    log.info("split: %d training, %d held-out customers", len(train_idx), len(test_idx))

    t = time.perf_counter()
    economics = co.Economics(margin=margin, cost=cost)
    log.info("estimating profit (learner %s, cv %d)", cfg.estimation["learner"], cfg.estimation["cv"])
    est = _estimate(cfg, train_df, features, control, economics, progress)
    profit = est.profit
    study.profit = profit
    study.treatments = list(profit.columns)
    study.timings["estimate"] = time.perf_counter() - t
    t = time.perf_counter()
    test_profit = _predict(est, test_df, features)
    test_profit = pd.DataFrame(np.asarray(test_profit, dtype=float), columns=study.treatments)
    study.test_profit = test_profit
    study.timings["predict"] = time.perf_counter() - t

    # ---- step 2 for every k
    t = time.perf_counter()
    solve_kwargs = dict(cfg.solve["options"])
    time_limit = cfg.solve["time_limit"] or None
    ks = cfg.solve["k"]
    with progress_bar(total=len(ks), desc="solving", unit="k", enabled=progress) as bar:
        for k in ks:
            problem = est.to_problem(k)
            log.info("solving k=%d with %s", k, cfg.solve["solver"])
            res = co.solve(
                problem, cfg.solve["solver"], time_limit=time_limit, seed=cfg.solve["seed"],
                progress=False if progress is False else None, **solve_kwargs,
            )
            if not res.has_solution:
                raise CoarseoptError(
                    f"solver {cfg.solve['solver']!r} found no solution for k={k} (status {res.status}): "
                    f"{res.message}"
                )
            study.results[k] = res
            log.info("k=%d: %s", k, res.summary().replace("\n", "; "))
            bar.update(1)
    study.timings["solve"] = time.perf_counter() - t

    # ---- policies on the held-out half
    t = time.perf_counter()
    labels = np.asarray(study.treatments, dtype=object)
    tp = test_profit.to_numpy()
    control_label = _match_label(control, study.treatments)
    policies: dict[str, np.ndarray] = {}
    policies["control"] = np.full(len(test_df), control_label, dtype=object)
    if baseline != "control":
        policies[f"everyone: {baseline}"] = np.full(len(test_df), baseline, dtype=object)
    for k, res in study.results.items():
        offered = np.asarray(res.offered)
        policies[f"k={k}"] = labels[offered[tp[:, offered].argmax(axis=1)]]
    policies["full personalization"] = labels[tp.argmax(axis=1)]
    study.policies = policies
    baseline_name = "control" if baseline == "control" else f"everyone: {baseline}"

    action = test_df[cols["treatment"]].to_numpy(dtype=object)
    outcome = test_df[cols["outcome"]].to_numpy(dtype=float)
    y = _arm_values(margin, action, 0.0) * outcome - _arm_values(cost, action, 0.0)
    propensity = test_df[cols["propensity"]].to_numpy(dtype=float) if cols["propensity"] else None

    rows = []
    with progress_bar(total=len(policies), desc="evaluating", unit="policy", enabled=progress) as bar:
        for name, pol in policies.items():
            row: dict[str, Any] = {"policy": name, "k": _policy_k(name)}
            offered = sorted({str(x) for x in pol}, key=lambda s: [str(l) for l in study.treatments].index(s))
            row["offered"] = ", ".join(offered)
            value = _evaluate_value(y, action, pol, propensity, cfg)
            row.update({f"value{'' if k == 'estimate' else '_' + k}": v for k, v in value.items() if k in ("estimate", "se", "ci_low", "ci_high")})
            if name == baseline_name:
                row.update(lift=0.0, lift_se=0.0, lift_ci_low=0.0, lift_ci_high=0.0, p_value=float("nan"), share_disagree=0.0)
            else:
                cmp = _compare(y, action, pol, policies[baseline_name], propensity, cfg)
                row.update(
                    lift=cmp.get("estimate"), lift_se=cmp.get("se"), lift_ci_low=cmp.get("ci_low"),
                    lift_ci_high=cmp.get("ci_high"), p_value=cmp.get("p_value", float("nan")),
                    share_disagree=cmp.get("n_disagree", float("nan")) / max(1, len(y)),
                )
            rows.append(row)
            bar.update(1)
    study.evaluation = pd.DataFrame(rows)

    comps = []
    ks_done = list(study.results)
    for prev, k in zip(ks_done[:-1], ks_done[1:]):
        cmp = _compare(y, action, policies[f"k={k}"], policies[f"k={prev}"], propensity, cfg)
        comps.append({"policy_a": f"k={k}", "policy_b": f"k={prev}", **cmp})
    study.comparisons = pd.DataFrame(comps)
    study.timings["evaluate"] = time.perf_counter() - t

    ev_k = study.evaluation.dropna(subset=["k"])
    ev_k = ev_k[ev_k["policy"].str.startswith("k=")]
    if len(ev_k):
        best = ev_k.loc[ev_k["value"].idxmax()]
        study.recommended_k = int(best["k"])

    # ---- segments and per-customer assignment (every row: train from the solver, test predicted)
    train_X = train_df[features].reset_index(drop=True)
    for k, res in study.results.items():
        study.segments[k] = _segment_profiles(res, train_X, profit, study.treatments)
    assign = pd.DataFrame({"row": np.arange(len(df)), "split": "train"})
    assign.loc[test_idx, "split"] = "test"
    for k, res in study.results.items():
        col = np.empty(len(df), dtype=object)
        col[train_idx] = labels[np.asarray(res.assignment)]
        col[test_idx] = policies[f"k={k}"]
        assign[f"treatment_k{k}"] = col
    study.assignment = assign
    study.timings["total"] = time.perf_counter() - t0
    study.versions = _versions()
    return study


def _policy_k(name: str) -> float:
    return float(name[2:]) if name.startswith("k=") else float("nan")


def _versions() -> dict:
    import coarseopt

    out = {"coarseopt": coarseopt.__version__, "python": platform.python_version()}
    for mod in ("numpy", "pandas", "scikit-learn", "scipy", "matplotlib"):
        try:
            from importlib.metadata import version

            out[mod] = version(mod)
        except Exception:  # not installed: nothing to record
            pass
    return out


# ---------------------------------------------------------------------------- outputs
def check_output_dir(out_dir: str | Path, force: bool = False) -> Path:
    """Refuse an output path that is a file, or a non-empty directory without ``force``.

    Raises
    ------
    OutputError
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory; choose another path.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputError(
            f"--out {out}: the directory exists and is not empty; pass --force to replace it, "
            "or choose another --out."
        )
    return out


def _summary_dict(study: Study) -> dict:
    results = {}
    for k, res in study.results.items():
        results[str(k)] = {
            "k": k,
            "solver": res.solver,
            "status": res.status,
            "objective": res.objective,
            "bound": res.bound,
            "gap": res.gap,
            "recovery": res.recovery,
            "full_profit": res.full_profit,
            "offered": [_jsonable(x) for x in res.offered_labels],
            "shares": [float(s) for s in res.shares],
            "wall_time": res.wall_time,
            "message": res.message,
        }
    return {
        "source": study.config.source,
        "data": study.data_info,
        "treatments": [_jsonable(t) for t in study.treatments],
        "control": _jsonable(study.control),
        "n_train": int(len(study.train_index)),
        "n_test": int(len(study.test_index)),
        "recommended_k": study.recommended_k,
        "results": results,
        "evaluation": _records(study.evaluation),
        "comparisons": _records(study.comparisons),
        "timings": study.timings,
        "versions": study.versions,
    }


def _records(df) -> list:
    if df is None or not len(df):
        return []
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else _jsonable(v)) for k, v in rec.items()})
    return out


def _write_files(study: Study, tmp: Path) -> list[str]:
    cfg = study.config
    files = []

    def dump(name: str, obj: Any) -> None:
        (tmp / name).write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        files.append(name)

    dump("summary.json", _summary_dict(study))
    segs = {
        str(k): {
            "k": k,
            "offered": [_jsonable(x) for x in study.results[k].offered_labels],
            "segments": study.segments[k],
        }
        for k in study.results
    }
    dump("segments.json", segs)
    if cfg.output["assignment_format"] == "csv":
        study.assignment.to_csv(tmp / "assignment.csv", index=False)
        files.append("assignment.csv")
    else:
        study.assignment.to_parquet(tmp / "assignment.parquet", index=False)
        files.append("assignment.parquet")
    study.evaluation.to_csv(tmp / "evaluation.csv", index=False)
    files.append("evaluation.csv")
    profit = study.profit.copy()
    profit.columns = [str(c) for c in profit.columns]
    profit.to_parquet(tmp / "profit.parquet", index=False)
    files.append("profit.parquet")
    (tmp / "config.toml").write_text(
        "# The configuration this study ran with (every key filled in).\n" + dump_toml(cfg.as_dict()),
        encoding="utf-8",
    )
    files.append("config.toml")
    if cfg.output["report"]:
        from .report import write_report

        write_report(study, tmp / "report.html")
        files.append("report.html")
    return files


def write_outputs(study: Study, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write every output of ``study`` into ``out_dir``, atomically.

    Everything is first written into a temporary directory beside ``out_dir`` and then
    renamed into place, so a failure leaves no half-written files. An existing non-empty
    ``out_dir`` is replaced only with ``force=True``.

    Files: ``summary.json`` (per-k results, the evaluation, timings, versions),
    ``segments.json`` (offered treatments and segment profiles), ``assignment.csv`` or
    ``.parquet`` (per customer), ``evaluation.csv``, ``profit.parquet`` (the estimated
    profit of the training customers, ready for ``coarseopt solve``), ``config.toml``
    (the resolved config) and ``report.html``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    out = check_output_dir(out_dir, force)
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        _write_files(study, tmp)
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.rmdir(old)
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except OSError:
                os.rename(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
