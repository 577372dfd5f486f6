"""Study configuration files: TOML (stdlib :mod:`tomllib`), validated once, on load.

A study config describes the whole job of ``coarseopt run``: the data, its columns, the
economics that turn outcomes into profit, the learner, the numbers of treatments ``k`` to
offer, the solver (chosen by name from the registry) and its options, the evaluation split
and estimator, and the outputs. Every key has a default (see :data:`DEFAULT_CONFIG_TOML`,
printed by ``coarseopt run --print-default-config``); a config file only needs the keys it
changes. Sections and keys not listed there are errors, as are wrong types, values out of
range and missing data files: :class:`ConfigError`, one line naming the key, the value and
what is allowed.

Loading never evaluates code: TOML is parsed as data, and solver names resolve only
through :func:`coarseopt.get_solver` (registered plugins).

Examples
--------
>>> from coarseopt.config import load_config
>>> cfg = load_config(None)                 # the embedded default
>>> cfg.solve["k"], cfg.solve["solver"]
([1, 2, 3], 'ot')
"""

from __future__ import annotations

import copy
import difflib
import math
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .exceptions import CoarseoptError
from .tabular import format_of

__all__ = [
    "ConfigError",
    "StudyConfig",
    "load_config",
    "parse_config",
    "parse_override",
    "default_config_text",
    "DEFAULT_CONFIG_TOML",
    "SCHEMA",
    "dump_toml",
    "evaluation_covariates",
]


class ConfigError(CoarseoptError, ValueError):
    """A study configuration that is not valid: the message names the key and what is allowed."""


#: The embedded default study, with comments: ``coarseopt run`` with no config runs it and
#: ``coarseopt run --print-default-config`` prints it as a starting point.
DEFAULT_CONFIG_TOML = '''\
# coarseopt study configuration (TOML). Every key is optional: a missing key takes the
# value shown here. A relative data path is resolved against the directory of this file;
# the output directory against the current directory.
# Reference: docs/config.md.

[data]
# Either a bundled data set ...
dataset = "hillstrom"         # "hillstrom" (MineThatData e-mail experiment, 64,000 customers)
                              # or "promotions" (synthetic discounts with known truth)
# ... or your own file (then remove `dataset`):
# path = "experiment.csv"     # a .csv or .parquet file, one row per customer
format = "auto"               # "auto" (from the file extension), "csv" or "parquet"
sep = ","                     # CSV field separator (e.g. ";" or "\\t")
dropna = false                # true: drop rows with a missing value in a used column;
                              # false: such rows are an error naming the column and count
drop_arms = []                # arms whose customers are left out of the study (labels or
                              # levels), e.g. an arm with too few customers
sample = 0                    # > 0: use a random subsample of this many rows (0: all rows)
n = 20000                     # dataset = "promotions" only: number of customers
seed = 0                      # seeds the subsample and the synthetic data

[columns]
# With your own file (`path`), name its columns: outcome, treatment and features have no
# default then, control defaults to "" and [economics] to margin 1.0 and cost 0.
outcome = "spend"             # observed outcome per customer (here: dollars spent)
treatment = "segment"         # the arm each customer received
control = "No E-Mail"         # the arm profits are measured against: a label, or a number
                              # for numeric arms ("" : the lowest numeric level)
features = ["recency", "history", "mens", "womens", "newbie", "zip_code", "channel"]
                              # used to personalize; text columns are one-hot encoded
propensity = ""               # column of assignment probabilities ("" : each arm's share)
id = ""                       # column of customer ids, copied into assignment.csv ("" : none)
categorical = []              # features to one-hot encode even if they look numeric

[economics]
# Profit of a customer = margin * outcome - cost of the treatment received.
margin = 0.3                  # a number, or a table per treatment: { "Mens E-Mail" = 0.3, ... }
cost = { "Mens E-Mail" = 0.1, "Womens E-Mail" = 0.1 }
                              # a number for every treatment, or a table per treatment
                              # (labelled treatments not listed cost 0; a table keyed by
                              # numeric levels must cover every level)
proportional_cost = 0.0       # cost per unit of outcome (a number, a table, or "level": the
                              # numeric treatment level itself, e.g. a discount depth)

[estimation]
learner = "default"           # the CATE learner: "default" (chosen by the kind of arms), "t", "s",
                              # "x", "dr" or "smooth" (see docs/estimation.md)
cv = 5                        # folds of cross-fitting (out-of-fold predictions; the
                              # cross-fitted study uses its [split] folds instead)
base_model = "default"        # base model of the learner: "default" (gradient boosting) or
                              # "linear" (least squares: fast, for checks and very large data)
n_jobs = 0                    # model fits run in parallel (0: one per core)
grid = 0                      # numeric arms only: offer this many equally spaced levels between
                              # the lowest and highest arm (0: only the arms)
seed = 0                      # seeds the folds

[split]
method = "auto"               # "crossfit": learn on all customers, evaluate each fold with the
                              # policy learned on the other folds (uses all the data);
                              # "holdout": learn on one part, evaluate on the rest;
                              # "auto": "holdout" if test_size is set here, else "crossfit"
folds = 5                     # crossfit: number of folds (>= 3), stratified by arm
# test_size = 0.5             # holdout: share of customers held out for the evaluation
seed = 0                      # seeds the split
stratify = true               # holdout: keep the share of each arm equal in both parts

[solve]
k = [1, 2, 3]                 # how many treatments to offer: an int or a list of ints >= 1
solver = "ot"                 # a registered solver: run `coarseopt solvers` to list them
time_limit = 0                # seconds per k (0: no limit)
seed = 0                      # seeds the solver's random choices
min_share = 0.0               # every offered treatment goes to at least this share of customers
max_share = 1.0               # ... and to at most this share (solvers with share bounds: ot, mip)
budget = []                   # the most the campaign may spend on the study's customers: a
                              # number, or a list (the study draws profit against budget); []: none
budget_cost = "expected"      # what a customer costs under a treatment: "expected" (the fixed
                              # cost plus the proportional cost x predicted outcome) or a column
                              # (that customer's cost under any treatment but the control)

[solve.options]               # options of the chosen solver (`coarseopt solvers` lists them)

[evaluation]
design = "rba"                # "rba": customers were randomized to actions (an experiment)
method = "disagreement"       # lift estimator: "disagreement", "naive", "regression", "ipw",
                              # "snipw" or "dr"
value_method = "snipw"        # value estimator: "snipw" (Hajek), "ipw" or "dr"
all_estimators = true         # also compare the recommended policy with every estimator
covariates = []               # features the "regression" and "dr" estimators adjust for
                              # ([] : every feature of [columns] features)
alpha = 0.05                  # 1 - confidence level of the intervals
baseline = "control"          # every policy is compared with this one: "control" (everyone
                              # gets the control arm) or the label of a treatment
shape = "none"                # numeric levels: "monotone" (the expected outcome does not
                              # decrease with the level, e.g. sales in the discount depth) or
                              # "monotone-decreasing" bounds the value of policies that offer
                              # levels between the arms; "none": such policies are not valued

[output]
dir = "coarseopt-results"     # where `coarseopt run` writes (--out overrides it); relative to
                              # the current directory
assignment_format = "csv"     # per-customer assignment as "csv" or "parquet"
report = true                 # write report.html (self-contained, plots embedded)
rules_depth = 2               # depth (1, 2 or 3) of the readable segment rules of every k
'''


# ---------------------------------------------------------------------------- checks
class _Bad(Exception):
    """Raised by a check with a description of what is allowed."""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise _Bad("must be a string")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad("must be true or false")
    return v


def _int(low: int | None = None) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or (low is not None and v < low):
            raise _Bad(f"must be an integer >= {low}" if low is not None else "must be an integer")
        return v

    return check


def _float(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Callable[[Any], float]:
    lb, hb = ("(" if open_low else "["), (")" if open_high else "]")
    allowed = f"must be a number in {lb}{low:g}, {high:g}{hb}"

    def check(v: Any) -> float:
        if not _is_number(v) or not math.isfinite(v):
            raise _Bad(allowed)
        v = float(v)
        if v < low or v > high or (open_low and v == low) or (open_high and v == high):
            raise _Bad(allowed)
        return v

    return check


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in choices:
            raise _Bad("must be one of " + ", ".join(f'"{c}"' for c in choices))
        return v

    return check


def _rules_depth(v: Any) -> int:
    if isinstance(v, bool) or v not in (1, 2, 3):
        raise _Bad("must be 1, 2 or 3")
    return int(v)


def _str_list(v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
        raise _Bad("must be a list of column names (strings)")
    if len(set(v)) != len(v):
        raise _Bad("must not repeat a column")
    return list(v)


def _name_list(v: Any) -> list[str]:
    if isinstance(v, list) and not v:
        return []
    return _str_list(v)


def _label(v: Any) -> Any:
    """An arm: a label (string) or a numeric level."""
    if isinstance(v, str):
        return v
    if _is_number(v) and math.isfinite(v):
        return v
    raise _Bad("must be an arm: a string label, or a number for numeric arms")


def _label_list(v: Any) -> list:
    if not isinstance(v, list):
        raise _Bad("must be a list of arms (labels or numbers)")
    try:
        return [_label(x) for x in v]
    except _Bad:
        raise _Bad("must be a list of arms (labels or numbers)") from None


def _sep(v: Any) -> str:
    if not isinstance(v, str) or len(v) != 1 or v in ('"', "\n", "\r"):
        raise _Bad('must be one character, e.g. "," or ";" or "\\t"')
    return v


def _k_list(v: Any) -> list[int]:
    allowed = "must be an integer >= 1 or a non-empty list of integers >= 1"
    items = v if isinstance(v, list) else [v]
    if not items or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in items):
        raise _Bad(allowed)
    return sorted(set(items))


def _budget(v: Any) -> float | list[float]:
    """A number (the policies keep it) or a list (profit against budget; [] for none)."""
    allowed = "must be a number >= 0, a list of numbers >= 0, or [] for no budget"
    items = v if isinstance(v, list) else [v]
    if any(not _is_number(x) or not math.isfinite(x) or x < 0 for x in items):
        raise _Bad(allowed)
    return sorted(set(float(x) for x in items)) if isinstance(v, list) else float(v)


def _number_or_table(low: float) -> Callable[[Any], Any]:
    allowed = f"must be a number >= {low:g}, or a table of numbers >= {low:g} per treatment"

    def check(v: Any) -> Any:
        if _is_number(v):
            if not math.isfinite(v) or v < low:
                raise _Bad(allowed)
            return float(v)
        if isinstance(v, dict) and v:
            for val in v.values():
                if not _is_number(val) or not math.isfinite(val) or val < low:
                    raise _Bad(allowed)
            return {str(key): float(val) for key, val in v.items()}
        raise _Bad(allowed)

    return check


def _proportional(v: Any) -> Any:
    if v == "level":
        return v
    try:
        return _number_or_table(0.0)(v)
    except _Bad:
        raise _Bad('must be a number >= 0, a table of numbers per treatment, or "level"') from None


def _learner(v: Any) -> str:
    """"default" / "auto", or a learner name registered by step 1 (looked up only when needed)."""
    if v in ("default", "auto"):
        return v
    try:
        from .estimation.learners import LEARNERS

        names = sorted(LEARNERS)
    except ImportError:  # pragma: no cover - step 1 ships with the package
        names = ["dr", "s", "t", "x"]
    if not isinstance(v, str) or v not in names:
        raise _Bad("must be one of " + ", ".join(f'"{c}"' for c in ["default", *names]))
    return v


def _table(v: Any) -> dict:
    if not isinstance(v, dict):
        raise _Bad("must be a table of option = value")
    return dict(v)


@dataclass(frozen=True)
class Key:
    """One config key: its default, its check and a one-line description."""

    default: Any
    check: Callable[[Any], Any]
    doc: str = ""


#: Every section and key a study config may hold.
SCHEMA: dict[str, dict[str, Key]] = {
    "data": {
        "dataset": Key("hillstrom", _choice("hillstrom", "promotions"), "a bundled data set"),
        "path": Key("", _str, "a CSV or Parquet file, one row per customer"),
        "format": Key("auto", _choice("auto", "csv", "parquet"), "file format"),
        "sep": Key(",", _sep, "CSV field separator"),
        "dropna": Key(False, _bool, "drop rows with missing values in used columns"),
        "drop_arms": Key([], _label_list, "arms left out of the study"),
        "sample": Key(0, _int(0), "random subsample of this many rows (0: all)"),
        "n": Key(20000, _int(1), "customers of the synthetic 'promotions' data set"),
        "seed": Key(0, _int(), "seed of the subsample and the synthetic data"),
    },
    "columns": {
        "outcome": Key("spend", _str, "observed outcome column"),
        "treatment": Key("segment", _str, "received-arm column"),
        "control": Key("No E-Mail", _label, "the control arm ('' : the lowest numeric level)"),
        "features": Key(
            ["recency", "history", "mens", "womens", "newbie", "zip_code", "channel"], _str_list,
            "columns used to personalize",
        ),
        "propensity": Key("", _str, "column of assignment probabilities ('' : each arm's share)"),
        "id": Key("", _str, "column of customer ids ('' : none)"),
        "categorical": Key([], _name_list, "features one-hot encoded even if numeric-looking"),
    },
    "economics": {
        "margin": Key(0.3, _number_or_table(0.0), "profit per unit of outcome"),
        "cost": Key({"Mens E-Mail": 0.1, "Womens E-Mail": 0.1}, _number_or_table(0.0), "cost per treatment"),
        "proportional_cost": Key(0.0, _proportional, "cost per unit of outcome"),
    },
    "estimation": {
        "learner": Key("default", _learner, "the CATE learner"),
        "cv": Key(5, _int(2), "cross-fitting folds"),
        "base_model": Key("default", _choice("default", "linear"), "base model of the learner"),
        "n_jobs": Key(0, _int(0), "model fits in parallel (0: one per core)"),
        "grid": Key(0, _int(0), "levels between numeric arms (0: arms only)"),
        "seed": Key(0, _int(), "seed of the folds"),
    },
    "split": {
        "method": Key("auto", _choice("auto", "crossfit", "holdout"), "how customers are split for evaluation"),
        "folds": Key(5, _int(3), "folds of the cross-fitted study"),
        "test_size": Key(0.5, _float(0.0, 1.0, open_low=True, open_high=True), "held-out share"),
        "seed": Key(0, _int(), "seed of the split"),
        "stratify": Key(True, _bool, "stratify the split by arm"),
    },
    "solve": {
        "k": Key([1, 2, 3], _k_list, "numbers of treatments to offer"),
        "solver": Key("ot", _str, "registered solver name"),
        "time_limit": Key(0.0, _float(0.0, math.inf), "seconds per k (0: none)"),
        "seed": Key(0, _int(), "solver seed"),
        "min_share": Key(0.0, _float(0.0, 1.0), "least share of an offered treatment"),
        "max_share": Key(1.0, _float(0.0, 1.0, open_low=True), "largest share of an offered treatment"),
        "budget": Key([], _budget, "what the campaign may spend on the study's customers: a number, or a list "
                      "for profit against budget ([]: none)"),
        "budget_cost": Key("expected", _str, 'per-customer cost under a treatment: "expected" or a column'),
        "options": Key({}, _table, "solver options"),
    },
    "evaluation": {
        "design": Key("rba", _choice("rba"), "experiment design of the data"),
        "method": Key(
            "disagreement", _choice("disagreement", "naive", "regression", "ipw", "snipw", "dr"), "lift estimator"
        ),
        "value_method": Key("snipw", _choice("snipw", "ipw", "dr"), "value estimator"),
        "all_estimators": Key(True, _bool, "every estimator for the recommended policy"),
        "covariates": Key([], _name_list, "features the regression and dr estimators adjust for ([]: all)"),
        "alpha": Key(0.05, _float(0.0, 0.5, open_low=True, open_high=True), "1 - confidence level"),
        "baseline": Key("control", _str, "policy compared against"),
        "shape": Key("none", _choice("none", "monotone", "monotone-decreasing"),
                     "shape of the expected outcome in a numeric level, for bounds between the arms"),
    },
    "output": {
        "dir": Key("coarseopt-results", _str, "output directory"),
        "assignment_format": Key("csv", _choice("csv", "parquet"), "assignment file format"),
        "report": Key(True, _bool, "write report.html"),
        "rules_depth": Key(2, _rules_depth, "depth of the segment rules (1, 2 or 3)"),
    },
}


# ---------------------------------------------------------------------------- the config
@dataclass
class StudyConfig:
    """A validated study configuration: one dict per section, every key filled in.

    Attributes
    ----------
    data, columns, economics, estimation, split, solve, evaluation, output : dict
        The sections (see :data:`SCHEMA` and ``docs/config.md``).
    source : str
        The config file's path, or ``"<default>"`` for the embedded default.
    base_dir : pathlib.Path
        Directory that relative paths are resolved against.
    """

    data: dict
    columns: dict
    economics: dict
    estimation: dict
    split: dict
    solve: dict
    evaluation: dict
    output: dict
    source: str = "<default>"
    base_dir: Path = field(default_factory=Path.cwd)

    def as_dict(self) -> dict:
        """The sections as one nested dict (what ``dump_toml`` writes)."""
        return {name: copy.deepcopy(getattr(self, name)) for name in SCHEMA}

    @property
    def data_path(self) -> Path | None:
        """The data file resolved against :attr:`base_dir`, or None for a bundled data set."""
        if not self.data["path"]:
            return None
        p = Path(self.data["path"]).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def default_config_text() -> str:
    """The commented default config (what ``--print-default-config`` prints)."""
    return DEFAULT_CONFIG_TOML


def _where(source: str) -> str:
    return "" if source == "<default>" else f"{source}: "


def _key_name(section: str, key: str) -> str:
    return f"[{section}] {key}"


def _fmt(value: Any) -> str:
    text = dump_value(value) if _dumpable(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_config(
    raw: Mapping[str, Any],
    *,
    source: str = "<default>",
    base_dir: Path | None = None,
    check_files: bool = True,
    check_solver: bool = True,
) -> StudyConfig:
    """Validate a parsed TOML document and fill in defaults.

    Parameters
    ----------
    raw : mapping
        The document (``tomllib.loads`` output). Keys missing from it take their defaults.
    source : str
        Named at the start of every error message.
    base_dir : pathlib.Path, optional
        Directory for relative paths (default: the current directory).
    check_files : bool, default True
        Check that a data file exists.
    check_solver : bool, default True
        Resolve the solver through the registry and validate its options.

    Returns
    -------
    StudyConfig

    Raises
    ------
    ConfigError
        One line naming the key, the value and what is allowed.
    """
    where = _where(source)
    sections: dict[str, dict] = {}
    for section in raw:
        if section not in SCHEMA:
            raise ConfigError(
                f"{where}unknown section [{section}]{_suggest(section, list(SCHEMA))}; "
                f"allowed sections: {', '.join(f'[{s}]' for s in SCHEMA)}."
            )
        if not isinstance(raw[section], dict):
            raise ConfigError(f"{where}'{section}' must be a section ([{section}]), not a value.")
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        out = {}
        for key in given:
            if key not in keys:
                raise ConfigError(
                    f"{where}unknown key {_key_name(section, key)}{_suggest(key, list(keys))}; "
                    f"allowed keys in [{section}]: {', '.join(keys)}."
                )
        for key, spec in keys.items():
            if key in given:
                try:
                    out[key] = spec.check(given[key])
                except _Bad as exc:
                    raise ConfigError(
                        f"{where}{_key_name(section, key)} = {_fmt(given[key])}: {exc}."
                    ) from None
            else:
                out[key] = copy.deepcopy(spec.default)
        sections[section] = out

    data = sections["data"]
    if "path" in raw.get("data", {}) and data["path"]:
        if "dataset" in raw.get("data", {}):
            raise ConfigError(
                f"{where}[data] has both dataset = {_fmt(data['dataset'])} and path = "
                f"{_fmt(data['path'])}: give exactly one."
            )
        data["dataset"] = ""
        if data["format"] == "auto":
            data["format"] = format_of(data["path"])
            if data["format"] is None:
                raise ConfigError(
                    f"{where}[data] path = {_fmt(data['path'])}: cannot tell the format from the "
                    'extension; name a .csv (.csv.gz) or .parquet file or set [data] format = "csv" or "parquet".'
                )
    if data["dataset"] == "promotions":
        _promotions_columns(sections, raw)

    split = sections["split"]
    if split["method"] == "auto":
        split["method"] = "holdout" if "test_size" in raw.get("split", {}) else "crossfit"

    solve = sections["solve"]
    if solve["min_share"] > solve["max_share"]:
        raise ConfigError(
            f"{where}[solve] min_share = {_fmt(solve['min_share'])} is above max_share = "
            f"{_fmt(solve['max_share'])}: allowed is min_share <= max_share."
        )
    cfg = StudyConfig(**sections, source=source, base_dir=base_dir or Path.cwd())
    if check_files and cfg.data_path is not None:
        p = cfg.data_path
        if not p.exists():
            raise ConfigError(f"{where}[data] path = {_fmt(data['path'])}: no such file ({p}).")
        if not p.is_file():
            raise ConfigError(f"{where}[data] path = {_fmt(data['path'])}: not a file ({p}).")
    if cfg.data_path is not None:
        _own_data_defaults(sections, raw, where)
    if check_solver:
        _check_solver(cfg, where)
    return cfg


#: Keys whose embedded defaults describe the bundled Hillstrom study: with the user's own
#: ``[data] path`` they take these values instead (None: the key must be given).
_OWN_DATA_DEFAULTS = {
    "columns": {"outcome": None, "treatment": None, "features": None, "control": ""},
    "economics": {"margin": 1.0, "cost": 0.0},
}


def _own_data_defaults(sections: dict, raw: Mapping[str, Any], where: str) -> None:
    """A study on the user's own file: no default of the bundled study leaks into it."""
    for section, values in _OWN_DATA_DEFAULTS.items():
        for key, value in values.items():
            if key in raw.get(section, {}):
                continue
            if value is None:
                raise ConfigError(
                    f"{where}{_key_name(section, key)}: required with [data] path = "
                    f"{_fmt(sections['data']['path'])}; name the {_OWN_DATA_WHAT[key]} of your file."
                )
            sections[section][key] = copy.deepcopy(value)


_OWN_DATA_WHAT = {
    "outcome": "outcome column (what each customer did: spend, conversion, profit)",
    "treatment": "column of the arm each customer received",
    "features": "feature columns (a list, known before the treatment)",
}


def _promotions_columns(sections: dict, raw: Mapping[str, Any]) -> None:
    """The synthetic promotions data set has its own columns and economics defaults.

    Unless the config says otherwise: outcome ``sales``, treatment ``discount`` (numeric
    depths; the control is the lowest), features and economics from the generator's truth.
    """
    defaults = {
        "columns": {"outcome": "sales", "treatment": "discount", "control": "", "propensity": "",
                    "features": []},
        "economics": {"margin": None, "cost": None, "proportional_cost": None},
        "evaluation": {"baseline": "control"},
    }
    for section, values in defaults.items():
        for key, value in values.items():
            if key not in raw.get(section, {}):
                sections[section][key] = value


def _check_solver(cfg: StudyConfig, where: str) -> None:
    from .exceptions import OptionError, SolverUnavailableError, UnknownSolverError
    from .registry import available_solvers, get_solver

    name = cfg.solve["solver"]
    try:
        cls = get_solver(name)
    except UnknownSolverError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = available_solvers()
        raise ConfigError(
            f"{where}[solve] solver = {_fmt(name)}: unknown solver{_suggest(name, names)}; "
            f"available: {', '.join(names)}."
        ) from None
    except SolverUnavailableError as exc:
        raise ConfigError(f"{where}[solve] solver = {_fmt(name)}: {exc}") from None
    try:
        cls.check_options(cfg.solve["options"])
    except OptionError as exc:
        raise ConfigError(f"{where}[solve.options]: {exc}") from None
    if cfg.solve["budget"] != [] and not cls.supports_budget:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            able = [n for n in available_solvers() if get_solver(n).supports_budget]
        raise ConfigError(
            f"{where}[solve] solver = {_fmt(name)} cannot keep [solve] budget; solvers that can: {', '.join(able)}."
        )


def load_config(
    path: str | Path | None,
    *,
    overrides: list[tuple[str, Any]] | None = None,
    check_files: bool = True,
    check_solver: bool = True,
) -> StudyConfig:
    """Read, merge and validate a study config.

    Parameters
    ----------
    path : str, pathlib.Path or None
        A TOML file, or None for the embedded default (:data:`DEFAULT_CONFIG_TOML`).
        A file's keys replace the default's one by one, except that a file naming its own
        ``[data] path`` drops the default's bundled ``dataset``.
    overrides : list of (dotted key, value), optional
        Applied last, e.g. ``[("solve.k", [1, 2])]`` (``--set solve.k=[1,2]``).
    check_files, check_solver : bool
        See :func:`parse_config`.

    Returns
    -------
    StudyConfig

    Raises
    ------
    ConfigError
        A missing or unreadable file, invalid TOML, or an invalid key or value.
    """
    if path is None:
        raw: dict = {}
        source, base = "<default>", Path.cwd()
    else:
        p = Path(path)
        source = str(path)
        if not p.exists():
            raise ConfigError(f"config file {source!r} does not exist.")
        if not p.is_file():
            raise ConfigError(f"config file {source!r} is not a file.")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {source!r} cannot be read: {exc}.") from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}.") from None
        base = p.resolve().parent
    raw = copy.deepcopy(raw)
    for dotted, value in overrides or []:
        _apply_override(raw, dotted, value, _where(source))
    return parse_config(raw, source=source, base_dir=base, check_files=check_files, check_solver=check_solver)


def _apply_override(raw: dict, dotted: str, value: Any, where: str) -> None:
    parts = dotted.split(".")
    if len(parts) == 3 and parts[:2] == ["solve", "options"]:
        raw.setdefault("solve", {}).setdefault("options", {})[parts[2]] = value
        return
    if len(parts) != 2 or not all(parts):
        raise ConfigError(
            f"--set {dotted}: name a key as section.key (e.g. solve.k) or solve.options.NAME."
        )
    section, key = parts
    target = raw.setdefault(section, {})
    if not isinstance(target, dict):
        raise ConfigError(f"{where}'{section}' must be a section.")
    if section == "data" and key == "path":
        target.pop("dataset", None)
    if section == "data" and key == "dataset":
        target.pop("path", None)
    target[key] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``section.key=value``; the value is read as a TOML value, else as a string.

    >>> parse_override("solve.k=[1, 2]")
    ('solve.k', [1, 2])
    >>> parse_override("solve.solver=mip")
    ('solve.solver', 'mip')
    """
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. solve.k=[1,2].")
    key, _, value = text.partition("=")
    key = key.strip()
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key, parsed


def evaluation_covariates(cfg: StudyConfig, encoded: Any) -> list:
    """The encoded feature columns (of ``encoded``, the names) that the ``regression`` and
    ``dr`` estimators adjust for: those of ``[evaluation] covariates`` (a text feature's
    one-hot columns ``name=value`` included), or every feature when it is empty."""
    names = cfg.evaluation["covariates"]
    if not names:
        return list(encoded)
    return [c for c in encoded if c in names or any(str(c).startswith(f"{f}=") for f in names)]


# ---------------------------------------------------------------------------- writing TOML
def _dumpable(v: Any) -> bool:
    if isinstance(v, (str, bool, int, float)):
        return True
    if isinstance(v, list):
        return all(_dumpable(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _dumpable(x) for k, x in v.items())
    return False


def _dump_str(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def _dump_key(k: str) -> str:
    bare = k and all(c.isalnum() or c in "-_" for c in k) and k.isascii()
    return k if bare else _dump_str(k)


def dump_value(v: Any) -> str:
    """A TOML value (strings, numbers, booleans, lists and inline tables)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if math.isnan(v):
            return "nan"
        return repr(v)
    if isinstance(v, str):
        return _dump_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(dump_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_dump_key(k)} = {dump_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def dump_toml(doc: Mapping[str, Mapping[str, Any]]) -> str:
    """Sections of simple values as TOML text (``solve.options`` as a sub-table)."""
    lines: list[str] = []
    for section, values in doc.items():
        sub = {}
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, dict) and key == "options":
                sub[key] = value
                continue
            if value is None:
                lines.append(f"# {key}: taken from the data set")
                continue
            lines.append(f"{_dump_key(key)} = {dump_value(value)}")
        for key, value in sub.items():
            lines.append("")
            lines.append(f"[{section}.{key}]")
            for k, v in value.items():
                lines.append(f"{_dump_key(k)} = {dump_value(v)}")
        lines.append("")
    return "\n".join(lines)
