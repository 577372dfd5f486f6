"""The study's data: read the file or bundled set, check it against the config, build the
experiment and the economics, split it."""

from __future__ import annotations

import logging
import math
import os
import platform
from typing import Any

import numpy as np

from ..tabular import jsonable
from ..config import ConfigError, StudyConfig, dump_value

log = logging.getLogger("coarseopt")


def _read_file(cfg: StudyConfig):
    path = cfg.data_path
    fmt = cfg.data["format"]
    from ..tabular import read_table

    try:
        return read_table(path, fmt, sep=cfg.data["sep"])
    except Exception as exc:  # parser errors of all kinds: the user's file, not our bug
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"[data] path = \"{cfg.data['path']}\": cannot be read as {fmt.upper()}: {msg}"
        ) from None


def _bundled(cfg: StudyConfig):
    from .. import datasets

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

    from ..tabular import separator_hint

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
    used += [c for c in _budget_cost_column(cfg, raw, source, listing) if c not in used]
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
    arms = sorted(df[cols["treatment"]].unique().tolist(), key=sort_key)
    if len(arms) < 2:
        raise ConfigError(
            f"[columns] treatment = \"{cols['treatment']}\": the experiment needs at least two arms; found {arms}."
        )
    control = _control(cfg, arms)
    if cfg.evaluation["baseline"] != "control" and match_label(cfg.evaluation["baseline"], arms) is None:
        raise ConfigError(
            f"[evaluation] baseline = \"{cfg.evaluation['baseline']}\": must be \"control\" or an arm; "
            f"arms: {', '.join(map(str, arms))}."
        )
    counts = df[cols["treatment"]].value_counts()
    _check_arm_sizes(cfg, arms, counts)
    check_budget_column(cfg, df)
    info.update(
        rows_used=int(len(df)),
        arms={str(a): int(counts.get(a, 0)) for a in arms},
        features=list(cols["features"]),
    )
    return df, arms, control, info, truth, source_rows


def _budget_cost_column(cfg: StudyConfig, raw: Any, source: str, listing: str) -> list[str]:
    """``[solve] budget_cost = "<column>"`` with a budget: that column, checked to exist."""
    budget_cost = cfg.solve["budget_cost"]
    if cfg.solve["budget"] == [] or budget_cost == "expected":
        return []
    if budget_cost not in raw.columns:
        raise ConfigError(
            f"[solve] budget_cost = \"{budget_cost}\": no such column in {source}; columns: {listing}. "
            "Name the column of each customer's cost, or use \"expected\" (the economics' cost at the "
            "predicted outcome)."
        )
    if budget_cost in (cfg.columns["outcome"], cfg.columns["treatment"]):
        raise ConfigError(f"[solve] budget_cost = \"{budget_cost}\": that is the outcome or treatment column.")
    return [budget_cost]


def check_budget_column(cfg: StudyConfig, df: Any) -> None:
    """``budget_cost = "<column>"``: the column holds finite costs >= 0."""
    import pandas as pd

    col = cfg.solve["budget_cost"]
    given = cfg.solve["budget"]
    if col == "expected" or (isinstance(given, list) and not given):
        return
    values = df[col]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise ConfigError(f"[solve] budget_cost = \"{col}\": the column must be numeric; got {values.dtype}.")
    bad = ~np.isfinite(values.to_numpy(dtype=np.float64)) | (values.to_numpy(dtype=np.float64) < 0)
    if bad.any():
        first = values[bad].iloc[0]
        raise ConfigError(
            f"[solve] budget_cost = \"{col}\": costs must be finite and >= 0; {int(bad.sum())} are not (the first: "
            f"{first!r}). Fix the column, or use budget_cost = \"expected\"."
        )


def ids_of(cfg: StudyConfig, df) -> Any:
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
            f"[columns] id = \"{column}\": the id {jsonable(first)!r} appears {int((ids == first).sum())} times "
            f"({int(ids.duplicated().sum())} repeated id(s) in all); every customer needs its own id."
        )


def _control(cfg: StudyConfig, arms: list) -> Any:
    """The control arm named by ``[columns] control`` (a label or a number), or the lowest level."""
    cols = cfg.columns
    given = cols["control"]
    if given != "":
        control = match_label(given, arms)
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
    return dump_value(jsonable(value))


def _drop_arms(df, cfg: StudyConfig):
    """``df`` without the customers of the arms listed in ``[data] drop_arms``."""
    column = cfg.columns["treatment"]
    present = sorted(df[column].unique().tolist(), key=sort_key)
    drop = []
    for name in cfg.data["drop_arms"]:
        arm = match_label(name, present)
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
        from ..estimation.learners import DRLearner

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


def sort_key(x: Any):
    return (0, x, "") if isinstance(x, (int, float, np.integer, np.floating)) else (1, 0, str(x))


def match_label(text: Any, labels: list) -> Any:
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
        lab = match_label(name, arms)
        if lab is None:
            raise ConfigError(
                f"[economics] {key}: \"{name}\" is not an arm of the experiment; arms: "
                f"{', '.join(map(str, arms))}."
            )
        out[lab] = float(v)
    return out


def economics_of(cfg: StudyConfig, arms: list, truth: Any):
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


def treatment_count(cfg: StudyConfig, exp: Any) -> int:
    """Candidate treatments of the study: the arms, and the ``[estimation] grid`` levels."""
    from ..estimation.estimate import _columns

    return len(_columns(exp, cfg.estimation["grid"] or None)[0])


def check_k(cfg: StudyConfig, exp: Any) -> None:
    """``[solve] k`` may not exceed the number of candidate treatments."""
    m = treatment_count(cfg, exp)
    too_many = [k for k in cfg.solve["k"] if k > m]
    if too_many:
        fit = sorted({k for k in cfg.solve["k"] if k <= m} | {m})
        raise ConfigError(
            f"[solve] k = {dump_value(cfg.solve['k'])}: the study has {m} candidate treatments (the arms of "
            f"\"{cfg.columns['treatment']}\"{' and the grid levels' if cfg.estimation['grid'] else ''}), so k "
            f"can be at most {m} (k = {m} offers every treatment); set [solve] k = {dump_value(fit)}."
        )


def learner_used(cfg: StudyConfig, est: Any) -> str:
    """The learner that step 1 fitted, as a person reads it (``"default"`` resolved)."""
    base = getattr(est.learner, "learner", est.learner)
    cls = type(base).__name__
    if getattr(base, "level_model", None) == "logit":
        name = "smooth"
    else:
        name = next((key for key, c in _learner_classes().items() if c.__name__ == cls), cls)
    model = getattr(base, "estimator", None)
    if model is None:
        from ..estimation.learners import default_estimator

        model = default_estimator()
    folds = cfg.split["folds"] if cfg.split["method"] == "crossfit" else cfg.estimation["cv"]
    return f"{name} ({cls} on {type(model).__name__}, {folds}-fold cross-fitted)"


def _learner_classes() -> dict:
    from ..estimation.learners import LEARNERS

    return {k: v for k, v in LEARNERS.items() if k != "smooth"}


def split_rows(df, cfg: StudyConfig, treatment: str):
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


def experiment_of(cfg: StudyConfig, df, control):
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


def learner_args(cfg: StudyConfig, exp):
    check_k(cfg, exp)
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


def n_jobs_of(cfg: StudyConfig) -> int:
    n = cfg.estimation["n_jobs"]
    return n if n > 0 else max(1, os.cpu_count() or 1)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def baseline_of(cfg: StudyConfig, arms) -> Any:
    """The baseline arm of ``[evaluation] baseline`` (or "control")."""
    if cfg.evaluation["baseline"] == "control":
        return "control"
    return match_label(cfg.evaluation["baseline"], list(arms))


def share_bounds(cfg: StudyConfig) -> dict:
    """The share bounds of ``[solve]`` that bind anything (as keyword arguments)."""
    shares = {}
    if cfg.solve["min_share"] > 0:
        shares["min_share"] = cfg.solve["min_share"]
    if cfg.solve["max_share"] < 1:
        shares["max_share"] = cfg.solve["max_share"]
    return shares


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import coarseopt

    out = {"coarseopt": coarseopt.__version__, "python": platform.python_version()}
    for mod in ("numpy", "pandas", "scikit-learn", "scipy", "matplotlib"):
        try:
            out[mod] = version(mod)
        except PackageNotFoundError:
            pass
    return out
