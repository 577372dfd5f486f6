"""A randomized experiment: who got which arm, what they did, and what we know about them."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..propensity import arm_shares, check_propensity_counts
from ._errors import ExperimentError, describe

__all__ = ["Experiment"]

_CATEGORICAL = ("onehot", "error")


class Experiment:
    """Validated data of a randomized experiment with one or more treatment arms.

    Everything is checked once, here: the columns exist, the outcome is numeric and has no
    missing value, every arm (and the control) has customers, features are usable by a
    scikit-learn model, propensities are probabilities. Later steps trust these facts.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per customer. The index is kept: profit matrices are indexed like ``data``.
    outcome : str
        Column of the observed outcome (spend, a 0/1 conversion, profit...).
    treatment : str
        Column of the arm each customer received: labels (``"Mens E-Mail"``) or numeric
        levels (a discount depth such as ``0.1``). Numeric arms make the treatment *ordered*,
        so profit can be estimated between arms (see ``grid`` in :func:`estimate_profit`).
    features : sequence of str
        Columns used to personalize. Numeric and boolean columns are used as they are;
        string or categorical columns are one-hot encoded (``categorical="onehot"``, the
        default) with the categories seen here, so that new customers are encoded the same way.
    control : label or number, optional
        The arm profits are measured against. Default: the lowest level of a numeric
        treatment. Required for labelled arms (e.g. ``control="No E-Mail"``).
    propensity : str, optional
        Column holding each customer's probability of the arm they received (known from the
        design). ``None`` (default): assignment did not depend on the customer, and each
        arm's probability is its share of the sample.
    arms : sequence, optional
        The arms the design had. When given, an arm without customers is an error rather
        than silently dropped.
    categorical : {"onehot", "error"}, default="onehot"
        What to do with non-numeric features: one-hot encode them, or raise an error that
        names them.
    categorical_features : sequence of str, optional
        Features to one-hot encode whatever their type (codes such as a numeric region or
        a zip code). A text feature whose entries are mostly numbers is refused unless it is
        listed here: a few stray entries (``"n/a"``, ``"12,5"``) would otherwise turn a number
        into one 0/1 column per distinct value.

    Attributes
    ----------
    arms : tuple
        The arms, sorted (labels alphabetically, levels numerically).
    control_index : int
        Position of ``control`` in ``arms``.
    is_numeric : bool
        Whether arms are numeric levels.
    levels : ndarray of float or None
        The arms as floats when ``is_numeric``.
    X : pandas.DataFrame
        The encoded feature matrix (float64), indexed like ``data``.
    feature_names : list of str
        Columns of ``X``.
    y : ndarray of float64, shape (n,)
    arm_index : ndarray of int, shape (n,)
        Position in ``arms`` of each customer's arm.
    propensity_received : ndarray of float64, shape (n,)
        Probability of the arm each customer received.
    n : int

    Examples
    --------
    >>> import pandas as pd, coarseopt as co
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "arm": ["a", "b", "a", "b"],
    ...                    "y": [0.0, 1.0, 1.0, 3.0]})
    >>> exp = co.Experiment(df, outcome="y", treatment="arm", features=["x"], control="a")
    >>> exp.arms, exp.n
    (('a', 'b'), 4)
    """

    def __init__(
        self,
        data: pd.DataFrame,
        outcome: str,
        treatment: str,
        features: Sequence[str],
        *,
        control: Any = None,
        propensity: str | None = None,
        arms: Sequence[Any] | None = None,
        categorical: str = "onehot",
        categorical_features: Sequence[str] = (),
    ) -> None:
        if not isinstance(data, pd.DataFrame):
            raise ExperimentError(
                f"'data' must be a pandas DataFrame with one row per customer; got {type(data).__name__}. "
                "Wrap arrays with pandas.DataFrame(...) and name the columns."
            )
        if len(data) == 0:
            raise ExperimentError("'data' has no rows; an experiment needs customers.")
        if categorical not in _CATEGORICAL:
            raise ExperimentError(
                f"The 'categorical' parameter of Experiment must be one of {list(_CATEGORICAL)}. "
                f"Got {describe(categorical)} instead."
            )
        self.data = data
        self.outcome = self._check_column("outcome", outcome)
        self.treatment = self._check_column("treatment", treatment)
        self.features = self._check_features(features)
        self.propensity = None if propensity is None else self._check_column("propensity", propensity)
        self.categorical = categorical
        self.categorical_features = self._check_categorical_features(categorical_features)
        self.n = len(data)

        self.y = self._check_outcome()
        self.arms, self.is_numeric, self.arm_index = self._check_treatment(arms)
        self.levels = np.asarray(self.arms, dtype=np.float64) if self.is_numeric else None
        self.control = self._check_control(control)
        self.control_index = self.arms.index(self.control)
        self.propensity_received = self._check_propensity()
        self._categories: dict[str, list] = {}
        self.X = self.encode(data, _fit=True)
        self.feature_names = list(self.X.columns)

    # ------------------------------------------------------------------ validation
    def _check_column(self, name: str, column: Any) -> Any:
        if column not in self.data.columns:
            raise ExperimentError(
                f"The '{name}' column {describe(column)} is not in 'data'. "
                f"Columns: {[str(c) for c in self.data.columns][:30]}."
            )
        return column

    def _check_features(self, features: Any) -> list:
        features = _names("features", features)
        if not features:
            raise ExperimentError("'features' is empty; personalization needs at least one feature column.")
        missing = [f for f in features if f not in self.data.columns]
        if missing:
            raise ExperimentError(
                f"'features' names columns that are not in 'data': {missing[:10]}. "
                f"Columns: {[str(c) for c in self.data.columns][:30]}."
            )
        if len(set(features)) != len(features):
            raise ExperimentError(f"'features' lists a column twice: {features}.")
        used = {self.outcome, self.treatment} & set(features)
        if used:
            raise ExperimentError(
                f"'features' must not contain the outcome or treatment column; found {sorted(map(str, used))}."
            )
        return features

    def _check_categorical_features(self, names: Any) -> list:
        names = _names("categorical_features", names)
        unknown = [f for f in names if f not in self.features]
        if unknown:
            raise ExperimentError(
                f"'categorical_features' names column(s) {unknown[:10]} that are not in 'features' "
                f"({self.features[:30]}); list them in 'features' too."
            )
        return names

    def _check_outcome(self) -> np.ndarray:
        col = self.data[self.outcome]
        if pd.api.types.is_bool_dtype(col):
            col = col.astype(np.float64)
        if not pd.api.types.is_numeric_dtype(col):
            raise ExperimentError(
                f"The outcome column {self.outcome!r} must be numeric; got dtype {col.dtype}. "
                "Convert it (e.g. a 'yes'/'no' column with (df[col] == 'yes').astype(int))."
            )
        y = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(y)
        if bad.any():
            raise ExperimentError(
                f"The outcome column {self.outcome!r} has {int(bad.sum())} missing or infinite value(s) "
                f"(first at row {describe(self.data.index[np.flatnonzero(bad)[0]])}). Drop those customers "
                f"(df.dropna(subset=[{self.outcome!r}])) or fill in their outcome."
            )
        if np.ptp(y) == 0:
            raise ExperimentError(
                f"The outcome column {self.outcome!r} is constant ({y[0]!r}); there is nothing to learn."
            )
        return y

    def _check_treatment(self, arms: Any) -> tuple[tuple, bool, np.ndarray]:
        col = self.data[self.treatment]
        if col.isna().any():
            raise ExperimentError(
                f"The treatment column {self.treatment!r} has {int(col.isna().sum())} missing value(s). "
                "Every customer of a randomized experiment received an arm: drop or fix those rows."
            )
        is_numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        values = col.to_numpy(dtype=np.float64) if is_numeric else col.to_numpy()
        if is_numeric and not np.isfinite(values).all():
            raise ExperimentError(f"The treatment column {self.treatment!r} has infinite levels.")
        observed = sorted(pd.unique(values).tolist())
        if arms is not None:
            design = sorted(float(a) for a in arms) if is_numeric else sorted(arms)
            absent = [a for a in design if a not in observed]
            if absent:
                raise ExperimentError(
                    f"Arm(s) {absent} of 'arms' have no customers in the treatment column "
                    f"{self.treatment!r} (observed arms: {observed}). Check the data or drop them from 'arms'."
                )
            extra = [a for a in observed if a not in design]
            if extra:
                raise ExperimentError(
                    f"The treatment column {self.treatment!r} holds arm(s) {extra} that 'arms' does not list "
                    f"({design}). Add them to 'arms' or drop those customers."
                )
        if len(observed) < 2:
            raise ExperimentError(
                f"The treatment column {self.treatment!r} holds a single arm ({observed}); an experiment "
                "needs a control and at least one other arm."
            )
        arms_t = tuple(observed)
        index = pd.Index(arms_t).get_indexer(values)
        return arms_t, is_numeric, index.astype(np.intp)

    def _check_control(self, control: Any) -> Any:
        if control is None:
            if self.is_numeric:
                return self.arms[0]
            raise ExperimentError(
                f"'control' is required when arms are labels: pass control= one of {list(self.arms)} "
                "(the arm profits are measured against, e.g. no e-mail)."
            )
        if self.is_numeric and isinstance(control, numbers.Real) and not isinstance(control, bool):
            matches = [a for a in self.arms if np.isclose(a, float(control))]
            if matches:
                return matches[0]
        elif control in self.arms:
            return control
        raise ExperimentError(
            f"'control' = {describe(control)} is not an arm of the treatment column {self.treatment!r}. "
            f"Arms: {list(self.arms)}."
        )

    def _check_propensity(self) -> np.ndarray:
        if self.propensity is None:
            return arm_shares(self.arm_index, len(self.arms))
        col = self.data[self.propensity]
        if not pd.api.types.is_numeric_dtype(col):
            raise ExperimentError(
                f"The propensity column {self.propensity!r} must hold probabilities; got dtype {col.dtype}."
            )
        e = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(e) | (e <= 0) | (e > 1)
        if bad.any():
            raise ExperimentError(
                f"The propensity column {self.propensity!r} must hold probabilities in (0, 1]; "
                f"{int(bad.sum())} value(s) are outside, missing or zero (e.g. {describe(e[bad][0])}). "
                "A customer who could not have received their arm cannot inform its effect."
            )
        check_propensity_counts(self.arm_index, np.asarray(self.arms, dtype=object), e=e)
        return e

    # ------------------------------------------------------------------ features
    def encode(self, data: pd.DataFrame, *, _fit: bool = False) -> pd.DataFrame:
        """The feature matrix of ``data`` (this experiment's or new customers'), encoded as here.

        Categorical columns get one 0/1 column per category seen in the experiment
        (``"<column>=<category>"``); a category never seen gives zeros in all of them.
        """
        if not isinstance(data, pd.DataFrame):
            raise ExperimentError(f"'data' must be a pandas DataFrame; got {type(data).__name__}.")
        missing = [f for f in self.features if f not in data.columns]
        if missing:
            raise ExperimentError(f"'data' lacks the feature column(s) {missing[:10]} the experiment uses.")
        parts: dict[str, np.ndarray] = {}
        for f in self.features:
            col = data[f]
            numeric = pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
            if _fit:
                numeric = numeric and not isinstance(col.dtype, pd.CategoricalDtype)
                numeric = numeric and f not in self.categorical_features
                if not numeric and f not in self.categorical_features:
                    _refuse_numeric_text(f, col)
                if not numeric and self.categorical == "error":
                    raise ExperimentError(
                        f"Feature {f!r} is not numeric (dtype {col.dtype}). Encode it first "
                        f"(pandas.get_dummies(df, columns=[{f!r}])) or pass categorical='onehot'."
                    )
                if not numeric:
                    if col.isna().any():
                        raise ExperimentError(
                            f"Categorical feature {f!r} has {int(col.isna().sum())} missing value(s); "
                            f"fill them (e.g. df[{f!r}].fillna('missing'))."
                        )
                    self._categories[f] = sorted(pd.unique(col.to_numpy()).tolist(), key=str)
            if f in self._categories:
                values = col.to_numpy()
                for cat in self._categories[f]:
                    parts[f"{f}={cat}"] = (values == cat).astype(np.float64)
            else:
                if not numeric:
                    raise ExperimentError(
                        f"Feature {f!r} was numeric in the experiment but has dtype {col.dtype} here."
                    )
                parts[str(f)] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        X = pd.DataFrame(parts, index=data.index)
        bad = [c for c in X.columns if not np.isfinite(X[c].to_numpy()).all()]
        if bad:
            raise ExperimentError(
                f"Feature column(s) {bad[:10]} have missing or infinite values. Impute them first "
                "(e.g. sklearn.impute.SimpleImputer) or drop them from 'features'."
            )
        if _fit:
            const = [c for c in X.columns if X[c].nunique() <= 1]
            if const:
                raise ExperimentError(
                    f"Feature column(s) {const[:10]} are constant in 'data' and carry no information "
                    "about who responds; drop them from 'features'."
                )
        return X

    # ------------------------------------------------------------------ helpers
    def subset(self, rows: Any) -> "Experiment":
        """The experiment restricted to some customers (positions), with the same encoding.

        Arms, control and categories are kept, so models fitted on one part apply to the other.
        Propensities from the design (``propensity=None``) are kept as computed on the whole.
        """
        rows = np.asarray(rows)
        new = object.__new__(Experiment)
        new.__dict__.update(self.__dict__)
        new.data = self.data.iloc[rows]
        new.n = len(new.data)
        new.y = self.y[rows]
        new.arm_index = self.arm_index[rows]
        new.propensity_received = self.propensity_received[rows]
        new.X = self.X.iloc[rows]
        missing = sorted(set(range(len(self.arms))) - set(np.unique(new.arm_index).tolist()))
        if missing:
            raise ExperimentError(
                f"The subset has no customers in arm(s) {[self.arms[j] for j in missing]}; "
                "use a larger subset or stratify by arm."
            )
        return new

    @property
    def arm_counts(self) -> pd.Series:
        """Number of customers per arm."""
        return pd.Series(np.bincount(self.arm_index, minlength=len(self.arms)), index=pd.Index(self.arms, name="arm"))

    def __repr__(self) -> str:
        kind = "levels" if self.is_numeric else "arms"
        return (
            f"Experiment(n={self.n}, outcome={self.outcome!r}, treatment={self.treatment!r}, "
            f"{kind}={list(self.arms)}, control={self.control!r}, features={len(self.feature_names)})"
        )


def _names(argument: str, value: Any) -> list:
    """A list of column names (a lone string or None is refused, not split into letters)."""
    if isinstance(value, str) or value is None:
        raise ExperimentError(
            f"'{argument}' must be a list of column names; got {describe(value)}. "
            f"For one column write {argument}=['name']."
        )
    return list(value)


def _refuse_numeric_text(name: Any, col: pd.Series) -> None:
    """A text feature whose entries are mostly numbers is a number with stray entries."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return
    values = col.dropna()
    if not len(values):
        return
    parsed = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
    share = float(parsed.notna().mean())
    if share < 0.5:
        return
    bad = pd.unique(values[parsed.isna()].astype(str))
    shown = ", ".join(repr(v) for v in bad[:5])
    what = (f"{len(values) - int(parsed.notna().sum())} entries are not numbers (first: {shown})" if len(bad)
            else "every entry is a number stored as text")
    raise ExperimentError(
        f"Feature {name!r} looks numeric ({100 * share:.1f}% of its entries are numbers) but is text: {what}. "
        f"One-hot encoding it would make one column per distinct value. Fix those entries (e.g. "
        f"pandas.to_numeric(df[{name!r}], errors='coerce') and impute), or, if it is a code, declare it "
        f"categorical (categorical_features=[{name!r}]; in a study config [columns] categorical = [\"{name}\"])."
    )
