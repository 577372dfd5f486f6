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

from .config import ConfigError, StudyConfig, dump_toml, dump_value, evaluation_covariates
from .exceptions import CoarseoptError
from .progress import progress_bar

__all__ = [
    "OutputError",
    "Study",
    "run_study",
    "load_data",
    "check_output_dir",
    "check_study",
    "write_outputs",
]

log = logging.getLogger("coarseopt")

#: Customers on whom every fold's policies are compared for the cross-fitted variance.
VARIANCE_SAMPLE = 50_000


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
    estimators : pandas.DataFrame or None
        The recommended policy against the baseline with every estimator of step 3.
    recommended_k : int or None
        The k whose policy has the highest estimated held-out lift over the baseline.
    arm_effects : pandas.DataFrame or None
        Per arm: predicted and measured (doubly robust) incremental profit over the control.
    heterogeneity : dict or None
        Is there heterogeneity worth targeting? Calibration, GATES, AUTOC / Qini and TOC
        curves of the held-out (or, cross-fitted, out-of-fold) predictions, with
        one-sentence verdicts (see
        :func:`coarseopt.evaluation.study_heterogeneity`).
    assignment : pandas.DataFrame
        Per customer (all rows): split and the recommended treatment for each k.
    timings : dict
        Seconds per step.
    ids : ndarray or None
        The customer ids of ``[columns] id``, one per row of the study's data (aligned with
        ``assignment``), or None.
    learner : str
        The learner step 1 fitted (``"default"`` resolved), its base model and folds.
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
    estimators: Any = None
    feature_stats: dict = field(default_factory=dict)
    source_rows: Any = None
    arm_effects: Any = None
    heterogeneity: dict | None = None
    split_method: str = "holdout"
    folds: Any = None
    fold_results: list = field(default_factory=list)
    units: list = field(default_factory=list)
    unit_policies: list = field(default_factory=list)
    interpolation: Any = None
    timings: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    deployed: Any = None  # the ProfitEstimate refitted on all customers: the model to deploy
    rules: dict = field(default_factory=dict)  # k -> segment rules (written by policy.save_policy)
    ids: Any = None
    learner: str = ""


# ---------------------------------------------------------------------------- data
def _read_file(cfg: StudyConfig):
    path = cfg.data_path
    fmt = cfg.data["format"]
    from .tabular import read_table

    try:
        return read_table(path, fmt, sep=cfg.data["sep"])
    except Exception as exc:  # parser errors of all kinds: the user's file, not our bug
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"[data] path = \"{cfg.data['path']}\": cannot be read as {fmt.upper()}: {msg}"
        ) from None


def _bundled(cfg: StudyConfig):
    from . import datasets

    name = cfg.data["dataset"]
    if name == "hillstrom":
        return datasets.load_hillstrom(), None
    return datasets.make_promotions(cfg.data["n"], seed=cfg.data["seed"])


def load_data(cfg: StudyConfig):
    """The experiment as a DataFrame holding only the columns the study uses, checked.

    Every check that needs the data happens here, before any model is fitted (``coarseopt
    run --check`` runs it too): columns present, missing values, a numeric outcome,
    probabilities, the control and the baseline among the arms, unique ids, enough customers
    in every arm.

    Returns
    -------
    df : pandas.DataFrame
        Columns: outcome, treatment, optional propensity, the features (as in the file;
        text features are one-hot encoded later by :class:`coarseopt.Experiment`), then the
        id column when ``[columns] id`` names one.
    arms : list
        The arms of the experiment, sorted (without those of ``[data] drop_arms``).
    control : object
        The control arm.
    info : dict
        Rows read, dropped and used, arm counts.
    truth : PromotionTruth or None
        The generator's truth for the synthetic data set.
    source_rows : ndarray of int
        Position in the file (or data set) of every row of ``df``.

    Raises
    ------
    ConfigError
        A missing column, missing values (without ``dropna``), a non-numeric outcome, an
        unknown control arm, an arm with too few customers: the message names the key and
        the column.
    """
    import pandas as pd

    from .tabular import separator_hint

    if cfg.data_path is not None:
        raw, truth = _read_file(cfg), None
        source = f"\"{cfg.data['path']}\""
        info: dict[str, Any] = {"source": cfg.data["path"]}
    else:
        raw, truth = _bundled(cfg)
        source = f"dataset \"{cfg.data['dataset']}\""
        info = {"source": f"{cfg.data['dataset']} (bundled)"}
    info["rows_read"] = int(len(raw))
    cols = cfg.columns
    if truth is not None and not cols["features"]:
        cols["features"] = list(truth.features)
    available = [str(c) for c in raw.columns]
    listing = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
    hint = separator_hint(available, "set [data] sep =") if cfg.data_path is not None else ""

    def require(key: str, column: str) -> None:
        if column not in raw.columns:
            raise ConfigError(
                f"[columns] {key} = \"{column}\": no such column in {source}; columns: {listing}.{hint}"
            )

    require("outcome", cols["outcome"])
    require("treatment", cols["treatment"])
    if cols["propensity"]:
        require("propensity", cols["propensity"])
    if cols["id"]:
        require("id", cols["id"])
    if not cols["features"]:
        raise ConfigError("[columns] features = []: list at least one column to personalize on.")
    for f in cols["features"]:
        if f not in raw.columns:
            raise ConfigError(f"[columns] features: no column \"{f}\" in {source}; columns: {listing}.{hint}")
        if f in (cols["outcome"], cols["treatment"], cols["propensity"], cols["id"]):
            raise ConfigError(
                f"[columns] features: \"{f}\" is also the outcome, treatment, propensity or id column; "
                "a feature must be known before the treatment."
            )
    for key, names in (("[columns] categorical", cols["categorical"]),
                       ("[evaluation] covariates", cfg.evaluation["covariates"])):
        for f in names:
            if f not in cols["features"]:
                raise ConfigError(
                    f"{key}: \"{f}\" is not one of the features; list it in [columns] features too (a "
                    "feature is known before the treatment)."
                )
    used = [cols["outcome"], cols["treatment"]] + ([cols["propensity"]] if cols["propensity"] else [])
    used += cols["features"] + ([cols["id"]] if cols["id"] else [])
    df = raw[used].copy()
    df.index = np.arange(len(df))  # positions in the file / data set, kept through dropna and sample

    missing = df.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        if not cfg.data["dropna"]:
            col, count = str(missing.index[0]), int(missing.iloc[0])
            more = f" (and {len(missing) - 1} more column(s) with missing values)" if len(missing) > 1 else ""
            raise ConfigError(
                f"[data] column \"{col}\" has {count} missing value(s){more}; clean the data or set "
                "[data] dropna = true to drop those rows."
            )
        before = len(df)
        df = df.dropna()
        log.info("dropped %d rows with missing values", before - len(df))
    if cfg.data["drop_arms"]:
        df = _drop_arms(df, cfg)
    info["rows_dropped"] = int(info["rows_read"] - len(df))
    if cfg.data["sample"] and cfg.data["sample"] < len(df):
        df = df.sample(n=cfg.data["sample"], random_state=cfg.data["seed"]).sort_index()
        info["sampled"] = int(cfg.data["sample"])
    source_rows = df.index.to_numpy()
    df = df.reset_index(drop=True)
    y = df[cols["outcome"]]
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        raise ConfigError(
            f"[columns] outcome = \"{cols['outcome']}\": the column must be numeric; got {y.dtype}"
            f"{_text_examples(y)}."
        )
    if cols["propensity"]:
        p = df[cols["propensity"]]
        if not pd.api.types.is_numeric_dtype(p) or not ((p > 0) & (p <= 1)).all():
            raise ConfigError(
                f"[columns] propensity = \"{cols['propensity']}\": must hold probabilities in (0, 1]."
            )
    if cols["id"]:
        _check_ids(df[cols["id"]], cols["id"])
    arms = sorted(df[cols["treatment"]].unique().tolist(), key=_sort_key)
    if len(arms) < 2:
        raise ConfigError(
            f"[columns] treatment = \"{cols['treatment']}\": the experiment needs at least two arms; found {arms}."
        )
    control = _control(cfg, arms)
    if cfg.evaluation["baseline"] != "control" and _match_label(cfg.evaluation["baseline"], arms) is None:
        raise ConfigError(
            f"[evaluation] baseline = \"{cfg.evaluation['baseline']}\": must be \"control\" or an arm; "
            f"arms: {', '.join(map(str, arms))}."
        )
    counts = df[cols["treatment"]].value_counts()
    _check_arm_sizes(cfg, arms, counts)
    info.update(
        rows_used=int(len(df)),
        arms={str(a): int(counts.get(a, 0)) for a in arms},
        features=list(cols["features"]),
    )
    return df, arms, control, info, truth, source_rows


def _ids(cfg: StudyConfig, df) -> Any:
    """The ``[columns] id`` column of the study's data, or None."""
    return df[cfg.columns["id"]].to_numpy() if cfg.columns["id"] else None


def _text_examples(col) -> str:
    """``; e.g. 'abc', 'n/a'``: the first entries of a text column that are not numbers."""
    import pandas as pd

    values = col.astype(str)
    bad = values[pd.to_numeric(values, errors="coerce").isna()].unique()[:3]
    return ("; entries that are not numbers: " + ", ".join(repr(str(v)) for v in bad)) if len(bad) else ""


def _check_ids(ids, column: str) -> None:
    dup = ids[ids.duplicated()]
    if len(dup):
        first = dup.iloc[0]
        raise ConfigError(
            f"[columns] id = \"{column}\": the id {_jsonable(first)!r} appears {int((ids == first).sum())} times "
            f"({int(ids.duplicated().sum())} repeated id(s) in all); every customer needs its own id."
        )


def _control(cfg: StudyConfig, arms: list) -> Any:
    """The control arm named by ``[columns] control`` (a label or a number), or the lowest level."""
    cols = cfg.columns
    given = cols["control"]
    if given != "":
        control = _match_label(given, arms)
        if control is None:
            raise ConfigError(
                f"[columns] control = {_toml(given)}: not an arm of column \"{cols['treatment']}\"; "
                f"arms: {', '.join(map(str, arms))}."
            )
        return control
    if all(isinstance(a, (int, float, np.integer, np.floating)) for a in arms):
        return arms[0]
    raise ConfigError(
        f"[columns] control = \"\": the arms of \"{cols['treatment']}\" are labels, so name the control "
        f"arm; arms: {', '.join(map(str, arms))}."
    )


def _toml(value: Any) -> str:
    """A label or level as written in a config (``"Mens E-Mail"``, ``0.4``)."""
    return dump_value(_jsonable(value))


def _drop_arms(df, cfg: StudyConfig):
    """``df`` without the customers of the arms listed in ``[data] drop_arms``."""
    column = cfg.columns["treatment"]
    present = sorted(df[column].unique().tolist(), key=_sort_key)
    drop = []
    for name in cfg.data["drop_arms"]:
        arm = _match_label(name, present)
        if arm is None:
            raise ConfigError(
                f"[data] drop_arms: {_toml(name)} is not an arm of column \"{column}\"; "
                f"arms: {', '.join(map(str, present))}."
            )
        drop.append(arm)
    log.info("dropping the customers of arm(s) %s", drop)
    return df[~df[column].isin(drop)]


def min_arm_customers(cfg: StudyConfig) -> int:
    """Customers every arm needs for the study's models and evaluation to work.

    Each model fit needs 2 customers of every arm (the DR-learner, which cross-fits again
    inside, twice its own folds). Cross-fitted study (``[split] folds`` = F): the smallest
    fit sees all folds but two, about ``(F - 2) / F`` of an arm (less one customer per
    excluded fold for rounding), and every fold holds at least 2 of every arm. Holdout study:
    step 1 cross-fits over ``[estimation] cv`` folds of the training share
    (``1 - [split] test_size``), each fold with at least 2 of every arm, and both
    halves hold every arm.
    """
    per_fit = 2
    if cfg.estimation["learner"] == "dr":  # its own folds inside each fit
        from .estimation.learners import DRLearner

        per_fit = 2 * DRLearner().cv + 1
    if cfg.split["method"] == "crossfit":
        F = cfg.split["folds"]
        return max(2 * F, math.ceil((per_fit + 2) * F / (F - 2)))
    cv = cfg.estimation["cv"]
    share = 1.0 - cfg.split["test_size"]
    need = [2 * cv, math.ceil((2 * cv + 1) / share), math.ceil(2 / cfg.split["test_size"])]
    if cfg.estimation["learner"] == "dr":
        need.append(math.ceil(per_fit / (share * (cv - 1) / cv)))
    return max(need)


def _check_arm_sizes(cfg: StudyConfig, arms: list, counts) -> None:
    """One check, one threshold (:func:`min_arm_customers`) for every arm."""
    need = min_arm_customers(cfg)
    small = [(a, int(counts.get(a, 0))) for a in arms if counts.get(a, 0) < need]
    if not small:
        return
    arm, count = min(small, key=lambda x: x[1])
    others = f" (and {len(small) - 1} more arm(s) below it)" if len(small) > 1 else ""
    if cfg.split["method"] == "crossfit":
        why, lower = f"{cfg.split['folds']}-fold cross-fitted study, [split] folds", "[split] folds"
    else:
        why = (f"{cfg.estimation['cv']}-fold cross-fitting, [estimation] cv, on the training share "
               f"{1 - cfg.split['test_size']:g}, [split] test_size")
        lower = "[estimation] cv"
    raise ConfigError(
        f"[columns] treatment = \"{cfg.columns['treatment']}\": arm {_toml(arm)} has {count} customer(s){others}; "
        f"the study needs at least {need} per arm ({why}). Drop the arm with [data] drop_arms = [{_toml(arm)}], "
        f"merge it into another arm in the data, or lower {lower}."
    )


def _sort_key(x: Any):
    return (0, x, "") if isinstance(x, (int, float, np.integer, np.floating)) else (1, 0, str(x))


def _match_label(text: Any, labels: list) -> Any:
    """The label among ``labels`` that ``text`` names (labels may be numbers)."""
    for lab in labels:
        if lab == text or str(lab) == str(text):
            return lab
    for lab in labels:
        if isinstance(lab, (int, float, np.integer, np.floating)):
            try:
                if float(text) == float(lab):
                    return lab
            except (TypeError, ValueError):
                pass
    return None


def _per_arm(value: Any, arms: list, key: str) -> Any:
    """A number, "level", or a per-treatment table keyed by the arms (labels or levels)."""
    if not isinstance(value, dict):
        return value
    numeric = all(isinstance(a, (int, float, np.integer, np.floating)) for a in arms)
    out = {}
    for name, v in value.items():
        if numeric:
            try:
                out[float(name)] = float(v)  # levels: a table may interpolate between arms
                continue
            except ValueError:
                pass
        lab = _match_label(name, arms)
        if lab is None:
            raise ConfigError(
                f"[economics] {key}: \"{name}\" is not an arm of the experiment; arms: "
                f"{', '.join(map(str, arms))}."
            )
        out[lab] = float(v)
    return out


def _economics(cfg: StudyConfig, arms: list, truth: Any):
    """The :class:`coarseopt.Economics` of the config (None terms: the synthetic truth's)."""
    import coarseopt as co

    terms = {}
    for key in ("margin", "cost", "proportional_cost"):
        value = cfg.economics[key]
        if value is None:
            value = getattr(truth.economics, key) if truth is not None else (1.0 if key == "margin" else 0.0)
            cfg.economics[key] = value if isinstance(value, (int, float, str)) else None
        terms[key] = _per_arm(value, arms, key)
    numeric = all(isinstance(a, (int, float, np.integer, np.floating)) for a in arms)
    try:
        economics = co.Economics(**terms)
        economics.unit_value(arms, numeric=numeric)  # every arm priced (a level left out is an error)
    except ValueError as exc:
        raise ConfigError(f"[economics]: {exc}") from None
    return economics


def _treatment_count(cfg: StudyConfig, exp: Any) -> int:
    """Candidate treatments of the study: the arms, and the ``[estimation] grid`` levels."""
    from .estimation.estimate import _columns

    return len(_columns(exp, cfg.estimation["grid"] or None)[0])


def _check_k(cfg: StudyConfig, exp: Any) -> None:
    """``[solve] k`` may not exceed the number of candidate treatments."""
    m = _treatment_count(cfg, exp)
    too_many = [k for k in cfg.solve["k"] if k > m]
    if too_many:
        fit = sorted({k for k in cfg.solve["k"] if k <= m} | {m})
        raise ConfigError(
            f"[solve] k = {dump_value(cfg.solve['k'])}: the study has {m} candidate treatments (the arms of "
            f"\"{cfg.columns['treatment']}\"{' and the grid levels' if cfg.estimation['grid'] else ''}), so k "
            f"can be at most {m} (k = {m} offers every treatment); set [solve] k = {dump_value(fit)}."
        )


def certify_optimum(problem: Any, res: Any) -> Any:
    """``res`` with the proof a solver may have left out, so that status and recovery agree.

    Without share bounds two optima are proven by a direct count: with ``k = 1`` the best
    single treatment (every column summed), and with any ``k`` an objective equal to full
    personalization's profit (no assignment earns more). A result that reaches one of them
    reads ``optimal`` with that bound, whatever the solver; a ``k = 1`` result that falls
    short keeps its status, with the bound tightened to the proven optimum and its gap.
    """
    import dataclasses

    if problem.has_share_bounds or problem.is_lazy or not res.has_solution or res.status == "optimal":
        return res
    tol = 1e-9
    full = float(res.full_profit)
    if math.isfinite(full) and res.objective >= full - tol * max(1.0, abs(full)):
        note = "proven optimal: it earns full personalization's profit."
        return dataclasses.replace(res, status="optimal", bound=full, gap=0.0, message=f"{res.message} {note}".strip())
    if problem.k != 1:
        return res
    best = float(np.asarray(problem.profit, dtype=np.float64).sum(axis=0).max())
    bound = best if res.bound is None else min(float(res.bound), best)
    gap = max(0.0, (bound - res.objective) / max(1.0, abs(bound)))
    if gap > tol:
        return dataclasses.replace(res, bound=bound, gap=gap)
    note = "k = 1: proven optimal by comparing every single treatment."
    return dataclasses.replace(res, status="optimal", bound=bound, gap=gap, message=f"{res.message} {note}".strip())


def _learner_used(cfg: StudyConfig, est: Any) -> str:
    """The learner that step 1 fitted, as a person reads it (``"default"`` resolved)."""
    base = getattr(est.learner, "learner", est.learner)
    cls = type(base).__name__
    if getattr(base, "level_model", None) == "logit":
        name = "smooth"
    else:
        name = next((key for key, c in _learner_classes().items() if c.__name__ == cls), cls)
    model = getattr(base, "estimator", None)
    if model is None:
        from .estimation.learners import default_estimator

        model = default_estimator()
    folds = cfg.split["folds"] if cfg.split["method"] == "crossfit" else cfg.estimation["cv"]
    return f"{name} ({cls} on {type(model).__name__}, {folds}-fold cross-fitted)"


def _learner_classes() -> dict:
    from .estimation.learners import LEARNERS

    return {k: v for k, v in LEARNERS.items() if k != "smooth"}


def check_study(cfg: StudyConfig) -> dict:
    """Every check of :func:`run_study` that precedes model fitting, and nothing else.

    Reads the data (columns, types, missing values, arms and their counts, the control and
    the baseline, ids), prices every arm, encodes the features as step 1 will and checks
    ``[solve] k`` against the candidate treatments: a config that passes does not fail in
    ``coarseopt run`` for a reason found in the config or the data. Used by ``coarseopt run
    --check``.

    Returns
    -------
    dict
        The data facts (rows read and used, arm counts), plus the number of treatments.
    """
    df, arms, control, info, truth, _ = load_data(cfg)
    _economics(cfg, arms, truth)
    exp = _experiment(cfg, df, control)
    _check_k(cfg, exp)
    return {**info, "treatments": _treatment_count(cfg, exp), "encoded_features": len(exp.feature_names)}


# ---------------------------------------------------------------------------- steps
def _split(df, cfg: StudyConfig, treatment: str):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(df))
    strat = df[treatment].astype(str).to_numpy() if cfg.split["stratify"] else None
    try:
        train, test = train_test_split(
            idx, test_size=cfg.split["test_size"], random_state=cfg.split["seed"], stratify=strat
        )
    except ValueError as exc:
        raise ConfigError(f"[split] test_size = {cfg.split['test_size']}: {exc}") from None
    return np.sort(train), np.sort(test)


def _experiment(cfg: StudyConfig, df, control):
    import coarseopt as co

    cols = cfg.columns
    return co.Experiment(
        df,  # indexed by position in the study's data: profit rows keep it
        outcome=cols["outcome"],
        treatment=cols["treatment"],
        features=cols["features"],
        control=control,
        propensity=cols["propensity"] or None,
        categorical_features=cols["categorical"],
    )


def _estimate(cfg: StudyConfig, exp, economics):
    import coarseopt as co

    learner, base, grid = _learner_args(cfg, exp)
    return co.estimate_profit(
        exp, economics, learner=learner, base_estimator=base, cv=cfg.estimation["cv"], grid=grid,
        random_state=cfg.estimation["seed"], n_jobs=_n_jobs(cfg),
    )


def _row(res: Any) -> dict:
    out = {}
    for key in ("estimate", "se", "ci_low", "ci_high", "p_value", "n", "n_disagree", "n_followed"):
        v = getattr(res, key, None)
        if v is not None:
            out[key] = int(v) if key.startswith("n") else float(v)
    return out


def _segment_profiles(result, train_X, profit_df) -> list[dict]:
    """Who gets each offered treatment: size, mean estimated profits and feature means."""
    X = train_X.reset_index(drop=True)
    overall_mean = X.mean()
    overall_sd = X.std(ddof=0).replace(0, np.nan)
    treatments = list(profit_df.columns)
    P = profit_df.to_numpy()
    out = []
    assign = np.asarray(result.assignment)
    for j, share in zip(result.offered, result.shares):
        mask = assign == j
        mean = X[mask].mean()
        z = ((mean - overall_mean) / overall_sd).fillna(0.0)
        order = z.abs().sort_values(ascending=False).index[:3]
        out.append(
            {
                "treatment": _jsonable(treatments[j]),
                "count": int(mask.sum()),
                "share": float(share),
                "mean_profit": {str(t): float(P[mask, c].mean()) for c, t in enumerate(treatments)},
                "profile": {str(c): float(mean[c]) for c in X.columns},
                "distinctive": [
                    {
                        "feature": str(c),
                        "segment_mean": float(mean[c]),
                        "overall_mean": float(overall_mean[c]),
                        "std_diff": float(z[c]),
                    }
                    for c in order
                    if abs(z[c]) >= 0.1
                ],
            }
        )
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


class _Stages:
    """One progress bar over the steps of the study, named as they run."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        self.bar = progress_bar(total=total, desc="study", unit="step", enabled=enabled)

    def start(self, text: str) -> None:
        log.info("%s", text)
        self.bar.set_description(text)

    def done(self) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def run_study(cfg: StudyConfig, *, progress: bool | None = None) -> Study:
    """Run the whole study described by ``cfg`` (nothing is written; see :func:`write_outputs`).

    ``[split] method = "crossfit"`` (the default unless the config sets a ``test_size``):
    the customers are split into folds; the deployed policy of every k is learned on all of
    them, and each fold is evaluated with the policy learned on the other folds
    (:mod:`coarseopt.estimation.nested`, :mod:`coarseopt.study.evaluate`). ``"holdout"``:
    learned on one part, evaluated on the held-out rest.

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

    Examples
    --------
    >>> from coarseopt.config import load_config
    >>> from coarseopt.pipeline import run_study, write_outputs
    >>> study = run_study(load_config("study.toml"))        # doctest: +SKIP
    >>> write_outputs(study, "results/")                      # doctest: +SKIP
    """
    study = Study(config=cfg)
    ks = cfg.solve["k"]
    crossfit = cfg.split["method"] == "crossfit"
    n_fits = cfg.split["folds"] + 1 if crossfit else 1
    stages = _Stages(3 + n_fits * (1 + len(ks)), progress)
    try:
        t0 = time.perf_counter()
        cols = cfg.columns
        stages.start("loading data")
        df, arms, control, info, truth, source_rows = load_data(cfg)
        study.source_rows, study.ids = source_rows, _ids(cfg, df)
        study.data_info, study.control = info, control
        study.split_method = cfg.split["method"]
        economics = _economics(cfg, arms, truth)
        baseline = "control"
        if cfg.evaluation["baseline"] != "control":
            baseline = _match_label(cfg.evaluation["baseline"], arms)
            if baseline is None:
                raise ConfigError(
                    f"[evaluation] baseline = \"{cfg.evaluation['baseline']}\": must be \"control\" or an arm; "
                    f"arms: {', '.join(map(str, arms))}."
                )
        study.timings["load"] = time.perf_counter() - t0
        stages.done()
        if crossfit:
            est, units = _crossfit(study, cfg, df, control, economics, stages, progress)
        else:
            est, units = _holdout(study, cfg, df, control, economics, stages, progress)
        study.profit, study.learner = est.profit, _learner_used(cfg, est)
        study.treatments = list(est.profit.columns)
        study.features = list(est.features.columns)
        study.deployed = refit_on_all(cfg, df, control, economics)

        # ---- step 3 on customers whose policies never saw them
        t = time.perf_counter()
        n_eval = sum(len(u.rows) for u in units)
        stages.start(f"evaluating on {n_eval:,} customers" + (" (every fold)" if crossfit else " (held out)"))
        _evaluate_units(study, est, units, economics, baseline, truth, source_rows)
        study.heterogeneity = _heterogeneity(study, est, units, economics)
        study.timings["evaluate"] = time.perf_counter() - t
        stages.done()

        # ---- segments and per-customer assignment
        stages.start("segment profiles")
        _segments_and_assignment(study, est, units, len(df))
        stages.done()
    finally:
        stages.close()
    study.timings["total"] = time.perf_counter() - t0
    study.versions = _versions()
    return study


def refit_on_all(cfg: StudyConfig, df: Any, control: Any, economics: Any) -> Any:
    """Step 1 refitted on all the study's customers (one fit, no cross-fitting): the model to
    deploy for new customers, saved with the policy (``policy/``)."""
    import coarseopt as co

    exp = _experiment(cfg, df, control)
    learner, base, grid = _learner_args(cfg, exp)
    return co.estimate_profit(exp, economics, learner, base_estimator=base, cv=None, grid=grid,
                              random_state=cfg.estimation["seed"])


def _holdout(study: Study, cfg: StudyConfig, df, control, economics, stages: "_Stages", progress):
    """Learn on one part of the customers, evaluate on the held-out rest."""
    from .study.evaluate import Unit

    train_idx, test_idx = _split(df, cfg, cfg.columns["treatment"])
    study.train_index, study.test_index = train_idx, test_idx
    train_exp = _experiment(cfg, df.iloc[train_idx], control)
    test_exp = _experiment(cfg, df.iloc[test_idx], control)
    log.info("data: %d rows (%d training, %d held out)", len(df), len(train_idx), len(test_idx))
    t = time.perf_counter()
    stages.start(f"estimating profit ({cfg.estimation['learner']} learner, {cfg.estimation['cv']}-fold)")
    est = _estimate(cfg, train_exp, economics)
    held = est.predict(test_exp)
    study.test_profit = held.profit
    study.arm_effects = _arm_table(est, held)
    study.timings["estimate"] = time.perf_counter() - t
    stages.done()
    t = time.perf_counter()
    study.results = _solve_all(est, cfg, stages, progress)
    study.timings["solve"] = time.perf_counter() - t
    return est, [Unit(rows=test_idx, experiment=test_exp, profit=held.profit, results=study.results, label="test",
                      estimate=est)]


def _crossfit(study: Study, cfg: StudyConfig, df, control, economics, stages: "_Stages", progress):
    """Learn the deployed policies on all customers; evaluate every fold with the policies
    learned on the other folds (nested cross-fitting with shared model fits)."""
    from .estimation import nested_cross_fit, stratified_folds
    from .study.evaluate import Unit

    exp = _experiment(cfg, df, control)
    F = cfg.split["folds"]
    try:
        folds = stratified_folds(exp.arm_index, F, seed=cfg.split["seed"])
    except ValueError as exc:
        raise ConfigError(f"[split] folds = {F}: {_one_line(exc)}") from None
    study.folds = folds
    study.train_index = study.test_index = np.arange(len(df))
    t = time.perf_counter()
    n_models = F + F * (F - 1) // 2
    stages.start(f"estimating profit ({cfg.estimation['learner']} learner, {F} folds, {n_models} model fits)")
    learner, base, grid = _learner_args(cfg, exp)
    est, without = nested_cross_fit(exp, economics, learner, folds=folds, base_estimator=base, grid=grid,
                                    random_state=cfg.estimation["seed"], n_jobs=_n_jobs(cfg))
    study.arm_effects = _arm_table(est, None)
    study.timings["estimate"] = time.perf_counter() - t
    stages.done()
    t = time.perf_counter()
    study.results = _solve_all(est, cfg, stages, progress)
    units, held_parts = [], []
    from .study.evaluate import unit_policies

    baseline = _baseline(cfg, est.arms)
    # Imai & Li's variance needs every fold's policies on the same customers; its policy-value
    # variance is a population quantity, which a random subset of customers estimates well.
    rng = np.random.default_rng(cfg.split["seed"])
    sample = np.arange(len(df)) if len(df) <= VARIANCE_SAMPLE else np.sort(rng.choice(len(df), VARIANCE_SAMPLE,
                                                                                         replace=False))
    for f in range(F):
        stages.done()
        rows = np.flatnonzero(folds == f)
        fold_exp = exp.subset(rows)
        fold_est = without[f]
        held = fold_est.predict(fold_exp)
        results = _solve_all(fold_est, cfg, stages, progress, label=f"fold {f + 1}/{F}: ")
        everyone = Unit(rows=sample, experiment=None, profit=fold_est.predict(exp.subset(sample)).profit,
                        results=results, label="variance sample")
        units.append(Unit(rows=rows, experiment=fold_exp, profit=held.profit, results=results, label=str(f),
                          estimate=_predictor(fold_est),
                          everyone=unit_policies(everyone, list(est.profit.columns), est.arm_columns, est.arms,
                                                 control, baseline, assign=_assigner(cfg)), everyone_rows=sample))
        del fold_est  # its (n, m) matrices are no longer needed: memory at millions of customers
        held_parts.append(held.profit)
    import pandas as pd

    study.test_profit = pd.concat(held_parts).sort_index()
    study.fold_results = [u.results for u in units]
    study.timings["solve"] = time.perf_counter() - t
    return est, units


def _baseline(cfg: StudyConfig, arms) -> Any:
    """The baseline arm of ``[evaluation] baseline`` (or "control")."""
    if cfg.evaluation["baseline"] == "control":
        return "control"
    return _match_label(cfg.evaluation["baseline"], list(arms))


def _predictor(est):
    """``est`` without its per-customer matrices: what ``predict`` needs (models, economics,
    columns, encoding)."""
    from dataclasses import replace

    return replace(est, profit=est.profit.iloc[:0], outcome=est.outcome.iloc[:0], features=est.features.iloc[:0],
                   arm_outcome=est.arm_outcome[:0], experiment=None, arm_effects=est.arm_effects.iloc[:0])


def _learner_args(cfg: StudyConfig, exp):
    _check_k(cfg, exp)
    learner = cfg.estimation["learner"]
    grid = cfg.estimation["grid"] or None
    if grid is not None and not exp.is_numeric:
        raise ConfigError(
            f"[estimation] grid = {cfg.estimation['grid']}: needs numeric treatment levels; the arms of "
            f"\"{cfg.columns['treatment']}\" are labels (set grid = 0)."
        )
    base = None
    if cfg.estimation["base_model"] == "linear":
        from sklearn.linear_model import LinearRegression

        base = LinearRegression()
    return (None if learner == "default" else learner), base, grid


def _n_jobs(cfg: StudyConfig) -> int:
    n = cfg.estimation["n_jobs"]
    return n if n > 0 else max(1, os.cpu_count() or 1)


def _shares(cfg: StudyConfig) -> dict:
    """The share bounds of ``[solve]`` that bind anything (as keyword arguments)."""
    shares = {}
    if cfg.solve["min_share"] > 0:
        shares["min_share"] = cfg.solve["min_share"]
    if cfg.solve["max_share"] < 1:
        shares["max_share"] = cfg.solve["max_share"]
    return shares


def _assigner(cfg: StudyConfig):
    """How customers outside the solve get their offered treatment: the best one, or with share
    bounds the batch transport that keeps them (:func:`coarseopt.assign_offered`)."""
    shares = _shares(cfg)
    if not shares:
        return None
    from .assign import assign_offered

    return lambda profit, result: assign_offered(profit, result, **shares)


def _solve_all(est: Any, cfg: StudyConfig, stages: "_Stages", progress: bool | None, label: str = "") -> dict:
    """Step 2 for every k of the config on one estimate: ``k -> SolveResult``."""
    import coarseopt as co

    time_limit = cfg.solve["time_limit"] or None
    shares = _shares(cfg)
    results = {}
    for k in cfg.solve["k"]:
        stages.start(f"{label}solving k={k} ({cfg.solve['solver']})")
        try:
            problem = est.to_problem(k, **shares)
        except ValueError as exc:  # shares that cannot add up for this k
            raise ConfigError(f"[solve] min_share / max_share with k={k}: {_one_line(exc)}") from None
        res = certify_optimum(problem, co.solve(
            problem, cfg.solve["solver"], time_limit=time_limit, seed=cfg.solve["seed"],
            progress=progress, **cfg.solve["options"],
        ))
        if not res.has_solution:
            raise CoarseoptError(
                f"solver {cfg.solve['solver']!r} found no solution for k={k} (status {res.status}). {res.message}"
            )
        results[k] = res
        log.info("%sk=%d: %s", label, k, res.summary().replace("\n", "; "))
        stages.done()
    return results


def _evaluate_units(study: Study, est: Any, units: list, economics: Any, baseline: Any, truth: Any,
                    source_rows: np.ndarray) -> None:
    """Step 3: ``study.policies``, ``evaluation``, ``comparisons``, ``estimators`` and
    ``recommended_k`` (see :mod:`coarseopt.study.evaluate`)."""
    from .study.evaluate import evaluate_units, unit_policies

    cfg = study.config
    labels = np.asarray(study.treatments, dtype=object)
    base_name = "control" if baseline == "control" else f"everyone: {baseline}"
    policies = [unit_policies(u, study.treatments, est.arm_columns, est.arms, study.control, baseline,
                              assign=_assigner(cfg)) for u in units]
    study.unit_policies = policies
    study.units = units
    if len(units) == 1:
        study.policies = policies[0]

    def realized(exp):
        a_unit, c_unit = economics.unit_value(list(exp.arms), numeric=exp.is_numeric)
        return a_unit[exp.arm_index] * exp.y - c_unit[exp.arm_index]

    true_profit = None
    if truth is not None and hasattr(truth, "profit_at"):
        levels = np.asarray(study.treatments, dtype=float)

        def true_profit(unit):
            return truth.profit_at(levels, rows=source_rows[unit.rows])

    arm_labels = set(labels[np.asarray(est.arm_columns)].tolist())
    unit_value = None
    if units[0].experiment.is_numeric:
        def unit_value(levels):
            return economics.unit_value(list(levels), numeric=True, strict=False)

    study.evaluation, study.comparisons, study.recommended_k, study.estimators = evaluate_units(
        units, policies, treatments=study.treatments, arm_labels=arm_labels, realized=realized,
        baseline_name=base_name, cfg=cfg, true_profit=true_profit, unit_value=unit_value,
    )
    if unit_value is not None and len(est.arms) >= 3 and est.experiment is not None:
        from .study.evaluate import interpolation_check

        exp = est.experiment
        study.interpolation = interpolation_check(
            exp.y, np.asarray(exp.arms, dtype=np.float64)[exp.arm_index], est.arm_outcome,
            np.asarray(exp.arms, dtype=np.float64))


def _heterogeneity(study: Study, est: Any, units: list, economics: Any) -> dict:
    """:func:`coarseopt.evaluation.study_heterogeneity` of predictions whose customers' outcomes
    did not train them: the held-out customers', or in the cross-fitted study every customer's
    out-of-fold prediction (``study.test_profit``) on the whole experiment."""
    from .evaluation import study_heterogeneity

    experiment = units[0].experiment if len(units) == 1 else est.experiment
    return study_heterogeneity(experiment, study.test_profit, economics=economics,
                               alpha=study.config.evaluation["alpha"])


def _segments_and_assignment(study: Study, est: Any, units: list, n_rows: int) -> None:
    """Segment profiles per k and the per-customer assignment table: ``split`` (``train`` /
    ``test``, or the fold), ``treatment_k{K}`` (the deployed policy's treatment) and
    ``evaluated_k{K}`` (the treatment of the policy whose value the study reports; empty
    where none)."""
    import pandas as pd

    for k, res in study.results.items():
        study.segments[k] = _segment_profiles(res, est.features, est.profit)
    study.feature_stats = {
        str(c): {"mean": float(est.features[c].mean()), "sd": float(est.features[c].std(ddof=0))}
        for c in est.features.columns
    }
    labels = np.asarray(study.treatments, dtype=object)
    assign = pd.DataFrame({"row": np.arange(n_rows)})
    if study.split_method == "crossfit":
        assign["split"] = np.asarray(study.folds) + 1
    else:
        split = np.full(n_rows, "train", dtype=object)
        split[study.test_index] = "test"
        assign["split"] = split
    from .assign import assign_offered

    deployed = study.deployed.profit.to_numpy() if study.deployed is not None else None
    for k, res in study.results.items():
        # the deployed policy's treatment: what `coarseopt apply` gives these customers
        if deployed is not None:
            col = labels[assign_offered(deployed, res, **_shares(study.config))]
        else:
            col = np.empty(n_rows, dtype=object)
            col[np.asarray(study.train_index)] = labels[np.asarray(res.assignment)]
        evaluated = np.full(n_rows, "", dtype=object)
        for unit, pols in zip(study.units, study.unit_policies):
            evaluated[unit.rows] = pols[f"k={k}"]
        assign[f"treatment_k{k}"] = col
        assign[f"evaluated_k{k}"] = evaluated
    study.assignment = assign


def _arm_table(est: Any, held: Any):
    """Per arm: the models' mean predicted incremental profit and the doubly robust (AIPW)
    estimate from the data, on the training and on the held-out customers."""
    import pandas as pd

    train, test = getattr(est, "arm_effects", None), getattr(held, "arm_effects", None)
    if train is None or not len(train):
        return None
    out = pd.DataFrame({
        "arm": [_jsonable(a) for a in train.index],
        "customers_train": train["customers"].to_numpy(),
        "predicted": train["predicted"].to_numpy(),
        "measured_train": train["aipw"].to_numpy(),
        "measured_train_se": train["aipw_se"].to_numpy(),
    })
    if test is not None and len(test):
        out["customers_test"] = test["customers"].to_numpy()
        out["measured_test"] = test["aipw"].to_numpy()
        out["measured_test_se"] = test["aipw_se"].to_numpy()
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _policy_k(name: str) -> float:
    return float(name[2:]) if name.startswith("k=") else float("nan")


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import coarseopt

    out = {"coarseopt": coarseopt.__version__, "python": platform.python_version()}
    for mod in ("numpy", "pandas", "scikit-learn", "scipy", "matplotlib"):
        try:
            out[mod] = version(mod)
        except PackageNotFoundError:
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


def offered_with_customers(res: Any) -> list[tuple[Any, float]]:
    """``(label, share)`` of the offered treatments that some customer gets (a solver may
    return an offered treatment that no customer is assigned to: it is not offered)."""
    return [(lab, float(sh)) for lab, sh in zip(res.offered_labels, res.shares) if sh > 0]


def profit_unit(cfg: StudyConfig) -> str:
    """What one unit of the study's profit is, in words."""
    return f"profit per customer, in the units of \"{cfg.columns['outcome']}\" (margin x outcome - cost)"


def _summary_dict(study: Study) -> dict:
    results = {}
    for k, res in study.results.items():
        offered = offered_with_customers(res)
        n = int(np.asarray(res.assignment).size)
        results[str(k)] = {
            "k": k,
            "solver": res.solver,
            "status": res.status,
            "objective": res.objective,
            "objective_per_customer": res.objective / n if n else None,
            "bound": res.bound,
            "gap": res.gap,
            "recovery": res.recovery,
            "full_profit": res.full_profit,
            "offered": [_jsonable(lab) for lab, _ in offered],
            "shares": [sh for _, sh in offered],
            "wall_time": res.wall_time,
            "message": res.message,
            "rules": study.rules.get(k),
        }
    return {
        "source": study.config.source,
        "data": study.data_info,
        "learner": study.learner,
        "units": {
            "value": profit_unit(study.config),
            "lift": "difference in " + profit_unit(study.config) + " to the baseline policy",
            "objective": "total estimated incremental profit over the training customers (sum, not per customer)",
        },
        "id_column": study.config.columns["id"] or None,
        "evaluation_covariates": [str(c) for c in evaluation_covariates(study.config, study.features)],
        "treatments": [_jsonable(t) for t in study.treatments],
        "control": _jsonable(study.control),
        "split": study.split_method,
        "folds": int(study.config.split["folds"]) if study.split_method == "crossfit" else None,
        "n_train": int(len(study.train_index)),
        "n_test": int(len(study.test_index)),
        "recommended_k": study.recommended_k,
        "results": results,
        "evaluation": _records(study.evaluation),
        "comparisons": _records(study.comparisons),
        "arm_effects": _records(study.arm_effects),
        "heterogeneity": study.heterogeneity,
        "interpolation_check": _records(study.interpolation),
        "timings": study.timings,
        "versions": study.versions,
    }


def _finite_json(obj: Any) -> Any:
    """``obj`` with NaN / infinite floats as None (JSON has no NaN) and numpy scalars as Python."""
    if isinstance(obj, dict):
        return {str(k): _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_json(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _records(df) -> list:
    if df is None or not len(df):
        return []
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({k: _jsonable(v) for k, v in rec.items()})  # NaN -> null in _finite_json
    return out


def _write_files(study: Study, tmp: Path) -> list[str]:
    cfg = study.config
    files = []
    from .policy import save_policy
    files += save_policy(study, study.deployed, tmp)

    def dump(name: str, obj: Any) -> None:
        text = json.dumps(_finite_json(obj), indent=2, allow_nan=False)
        (tmp / name).write_text(text + "\n", encoding="utf-8")
        files.append(name)

    dump("summary.json", _summary_dict(study))
    segs = {
        str(k): {
            "k": k,
            "offered": [_jsonable(lab) for lab, _ in offered_with_customers(study.results[k])],
            "segments": [seg for seg in study.segments[k] if seg.get("count", 1) > 0],
        }
        for k in study.results
    }
    dump("segments.json", segs)
    assignment = _with_ids(study, study.assignment)
    if cfg.output["assignment_format"] == "csv":
        assignment.to_csv(tmp / "assignment.csv", index=False)
        files.append("assignment.csv")
    else:
        assignment.to_parquet(tmp / "assignment.parquet", index=False)
        files.append("assignment.parquet")
    evaluation_table(study).to_csv(tmp / "evaluation.csv", index=False)
    files.append("evaluation.csv")
    profit = study.profit.copy()
    profit.columns = [str(c) for c in profit.columns]
    profit.index = _row_labels(study, profit.index)
    profit.to_parquet(tmp / "profit.parquet", index=True)
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


def _with_ids(study: Study, assignment):
    """The assignment with the customer ids as its first column (one row per customer)."""
    if study.ids is None or assignment is None:
        return assignment
    if len(assignment) != len(study.ids):
        raise RuntimeError(f"internal: {len(assignment)} assignment rows for {len(study.ids)} ids")
    name = study.config.columns["id"]
    return assignment.drop(columns=[name], errors="ignore").assign(**{name: study.ids})[
        [name] + [c for c in assignment.columns if c != name]]


def _row_labels(study: Study, index):
    """Labels of profit rows (positions in the study's data): the customer ids, else ``row``."""
    import pandas as pd

    rows = np.asarray(index, dtype=np.int64)
    if study.ids is None:
        return pd.Index(rows, name="row")
    return pd.Index(study.ids[rows], name=study.config.columns["id"])


def evaluation_table(study: Study):
    """``study.evaluation`` as written to ``evaluation.csv``: ``k`` an integer (empty for
    policies that are not a choice of k), ``lift_over`` naming the policy every lift is
    measured against, and ``unit`` saying what the values are."""
    import pandas as pd

    table = study.evaluation.copy()
    if "k" in table:
        table["k"] = pd.array([None if pd.isna(v) else int(v) for v in table["k"]], dtype="Int64")
    base = study.config.evaluation["baseline"]
    base_name = "control" if base == "control" else f"everyone: {base}"
    if "lift" in table:
        at = list(table.columns).index("lift")
        table.insert(at, "lift_over", [("" if p == base_name else base_name) for p in table["policy"]])
    table["unit"] = profit_unit(study.config)
    return table


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
