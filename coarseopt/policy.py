"""Carry a chosen policy to new customers: save it, load it safely, assign, explain.

A :class:`Policy` holds what assigning a customer needs: the fitted outcome models, the
feature schema (names, types, categories seen), the economics as per-treatment unit values,
the offered treatments, the share bounds and the transport potentials
(:mod:`coarseopt.assign`), and the readable segment rules (:mod:`coarseopt.rules`).

Saved policies are a directory ``policy/`` of a study's output:

- ``policy.json``: everything but the models, as JSON (format name and version, versions
  of the libraries, schema, economics, every k's offered set, shares, potentials and rules,
  a fingerprint of the training data, and the SHA-256 of the model file);
- ``model.skops``: the fitted models in the ``skops`` format, loaded with an explicit list
  of trusted types (:data:`TRUSTED_TYPES`), so loading never runs code; the file's hash
  is checked against ``policy.json`` before it is opened.

Nothing is pickled. A file that was altered, has an unknown format version, or is not a
saved policy raises :class:`~coarseopt.exceptions.PolicyFileError`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .assign import assign_offered, assign_within_budget, transport_potentials
from .exceptions import PolicyFileError, SchemaError
from .rules import PolicyTree, fit_policy_tree

__all__ = ["Policy", "load_policy", "save_policy", "read_policy_file", "TRUSTED_TYPES", "FORMAT", "FORMAT_VERSION"]

FORMAT = "coarseopt-policy"
FORMAT_VERSION = 1
POLICY_DIR = "policy"
MODEL_FILE = "model.skops"
META_FILE = "policy.json"

#: Types (beyond scikit-learn's and numpy's defaults that skops trusts) that a saved model
#: may hold: the learners of :mod:`coarseopt.estimation.learners` and the fitted parts of
#: their default base models. Anything else makes loading fail unless the caller trusts it.
TRUSTED_TYPES = (
    "coarseopt.estimation.learners.CrossFitLearner",
    "coarseopt.estimation.learners.SLearner",
    "coarseopt.estimation.learners.TLearner",
    "coarseopt.estimation.learners.XLearner",
    "coarseopt.estimation.learners.DRLearner",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "scipy.interpolate._bsplines.BSpline",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
)


# ---------------------------------------------------------------------- the model part
class _Model:
    """Raw features -> predicted incremental profit of every treatment (no training data)."""

    def __init__(self, *, features: list, categories: dict, numeric: list, learner: Any, columns: list,
                 treatments: Any, arms: list, arm_columns: Any, control: Any, unit_a: Any, unit_c: Any) -> None:
        self.features = list(features)
        self.categories = {f: list(c) for f, c in categories.items()}
        self.numeric = list(numeric)
        self.learner = learner
        self.columns = list(columns)
        self.treatments = None if treatments is None else np.asarray(treatments, dtype=np.float64)
        self.arms = list(arms)
        self.arm_columns = np.asarray(arm_columns, dtype=np.intp)
        self.control = control
        self.unit_a = np.asarray(unit_a, dtype=np.float64)
        self.unit_c = np.asarray(unit_c, dtype=np.float64)

    @classmethod
    def from_estimate(cls, est: Any) -> "_Model":
        enc = est.encoder
        if enc is None:
            raise SchemaError("the ProfitEstimate does not know its feature encoding; estimate it from an Experiment.")
        cols = list(est.profit.columns)
        a, c = est.economics.unit_value(cols, numeric=est.treatments is not None)
        return cls(features=enc.features, categories=enc._categories,
                   numeric=[f for f in enc.features if f not in enc._categories], learner=est.learner, columns=cols,
                   treatments=est.treatments, arms=list(est.arms), arm_columns=est.arm_columns, control=est.control,
                   unit_a=a, unit_c=c)

    # -------------------------------------------------------------- schema
    def check(self, df: Any, *, unseen: str = "error") -> Any:
        """``df``'s feature columns checked against the schema, numeric ones as float64.

        Raises
        ------
        SchemaError
            A missing feature, missing values, a text value in a numeric column, or (with
            ``unseen="error"``) a category the study never saw; the message names the column
            and the values.
        """
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise SchemaError(f"'df' must be a pandas DataFrame of customers; got {type(df).__name__}.")
        missing = [f for f in self.features if f not in df.columns]
        if missing:
            raise SchemaError(
                f"the data lacks the feature column(s) {missing} that the policy was learned on; "
                f"it needs every one of {self.features}."
            )
        out = {}
        for f in self.features:
            col = df[f]
            nan = col.isna().to_numpy()
            if nan.any():
                raise SchemaError(
                    f"column {f!r} has {int(nan.sum())} missing value(s) (first at row {df.index[np.flatnonzero(nan)[0]]!r}); "
                    "fill or drop them: the policy cannot assign a customer without every feature."
                )
            if f in self.categories:
                seen = self.categories[f]
                text = col.astype(str).to_numpy()
                codes = pd.Index([str(c) for c in seen]).get_indexer(text)
                unknown = codes < 0
                if unknown.any() and unseen == "error":
                    new = pd.unique(text[unknown])
                    raise SchemaError(
                        f"column {f!r} holds categories the study never saw: {[str(v) for v in new[:10]]} "
                        f"({int(unknown.sum())} row(s); seen: {[str(c) for c in seen[:20]]}). Map them to a seen "
                        "category, or pass unseen='ignore' (--unseen ignore) to encode them as none of the seen "
                        "categories, as the study's own encoding does."
                    )
                values = np.asarray(seen + [None], dtype=object)[codes]  # -1 -> None: no seen category
                out[f] = values
            else:
                if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
                    values = col.to_numpy(dtype=np.float64)
                else:
                    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
                    bad = np.isnan(values)
                    if bad.any():
                        examples = pd.unique(col.to_numpy()[bad])[:5]
                        raise SchemaError(
                            f"column {f!r} is numeric in the study but holds text values "
                            f"{[str(v) for v in examples]} ({int(bad.sum())} row(s)); fix or drop those rows."
                        )
                if not np.isfinite(values).all():
                    raise SchemaError(f"column {f!r} holds infinite values; fix or drop those rows.")
                out[f] = values
        return pd.DataFrame(out, index=df.index)

    def encode(self, checked: Any) -> Any:
        """The encoded feature matrix the models take (one-hot columns ``name=category``)."""
        import pandas as pd

        parts = {}
        for f in self.features:
            if f in self.categories:
                values = checked[f].to_numpy()
                for cat in self.categories[f]:
                    parts[f"{f}={cat}"] = (values == cat).astype(np.float64)
            else:
                parts[str(f)] = checked[f].to_numpy(dtype=np.float64)
        return pd.DataFrame(parts, index=checked.index)

    def outcome_and_profit(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Predicted outcome and incremental profit, each (n, m), of the encoded customers ``X``."""
        from .estimation.estimate import _interpolate  # the study's interpolation between arm levels

        arm_outcome = self.learner.predict_outcome(X)
        if self.treatments is not None and len(self.columns) != len(self.arms):
            outcome = _interpolate(arm_outcome, np.asarray(self.arms, dtype=np.float64), self.treatments)
        else:
            outcome = arm_outcome
        return outcome, self._incremental(outcome)

    def _incremental(self, outcome: np.ndarray) -> np.ndarray:
        absolute = outcome * self.unit_a[None, :] - self.unit_c[None, :]
        ctrl = int(self.arm_columns[self.arms.index(self.control)])
        return absolute - absolute[:, [ctrl]]

    def schema(self) -> dict:
        return {
            "features": [
                {"name": f, "kind": "categorical", "categories": [_json_value(c) for c in self.categories[f]]}
                if f in self.categories else {"name": f, "kind": "numeric"}
                for f in self.features
            ],
        }


# ---------------------------------------------------------------------- the policy
class Policy:
    """The policy a study recommends deploying: offer these treatments, to these customers.

    Build one from a fitted :class:`~coarseopt.ProfitEstimate` and a
    :class:`~coarseopt.SolveResult` of its ``to_problem(k)``, or load a study's with
    :func:`load_policy`.

    Parameters
    ----------
    estimate : ProfitEstimate
        Its fitted models predict new customers (deploy the one fitted on all customers).
    result : SolveResult
        The offered treatments (``result.offered``).
    min_share, max_share : float or array-like of shape (m,), optional
        The share bounds the result was solved with; kept for new customers.
    potentials : array-like, optional
        Transport potentials for one customer at a time (default: computed on
        ``estimate.profit`` when there are bounds, see :func:`coarseopt.assign.transport_potentials`).
    rules_depth : int or None, default 2
        Depth of the segment rules fitted on ``estimate``'s customers (None: no rules).
    budget : float, optional
        The most the policy may spend *per customer*: a batch of ``n`` customers is assigned
        within ``budget * n`` (:func:`coarseopt.assign_within_budget`), what a customer costs
        being ``budget_cost``.
    budget_cost : str, default "expected"
        ``"expected"``: the economics' fixed cost plus its proportional cost times the
        predicted outcome; else the name of a column of the customers' data holding each
        one's cost under any treatment but the control.

    Attributes
    ----------
    k : int
    offered : list
        Labels of the offered treatments.
    features : list of str
        The raw feature columns a customer needs.
    rules : PolicyTree or None
        The readable segment rules (``text``, ``sql``, ``tree``, ``kept``).

    Examples
    --------
    >>> import coarseopt as co
    >>> df, truth = co.datasets.make_promotions(2000, seed=0)
    >>> exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    >>> est = co.estimate_profit(exp, truth.economics, learner="t", cv=None)
    >>> policy = co.Policy(est, co.solve(est.to_problem(2), "enumerate"))
    >>> policy.assign(df.head(3)).shape
    (3,)
    """

    def __init__(self, estimate: Any, result: Any, *, min_share: Any = None, max_share: Any = None,
                 potentials: Any = None, rules_depth: int | None = 2, budget: float | None = None,
                 budget_cost: str = "expected") -> None:
        model = _Model.from_estimate(estimate)
        offered = np.asarray(result.offered, dtype=np.intp)
        labels = tuple(getattr(result, "treatment_labels", ()) or ())
        if labels and list(labels) != model.columns and labels != tuple(range(len(labels))):
            raise SchemaError(
                f"the SolveResult was solved on columns {list(labels)[:8]}, the estimate has {model.columns[:8]}; "
                "solve estimate.to_problem(k)."
            )
        if offered.size == 0 or offered.max() >= len(model.columns):
            raise SchemaError(f"the SolveResult offers no valid column of the estimate ({offered.tolist()}).")
        profit = estimate.profit.to_numpy()
        if potentials is None and (min_share is not None or max_share is not None):
            potentials = transport_potentials(profit, offered, min_share=min_share, max_share=max_share)
        rules = None
        if rules_depth is not None:
            sub = estimate.profit.iloc[:, offered]
            chosen = assign_offered(profit, offered, min_share=min_share, max_share=max_share)
            reference = float(profit[np.arange(len(chosen)), chosen].sum())
            rules = fit_policy_tree(estimate.features, sub, depth=rules_depth, reference=reference,
                                    categories=_onehot_names(model))
        self._init(model, k=offered.size, offered=offered, min_share=min_share,
                   max_share=max_share, potentials=potentials, rules=rules, info={},
                   budget=budget_entry(estimate, budget, budget_cost))

    def _init(self, model: _Model, *, k: int, offered: Any, min_share: Any, max_share: Any, potentials: Any,
              rules: PolicyTree | None, info: dict, budget: dict | None = None) -> None:
        self._model = model
        self.k = int(k)
        self._offered = np.asarray(offered, dtype=np.intp)
        m = len(model.columns)
        self.min_share = None if min_share is None else np.broadcast_to(np.asarray(min_share, float), (m,)).copy()
        self.max_share = None if max_share is None else np.broadcast_to(np.asarray(max_share, float), (m,)).copy()
        self.potentials = None if potentials is None else np.asarray(potentials, dtype=np.float64)
        self.rules = rules
        self.info = dict(info)
        self.budget = None if budget is None else dict(budget)

    @classmethod
    def _restore(cls, model: _Model, **kwargs: Any) -> "Policy":
        obj = object.__new__(cls)
        obj._init(model, **kwargs)
        return obj

    # -------------------------------------------------------------- facts
    @property
    def offered(self) -> list:
        """Labels of the offered treatments."""
        return [self._model.columns[j] for j in self._offered]

    @property
    def features(self) -> list:
        """The raw feature columns a customer needs."""
        return list(self._model.features)

    @property
    def schema(self) -> dict:
        """Feature names, kinds and the categories seen in the study."""
        return self._model.schema()

    # -------------------------------------------------------------- use
    def predict_profit(self, df: Any, *, unseen: str = "error") -> Any:
        """Predicted incremental profit over the control of each offered treatment.

        Returns
        -------
        pandas.DataFrame of shape (len(df), len(offered))
            Indexed like ``df``, one column per offered treatment.
        """
        import pandas as pd

        P = self._predict(df, unseen)[2]
        return pd.DataFrame(P[:, self._offered], index=df.index, columns=self.offered)

    def _predict(self, df: Any, unseen: str) -> tuple:
        """``(X, outcome, profit)``: the encoded features and the (n, m) predictions of ``df``."""
        X = self._model.encode(self._model.check(df, unseen=_unseen(unseen)))
        if not len(X):
            empty = np.zeros((0, len(self._model.columns)))
            return X, empty, empty
        return (X, *self._model.outcome_and_profit(X))

    def assign(self, df: Any, *, method: str = "auto", using: str = "model", unseen: str = "error",
               over_budget: str = "raise") -> Any:
        """The treatment of every row of ``df``.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per customer with (at least) the policy's feature columns, raw as in
            the study.
        method : {"auto", "transport", "potentials"}
            With share bounds: ``"auto"`` assigns the batch by the transport (shares exact)
            when the bounds can be met in whole customers, else customer by customer with the
            potentials (see :func:`coarseopt.assign.assign_offered`).
        using : {"model", "rules"}
            The model-based policy, or the readable segment rules (which ignore share bounds).
        unseen : {"error", "ignore"}
            A category the study never saw: an error naming it, or encoded as none of the
            seen categories (as in the study's own encoding).
        over_budget : {"raise", "cheapest"}
            With a budget: a batch whose cheapest offered treatments already cost more than
            its budget raises ``InfeasibleProblemError`` naming that spend, or each customer
            gets its cheapest offered treatment, with a warning (what the study does with
            its held-out batches).

        Returns
        -------
        pandas.Series
            Treatment labels, indexed like ``df``, named ``"treatment"``.
        """
        return self.assign_with_profit(df, method=method, using=using, unseen=unseen, over_budget=over_budget)[0]

    def assign_with_profit(self, df: Any, *, method: str = "auto", using: str = "model",
                           unseen: str = "error", over_budget: str = "raise") -> tuple:
        """:meth:`assign` and :meth:`predict_profit` from one pass of the models: ``(Series, DataFrame)``."""
        import pandas as pd

        if using not in ("model", "rules"):
            raise SchemaError(f"The 'using' parameter of Policy.assign must be 'model' or 'rules'. Got {using!r} instead.")
        if using == "rules" and self.rules is None:
            raise SchemaError("this policy has no segment rules; build it with rules_depth=1, 2 or 3.")
        X, outcome, P = self._predict(df, unseen)
        profit = pd.DataFrame(P[:, self._offered], index=df.index, columns=self.offered)
        if using == "rules":
            return pd.Series(self.rules.predict(X), index=df.index, name="treatment", dtype=object), profit
        if self.budget is not None:
            spend = self._spend(df, outcome)
            cols = assign_within_budget(P, spend, self._offered, self.budget["per_customer"] * len(P),
                                        over_budget=over_budget)
        else:
            cols = assign_offered(P, self._offered, min_share=self.min_share, max_share=self.max_share,
                                  potentials=self.potentials, method=method)
        labels = np.asarray(self._model.columns, dtype=object)
        return pd.Series(labels[cols], index=df.index, name="treatment", dtype=object), profit

    def _spend(self, df: Any, outcome: np.ndarray) -> np.ndarray:
        """What each customer of ``df`` costs under each column (see ``budget_cost``)."""
        from .estimation.economics import spend_of_column, spend_of_outcome

        b = self.budget
        if b["cost"] == "expected":
            return spend_of_outcome(outcome, np.asarray(b["proportional"]), np.asarray(b["fixed"]))
        column = b["cost"]
        if column not in df.columns:
            raise SchemaError(f"the policy keeps a budget whose cost is the column {column!r}; the data lacks it.")
        control_col = int(self._model.arm_columns[self._model.arms.index(self._model.control)])
        return spend_of_column(_cost_column(df[column], column), len(self._model.columns), control_col)

    def __repr__(self) -> str:
        bounds = "" if self.min_share is None and self.max_share is None else ", share bounds kept"
        bounds += "" if self.budget is None else f", budget {self.budget['per_customer']:g} per customer"
        return f"Policy(k={self.k}, offered={self.offered!r}, features={len(self.features)}{bounds})"

    # -------------------------------------------------------------- persistence
    def save(self, path: str | Path, *, fingerprint: str = "") -> Path:
        """Write this policy as a ``policy/``-style directory at ``path`` (must not exist)."""
        return _write(Path(path), self._model, {self.k: self._entry()}, fingerprint=fingerprint, recommended=self.k)

    def _entry(self) -> dict:
        return {
            "offered": [int(j) for j in self._offered],
            "offered_labels": [_json_value(x) for x in self.offered],
            "min_share": None if self.min_share is None else [float(x) for x in self.min_share],
            "max_share": None if self.max_share is None else [float(x) for x in self.max_share],
            "potentials": None if self.potentials is None else [float(x) for x in self.potentials],
            "rules": None if self.rules is None else self.rules.to_dict(),
            "budget": self.budget,
            **self.info,
        }


def budget_entry(estimate: Any, budget: float | None, budget_cost: str = "expected") -> dict | None:
    """A policy's budget as saved with it: per customer, what a customer costs (and for
    ``"expected"``, the economics' spend terms of every column)."""
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not np.isfinite(budget) or budget < 0:
        raise SchemaError(f"'budget' must be a finite number >= 0 per customer; got {budget!r}.")
    out = {"per_customer": float(budget), "cost": budget_cost}
    if budget_cost == "expected":
        prop, fixed = estimate.economics.spend_terms(list(estimate.profit.columns),
                                                      numeric=estimate.treatments is not None)
        out.update(proportional=[float(x) for x in prop], fixed=[float(x) for x in fixed])
    return out


def _cost_column(col: Any, name: str) -> np.ndarray:
    """A numeric column as float64, finite and >= 0, or an error naming it."""
    import pandas as pd

    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise SchemaError(f"column {name!r} must hold costs >= 0; {int(bad.sum())} row(s) do not "
                          f"(first value {col.iloc[int(np.flatnonzero(bad)[0])]!r}).")
    return values


def _unseen(value: str) -> str:
    if value not in ("error", "ignore"):
        raise SchemaError(f"The 'unseen' parameter must be 'error' or 'ignore'. Got {value!r} instead.")
    return value


def _onehot_names(model: _Model) -> dict:
    return {f"{f}={c}": (f, _json_value(c)) for f, cats in model.categories.items() for c in cats}


def _json_value(x: Any) -> Any:
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x)
    return x if isinstance(x, str) or x is None else str(x)


# ---------------------------------------------------------------------- files
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import coarseopt

    out = {"coarseopt": coarseopt.__version__}
    for mod in ("numpy", "scikit-learn", "scipy", "skops"):
        try:
            out[mod] = version(mod)
        except PackageNotFoundError:
            pass
    return out


def data_fingerprint(X: Any, y: Any = None, arms: Any = None) -> str:
    """SHA-256 of the training customers' encoded features (and outcomes and arms, if given)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in getattr(X, "columns", [])]).encode())
    h.update(np.ascontiguousarray(np.asarray(X, dtype=np.float64)).tobytes())
    for part in (y, arms):
        if part is not None:
            h.update(np.ascontiguousarray(np.asarray(part, dtype=np.float64)).tobytes())
    return h.hexdigest()


def _write(path: Path, model: _Model, entries: dict, *, fingerprint: str, recommended: int | None) -> Path:
    import skops.io as sio

    if path.exists():
        raise PolicyFileError(f"{path}: exists; saving a policy never overwrites. Choose a new directory.")
    blob = sio.dumps(model.learner)
    untrusted = sorted(set(sio.get_untrusted_types(data=blob)) - set(TRUSTED_TYPES))
    if untrusted:
        raise PolicyFileError(
            f"the fitted models hold types that a saved policy does not trust on load: {untrusted[:5]}; "
            "use a learner built from coarseopt's learners and scikit-learn estimators."
        )
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "schema": model.schema(),
        "encoded_features": list(model.encode(_zero_frame(model)).columns),
        "columns": [_json_value(c) for c in model.columns],
        "treatments": None if model.treatments is None else [float(t) for t in model.treatments],
        "arms": [_json_value(a) for a in model.arms],
        "arm_columns": [int(j) for j in model.arm_columns],
        "control": _json_value(model.control),
        "economics": {"unit_margin": [float(x) for x in model.unit_a], "unit_cost": [float(x) for x in model.unit_c]},
        "policies": {str(k): _finite(v) for k, v in entries.items()},
        "recommended_k": recommended,
        "training_data": {"sha256": fingerprint},
        "model": {"file": MODEL_FILE, "sha256": _sha256(blob)},
    }
    path.mkdir(parents=True)
    (path / MODEL_FILE).write_bytes(blob)
    (path / META_FILE).write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def _zero_frame(model: _Model) -> Any:
    import pandas as pd

    return pd.DataFrame({f: [model.categories[f][0]] if f in model.categories else [0.0] for f in model.features})


def _finite(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def read_policy_file(run_dir: str | Path, *, trusted: Any = ()) -> tuple[dict, _Model]:
    """The checked contents of a saved policy: ``(meta, model)``.

    ``run_dir`` is a study's output directory (holding ``policy/``) or the policy directory
    itself. ``trusted``: further type names the model file may hold (see :data:`TRUSTED_TYPES`).

    Raises
    ------
    PolicyFileError
        Not a saved policy, an unknown format version, a model file that does not match its
        recorded hash or holds untrusted types.
    """
    import skops.io as sio

    root = Path(run_dir)
    path = root / POLICY_DIR if (root / POLICY_DIR / META_FILE).exists() else root
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise PolicyFileError(
            f"{run_dir}: no saved policy here (expected {POLICY_DIR}/{META_FILE}); give the output directory of "
            "`coarseopt run` (studies from before saved policies existed must be run again)."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyFileError(f"{meta_path}: not a saved policy (not valid JSON: {exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PolicyFileError(f"{meta_path}: not a saved coarseopt policy (no \"format\": \"{FORMAT}\").")
    if meta.get("format_version") != FORMAT_VERSION:
        raise PolicyFileError(
            f"{meta_path}: format version {meta.get('format_version')!r}, but this coarseopt "
            f"reads version {FORMAT_VERSION}; use the coarseopt version that wrote it "
            f"({meta.get('versions', {}).get('coarseopt', 'unknown')}) or run the study again."
        )
    try:
        model_info = meta["model"]
        model_path = path / Path(model_info["file"]).name
        blob = model_path.read_bytes()
    except (KeyError, TypeError, OSError) as exc:
        raise PolicyFileError(f"{path}: the model file of the policy is missing ({exc}).") from None
    if _sha256(blob) != model_info.get("sha256"):
        raise PolicyFileError(
            f"{model_path}: altered since the study saved it (its SHA-256 does not match {META_FILE}); "
            "refusing to load it. Run the study again."
        )
    try:
        learner = sio.loads(blob, trusted=list(TRUSTED_TYPES) + list(trusted))
    except Exception as exc:  # skops: untrusted types, not a skops file, a damaged archive
        msg = " ".join(str(exc).split())[:300]
        raise PolicyFileError(f"{model_path}: cannot be loaded safely ({type(exc).__name__}: {msg}).") from None
    try:
        schema = meta["schema"]["features"]
        categories = {f["name"]: list(f["categories"]) for f in schema if f["kind"] == "categorical"}
        model = _Model(
            features=[f["name"] for f in schema], categories=categories,
            numeric=[f["name"] for f in schema if f["kind"] == "numeric"], learner=learner,
            columns=meta["columns"], treatments=meta["treatments"], arms=meta["arms"],
            arm_columns=meta["arm_columns"], control=meta["control"],
            unit_a=meta["economics"]["unit_margin"], unit_c=meta["economics"]["unit_cost"],
        )
        if list(model.encode(_zero_frame(model)).columns) != meta["encoded_features"]:
            raise ValueError("the schema does not give the encoded features the models were fitted on")
        if len(model.unit_a) != len(model.columns) or getattr(learner, "n_features_in_", None) != len(
                meta["encoded_features"]):
            raise ValueError("the economics or the models do not match the columns and features")
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise PolicyFileError(f"{meta_path}: damaged or inconsistent ({exc}).") from None
    return meta, model


def load_policy(run_dir: str | Path, k: int | None = None, *, trusted: Any = ()) -> Policy:
    """The policy a study saved, for ``k`` offered treatments. Never executes code on load.

    Parameters
    ----------
    run_dir : path
        The output directory of ``coarseopt run`` (or its ``policy/`` directory).
    k : int, optional
        Which k; default the study's recommended k.
    trusted : sequence of str, optional
        Further type names the model file may hold (a custom learner you wrote).

    Raises
    ------
    PolicyFileError
        See :func:`read_policy_file`; also a k the study did not solve.
    """
    meta, model = read_policy_file(run_dir, trusted=trusted)
    policies = meta.get("policies") or {}
    if k is None:
        k = meta.get("recommended_k")
        if k is None:
            raise PolicyFileError(f"{run_dir}: the study recommends no k; pass k= one of {sorted(map(int, policies))}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or str(int(k)) not in policies:
        raise PolicyFileError(f"k = {k!r}: the study solved k in {sorted(map(int, policies))}; pick one of those.")
    entry = policies[str(int(k))]
    try:
        rules = PolicyTree.from_dict(entry["rules"]) if entry.get("rules") else None
        info = {key: entry[key] for key in entry if key not in
                ("offered", "offered_labels", "min_share", "max_share", "potentials", "rules", "budget")}
        return Policy._restore(model, k=int(k), offered=entry["offered"], min_share=entry.get("min_share"),
                               max_share=entry.get("max_share"), potentials=entry.get("potentials"), rules=rules,
                               info=info, budget=entry.get("budget"))
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyFileError(f"{run_dir}: the policy for k = {k} is damaged ({exc}).") from None


# ---------------------------------------------------------------------- from a study
def _held_out(study: Any, est_full: Any, tree: PolicyTree, k: int) -> dict:
    """The rules' value on the study's held-out customers (which they were not fitted on),
    with the value estimator of the study's evaluation, beside the model-based policy's
    (holdout study only: None in the cross-fitted study)."""
    test = getattr(study, "test_index", None)
    exp = est_full.experiment
    out = {"held_out_value": None, "held_out_value_se": None, "model_value": None, "model_value_se": None}
    train = getattr(study, "train_index", None)
    if test is None or len(test) == 0 or exp is None or (
            train is not None and np.intersect1d(np.asarray(test), np.asarray(train)).size):
        return out  # the cross-fitted study has no customers the rules were not fitted on
    from .evaluation import policy_value

    test = np.asarray(test)
    arms = list(exp.arms)
    pol = tree.predict(est_full.features.iloc[test])
    if not set(pol.tolist()) <= set(arms):  # levels between the arms: no data can value them
        return out
    idx = exp.arm_index[test]
    a, c = est_full.economics.unit_value(arms, numeric=exp.is_numeric)
    y = a[idx] * exp.y[test] - c[idx]
    cfg = study.config
    prop = exp.propensity_received[test] if cfg.columns.get("propensity") else None
    v = policy_value(y, np.asarray(arms, dtype=object)[idx], pol, propensity=prop,
                     method=cfg.evaluation["value_method"], alpha=cfg.evaluation["alpha"])
    out.update(held_out_value=float(v.estimate), held_out_value_se=float(v.se))
    table = getattr(study, "evaluation", None)
    if table is not None and len(table) and "policy" in table:
        row = table[table["policy"] == f"k={k}"]
        if len(row):
            out.update(model_value=_finite(float(row["value"].iloc[0])),
                       model_value_se=_finite(float(row["value_se"].iloc[0])))
    return out


def save_policy(study: Any, est_full: Any, out_dir: str | Path) -> list:
    """Save the deployed policy of every k of ``study`` into ``out_dir/policy/``.

    ``est_full`` is the estimate refitted on all the study's customers (the model the
    report recommends deploying). Segment rules (depth ``[output] rules_depth``) are fitted
    on the study's training customers with their cross-fitted profits, ``kept`` is their
    share of the solver's assignment's estimated profit there. Sets ``study.rules``
    (``k -> rules dict``) for ``summary.json`` and the report; returns the files written
    (none when ``est_full`` is None).
    """
    if est_full is None:
        return []
    cfg = study.config
    depth = int(cfg.output.get("rules_depth", 2))
    shares = {}
    if cfg.solve["min_share"] > 0:
        shares["min_share"] = cfg.solve["min_share"]
    if cfg.solve["max_share"] < 1:
        shares["max_share"] = cfg.solve["max_share"]
    model = _Model.from_estimate(est_full)
    rows = np.arange(len(est_full.features)) if study.train_index is None else np.asarray(study.train_index)
    train_X = est_full.features.iloc[rows]
    train_X.index = study.profit.index
    entries, rules = {}, {}
    for k, res in study.results.items():
        offered = np.asarray(res.offered, dtype=np.intp)
        tree = fit_policy_tree(train_X, study.profit.iloc[:, offered], depth=depth, reference=res.objective,
                               categories=_onehot_names(model))
        potentials = transport_potentials(study.profit.to_numpy(), offered, **shares) if shares else None
        rules[k] = tree.to_dict() | _held_out(study, est_full, tree, k)
        entries[k] = {
            "offered": [int(j) for j in offered],
            "offered_labels": [_json_value(x) for x in res.offered_labels],
            "min_share": None if "min_share" not in shares else [float(shares["min_share"])] * len(model.columns),
            "max_share": None if "max_share" not in shares else [float(shares["max_share"])] * len(model.columns),
            "potentials": None if potentials is None else [float(x) for x in potentials],
            "rules": rules[k],
            "budget": budget_entry(est_full, study.budget.per_customer, cfg.solve["budget_cost"])
            if study.budget is not None else None,
            "solver": res.solver,
            "shares": [float(s) for s in res.shares],
        }
    exp = est_full.experiment
    fingerprint = data_fingerprint(est_full.features, getattr(exp, "y", None), getattr(exp, "arm_index", None))
    _write(Path(out_dir) / POLICY_DIR, model, entries, fingerprint=fingerprint, recommended=study.recommended_k)
    study.rules = rules
    return [f"{POLICY_DIR}/{META_FILE}", f"{POLICY_DIR}/{MODEL_FILE}"]
