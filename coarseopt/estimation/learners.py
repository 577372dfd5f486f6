"""Multi-arm CATE meta-learners that follow scikit-learn conventions.

All learners estimate, for every arm ``j`` of a randomized experiment, the expected outcome
``mu_j(x) = E[Y(j) | X = x]`` and the conditional average treatment effect against the
control arm ``c``:

.. math::

    \\tau_j(x) = E[Y(j) - Y(c) \\mid X = x], \\qquad \\tau_c \\equiv 0.

They take ``fit(X, treatment, y, propensity=None)`` (the extra ``treatment`` argument is why
scikit-learn's full estimator checks do not apply), and predict with

- ``predict_outcome(X)``: ``(n, n_arms)`` expected outcomes, columns in the order of ``arms_``;
- ``effect(X)`` (alias ``predict``): ``(n, n_arms)`` effects against the control arm.

Any scikit-learn regressor, or classifier for a discrete outcome (its expected value
``sum_k k * P(Y = k | x)`` is used), serves as base model. Learners are plain estimators:
``__init__`` only stores parameters, ``get_params``/``set_params``/``clone`` and pickling
work, fitted attributes end in ``_``, and predicting before ``fit`` raises
:class:`sklearn.exceptions.NotFittedError`.

References
----------
Künzel, Sekhon, Bickel & Yu (2019). Metalearners for estimating heterogeneous treatment
effects using machine learning. PNAS 116(10), 4156-4165. (S-, T- and X-learners.)

Kennedy (2023). Towards optimal doubly robust estimation of heterogeneous causal effects.
Electronic Journal of Statistics 17(2), 3008-3049. (DR-learner.)

Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey & Robins (2018). Double/debiased
machine learning for treatment and structural parameters. Econometrics Journal 21(1),
C1-C68. (Cross-fitting.)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted, validate_data

from ._errors import LearnerError, describe

__all__ = [
    "default_estimator",
    "SLearner",
    "TLearner",
    "XLearner",
    "DRLearner",
    "CrossFitLearner",
    "make_learner",
    "LEARNERS",
]


def default_estimator(random_state: int | None = 0):
    """The default base model: a regularized, early-stopped histogram gradient boosting.

    ``HistGradientBoostingRegressor(learning_rate=0.05, max_iter=300, max_leaf_nodes=15,
    min_samples_leaf=100, l2_regularization=1.0, early_stopping=True, n_iter_no_change=20)``.
    Outcomes of marketing experiments are noisy (most customers buy nothing); shallow trees,
    large leaves and early stopping on a validation split keep the per-arm models from
    fitting that noise, and the model handles interactions and skewed features untuned.
    See ``docs/estimation.md`` for the benchmark behind the choice.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=15,
        min_samples_leaf=100,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=20,
        random_state=random_state,
    )


# ---------------------------------------------------------------------- base models
def _fit_model(template: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """Fit a clone of ``template`` on ``(X, y)``; a constant outcome gets a constant model."""
    if np.ptp(y) == 0:  # e.g. no conversion at all in a small arm: nothing to learn
        return DummyRegressor(strategy="constant", constant=float(y[0])).fit(X, y)
    model = clone(template)
    if is_classifier(model) and not np.allclose(y, np.round(y)):
        raise LearnerError(
            f"The base model {type(model).__name__} is a classifier but the outcome is continuous "
            f"(e.g. {y[~np.isclose(y, np.round(y))][0]!r}). Use a regressor for spend-like outcomes."
        )
    return model.fit(X, y)


def _predict_model(model: Any, X: np.ndarray) -> np.ndarray:
    """Expected outcome: ``predict`` of a regressor, ``sum_k k P(Y=k|x)`` of a classifier."""
    if is_classifier(model):
        proba = model.predict_proba(X)
        return proba @ np.asarray(model.classes_, dtype=np.float64)
    return np.asarray(model.predict(X), dtype=np.float64).reshape(-1)


def _check_model(name: str, model: Any, *, regressor_only: bool = False) -> None:
    if model is None:
        return
    if not (hasattr(model, "fit") and hasattr(model, "get_params")):
        raise LearnerError(
            f"The '{name}' parameter must be a scikit-learn estimator (with fit and get_params). "
            f"Got {describe(model)} instead."
        )
    if regressor_only and is_classifier(model):
        raise LearnerError(
            f"The '{name}' parameter must be a regressor: it is fitted to continuous imputed effects. "
            f"Got the classifier {type(model).__name__}."
        )
    if is_classifier(model) and not hasattr(model, "predict_proba"):
        raise LearnerError(
            f"The classifier given as '{name}' ({type(model).__name__}) has no predict_proba; expected "
            "outcomes need probabilities. Use a probabilistic classifier or a regressor."
        )


# ---------------------------------------------------------------------- base learner
class _CATELearner(BaseEstimator):
    """Shared validation and prediction plumbing of the meta-learners."""

    def _outcome_template(self) -> Any:
        _check_model("estimator", self.estimator)
        return default_estimator() if self.estimator is None else self.estimator

    def _final_template(self) -> Any:
        final = getattr(self, "final_estimator", None)
        _check_model("final_estimator", final, regressor_only=True)
        if final is not None:
            return final
        if self.estimator is not None and not is_classifier(self.estimator):
            return self.estimator
        return default_estimator()

    def _validate_fit(self, X: Any, treatment: Any, y: Any, propensity: Any):
        X = validate_data(self, X, reset=True, dtype=np.float64, ensure_all_finite="allow-nan")
        n = X.shape[0]
        treatment = np.asarray(treatment)
        if treatment.ndim != 1 or treatment.shape[0] != n:
            raise LearnerError(
                f"'treatment' must be 1-D with one arm per row of X ({n}); got shape {treatment.shape}."
            )
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1 or y.shape[0] != n:
            raise LearnerError(f"'y' must be 1-D with one outcome per row of X ({n}); got shape {y.shape}.")
        if not np.isfinite(y).all():
            raise LearnerError("'y' holds NaN or infinite outcomes; drop or fill those rows first.")
        arms, t = np.unique(treatment, return_inverse=True)
        if arms.size < 2:
            raise LearnerError(f"'treatment' holds a single arm ({arms.tolist()}); a CATE needs at least two.")
        if self.control is None:
            c = 0
        else:
            hits = np.flatnonzero(arms == self.control)
            if hits.size == 0:
                raise LearnerError(
                    f"The 'control' parameter {self.control!r} is not an arm of 'treatment'. Arms: {arms.tolist()}."
                )
            c = int(hits[0])
        counts = np.bincount(t, minlength=arms.size)
        if counts.min() < 2:
            raise LearnerError(
                f"Arm {arms[counts.argmin()]!r} has {counts.min()} customer(s); each arm needs at least 2 "
                "to fit a model."
            )
        if propensity is None:
            e = (counts / n)[t]
        else:
            e = np.asarray(propensity, dtype=np.float64)
            if e.ndim == 2 and e.shape == (n, arms.size):
                e = e[np.arange(n), t]
            if e.shape != (n,) or not np.isfinite(e).all() or (e <= 0).any() or (e > 1).any():
                raise LearnerError(
                    "'propensity' must be None, an (n,) array with each row's probability of the arm it "
                    f"received, or an (n, n_arms) matrix, with values in (0, 1]; got shape {e.shape}."
                )
        self.arms_ = arms
        self.control_index_ = c
        return X, t, y, e

    def _check_predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan")

    def predict_outcome(self, X: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def effect(self, X: Any) -> np.ndarray:
        """``(n, n_arms)`` effects ``tau_j(x)`` against the control (its column is 0)."""
        mu = self.predict_outcome(X)
        return mu - mu[:, [self.control_index_]]

    def predict(self, X: Any) -> np.ndarray:
        """Same as :meth:`effect`: the CATE of every arm against the control."""
        return self.effect(X)


class _EffectLearner(_CATELearner):
    """A meta-learner that models the effects against the control directly (X-, DR-learner):
    expected outcomes are the control's outcome model plus the effects."""

    def _effect(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        """``(n, n_arms)`` effects of validated features (the control's column is 0)."""
        raise NotImplementedError

    def _control_outcome(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        """``(n,)`` expected outcome under the control of validated features."""
        raise NotImplementedError

    def effect(self, X: Any) -> np.ndarray:
        """``(n, n_arms)`` effects ``tau_j(x)`` against the control (its column is 0)."""
        return self._effect(self._check_predict(X))

    def predict_outcome(self, X: Any) -> np.ndarray:
        """``(n, n_arms)`` expected outcomes ``mu_c(x) + tau_j(x)``."""
        X = self._check_predict(X)
        return self._control_outcome(X)[:, None] + self._effect(X)


# ---------------------------------------------------------------------- S-learner
class SLearner(_CATELearner):
    """S-learner: one model of the outcome with the arm as an extra input.

    .. math::  \\hat\\mu(x, a), \\qquad \\hat\\tau_j(x) = \\hat\\mu(x, j) - \\hat\\mu(x, c)

    The arm enters as its numeric level (ordered treatments such as a discount depth) or
    as one-hot indicators (labelled arms). Cheap, and strong when effects are small
    relative to the outcome, but regularization can shrink effects toward zero
    (Künzel et al. 2019, section 2).

    Parameters
    ----------
    estimator : estimator, default=None
        The one outcome model, of the features and the arm (regressor, or classifier for a
        discrete outcome). ``None``: :func:`default_estimator`.
    control : label or number, default=None
        The control arm; ``None``: the first arm in sorted order.
    treatment_encoding : {"auto", "level", "onehot"}, default="auto"
        ``"auto"``: the level for numeric arms, one-hot for labels.
    level_monotonic : {None, 1, -1}, default=None
        With the ``"level"`` encoding: constrain the outcome to rise (1) or fall (-1) with
        the level, e.g. sales never fall as a discount deepens. Needs a base model with a
        ``monotonic_cst`` parameter (histogram gradient boosting); other features stay free.
        Only with ``level_model="free"``.
    level_model : {"free", "logit"}, default="free"
        How the outcome depends on a numeric level ``d``.

        - ``"free"``: ``d`` is one more input of ``estimator``, which may shape the response
          to the level as it likes (a tree model gives a step function of ``d``).
        - ``"logit"``: a varying-coefficient hurdle model, smooth in ``d`` by construction
          (``learner="smooth"``):

          .. math::

              \\hat\\mu(x, d) = \\sigma\\big(f(x) + g(x)\\, d\\big)\\;
              \\hat m(x, d), \\qquad
              \\hat m(x, d) \\approx E[Y \\mid Y \\neq 0, x, d],

          where the chance of a non-zero outcome (a purchase) is logistic in the level with
          a customer-specific intercept ``f(x)`` and slope ``g(x)``, both additive cubic
          splines of the features' quantile ranks (``n_knots`` knots each; ranks keep
          skewed features such as spend or recency from crowding into one knot interval
          and leave binary features binary), fitted jointly by
          an L2-penalized logistic regression (inverse penalty ``C``) on the basis, the
          basis times ``d``, and ``d``; ``estimator`` models the size of the non-zero
          outcomes from ``[x, d]``. Every customer's response to the level is a
          two-parameter curve, so the model cannot follow noise from one arm to the next:
          the errors it makes are shared across levels, which is what the argmax over
          levels in step 2 needs. This is the logit demand model of pricing and promotion
          response (e.g. Train 2009, ch. 3) with heterogeneity in both coefficients.
          Needs numeric arms (``treatment_encoding`` ``"auto"`` or ``"level"``). If no
          outcome is zero the logistic part is skipped (probability 1) and the model is the
          ``"free"`` one.
    n_knots : int, default=5
        Knots of each feature's spline (``level_model="logit"`` only).
    C : float, default=0.1
        Inverse L2 penalty of the logistic part (``level_model="logit"`` only), on
        standardized columns. ``n_knots`` and ``C`` were chosen on ``make_promotions``
        data seeds 0 to 5 (``docs/estimation.md``).

    Attributes
    ----------
    arms_ : ndarray of shape (n_arms,)
    control_index_ : int
    model_ : estimator
        The outcome model; with ``level_model="logit"`` the model of the non-zero outcomes.
    event_model_ : LogisticRegression or None
        ``level_model="logit"`` only: the model of ``P(Y != 0 | x, d)`` (``None`` when every
        outcome is non-zero, or every outcome is zero).
    basis_ : Pipeline
        ``level_model="logit"`` only: quantile ranks and spline basis of the features.
    n_features_in_ : int
    feature_names_in_ : ndarray of str (when X has column names)

    References
    ----------
    Hastie & Tibshirani (1993). Varying-coefficient models. JRSS B 55(4), 757-796.

    Train (2009). Discrete Choice Methods with Simulation, 2nd ed. Cambridge University Press.
    """

    def __init__(self, estimator=None, *, control=None, treatment_encoding="auto", level_monotonic=None,
                 level_model="free", n_knots=5, C=0.1):
        self.estimator = estimator
        self.control = control
        self.treatment_encoding = treatment_encoding
        self.level_monotonic = level_monotonic
        self.level_model = level_model
        self.n_knots = n_knots
        self.C = C

    def _augment(self, X: np.ndarray, j: int) -> np.ndarray:
        if self.encoding_ == "level":
            col = np.full((X.shape[0], 1), float(self.arms_[j]))
        else:
            col = np.zeros((X.shape[0], self.arms_.size))
            col[:, j] = 1.0
        return np.hstack([X, col])

    def fit(self, X, treatment, y, propensity=None):
        """Fit the outcome model on ``[X, encoded arm]``. Returns ``self``."""
        if self.treatment_encoding not in ("auto", "level", "onehot"):
            raise LearnerError(
                "The 'treatment_encoding' parameter of SLearner must be one of ['auto', 'level', 'onehot']. "
                f"Got {self.treatment_encoding!r} instead."
            )
        X, t, y, _ = self._validate_fit(X, treatment, y, propensity)
        numeric = np.issubdtype(self.arms_.dtype, np.number)
        encoding = self.treatment_encoding
        if encoding == "auto":
            encoding = "level" if numeric else "onehot"
        if encoding == "level" and not numeric:
            raise LearnerError("treatment_encoding='level' needs numeric arms; these are labels. Use 'onehot'.")
        self.encoding_ = encoding
        template = self._outcome_template()
        if self.level_model not in ("free", "logit"):
            raise LearnerError(
                f"The 'level_model' parameter of SLearner must be one of ['free', 'logit']. Got {self.level_model!r} "
                "instead."
            )
        if self.level_model == "logit":
            return self._fit_logit(X, t, y, template)
        if self.level_monotonic is not None:
            if self.level_monotonic not in (1, -1) or isinstance(self.level_monotonic, bool):
                raise LearnerError(
                    "The 'level_monotonic' parameter of SLearner must be None, 1 or -1. "
                    f"Got {self.level_monotonic!r} instead."
                )
            if encoding != "level":
                raise LearnerError("level_monotonic needs numeric arms with treatment_encoding='level'.")
            if "monotonic_cst" not in template.get_params():
                raise LearnerError(
                    f"level_monotonic needs a base model with a 'monotonic_cst' parameter (e.g. "
                    f"HistGradientBoostingRegressor); {type(template).__name__} has none."
                )
            template = clone(template).set_params(monotonic_cst=[0] * X.shape[1] + [int(self.level_monotonic)])
        if encoding == "level":
            Z = np.hstack([X, self.arms_[t].astype(np.float64)[:, None]])
        else:
            Z = np.hstack([X, np.eye(self.arms_.size)[t]])
        self.model_ = _fit_model(template, Z, y)
        return self

    def _fit_logit(self, X: np.ndarray, t: np.ndarray, y: np.ndarray, template: Any) -> "SLearner":
        """``level_model="logit"``: logistic chance of a non-zero outcome in the level, times its size."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import QuantileTransformer, SplineTransformer, StandardScaler

        if self.encoding_ != "level":
            raise LearnerError("level_model='logit' needs numeric arms with treatment_encoding='level'.")
        if self.level_monotonic is not None:
            raise LearnerError("level_monotonic applies to level_model='free' only; under level_model='logit' the "
                               "chance of a non-zero outcome is monotone in the level for each customer by "
                               "construction (the sign of g(x)).")
        if isinstance(self.n_knots, bool) or not isinstance(self.n_knots, numbers.Integral) or self.n_knots < 2:
            raise LearnerError(f"The 'n_knots' parameter of SLearner must be an int >= 2. Got {self.n_knots!r} instead.")
        if isinstance(self.C, bool) or not isinstance(self.C, numbers.Real) or not self.C > 0:
            raise LearnerError(f"The 'C' parameter of SLearner must be a float > 0. Got {self.C!r} instead.")
        d = self.arms_[t].astype(np.float64)
        event = y != 0
        self.basis_ = make_pipeline(
            QuantileTransformer(n_quantiles=min(200, X.shape[0]), random_state=0),
            SplineTransformer(n_knots=int(self.n_knots), degree=3, extrapolation="linear"),
        ).fit(X)
        if event.all() or not event.any():  # the chance of a non-zero outcome is 1 (or 0: size model is 0)
            self.event_model_ = None
        else:
            design = self._logit_design(X, d)
            self.design_scaler_ = StandardScaler().fit(design)
            with _single_threaded():
                self.event_model_ = LogisticRegression(C=float(self.C), max_iter=2000).fit(
                    self.design_scaler_.transform(design), event)
        Z = np.hstack([X, d[:, None]])
        if event.any():
            self.model_ = _fit_model(template, Z[event], y[event])
        else:  # every outcome is zero: nothing but the (zero) probability to model
            self.model_ = DummyRegressor(strategy="constant", constant=0.0).fit(Z[:1], y[:1])
        return self

    def _logit_design(self, X: np.ndarray, d: np.ndarray) -> np.ndarray:
        B = self.basis_.transform(X)
        return np.hstack([B, B * d[:, None], d[:, None]])

    def predict_outcome(self, X):
        """``(n, n_arms)`` expected outcome under every arm."""
        X = self._check_predict(X)
        if self.level_model != "logit":
            return np.column_stack([_predict_model(self.model_, self._augment(X, j)) for j in range(self.arms_.size)])
        out = []
        for j in range(self.arms_.size):
            d = np.full(X.shape[0], float(self.arms_[j]))
            size = _predict_model(self.model_, np.hstack([X, d[:, None]]))
            if self.event_model_ is not None:
                size = size * self.event_model_.predict_proba(self.design_scaler_.transform(self._logit_design(X, d)))[:, 1]
            out.append(size)
        return np.column_stack(out)


# ---------------------------------------------------------------------- T-learner
class TLearner(_CATELearner):
    """T-learner: one outcome model per arm, fitted on that arm's customers only.

    .. math::  \\hat\\mu_j = \\text{fit}(X_{A=j}, Y_{A=j}), \\qquad
               \\hat\\tau_j(x) = \\hat\\mu_j(x) - \\hat\\mu_c(x)

    Simple and unbiased in each arm's own data; effects inherit the noise of two separate
    fits (Künzel et al. 2019, section 2).

    Parameters
    ----------
    estimator : estimator, default=None
        Outcome model, cloned and fitted once per arm (regressor, or classifier for a
        discrete outcome). ``None``: :func:`default_estimator`.
    control : label or number, default=None
        The control arm; ``None``: the first arm in sorted order.

    Attributes
    ----------
    arms_ : ndarray of shape (n_arms,)
    control_index_ : int
    models_ : list of estimators, one per arm
    n_features_in_ : int
    feature_names_in_ : ndarray of str (when X has column names)
    """

    def __init__(self, estimator=None, *, control=None):
        self.estimator = estimator
        self.control = control

    def fit(self, X, treatment, y, propensity=None):
        """Fit one outcome model per arm. Returns ``self``."""
        X, t, y, _ = self._validate_fit(X, treatment, y, propensity)
        template = self._outcome_template()
        self.models_ = [_fit_model(template, X[t == j], y[t == j]) for j in range(self.arms_.size)]
        return self

    def predict_outcome(self, X):
        """``(n, n_arms)`` expected outcome under every arm."""
        X = self._check_predict(X)
        return np.column_stack([_predict_model(m, X) for m in self.models_])


# ---------------------------------------------------------------------- X-learner
class XLearner(_EffectLearner):
    """X-learner: T-learner outcome models, then models of imputed individual effects.

    For each arm ``j`` against control ``c``:

    .. math::

        D^1_i = Y_i - \\hat\\mu_c(x_i) \\ (A_i = j), \\qquad
        D^0_i = \\hat\\mu_j(x_i) - Y_i \\ (A_i = c),

        \\hat\\tau_j(x) = g_j\\, \\hat\\tau^0_j(x) + (1 - g_j)\\, \\hat\\tau^1_j(x),
        \\qquad g_j = e_j / (e_j + e_c),

    where ``tau^1_j`` / ``tau^0_j`` regress ``D^1`` / ``D^0`` on x and ``e`` are the arms'
    assignment probabilities (their means in the training data). The imputed effects of
    one group use the other group's model, so they are out of sample. Expected outcomes are
    ``mu_c(x) + tau_j(x)``. Strong when arms are unbalanced or effects are simpler than
    outcomes (Künzel et al. 2019, section 3).

    Parameters
    ----------
    estimator : estimator, default=None
        First-stage outcome model (regressor, or classifier for a discrete outcome).
        ``None``: :func:`default_estimator`.
    final_estimator : regressor, default=None
        Model of the imputed effects. ``None``: ``estimator`` if it is a regressor, else
        :func:`default_estimator`.
    control : label or number, default=None
        The control arm; ``None``: the first arm in sorted order.

    Attributes
    ----------
    arms_, control_index_, n_features_in_, feature_names_in_
    models_ : list of estimators, the first-stage outcome model of every arm
    effect_models_ : dict ``j -> (tau0_model, tau1_model)`` for every non-control arm index
    weights_ : ndarray of shape (n_arms,), ``g_j`` (0 for the control)
    """

    def __init__(self, estimator=None, *, final_estimator=None, control=None):
        self.estimator = estimator
        self.final_estimator = final_estimator
        self.control = control

    def fit(self, X, treatment, y, propensity=None):
        """Fit the outcome models, then the two effect models of every arm. Returns ``self``."""
        X, t, y, e = self._validate_fit(X, treatment, y, propensity)
        outcome, final = self._outcome_template(), self._final_template()
        k, c = self.arms_.size, self.control_index_
        self.models_ = [_fit_model(outcome, X[t == j], y[t == j]) for j in range(k)]
        in_c = t == c
        e_c = e[in_c].mean()
        self.effect_models_ = {}
        self.weights_ = np.zeros(k)
        for j in range(k):
            if j == c:
                continue
            in_j = t == j
            d1 = y[in_j] - _predict_model(self.models_[c], X[in_j])
            d0 = _predict_model(self.models_[j], X[in_c]) - y[in_c]
            self.effect_models_[j] = (_fit_model(final, X[in_c], d0), _fit_model(final, X[in_j], d1))
            e_j = e[in_j].mean()
            self.weights_[j] = e_j / (e_j + e_c)
        return self

    def _effect(self, X: np.ndarray) -> np.ndarray:
        tau = np.zeros((X.shape[0], self.arms_.size))
        for j, (m0, m1) in self.effect_models_.items():
            g = self.weights_[j]
            tau[:, j] = g * _predict_model(m0, X) + (1.0 - g) * _predict_model(m1, X)
        return tau

    def _control_outcome(self, X: np.ndarray) -> np.ndarray:
        return _predict_model(self.models_[self.control_index_], X)


# ---------------------------------------------------------------------- DR-learner
class DRLearner(_EffectLearner):
    """DR-learner: regress doubly robust pseudo-outcomes on the features.

    With cross-fitted outcome models ``mu_j`` (fitted on other folds of the training data)
    and known assignment probabilities ``e_j(x)``, the AIPW pseudo-outcome of arm ``j`` is

    .. math::

        \\varphi_j(Z_i) = \\hat\\mu_j(x_i) + \\frac{1\\{A_i = j\\}}{e_j(x_i)}(Y_i - \\hat\\mu_j(x_i)),

    unbiased for ``mu_j(x_i)`` whenever the propensities are right (true by design in a
    randomized experiment), however wrong ``mu_j`` is. The effect model regresses
    ``phi_j - phi_c`` on x, and the control outcome model regresses ``phi_c`` on x;
    expected outcomes are ``mu_c(x) + tau_j(x)``. Its error is that of an oracle regression
    plus a product of nuisance errors (Kennedy 2023, Theorem 2); the price is the variance
    of inverse-probability weights (about ``n_arms`` here).

    Parameters
    ----------
    estimator : estimator, default=None
        Outcome (nuisance) model. ``None``: :func:`default_estimator`.
    final_estimator : regressor, default=None
        Model of the pseudo-outcomes. ``None``: ``estimator`` if it is a regressor, else
        :func:`default_estimator`.
    control : label or number, default=None
        The control arm; ``None``: the first arm in sorted order.
    cv : int, default=3
        Folds used to cross-fit the outcome models inside ``fit`` (>= 2).
    random_state : int, RandomState or None, default=None
        Seeds the fold split.

    Attributes
    ----------
    arms_, control_index_, n_features_in_, feature_names_in_
    control_model_ : estimator, regression of ``phi_c`` on x
    effect_models_ : dict ``j -> estimator`` for every non-control arm index
    """

    def __init__(self, estimator=None, *, final_estimator=None, control=None, cv=3, random_state=None):
        self.estimator = estimator
        self.final_estimator = final_estimator
        self.control = control
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, treatment, y, propensity=None):
        """Cross-fit outcome models, form pseudo-outcomes, fit the final models. Returns ``self``."""
        if isinstance(self.cv, bool) or not isinstance(self.cv, numbers.Integral) or self.cv < 2:
            raise LearnerError(
                f"The 'cv' parameter of DRLearner must be an int in the range [2, inf). Got {self.cv!r} instead."
            )
        X, t, y, e = self._validate_fit(X, treatment, y, propensity)
        outcome, final = self._outcome_template(), self._final_template()
        k, c = self.arms_.size, self.control_index_
        mu = _cross_fit_outcomes(outcome, X, t, y, k, self.cv, self.random_state)
        onehot = np.eye(k)[t]
        phi = mu + onehot * ((y[:, None] - mu) / e[:, None])
        self.control_model_ = _fit_model(final, X, phi[:, c])
        self.effect_models_ = {j: _fit_model(final, X, phi[:, j] - phi[:, c]) for j in range(k) if j != c}
        return self

    def _effect(self, X: np.ndarray) -> np.ndarray:
        tau = np.zeros((X.shape[0], self.arms_.size))
        for j, m in self.effect_models_.items():
            tau[:, j] = _predict_model(m, X)
        return tau

    def _control_outcome(self, X: np.ndarray) -> np.ndarray:
        return _predict_model(self.control_model_, X)


def _cross_fit_outcomes(template, X, t, y, k, cv, random_state) -> np.ndarray:
    """Out-of-fold ``(n, k)`` outcome predictions of per-arm models (folds stratified by arm)."""
    counts = np.bincount(t, minlength=k)
    if counts.min() < 2 * cv:
        raise LearnerError(
            f"An arm has {counts.min()} customer(s); the DRLearner's inner cross-fitting with cv = {cv} needs "
            f"at least {2 * cv} per arm. Lower cv or collect more data."
        )
    splits = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state).split(X, t)
    mu = np.empty((X.shape[0], k))
    for train, test in splits:
        tt = t[train]
        for j in range(k):
            model = _fit_model(template, X[train][tt == j], y[train][tt == j])
            mu[test, j] = _predict_model(model, X[test])
    return mu


# ---------------------------------------------------------------------- cross-fitting
class CrossFitLearner(BaseEstimator):
    """Cross-fitting wrapper: out-of-fold predictions of any CATE learner.

    The customers are split into ``cv`` folds, stratified by arm. For each fold a clone of
    ``learner`` is fitted on the other folds and predicts the held-out fold, so every
    customer's prediction (``oof_outcome_``) comes from a model that never saw that
    customer (Chernozhukov et al. 2018). Why it matters here: step 2 picks, for each
    customer, the *largest* of m estimated profits. With in-sample predictions a model that
    has fitted a customer's own noise tilts that argmax toward the arm the customer
    happened to receive and happened to respond to, so the chosen treatments look better
    than they are (the winner's curse) and the selection itself overfits. Out-of-fold
    predictions carry no such dependence.

    New customers are predicted by the average of the ``cv`` fold models (no refit).

    Parameters
    ----------
    learner : CATE learner, default=None
        ``None``: ``TLearner()`` with :func:`default_estimator`.
    cv : int or None, default=5
        Number of folds (>= 2). ``None``: fit once on all customers and predict them in
        sample (faster, optimistic; not recommended for step 2).
    random_state : int, RandomState or None, default=None
        Seeds the fold split.
    n_jobs : int or None, default=None
        Folds fitted in parallel (joblib). Base models run single-threaded inside each fold.

    Attributes
    ----------
    estimators_ : list of fitted learners, one per fold
    folds_ : ndarray of int, shape (n,), the fold of each training customer (-1 when cv=None)
    oof_outcome_ : ndarray of shape (n, n_arms), out-of-fold expected outcomes
    arms_, control_index_, n_features_in_, feature_names_in_
    """

    def __init__(self, learner=None, *, cv=5, random_state=None, n_jobs=None):
        self.learner = learner
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, treatment, y, propensity=None, *, folds=None, fitted=None):
        """Fit one learner per fold and store out-of-fold predictions. Returns ``self``.

        ``folds`` (optional, one fold label per row) replaces the seeded stratified split;
        ``fitted`` (optional, with ``folds``) gives the learners already fitted on the other
        folds, one per fold in sorted fold order, so that nested cross-fitting can share fits
        (see :func:`coarseopt.estimation.nested_cross_fit`); with ``cv=None``, the one learner
        already fitted on every row.
        """
        from joblib import Parallel, delayed

        if self.cv is not None and (isinstance(self.cv, bool) or not isinstance(self.cv, numbers.Integral) or self.cv < 2):
            raise LearnerError(
                f"The 'cv' parameter must be an int in the range [2, inf) or None. Got {self.cv!r} instead. "
                "Use cv=None only to predict in sample."
            )
        learner = TLearner() if self.learner is None else self.learner
        if not (hasattr(learner, "fit") and hasattr(learner, "predict_outcome")):
            raise LearnerError(
                f"The 'learner' parameter must be a CATE learner with fit(X, treatment, y) and "
                f"predict_outcome(X). Got {describe(learner)} instead."
            )
        Xv = validate_data(self, X, reset=True, dtype=np.float64, ensure_all_finite="allow-nan")
        treatment = np.asarray(treatment)
        y = np.asarray(y, dtype=np.float64)
        n = Xv.shape[0]
        if treatment.shape != (n,) or y.shape != (n,):
            raise LearnerError(
                f"'treatment' and 'y' must be 1-D with {n} entries (one per row of X); got shapes "
                f"{treatment.shape} and {y.shape}."
            )
        arms, t = np.unique(treatment, return_inverse=True)
        Xin = X if hasattr(X, "iloc") else Xv
        take = (lambda rows: Xin.iloc[rows]) if hasattr(Xin, "iloc") else (lambda rows: Xin[rows])
        prop = None if propensity is None else np.asarray(propensity, dtype=np.float64)
        sub = (lambda rows: None) if prop is None else (lambda rows: prop[rows])
        if self.cv is None:
            if fitted is not None and len(fitted) != 1:
                raise LearnerError(f"'fitted' holds {len(fitted)} learners; cv=None takes one, fitted on every row.")
            fitted = fit_fold(learner, X, treatment, y, prop) if fitted is None else fitted[0]
            self.estimators_ = [fitted]
            self.folds_ = np.full(n, -1)
            with _single_threaded():
                self.oof_outcome_ = fitted.predict_outcome(X)
        else:
            if folds is None:
                counts = np.bincount(t, minlength=arms.size)
                if counts.min() < 2 * self.cv:
                    raise LearnerError(
                        f"Arm {arms[counts.argmin()]!r} has {counts.min()} customer(s); cross-fitting with "
                        f"cv = {self.cv} needs at least {2 * self.cv} per arm. Lower cv or collect more data."
                    )
                splitter = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
                splits = list(splitter.split(Xv, t))
            else:
                folds = np.asarray(folds)
                if folds.shape != (n,):
                    raise LearnerError(f"'folds' must give one fold per row ({n}); got shape {folds.shape}.")
                labels = np.unique(folds)
                if labels.size < 2:
                    raise LearnerError(f"'folds' must hold at least two folds; got {labels.tolist()}.")
                splits = [(np.flatnonzero(folds != v), np.flatnonzero(folds == v)) for v in labels]
            if fitted is None:
                fitted = Parallel(n_jobs=self.n_jobs)(
                    delayed(fit_fold)(learner, take(tr), treatment[tr], y[tr], sub(tr)) for tr, _ in splits
                )
            elif len(fitted) != len(splits):
                raise LearnerError(f"'fitted' holds {len(fitted)} learners for {len(splits)} folds.")
            self.estimators_ = list(fitted)
            self.folds_ = np.empty(n, dtype=np.intp)
            oof = None
            for f, ((_, te), est) in enumerate(zip(splits, fitted)):
                with _single_threaded():
                    pred = est.predict_outcome(take(te))
                if oof is None:
                    oof = np.empty((n, pred.shape[1]))
                oof[te] = pred
                self.folds_[te] = f
            self.oof_outcome_ = oof
        first = self.estimators_[0]
        self.arms_ = first.arms_
        self.control_index_ = first.control_index_
        return self

    def predict_outcome(self, X):
        """``(n, n_arms)`` expected outcomes of new customers: the mean over fold models."""
        check_is_fitted(self)
        validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan")
        with _single_threaded():
            return np.mean([est.predict_outcome(X) for est in self.estimators_], axis=0)

    def effect(self, X):
        """``(n, n_arms)`` effects against the control for new customers (mean over folds)."""
        mu = self.predict_outcome(X)
        return mu - mu[:, [self.control_index_]]

    def predict(self, X):
        """Same as :meth:`effect`."""
        return self.effect(X)


def fit_fold(learner, X, treatment, y, propensity):
    """A clone of ``learner`` fitted on these customers, single-threaded (folds run in parallel)."""
    with _single_threaded():
        return clone(learner).fit(X, treatment, y, propensity)


def _single_threaded():
    """Base models run on one OpenMP/BLAS thread: parallelism comes from folds (``n_jobs``).

    Gradient boosting on a few thousand rows gains little from threads, and on a loaded
    machine its OpenMP threads oversubscribe the cores (one fit measured 100x slower).
    """
    from coarseopt.threads import single_threaded

    return single_threaded()


#: Learner names accepted by :func:`make_learner` and ``estimate_profit(learner=...)``.
#: ``"smooth"`` is ``SLearner(level_model="logit")`` (numeric levels only).
LEARNERS = {"s": SLearner, "t": TLearner, "x": XLearner, "dr": DRLearner, "smooth": SLearner}

#: Parameters that a learner name sets beyond its class's defaults.
_NAME_PARAMS = {"smooth": {"level_model": "logit"}}


def make_learner(name: Any, estimator: Any = None, *, control: Any = None, random_state: Any = None):
    """A learner from a name (``"s"``, ``"t"``, ``"x"``, ``"dr"``, ``"smooth"``) or a learner object.

    ``estimator`` becomes the learner's base model; a learner object is cloned and its
    ``control`` set. ``"smooth"`` is ``SLearner(level_model="logit")``.
    """
    if name is None:
        name = "t"
    if isinstance(name, str):
        key = name.lower().replace("-learner", "").replace("learner", "").strip("-_ ")
        if key not in LEARNERS:
            raise LearnerError(
                f"The 'learner' parameter must be one of {['auto', *sorted(LEARNERS)]} or a CATE learner object. "
                f"Got {name!r} instead."
            )
        cls = LEARNERS[key]
        kwargs = {"control": control, **_NAME_PARAMS.get(key, {})}
        if cls is DRLearner:
            kwargs["random_state"] = random_state
        return cls(estimator, **kwargs)
    if not (hasattr(name, "fit") and hasattr(name, "predict_outcome") and hasattr(name, "get_params")):
        raise LearnerError(
            f"The 'learner' parameter must be one of {sorted(LEARNERS)} or a CATE learner object with "
            f"fit(X, treatment, y) and predict_outcome(X). Got {describe(name)} instead."
        )
    learner = clone(name)
    params = learner.get_params(deep=False)
    update = {}
    if "control" in params:
        update["control"] = control
    if estimator is not None and "estimator" in params:
        update["estimator"] = estimator
    return learner.set_params(**update)
