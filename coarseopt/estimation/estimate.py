"""Step 1 end to end: experiment -> cross-fitted outcome models -> profit matrix."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ._errors import EconomicsError, ExperimentError, describe
from .economics import Economics
from .experiment import Experiment

__all__ = ["estimate_profit", "ProfitEstimate", "LazyProfit", "DEFAULT_LEARNER", "PolicyValue"]

#: The learner used when ``estimate_profit(learner=None)``: ``"auto"`` is the smooth
#: S-learner (``"smooth"``, ``SLearner(level_model="logit")``) for numeric levels (a
#: two-parameter logistic response to the level per customer: it recovered the most of the
#: true coarse optimum on ``make_promotions``, on the tuning seeds and on the benchmark's)
#: and the T-learner for labelled arms (the S-learner shrank the small Hillstrom e-mail
#: effects toward zero, the T-learner matched their AIPW estimates). Evidence:
#: ``python -m benchmarks.estimation``, ``docs/estimation.md``.
DEFAULT_LEARNER = "auto"


def resolve_learner(learner: Any, experiment: Experiment) -> Any:
    """``None`` / ``"auto"``: ``"smooth"`` for numeric levels, ``"t"`` for labelled arms."""
    if learner is None:
        learner = DEFAULT_LEARNER
    if isinstance(learner, str) and learner.lower() == "auto":
        return "smooth" if experiment.is_numeric else "t"
    return learner


@dataclass(frozen=True)
class PolicyValue:
    """Doubly robust (AIPW) estimate of a policy's mean incremental profit per customer.

    Attributes
    ----------
    estimate : float
        ``mean_i [Gamma_i(pi(x_i)) - Gamma_i(c)]`` with AIPW scores ``Gamma`` (see
        :meth:`ProfitEstimate.policy_value`).
    se : float
        Its standard error, ``std(score) / sqrt(n)``.
    n : int
        Number of customers it averages over.
    """

    estimate: float
    se: float
    n: int

    @property
    def ci(self) -> tuple[float, float]:
        """Normal 95% confidence interval."""
        return self.estimate - 1.959963984540054 * self.se, self.estimate + 1.959963984540054 * self.se


@dataclass(frozen=True, eq=False)
class ProfitEstimate:
    """Estimated incremental profit of every customer under every candidate treatment.

    Returned by :func:`estimate_profit`; feed it to step 2 with :meth:`to_problem`.

    Attributes
    ----------
    profit : pandas.DataFrame, shape (n, m)
        ``profit[i, t]``: expected profit of offering treatment ``t`` to customer ``i``
        minus that of the control, from the economics and the predicted outcomes. Rows are
        indexed like the experiment's data, columns are the treatment labels or sorted levels
        (arms, plus grid levels between arms). The control column is 0.
    outcome : pandas.DataFrame, shape (n, m)
        Predicted outcome under every treatment (interpolated linearly between arm levels).
    treatments : ndarray of float or None
        Numeric level of every column (``None`` when arms are labels).
    arms : tuple
        Labels of the columns that were experiment arms.
    arm_columns : ndarray of int
        Their positions among the columns.
    control : label or number
    features : pandas.DataFrame
        The encoded features of the customers (numeric), as used by the models.
    learner : CrossFitLearner
        The fitted learner (one CATE learner per fold).
    economics : Economics
    experiment : Experiment or None
        The customers' experiment data, when known (needed by :meth:`policy_value`).
    out_of_fold : bool
        Whether each customer's predictions come from models that did not see the customer.
    arm_outcome : ndarray of shape (n, n_arms)
        Predicted outcome under each arm (before interpolation), columns in ``arms`` order.
    arm_effects : pandas.DataFrame
        Per arm: customers, mean predicted incremental profit, its doubly robust (AIPW)
        estimate from the data and the standard error of that estimate. A predicted mean
        many standard errors away from the AIPW estimate flags a biased model. Empty when
        outcomes are unknown.
    encoder : Experiment or None
        The training experiment, whose feature encoding new customers get in :meth:`predict`.
    """

    profit: pd.DataFrame
    outcome: pd.DataFrame
    treatments: np.ndarray | None
    arms: tuple
    arm_columns: np.ndarray
    control: Any
    features: pd.DataFrame
    learner: Any
    economics: Economics
    experiment: Experiment | None
    out_of_fold: bool
    arm_outcome: np.ndarray = field(repr=False)
    arm_effects: pd.DataFrame = field(repr=False)
    encoder: Experiment | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ step 2
    def spend(self) -> pd.DataFrame:
        """Expected spend of every customer under every treatment (rows and columns as
        :attr:`profit`): the economics' fixed cost plus its proportional cost times the
        predicted outcome (:meth:`Economics.spend_matrix`). The ``cost`` of a budgeted
        problem: ``est.to_problem(k, cost=est.spend(), budget=...)``."""
        numeric = self.treatments is not None
        S = self.economics.spend_matrix(self.outcome.to_numpy(), list(self.profit.columns), numeric=numeric)
        return pd.DataFrame(S, index=self.profit.index, columns=self.profit.columns)

    def to_problem(self, k: int, **problem_kwargs: Any):
        """The step-2 :class:`~coarseopt.CoarseProblem`: offer at most ``k`` of the columns.

        ``treatments`` (numeric levels), ``features`` and ``arms`` are filled in; further
        keyword arguments (``min_share``, ``max_share``) are passed on.
        """
        from coarseopt.problem import CoarseProblem

        kwargs = {"treatments": self.treatments, "features": self.features, "arms": list(self.arm_columns)}
        kwargs.update(problem_kwargs)
        return CoarseProblem(self.profit, k, **kwargs)

    def _offered_columns(self, offered: Any) -> np.ndarray:
        labels = list(self.profit.columns)
        if hasattr(offered, "offered") and hasattr(offered, "assignment"):  # a SolveResult
            idx = np.asarray(offered.offered, dtype=np.intp)
            result_labels = tuple(getattr(offered, "treatment_labels", ()) or ())
            unnamed = result_labels == tuple(range(len(result_labels)))  # a problem built from an array
            if result_labels and (len(result_labels) != len(labels) or (not unnamed and list(result_labels) != labels)):
                raise ExperimentError(
                    "The SolveResult was computed on other columns than this estimate's "
                    f"({list(result_labels)[:8]} vs {labels[:8]}); solve est.to_problem(k) of an "
                    "estimate with the same treatments (same arms and grid)."
                )
            if idx.size == 0 or idx.max() >= len(labels):
                raise ExperimentError(f"The SolveResult offers columns {idx.tolist()} outside 0..{len(labels) - 1}.")
            return idx
        if isinstance(offered, (str, numbers.Number)):
            offered = [offered]
        out = []
        for t in list(offered):
            hits = [j for j, lab in enumerate(labels) if lab == t or (
                self.treatments is not None and isinstance(t, numbers.Real) and np.isclose(lab, t))]
            if not hits:
                raise ExperimentError(
                    f"'offered' holds {describe(t)}, which is not a treatment of this estimate. "
                    f"Treatments: {labels[:20]}."
                )
            out.append(hits[0])
        if not out:
            raise ExperimentError("'offered' is empty; offer at least one treatment.")
        return np.array(sorted(set(out)), dtype=np.intp)

    def assign(self, offered: Any) -> pd.Series:
        """Each customer's most profitable treatment among ``offered``.

        Parameters
        ----------
        offered : SolveResult or sequence of treatment labels / levels
            A result of :func:`coarseopt.solve` on ``to_problem`` of an estimate with the
            same columns (e.g. learned on training customers), or the treatments themselves.

        Returns
        -------
        pandas.Series
            The assigned treatment (column label) of every customer, indexed like ``profit``.
            Ties go to the first column.

        Notes
        -----
        This is the pointwise rule (best offered treatment per customer). A result solved with
        share bounds assigns its own customers differently: use ``result.assignment`` there.
        """
        cols = self._offered_columns(offered)
        values = self.profit.to_numpy()[:, cols]
        chosen = cols[values.argmax(axis=1)]
        return pd.Series(np.asarray(self.profit.columns)[chosen], index=self.profit.index, name="treatment")

    def value(self, assignment: Any) -> float:
        """Mean *estimated* incremental profit per customer of an assignment (labels per row)."""
        cols = self._columns_of(assignment)
        return float(self.profit.to_numpy()[np.arange(len(cols)), cols].mean())

    def _columns_of(self, assignment: Any) -> np.ndarray:
        a = pd.Series(assignment).to_numpy() if not isinstance(assignment, pd.Series) else assignment.to_numpy()
        if a.shape != (len(self.profit),):
            raise ExperimentError(
                f"'assignment' must name one treatment per customer ({len(self.profit)}); got shape {a.shape}."
            )
        cols = self.profit.columns.get_indexer(a)
        if (cols < 0).any():
            bad = a[cols < 0][0]
            raise ExperimentError(f"'assignment' holds {describe(bad)}, not a treatment of this estimate.")
        return cols

    # ------------------------------------------------------------------ new customers
    def predict(self, data: Any) -> "ProfitEstimate | LazyProfit":
        """The same estimate for other customers (a held-out :class:`Experiment`, a pandas
        DataFrame, or a dask DataFrame of raw features).

        Predictions average the fold models, none of which saw these customers (if they are
        new). With an ``Experiment`` (outcomes known) the result supports
        :meth:`policy_value`: an honest evaluation of a policy learned elsewhere.

        A **dask DataFrame** (one row per customer, at least the experiment's feature
        columns, raw as in the experiment) is predicted partition by partition
        (``map_partitions``: each partition is encoded like the experiment and predicted by
        the fitted learner where it lives; nothing is gathered to the caller). The result is
        then a :class:`LazyProfit`: ``profit`` is a lazy ``(n, m)`` dask array with known
        chunk sizes (one chunk per non-empty partition; columns in the order of ``self.profit``) that
        ``co.CoarseProblem`` accepts as it is and that ``local-search``, ``ot`` and ``mip``
        solve chunk by chunk (``to_problem(k)`` builds the problem). Only the partition
        lengths are computed here (one pass over the features); every later pass over
        ``profit`` predicts again, so persist it on a cluster or write ``frame`` to Parquet
        for many passes (see ``docs/scale.md``). Values equal those of ``predict`` on the same
        rows as a pandas DataFrame.
        """
        if _is_dask_frame(data):
            return self._predict_lazy(data)
        if isinstance(data, Experiment):
            if data.arms != tuple(self.arms) or data.control != self.control:
                raise ExperimentError(
                    f"The experiment has arms {list(data.arms)} (control {data.control!r}) but the estimate was "
                    f"fitted on {list(self.arms)} (control {self.control!r})."
                )
            X = self.encoder.encode(data.data) if self.encoder is not None else data.X
            experiment = data
        elif isinstance(data, pd.DataFrame):
            if self.encoder is None:
                raise ExperimentError("This estimate does not know how to encode raw data; pass an Experiment.")
            X = self.encoder.encode(data)
            experiment = None
        else:
            raise ExperimentError(
                f"'data' must be an Experiment, a pandas DataFrame or a dask DataFrame; got {type(data).__name__}."
            )
        arm_outcome = self.learner.predict_outcome(X)
        return _assemble(
            arm_outcome, X, columns=self.profit.columns, treatments=self.treatments, arms=self.arms,
            arm_columns=self.arm_columns, control=self.control, learner=self.learner, economics=self.economics,
            experiment=experiment, out_of_fold=False, encoder=self.encoder,
        )

    def _predict_lazy(self, data: Any) -> "LazyProfit":
        """``predict`` of a dask DataFrame: a :class:`LazyProfit` (see :meth:`predict`)."""
        import dask
        import dask.array as da

        if self.encoder is None:
            raise ExperimentError("This estimate does not know how to encode raw data; pass an Experiment.")
        self.encoder.encode(data._meta)  # missing columns or wrong dtypes: an error now, not on a worker
        model = _PartitionModel(
            encoder=_feature_encoder(self.encoder), learner=self.learner, columns=self.profit.columns,
            treatments=self.treatments, arms=self.arms, arm_columns=self.arm_columns, control=self.control,
            economics=self.economics,
        )
        names = [str(c) for c in self.profit.columns]
        meta = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in names})
        meta.index = data._meta.index
        shared = dask.delayed(model, pure=True)  # one copy of the fitted models in the graph
        frame = data.map_partitions(_predict_partition, shared, names, meta=meta)
        lengths = tuple(int(v) for v in data.map_partitions(len).compute())
        blocks = [
            da.from_delayed(dask.delayed(_partition_array, pure=True)(part), shape=(rows, len(names)),
                            dtype=np.float64)
            for part, rows in zip(frame.to_delayed(), lengths)
        ]
        if blocks:
            profit = da.concatenate(blocks, axis=0)
        else:
            profit = da.zeros((0, len(names)), chunks=((0,), (len(names),)))
        return LazyProfit(profit=profit, frame=frame, columns=self.profit.columns, treatments=self.treatments,
                          arms=self.arms, arm_columns=self.arm_columns, control=self.control)

    def fold_spread(self) -> pd.DataFrame:
        """Standard deviation of each cell's profit across the fold models: a cheap noise scale.

        Every fold model predicts every customer here; the spread says how much a cell's
        estimate moves when the training sample changes by one fold (it understates the full
        sampling error, since the folds share most customers). Cells whose differences are
        within a few spreads are not reliably ordered. Needs ``cv >= 2``.
        """
        from .learners import _single_threaded

        fitted = getattr(self.learner, "estimators_", [])
        if len(fitted) < 2:
            raise ExperimentError("fold_spread needs a cross-fitted estimate (cv >= 2); this one used cv=None.")
        draws = []
        for model in fitted:
            with _single_threaded():
                arm_outcome = model.predict_outcome(self.features)
            draws.append(_to_profit(arm_outcome, columns=self.profit.columns, treatments=self.treatments,
                                    arms=self.arms, arm_columns=self.arm_columns, control=self.control,
                                    economics=self.economics)[1])
        spread = np.std(np.stack(draws), axis=0, ddof=1)
        return pd.DataFrame(spread, index=self.profit.index, columns=self.profit.columns)

    # ------------------------------------------------------------------ evaluation
    def _aipw_scores(self) -> np.ndarray:
        """``(n, n_arms)`` AIPW scores of the profit of each arm (needs outcomes)."""
        exp = self.experiment
        if exp is None:
            raise ExperimentError(
                "policy_value needs the customers' outcomes: use an estimate made from an Experiment "
                "(estimate_profit, or predict(held_out_experiment))."
            )
        a, c = self.economics.unit_value(list(exp.arms), numeric=exp.is_numeric)
        mu = self.arm_outcome * a[None, :] - c[None, :]
        realized = a[exp.arm_index] * exp.y - c[exp.arm_index]
        rows = np.arange(exp.n)
        scores = mu.copy()
        scores[rows, exp.arm_index] += (realized - mu[rows, exp.arm_index]) / exp.propensity_received
        return scores

    def policy_value(self, assignment: Any) -> PolicyValue:
        """Doubly robust estimate of an arm-only policy's mean incremental profit per customer.

        .. math::

            \\hat V(\\pi) = \\frac1n \\sum_i \\Gamma_i(\\pi(x_i)) - \\Gamma_i(c), \\qquad
            \\Gamma_i(j) = \\hat m_j(x_i) + \\frac{1\\{A_i = j\\}}{e_j(x_i)}(R_i - \\hat m_j(x_i)),

        with ``R_i`` the realized profit, ``m_j`` the predicted profit of arm ``j`` (out of
        sample for these customers) and ``e_j`` the known assignment probabilities; unbiased
        whatever the model when the policy was fixed without these customers' outcomes
        (learn it on a training split, evaluate it here). ``assignment`` names an *arm* for
        every customer: levels between arms were never tried, so no data can value them.
        """
        from coarseopt.result import SolveResult, warn_if_in_sample

        warn_if_in_sample("assignment", assignment, self.profit.index)
        if isinstance(assignment, SolveResult):
            assignment = assignment.assignment_series()
        exp_arms = list(self.arms)
        cols = self._columns_of(assignment)
        arm_pos = {int(col): j for j, col in enumerate(self.arm_columns)}
        if not set(np.unique(cols).tolist()) <= set(arm_pos):
            off = sorted(set(np.unique(cols).tolist()) - set(arm_pos))
            raise ExperimentError(
                f"policy_value can only value arms of the experiment ({exp_arms}); the assignment uses "
                f"{[self.profit.columns[j] for j in off][:10]}. Evaluate grid policies on known truths instead."
            )
        scores = self._aipw_scores()
        j = np.array([arm_pos[int(c)] for c in cols])
        ctrl = exp_arms.index(self.control)
        rows = np.arange(len(j))
        s = scores[rows, j] - scores[:, ctrl]
        return PolicyValue(float(s.mean()), float(s.std(ddof=1) / np.sqrt(len(s))), len(s))

    def __repr__(self) -> str:
        n, m = self.profit.shape
        kind = "levels" if self.treatments is not None else "arms"
        return (
            f"ProfitEstimate(n={n}, m={m} treatments, {kind}={list(self.arms)}, control={self.control!r}, "
            f"out_of_fold={self.out_of_fold})"
        )


@dataclass(frozen=True, eq=False)
class LazyProfit:
    """Predicted incremental profits of customers held in a dask DataFrame, still lazy.

    Returned by :meth:`ProfitEstimate.predict` for a dask DataFrame; nothing is computed
    but the partition lengths.

    Attributes
    ----------
    profit : dask.array.Array of shape (n, m), float64
        ``profit[i, t]`` as in :attr:`ProfitEstimate.profit`, one row chunk per non-empty
        partition of the data (known sizes), columns in the order of ``columns``: give it to
        ``co.CoarseProblem`` (or use :meth:`to_problem`).
    frame : dask.dataframe.DataFrame
        The same profits indexed like the data, one column per treatment named
        ``str(label)`` (e.g. to write them once with ``frame.to_parquet(path)`` and read them
        back with ``co.read_profit_parquet``).
    columns : pandas.Index
        The treatment labels (or levels) of the columns.
    treatments : ndarray of float or None
        Numeric level of every column (``None`` when arms are labels).
    arms : tuple
    arm_columns : ndarray of int
    control : label or number
    """

    profit: Any
    frame: Any
    columns: pd.Index
    treatments: np.ndarray | None
    arms: tuple
    arm_columns: np.ndarray
    control: Any

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(int(s) for s in self.profit.shape)

    def to_problem(self, k: int, **problem_kwargs: Any):
        """A lazy :class:`~coarseopt.CoarseProblem` on :attr:`profit` (``treatments`` and
        ``arms`` filled in; further keyword arguments are passed on). Its construction makes
        one validation pass, i.e. predicts every customer once."""
        from coarseopt.problem import CoarseProblem

        kwargs = {"treatments": self.treatments, "arms": list(self.arm_columns)}
        kwargs.update(problem_kwargs)
        return CoarseProblem(self.profit, k, **kwargs)

    def __repr__(self) -> str:
        n, m = self.shape
        return f"LazyProfit(n={n}, m={m} treatments, chunks={len(self.profit.chunks[0])}, arms={list(self.arms)})"


@dataclass(frozen=True, eq=False)
class _PartitionModel:
    """What a worker needs to predict a partition: the encoding, the fitted learner and the
    economics (no training data)."""

    encoder: Experiment
    learner: Any
    columns: pd.Index
    treatments: np.ndarray | None
    arms: tuple
    arm_columns: np.ndarray
    control: Any
    economics: Economics


def _is_dask_frame(data: Any) -> bool:
    return type(data).__module__.startswith("dask") and hasattr(data, "map_partitions") and hasattr(data, "columns")


def _feature_encoder(experiment: Experiment) -> Experiment:
    """An :class:`Experiment` that only encodes features (``encode``), without the data: what
    is shipped to the workers."""
    enc = object.__new__(Experiment)
    enc.features = list(experiment.features)
    enc._categories = {f: list(c) for f, c in experiment._categories.items()}
    enc.categorical = experiment.categorical
    return enc


def _predict_partition(part: pd.DataFrame, model: _PartitionModel, names: list) -> pd.DataFrame:
    """Encode and predict one partition: its incremental profits, indexed like it."""
    if len(part) == 0:
        return pd.DataFrame({c: pd.Series(dtype=np.float64) for c in names}, index=part.index)
    X = model.encoder.encode(part)
    arm_outcome = model.learner.predict_outcome(X)
    _, profit = _to_profit(arm_outcome, columns=model.columns, treatments=model.treatments, arms=model.arms,
                           arm_columns=model.arm_columns, control=model.control, economics=model.economics)
    return pd.DataFrame(np.asarray(profit, dtype=np.float64), index=part.index, columns=names)


def _partition_array(frame: pd.DataFrame) -> np.ndarray:
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float64))


# ---------------------------------------------------------------------- the pipeline
def estimate_profit(
    experiment: Experiment,
    economics: Economics | None = None,
    learner: Any = None,
    *,
    base_estimator: Any = None,
    cv: int | None = 5,
    grid: Any = None,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    folds: Any = None,
    _fitted: Any = None,
) -> ProfitEstimate:
    """Estimate every customer's incremental profit under every treatment.

    1. A multi-arm CATE learner (T-, S-, X- or DR-learner; see
       :mod:`coarseopt.estimation.learners`) predicts each customer's expected outcome under
       every arm, **cross-fitted**: with ``cv`` folds, a customer's predictions come from
       models fitted on the other folds (Chernozhukov et al. 2018). Step 2 takes, per
       customer, the best of m noisy estimates; in-sample predictions would reward the arm
       whose noise the model memorized, so offered sets and their values would be
       optimistic.
    2. With numeric arms and a ``grid``, predicted outcomes are interpolated linearly in
       the level between neighbouring arms, so treatments between arms can be offered.
    3. :class:`Economics` turns outcomes into profit,
       ``pi(t) = (margin(t) - proportional_cost(t)) * y_hat(t) - cost(t)``, and the
       control's profit is subtracted.

    Parameters
    ----------
    experiment : Experiment
    economics : Economics, optional
        ``None``: the outcome already is profit (margin 1, no costs).
    learner : {"auto", "t", "s", "x", "dr", "smooth"} or CATE learner, optional
        ``None``: :data:`DEFAULT_LEARNER` (``"auto"``: ``"smooth"`` for numeric levels, the
        T-learner for labelled arms). ``"smooth"`` is ``SLearner(level_model="logit")``: the
        chance of a non-zero outcome is logistic in the level with a customer-specific
        intercept and slope, so each customer's curve over the levels is smooth (numeric
        levels only). A learner object is cloned; its ``control`` is set to the experiment's.
    base_estimator : estimator, optional
        Base model of the learner (any scikit-learn regressor, or classifier for a 0/1
        outcome); for ``"smooth"`` the model of the size of non-zero outcomes. ``None``:
        :func:`~coarseopt.estimation.learners.default_estimator`.
    cv : int or None, default=5
        Cross-fitting folds (>= 2); ``None`` predicts in sample (optimistic, not advised).
    grid : None, int or array-like of float, optional
        Candidate levels for numeric arms. ``None``: the arms. An int ``g``: ``g`` equally
        spaced levels from the lowest to the highest arm. An array: those levels. Arm
        levels are always included; levels outside the arms' range are refused
        (no extrapolation).
    random_state : int or None, default=0
        Seeds the fold split (and the DR-learner's inner folds).
    n_jobs : int or None
        Folds fitted in parallel.
    folds : array-like, optional
        The fold of every customer (any labels, at least two), instead of a seeded split
        into ``cv`` folds stratified by arm.

    Returns
    -------
    ProfitEstimate

    Examples
    --------
    >>> import coarseopt as co
    >>> df, truth = co.datasets.make_promotions(2000, seed=0)
    >>> exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    >>> est = co.estimate_profit(exp, truth.economics, grid=9)
    >>> est.profit.shape
    (2000, 9)
    >>> problem = est.to_problem(k=2)
    """
    from .learners import CrossFitLearner, make_learner

    if not isinstance(experiment, Experiment):
        raise ExperimentError(
            f"'experiment' must be a coarseopt Experiment; got {type(experiment).__name__}. "
            "Build one with co.Experiment(df, outcome=..., treatment=..., features=[...])."
        )
    economics = Economics() if economics is None else economics
    if not isinstance(economics, Economics):
        raise EconomicsError(f"'economics' must be a coarseopt Economics or None; got {type(economics).__name__}.")
    columns, treatments, arm_columns = _columns(experiment, grid)
    base = make_learner(resolve_learner(learner, experiment), base_estimator,
                        control=experiment.control, random_state=random_state)
    cf = CrossFitLearner(base, cv=cv, random_state=random_state, n_jobs=n_jobs)
    arm_values = np.asarray(experiment.arms, dtype=np.float64 if experiment.is_numeric else object)
    cf.fit(experiment.X, arm_values[experiment.arm_index], experiment.y, experiment.propensity_received,
           folds=folds, fitted=_fitted)
    if list(cf.arms_) != list(experiment.arms):  # same sorted order by construction
        raise RuntimeError("internal: learner arms differ from the experiment's")
    return _assemble(
        cf.oof_outcome_, experiment.X, columns=columns, treatments=treatments, arms=experiment.arms,
        arm_columns=arm_columns, control=experiment.control, learner=cf, economics=economics,
        experiment=experiment, out_of_fold=cv is not None, encoder=experiment,
    )


def _columns(exp: Experiment, grid: Any) -> tuple[pd.Index, np.ndarray | None, np.ndarray]:
    """Column labels, numeric levels and positions of the arms for a grid choice."""
    if grid is None:
        cols = pd.Index(list(exp.arms), name="treatment")
        return cols, (exp.levels.copy() if exp.is_numeric else None), np.arange(len(exp.arms))
    if not exp.is_numeric:
        raise ExperimentError(
            f"'grid' needs numeric treatment levels, but the arms are labels ({list(exp.arms)}). "
            "Use grid=None."
        )
    lo, hi = exp.levels[0], exp.levels[-1]
    if isinstance(grid, numbers.Integral) and not isinstance(grid, bool):
        if grid < 2:
            raise ExperimentError(f"The 'grid' parameter as an int must be >= 2 (number of levels). Got {grid}.")
        values = np.linspace(lo, hi, int(grid))
    else:
        try:
            values = np.asarray(grid, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ExperimentError(f"'grid' must be None, an int or numeric levels; got {describe(grid)}.") from None
        if values.size == 0 or not np.isfinite(values).all():
            raise ExperimentError(f"'grid' must hold finite levels; got {describe(grid)}.")
        outside = values[(values < lo - 1e-12) | (values > hi + 1e-12)]
        if outside.size:
            raise ExperimentError(
                f"'grid' levels {outside.tolist()[:10]} lie outside the arms' range [{lo}, {hi}]; profit there "
                "would be extrapolated. Keep the grid within the tested levels."
            )
    values = np.round(values, 12)
    keep = [v for v in values if not np.isclose(exp.levels, v, rtol=0, atol=1e-9).any()]
    levels = np.unique(np.concatenate([exp.levels, np.array(keep, dtype=np.float64)]))
    arm_columns = np.array([int(np.flatnonzero(levels == a)[0]) for a in exp.levels], dtype=np.intp)
    return pd.Index(levels, name="treatment"), levels, arm_columns


def _interpolate(arm_outcome: np.ndarray, arm_levels: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Linear interpolation of every row of ``arm_outcome`` (at ``arm_levels``) to ``levels``."""
    k = arm_levels.size
    idx = np.clip(np.searchsorted(arm_levels, levels, side="right") - 1, 0, k - 2)
    w = (levels - arm_levels[idx]) / (arm_levels[idx + 1] - arm_levels[idx])
    return arm_outcome[:, idx] * (1.0 - w)[None, :] + arm_outcome[:, idx + 1] * w[None, :]


def _to_profit(arm_outcome, *, columns, treatments, arms, arm_columns, control, economics):
    """``(outcome, incremental profit)`` on the columns from outcomes predicted at the arms."""
    numeric = treatments is not None
    if numeric and len(columns) != len(arms):
        outcome = _interpolate(arm_outcome, np.asarray(arms, dtype=np.float64), treatments)
    else:
        outcome = arm_outcome
    absolute = economics.profit_matrix(outcome, list(columns), numeric=numeric)
    ctrl = int(arm_columns[list(arms).index(control)])
    return outcome, absolute - absolute[:, [ctrl]]


def _assemble(arm_outcome, X, *, columns, treatments, arms, arm_columns, control, learner, economics,
              experiment, out_of_fold, encoder) -> ProfitEstimate:
    outcome, profit = _to_profit(arm_outcome, columns=columns, treatments=treatments, arms=arms,
                                 arm_columns=arm_columns, control=control, economics=economics)
    profit_df = pd.DataFrame(profit, index=X.index, columns=columns)
    outcome_df = pd.DataFrame(outcome, index=X.index, columns=columns)
    est = ProfitEstimate(
        profit=profit_df, outcome=outcome_df, treatments=treatments, arms=tuple(arms),
        arm_columns=np.asarray(arm_columns, dtype=np.intp), control=control, features=X, learner=learner,
        economics=economics, experiment=experiment if experiment is not None else None,
        out_of_fold=out_of_fold, arm_outcome=arm_outcome, arm_effects=pd.DataFrame(), encoder=encoder,
    )
    if experiment is not None:
        est = replace(est, arm_effects=_arm_effects(est))
    return est


def _arm_effects(est: ProfitEstimate) -> pd.DataFrame:
    exp = est.experiment
    scores = est._aipw_scores()
    ctrl = list(exp.arms).index(exp.control)
    diff = scores - scores[:, [ctrl]]
    pred = est.profit.to_numpy()[:, est.arm_columns]
    n = exp.n
    se = diff.std(axis=0, ddof=1) / np.sqrt(n)
    return pd.DataFrame(
        {
            "customers": np.bincount(exp.arm_index, minlength=len(exp.arms)),
            "predicted": pred.mean(axis=0),
            "aipw": diff.mean(axis=0),
            "aipw_se": se,
        },
        index=pd.Index(list(exp.arms), name="arm"),
    )
