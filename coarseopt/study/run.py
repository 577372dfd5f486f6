"""The study's run: step 1 (cross-fitted or holdout), step 2 for every k, step 3 on customers whose
policies never saw them, segments and the per-customer assignment (:func:`run_study`)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import ConfigError, StudyConfig
from ..exceptions import CoarseoptError
from ..progress import progress_bar
from ..tabular import jsonable
from .budget import Budget, split_table
from .data import (
    baseline_of, check_k, economics_of, experiment_of, ids_of, learner_args, learner_used, load_data,
    match_label, n_jobs_of, one_line, split_rows, treatment_count, versions,
)

log = logging.getLogger("coarseopt")


#: Customers on whom every fold's policies are compared for the cross-fitted variance.
VARIANCE_SAMPLE = 50_000


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
    budget_table : pandas.DataFrame or None
        With ``[solve] budget``: per budget, the coarse policy of every k and full
        personalization under that budget, with held-out value, lift and spend per customer
        (:mod:`coarseopt.study.budget`).
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
    budget: Any = None  # the resolved [solve] budget (coarseopt.study.budget.Budget)
    curve_results: dict = field(default_factory=dict)  # (budget, k) -> SolveResult on all customers
    budget_table: Any = None  # profit against budget: one row per budget and policy


def certify_optimum(problem: Any, res: Any) -> Any:
    """``res`` with the proof a solver may have left out, so that status and recovery agree.

    Without share bounds two optima are proven by a direct count: with ``k = 1`` the best
    single treatment (every column summed), and with any ``k`` an objective equal to full
    personalization's profit (no assignment earns more). A result that reaches one of them
    reads ``optimal`` with that bound, whatever the solver; a ``k = 1`` result that falls
    short keeps its status, with the bound tightened to the proven optimum and its gap.
    """
    import dataclasses

    if (problem.has_share_bounds or getattr(problem, "budget", None) is not None or problem.is_lazy
            or not res.has_solution or res.status == "optimal"):
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
    economics_of(cfg, arms, truth)
    Budget(cfg, df)
    exp = experiment_of(cfg, df, control)
    check_k(cfg, exp)
    return {**info, "treatments": treatment_count(cfg, exp), "encoded_features": len(exp.feature_names)}


def _estimate(cfg: StudyConfig, exp, economics):
    import coarseopt as co

    learner, base, grid = learner_args(cfg, exp)
    return co.estimate_profit(
        exp, economics, learner=learner, base_estimator=base, cv=cfg.estimation["cv"], grid=grid,
        random_state=cfg.estimation["seed"], n_jobs=n_jobs_of(cfg),
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
                "treatment": jsonable(treatments[j]),
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
        stages.start("loading data")
        df, arms, control, info, truth, source_rows = load_data(cfg)
        study.source_rows, study.ids = source_rows, ids_of(cfg, df)
        study.data_info, study.control = info, control
        study.budget = Budget(cfg, df)
        study.split_method = cfg.split["method"]
        economics = economics_of(cfg, arms, truth)
        baseline = "control"
        if cfg.evaluation["baseline"] != "control":
            baseline = match_label(cfg.evaluation["baseline"], arms)
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
        study.profit, study.learner = est.profit, learner_used(cfg, est)
        study.treatments = list(est.profit.columns)
        study.features = list(est.features.columns)

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
    study.versions = versions()
    return study


def refit_on_all(cfg: StudyConfig, exp: Any, economics: Any) -> Any:
    """Step 1 refitted on all the study's customers ``exp`` (their Experiment; one fit, no
    cross-fitting): the model to deploy for new customers, saved with the policy (``policy/``)."""
    import coarseopt as co

    learner, base, grid = learner_args(cfg, exp)
    return co.estimate_profit(exp, economics, learner, base_estimator=base, cv=None, grid=grid,
                              random_state=cfg.estimation["seed"])


def _holdout(study: Study, cfg: StudyConfig, df, control, economics, stages: "_Stages", progress):
    """Learn on one part of the customers, evaluate on the held-out rest."""
    from .evaluate import Unit

    train_idx, test_idx = split_rows(df, cfg, cfg.columns["treatment"])
    study.train_index, study.test_index = train_idx, test_idx
    train_exp = experiment_of(cfg, df.iloc[train_idx], control)
    test_exp = experiment_of(cfg, df.iloc[test_idx], control)
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
    study.results, curve = _solve_all(est, cfg, stages, progress, study.budget, control)
    study.timings["solve"] = time.perf_counter() - t
    study.deployed = refit_on_all(cfg, experiment_of(cfg, df, control), economics)
    return est, [Unit(rows=test_idx, experiment=test_exp, profit=held.profit, results=study.results, label="test",
                      estimate=est, spend=study.budget.spend(held, control), curve=curve)]


def _crossfit(study: Study, cfg: StudyConfig, df, control, economics, stages: "_Stages", progress):
    """Learn the deployed policies on all customers; evaluate every fold with the policies
    learned on the other folds (nested cross-fitting with shared model fits)."""
    from ..estimation import nested_cross_fit, stratified_folds
    from .evaluate import Unit

    exp = experiment_of(cfg, df, control)
    F = cfg.split["folds"]
    try:
        folds = stratified_folds(exp.arm_index, F, seed=cfg.split["seed"])
    except ValueError as exc:
        raise ConfigError(f"[split] folds = {F}: {one_line(exc)}") from None
    study.folds = folds
    study.train_index = study.test_index = np.arange(len(df))
    t = time.perf_counter()
    n_models = 1 + F + F * (F - 1) // 2
    stages.start(f"estimating profit ({cfg.estimation['learner']} learner, {F} folds, {n_models} model fits)")
    learner, base, grid = learner_args(cfg, exp)
    est, without, study.deployed = nested_cross_fit(
        exp, economics, learner, folds=folds, base_estimator=base, grid=grid, random_state=cfg.estimation["seed"],
        n_jobs=n_jobs_of(cfg), refit=True)
    study.arm_effects = _arm_table(est, None)
    study.timings["estimate"] = time.perf_counter() - t
    stages.done()
    t = time.perf_counter()
    study.results, study.curve_results = _solve_all(est, cfg, stages, progress, study.budget, control)
    units, held_parts = [], []
    budget, assign = study.budget, _assigner(cfg)
    from .evaluate import unit_policies

    baseline = baseline_of(cfg, est.arms)
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
        results, curve = _solve_all(fold_est, cfg, stages, progress, budget, control, label=f"fold {f + 1}/{F}: ")
        on_sample = fold_est.predict(exp.subset(sample))
        everyone = Unit(rows=sample, experiment=None, profit=on_sample.profit, results=results,
                        label="variance sample", spend=budget.spend(on_sample, control), curve=curve)
        units.append(Unit(rows=rows, experiment=fold_exp, profit=held.profit, results=results, label=str(f),
                          estimate=_predictor(fold_est), spend=budget.spend(held, control), curve=curve,
                          everyone=unit_policies(everyone, list(est.profit.columns), est.arm_columns, est.arms,
                                                 control, baseline, assign, budget.per_customer, budget.curve),
                          everyone_rows=sample))
        del on_sample
        del fold_est  # its (n, m) matrices are no longer needed: memory at millions of customers
        if held.profit.size * F >= RELEASE_MIN_ENTRIES:  # a full collection costs more than it frees below
            release_memory()
        held_parts.append(held.profit)
    import pandas as pd

    study.test_profit = pd.concat(held_parts).sort_index()
    study.fold_results = [u.results for u in units]
    study.timings["solve"] = time.perf_counter() - t
    return est, units


#: Profit entries of a study (customers x treatments) from which each fold's memory is handed
#: back to the operating system; smaller studies skip the full garbage collection.
RELEASE_MIN_ENTRIES = 10_000_000


def release_memory() -> None:
    """Hand the memory freed by a fold back to the operating system (glibc keeps freed heap
    pages otherwise, so the resident size of a long study only grows); a no-op elsewhere."""
    import ctypes
    import gc
    import sys

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # another C library
            pass


def _predictor(est):
    """``est`` without its per-customer data: what ``predict`` needs (models, economics,
    columns, encoding). Every emptied array is a copy: an empty *view* would keep the whole
    matrix it was sliced from alive."""
    import copy
    from dataclasses import replace

    def empty(x):
        return x[:0].copy() if isinstance(x, np.ndarray) else x.iloc[:0].copy()

    encoder = est.encoder
    if encoder is not None:  # the encoding (features, categories) without the customers' data
        encoder = copy.copy(encoder)
        for name in ("data", "X", "y", "arm_index", "propensity_received"):
            setattr(encoder, name, empty(getattr(encoder, name)))
        encoder.n = 0
    learner = copy.copy(est.learner)  # the fold models, without the training customers' predictions
    for name in ("oof_outcome_", "folds_"):
        if hasattr(learner, name):
            setattr(learner, name, empty(getattr(learner, name)))
    return replace(est, profit=empty(est.profit), outcome=empty(est.outcome), features=empty(est.features),
                   arm_outcome=empty(est.arm_outcome), experiment=None, arm_effects=empty(est.arm_effects),
                   encoder=encoder, learner=learner)


def _assigner(cfg: StudyConfig):
    """How customers outside the solve get their offered treatment (:func:`.budget.assigner`)."""
    from .budget import assigner

    return assigner(cfg)


def _solve_all(est: Any, cfg: StudyConfig, stages: "_Stages", progress: bool | None, budget: Any, control: Any,
               label: str = "") -> tuple[dict, dict]:
    """Step 2 for every k of the config on one estimate: ``k -> SolveResult`` (with the
    study's budget when it is one number) and, for a list of budgets, ``(budget, k) ->
    SolveResult``."""
    spend = budget.spend(est, control)
    results = {}
    for k in cfg.solve["k"]:
        stages.start(f"{label}solving k={k} ({cfg.solve['solver']})")
        results[k] = _solve_one(est, k, cfg, spend, budget.per_customer, progress, label)
        stages.done()
    curve = {}
    if budget.per_customer is None:
        for total, per_customer in budget.curve.items():
            for k in cfg.solve["k"]:
                curve[(total, k)] = _solve_one(est, k, cfg, spend, per_customer, progress, f"{label}budget {total:g}: ")
    return results, curve


def _solve_one(est: Any, k: int, cfg: StudyConfig, spend: Any, budget: float | None, progress: bool | None,
               label: str) -> Any:
    import coarseopt as co

    from .budget import problem_of

    problem = problem_of(est, k, cfg, spend, budget)
    res = certify_optimum(problem, co.solve(
        problem, cfg.solve["solver"], time_limit=cfg.solve["time_limit"] or None, seed=cfg.solve["seed"],
        progress=progress, **cfg.solve["options"],
    ))
    if not res.has_solution:
        raise CoarseoptError(
            f"solver {cfg.solve['solver']!r} found no solution for k={k} (status {res.status}). {res.message}"
        )
    log.info("%sk=%d: %s", label, k, res.summary().replace("\n", "; "))
    return res


def _evaluate_units(study: Study, est: Any, units: list, economics: Any, baseline: Any, truth: Any,
                    source_rows: np.ndarray) -> None:
    """Step 3: ``study.policies``, ``evaluation``, ``comparisons``, ``estimators`` and
    ``recommended_k`` (see :mod:`coarseopt.study.evaluate`)."""
    from .evaluate import evaluate_units, unit_policies

    cfg = study.config
    labels = np.asarray(study.treatments, dtype=object)
    base_name = "control" if baseline == "control" else f"everyone: {baseline}"
    budget = study.budget
    policies = [unit_policies(u, study.treatments, est.arm_columns, est.arms, study.control, baseline,
                              _assigner(cfg), budget.per_customer, budget.curve) for u in units]
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

    def spent(exp):
        return budget.realized(exp, economics)

    table, study.comparisons, study.recommended_k, study.estimators = evaluate_units(
        units, policies, treatments=study.treatments, arm_labels=arm_labels, realized=realized,
        baseline_name=base_name, cfg=cfg, true_profit=true_profit, unit_value=unit_value,
        spent=spent if budget.active else None,
    )
    study.evaluation, study.budget_table = split_table(table, budget)
    if unit_value is not None and len(est.arms) >= 3 and est.experiment is not None:
        from .evaluate import interpolation_check

        exp = est.experiment
        study.interpolation = interpolation_check(
            exp.y, np.asarray(exp.arms, dtype=np.float64)[exp.arm_index], est.arm_outcome,
            np.asarray(exp.arms, dtype=np.float64))


def _heterogeneity(study: Study, est: Any, units: list, economics: Any) -> dict:
    """:func:`coarseopt.evaluation.study_heterogeneity` of predictions whose customers' outcomes
    did not train them: the held-out customers', or in the cross-fitted study every customer's
    out-of-fold prediction (``study.test_profit``) on the whole experiment."""
    from ..evaluation import study_heterogeneity

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
    deployed = study.deployed.profit.to_numpy() if study.deployed is not None else None
    if deployed is not None:
        spend = study.budget.spend(study.deployed, study.control)
        spend = None if spend is None else spend.to_numpy()
        assign_to = _assigner(study.config)
    for k, res in study.results.items():
        # the deployed policy's treatment: what `coarseopt apply` gives these customers
        if deployed is not None:
            col = labels[assign_to(deployed, spend, res, study.budget.per_customer)]
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
        "arm": [jsonable(a) for a in train.index],
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


def _policy_k(name: str) -> float:
    return float(name[2:]) if name.startswith("k=") else float("nan")
