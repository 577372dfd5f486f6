"""Step 3 of the study: every policy valued on customers whose policies never saw them.

An :class:`Unit` is a group of customers evaluated together: the held-out half of the
holdout study, or one fold of the cross-fitted study. Each unit carries the policies learned
without its customers (one :class:`~coarseopt.SolveResult` per k) and the profits predicted
for them by models that never saw them. Every policy's value and lift over the baseline are
estimated in each unit from its own experiment data (propensity: the given column, else each
arm's share of the unit's customers) and combined over units
(:mod:`coarseopt.evaluation.folds`).

Choosing k looks at the data, so the lifts of the coarse policies also get simultaneous
(max-|t|) intervals over all k: the recommended k is the one with the largest estimated lift,
and its simultaneous interval stays valid after that choice. The comparisons of each k with the
previous one are a second family, with Holm-adjusted p-values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..config import evaluation_covariates

__all__ = ["Unit", "unit_policies", "evaluate_units", "BETWEEN_ARMS"]

#: The note of a policy that offers levels no customer was randomized to.
BETWEEN_ARMS = "offers levels between the arms: no data can value it"


@dataclass
class Unit:
    """Customers evaluated together with the policies learned without them.

    Attributes
    ----------
    rows : ndarray of int
        Positions of the customers in the study's data.
    experiment : coarseopt.Experiment
        Their experiment (outcomes, received arms, features).
    profit : pandas.DataFrame
        Their predicted incremental profit (rows: customers, columns: treatments), from models
        that never saw them.
    results : dict
        ``k -> SolveResult``: the coarse policies learned without them.
    label : str
        ``"test"`` (holdout) or the fold number.
    estimate : coarseopt.ProfitEstimate
        The estimate learned without these customers (predicts new customers as the unit's
        policies do).
    everyone : dict or None
        Cross-fitted study: the unit's policies applied to the customers ``everyone_rows`` of
        the study (all of them, or a random subset at scale), for the variance of estimates
        whose fold policies differ.
    everyone_rows : ndarray of int or None
        Positions, in the study's data, of the customers of ``everyone``.
    spend : pandas.DataFrame or None
        With a budget: what each customer costs under each treatment (as ``profit``).
    curve : dict
        With a list of budgets: ``(budget, k) -> SolveResult``, the policies of the profit
        against budget curve learned without these customers.
    """

    rows: np.ndarray
    experiment: Any
    profit: Any
    results: dict
    label: str
    estimate: Any = None
    everyone: dict | None = None
    everyone_rows: np.ndarray | None = None
    spend: Any = None
    curve: dict = field(default_factory=dict)


def curve_name(budget: float, k: Any) -> str:
    """The name of a policy of the profit-against-budget curve (``k``: an int, or
    ``"full personalization"``)."""
    return f"budget={budget:g}, " + (f"k={k}" if isinstance(k, (int, np.integer)) else str(k))


def unit_policies(unit: Unit, treatments: list, arm_columns: np.ndarray, arms: tuple, control: Any,
                  baseline: Any, assign: Callable, budget: float | None = None,
                  curve: dict | None = None) -> dict[str, np.ndarray]:
    """The treatment every policy gives each customer of ``unit`` (labels).

    ``control`` (everyone gets the control), ``everyone: <arm>`` for a baseline arm, ``k=K``
    (``assign(profit, spend, offered, budget)``: each customer's best offered treatment by
    the predicted profits, with the share bounds or the budget kept on these customers),
    ``full personalization`` (the best arm, within the budget), and for every budget ``B``
    of ``curve`` (``B -> budget per customer``) its coarse policies (``unit.curve``) and full
    personalization (:func:`curve_name`). ``budget`` is per customer.
    """
    labels = np.asarray(treatments, dtype=object)
    tp = unit.profit.to_numpy()
    spend = None if unit.spend is None else unit.spend.to_numpy()
    n = tp.shape[0]
    col_of_arm = {a: int(j) for a, j in zip(arms, arm_columns)}
    out: dict[str, np.ndarray] = {"control": np.full(n, labels[col_of_arm[control]], dtype=object)}
    if baseline != "control":
        out[f"everyone: {baseline}"] = np.full(n, labels[col_of_arm[baseline]], dtype=object)
    for k, res in unit.results.items():
        out[f"k={k}"] = labels[assign(tp, spend, res, budget)]
    arm_cols = np.asarray(arm_columns)
    out["full personalization"] = labels[assign(tp, spend, arm_cols, budget)]
    curve = curve or {}
    for (total, k), res in unit.curve.items():
        out[curve_name(total, k)] = labels[assign(tp, spend, res, curve[total])]
    for total, per_customer in curve.items():
        out[curve_name(total, "full personalization")] = labels[assign(tp, spend, arm_cols, per_customer)]
    return out


def _k_of(name: str) -> float:
    return float(name[2:]) if name.startswith("k=") else float("nan")


def evaluate_units(
    units: list[Unit],
    policies: list[dict[str, np.ndarray]],
    *,
    treatments: list,
    arm_labels: set,
    realized: Callable[[Any], np.ndarray],
    baseline_name: str,
    cfg: Any,
    true_profit: Callable[[Unit], np.ndarray | None] | None = None,
    unit_value: Callable | None = None,
    spent: Callable[[Any], np.ndarray] | None = None,
):
    """Values, lifts and comparisons of every policy, combined over ``units``.

    Parameters
    ----------
    units, policies
        The units and, aligned with them, each unit's policies (:func:`unit_policies`).
    treatments : list
        Column labels of the profit matrices.
    arm_labels : set
        Treatments that were arms of the experiment (the only ones data can value).
    realized : callable
        ``realized(experiment) -> (n,)`` realized profit of each customer.
    baseline_name : str
        The policy every lift is measured against.
    cfg : StudyConfig
        ``[evaluation]``: ``method``, ``value_method``, ``alpha``.
    true_profit : callable, optional
        ``true_profit(unit) -> (n_unit, m)`` known true profits (synthetic data), for the
        ``true_lift`` column.
    unit_value : callable, optional
        ``unit_value(levels) -> (a, c)``, profit ``a * y - c`` at each numeric level: with
        ``[evaluation] shape``, policies offering levels between the arms get bounds
        (:func:`shape_bounds`).
    spent : callable, optional
        ``spent(experiment) -> (n,)`` what each customer cost under the arm received (with a
        budget): the table gets every policy's predicted and estimated spend per customer.

    Returns
    -------
    table : pandas.DataFrame
        One row per policy.
    comparisons : pandas.DataFrame
        Each valued k against the previous valued k.
    recommended_k : int or None
        The valued k with the largest estimated lift.
    estimators : pandas.DataFrame or None
        With ``[evaluation] all_estimators``: the recommended k against the baseline by every
        estimator.
    """
    from ..evaluation.folds import EvaluationFold, stack

    ev_cfg = cfg.evaluation
    alpha = ev_cfg["alpha"]
    names = list(policies[0])
    skip = {name: BETWEEN_ARMS for pols in policies for name, pol in pols.items()
            if not set(pol.tolist()) <= arm_labels}
    # cross-fitted: the variance counts the fold policies' differences (Imai & Li)
    fold_variance = len(units) > 1 and all(u.everyone is not None for u in units)
    folds, values, lifts, notes = _values(units, policies, realized, cfg, baseline_name, skip, fold_variance)
    spend = None
    if spent is not None:
        spend = _values(units, policies, spent, cfg, baseline_name, skip, fold_variance)[1]
    shape = ev_cfg.get("shape", "none")
    bounds: dict[str, dict] = {}
    if shape != "none" and unit_value is not None and baseline_name in values:
        raw = stack([EvaluationFold(
            y=u.experiment.y, action=np.asarray(u.experiment.arms, dtype=np.float64)[u.experiment.arm_index],
            policies=pols, propensity=u.experiment.propensity_received if u.experiment.propensity is not None else None,
            X=u.experiment.X[evaluation_covariates(cfg, u.experiment.X.columns)].to_numpy())
            for u, pols in zip(units, policies)])
        arm_levels = np.sort(np.asarray([float(a) for a in arm_labels]))
        check_shape(raw, arm_levels, shape)
        for name in [n for n, why in skip.items() if why == BETWEEN_ARMS]:
            bounds[name] = shape_bounds(raw, name, values[baseline_name], arm_levels=arm_levels,
                                        unit_value=unit_value, shape=shape,
                                        value_method=ev_cfg["value_method"], alpha=alpha)
            notes[name] = (f"offers levels between the arms: bounded under the stated shape ({shape}); "
                           "the interval covers the true value if the shape holds")

    table = _table(units, policies, names, treatments, baseline_name, values, lifts, notes, bounds, alpha,
                   true_profit)
    if spend is not None:
        _spend_columns(table, units, policies, treatments, spend, alpha)
    recommended = _recommend(table, names, lifts, bounds, alpha)
    estimators = None
    if ev_cfg["all_estimators"] and recommended is not None:
        estimators = every_estimator(folds, f"k={recommended}", baseline_name, alpha)
    ks = [int(_k_of(n)) for n in names if n.startswith("k=") and n in lifts]
    comparisons = _comparisons(ks, folds, units if fold_variance else None, ev_cfg["method"], alpha)
    return table, comparisons, recommended, estimators


def _values(units: list, policies: list, outcome: Callable, cfg: Any, baseline_name: str, skip: dict,
            fold_variance: bool):
    """The stacked cross-fitting estimator of every policy's mean ``outcome(experiment)``
    and its lift over the baseline: ``(folds, values, lifts, notes)``."""
    from ..evaluation.folds import EvaluationFold, evaluate_folds, stack

    ev_cfg = cfg.evaluation
    folds = []
    for unit, pols in zip(units, policies):
        exp = unit.experiment
        action = np.asarray(exp.arms, dtype=object)[exp.arm_index]
        prop = exp.propensity_received if exp.propensity is not None else None
        folds.append(EvaluationFold(y=outcome(exp), action=action, policies=pols, propensity=prop,
                                    X=exp.X[evaluation_covariates(cfg, exp.X.columns)].to_numpy()))
    folds = [stack(folds)]  # the cross-fitting estimator: every customer with its own fold's policies
    values, lifts, notes = evaluate_folds(folds, baseline=baseline_name, value_method=ev_cfg["value_method"],
                                          method=ev_cfg["method"], alpha=ev_cfg["alpha"], skip=skip)
    if fold_variance:
        _fold_policy_variances(units, folds[0], values, lifts, baseline_name)
    return folds, values, lifts, notes


def _spend_columns(table, units: list, policies: list, treatments: list, spend: dict, alpha: float) -> None:
    """What each policy spends per customer: predicted by the models (``predicted_spend``)
    and estimated from the experiment's realized spend, with an interval (``spend``,
    ``spend_se``, ``spend_ci_low``, ``spend_ci_high``)."""
    col_of = {lab: j for j, lab in enumerate(treatments)}
    n_total = sum(len(u.rows) for u in units)
    for i, name in zip(table.index, table["policy"]):
        total = 0.0
        for unit, pols in zip(units, policies):
            cost = unit.spend.to_numpy()
            total += float(cost[np.arange(cost.shape[0]), [col_of[x] for x in pols[name]]].sum())
        table.loc[i, "predicted_spend"] = total / n_total
        if name in spend:
            lo, hi, _ = spend[name].interval(alpha)
            table.loc[i, ["spend", "spend_se", "spend_ci_low", "spend_ci_high"]] = [
                spend[name].estimate, spend[name].se, lo, hi]


def _table(units, policies, names, treatments, baseline_name, values, lifts, notes, bounds, alpha, true_profit):
    """One row per policy: value and lift with intervals (or bounds, or why not), the models'
    predicted lift and, on synthetic data, the true lift (means over all evaluated customers)."""
    import pandas as pd

    col_of = {lab: j for j, lab in enumerate(treatments)}
    n_total = sum(len(u.rows) for u in units)
    rows = []
    for name in names:
        predicted, true_lift = 0.0, 0.0
        has_truth = true_profit is not None
        offered: set = set()
        for unit, pols in zip(units, policies):
            tp = unit.profit.to_numpy()
            r = np.arange(tp.shape[0])
            picked = np.array([col_of[x] for x in pols[name]])
            base = np.array([col_of[x] for x in pols[baseline_name]])
            offered |= set(pols[name].tolist())
            predicted += float((tp[r, picked] - tp[r, base]).sum())
            truth = true_profit(unit) if has_truth else None
            has_truth = truth is not None
            if has_truth:
                true_lift += float((truth[r, picked] - truth[r, base]).sum())
        row: dict[str, Any] = {"policy": name, "k": _k_of(name),
                               "offered": ", ".join(str(t) for t in treatments if t in offered),
                               "predicted_lift": predicted / n_total}
        if has_truth:
            row["true_lift"] = true_lift / n_total
        if name in values:
            v, lift = values[name], lifts[name]
            lo, hi, _ = v.interval(alpha)
            row.update(value=v.estimate, value_se=v.se, value_ci_low=lo, value_ci_high=hi)
            if name == baseline_name:
                row.update(lift=0.0, lift_se=0.0, lift_ci_low=0.0, lift_ci_high=0.0, p_value=float("nan"),
                           share_disagree=0.0)
            else:
                lo, hi, p = lift.interval(alpha)
                row.update(lift=lift.estimate, lift_se=lift.se, lift_ci_low=lo, lift_ci_high=hi, p_value=p,
                           share_disagree=lift.n_disagree / max(1, n_total))
        else:
            row["note"] = notes.get(name, "")
            row.update(bounds.get(name, {}))
        rows.append(row)
    table = pd.DataFrame(rows)
    for col in ("value", "value_se", "value_ci_low", "value_ci_high", "lift", "lift_se", "lift_ci_low",
                "lift_ci_high", "p_value", "share_disagree", "lift_sim_ci_low", "lift_sim_ci_high", "p_adjusted",
                "value_lower", "value_upper", "lift_lower", "lift_upper"):
        if col not in table:
            table[col] = np.nan
    table["note"] = table["note"].fillna("") if "note" in table else ""
    return table


def _recommend(table, names: list, lifts: dict, bounds: dict, alpha: float) -> int | None:
    """Simultaneous (max-|t|) intervals of the valued k's lifts, written into ``table``; the k
    with the largest lift (a policy known by bounds competes by its lower bound)."""
    from ..evaluation.folds import simultaneous

    family = [name for name in names if name.startswith("k=") and name in lifts]
    score = {}
    if family:
        p_adj, crit = simultaneous([lifts[n] for n in family], alpha)
        for name, p in zip(family, p_adj):
            i = table.index[table["policy"] == name][0]
            q = lifts[name]
            table.loc[i, ["lift_sim_ci_low", "lift_sim_ci_high", "p_adjusted"]] = [
                q.estimate - crit * q.se, q.estimate + crit * q.se, p]
            score[name] = q.estimate
    score |= {n: bounds[n]["lift_lower"] for n in names if n.startswith("k=") and n in bounds}
    return int(_k_of(max(score, key=score.get))) if score else None


def _comparisons(ks: list[int], folds: list, units: list | None, method: str, alpha: float):
    """Each valued k against the previous one, with Holm-adjusted p-values (``units``: the
    cross-fitted study's, for Imai & Li's variance)."""
    import pandas as pd

    from ..evaluation.folds import compare_in_folds, holm_adjusted

    pairs, diffs = [], []
    for a, b in zip(ks[:-1], ks[1:]):
        try:
            diffs += compare_in_folds(folds, [(f"k={b}", f"k={a}")], method=method, alpha=alpha)
        except ValueError:  # no customer of one arm where they disagree
            continue
        pairs.append((f"k={b}", f"k={a}"))
        if units is not None:
            _fold_policy_variance(units, folds[0], diffs[-1], f"k={b}", f"k={a}")
    comps = []
    for (a, b), d, ph in zip(pairs, diffs, holm_adjusted(diffs, alpha) if diffs else []):
        lo, hi, p = d.interval(alpha)
        comps.append({"policy_a": a, "policy_b": b, "estimate": d.estimate, "se": d.se, "ci_low": lo,
                      "ci_high": hi, "p_value": p, "p_holm": float(ph), "n_disagree": d.n_disagree})
    return pd.DataFrame(comps)


def _fold_policy_variance(units: list, stacked: Any, q: Any, name: str, other: str | None) -> None:
    """Replace ``q.se`` (a stacked cross-fitted estimate of ``V(name) - V(other)``, or of
    ``V(name)``) by Imai & Li's variance, which counts the fold policies' differences."""
    from ..evaluation.folds import imai_li_variance
    from ..propensity import arm_shares

    order = np.concatenate([u.rows for u in units])          # stacked position -> study row
    where = np.empty(order.size, dtype=np.intp)
    where[order] = np.arange(order.size)                      # study row -> stacked position
    rows = where[units[0].everyone_rows]
    y = np.asarray(stacked.y, dtype=np.float64)[rows]
    action = np.asarray(stacked.action, dtype=object)
    if stacked.propensity is not None:
        w = 1.0 / np.asarray(stacked.propensity, dtype=np.float64)
    else:
        _, codes = np.unique(action.astype(str), return_inverse=True)
        w = 1.0 / arm_shares(codes)
    action, w = action[rows], w[rows]
    x, picks = [], []
    for u in units:
        pick = [np.asarray(u.everyone[name], dtype=object)]
        r = (action == pick[0]).astype(np.float64)
        if other is not None:
            pick.append(np.asarray(u.everyone[other], dtype=object))
            r -= action == pick[1]
        x.append(r * w * y)
        picks.append(pick)
    same = all(all(np.array_equal(a, b) for a, b in zip(p, picks[0])) for p in picks[1:])
    if same:  # one policy for every fold (e.g. everyone the control): the folds are independent
        return
    q.se = float(np.sqrt(imai_li_variance(q.influence, stacked.strata, np.asarray(x))))


def _fold_policy_variances(units: list, stacked: Any, values: dict, lifts: dict, baseline: str) -> None:
    for name, v in values.items():
        _fold_policy_variance(units, stacked, v, name, None)
        if name != baseline:
            _fold_policy_variance(units, stacked, lifts[name], name, baseline)


def arm_means(y: np.ndarray, action: np.ndarray, arm_levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean outcome of each arm's customers and its standard error (randomized: unbiased for
    the population's mean outcome at that arm)."""
    means, ses = [], []
    for t in arm_levels:
        v = y[np.isclose(action, t, rtol=0, atol=1e-9)]
        means.append(float(v.mean()))
        ses.append(float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("inf"))
    return np.asarray(means), np.asarray(ses)


def check_shape(raw: Any, arm_levels: np.ndarray, shape: str, z: float = 2.0) -> str | None:
    """Warn (:class:`~coarseopt.exceptions.ShapeWarning`) when the measured mean outcomes of
    neighbouring arms contradict the stated shape by more than ``z`` standard errors; returns
    the message (None when the data agree)."""
    import warnings

    from ..exceptions import ShapeWarning, user_stacklevel

    means, ses = arm_means(np.asarray(raw.y, dtype=np.float64), np.asarray(raw.action, dtype=np.float64), arm_levels)
    step = np.diff(means) * (1 if shape == "monotone" else -1)
    se = np.sqrt(ses[:-1] ** 2 + ses[1:] ** 2)
    bad = np.flatnonzero(step < -z * se)
    if not bad.size:
        return None
    j = int(bad[np.argmin(step[bad] / se[bad])])
    msg = (f"[evaluation] shape = \"{shape}\" is contradicted by the data: the mean outcome at level "
           f"{arm_levels[j + 1]:g} ({means[j + 1]:.4g}) is {'below' if shape == 'monotone' else 'above'} the one "
           f"at {arm_levels[j]:g} ({means[j]:.4g}) by {abs(step[j]) / se[j]:.1f} standard errors. The bounds "
           "between arms rest on that shape; check it, or set shape = \"none\".")
    warnings.warn(msg, ShapeWarning, stacklevel=user_stacklevel())
    return msg


def interpolation_check(y: np.ndarray, action: np.ndarray, arm_outcome: np.ndarray, arm_levels: np.ndarray):
    """For every interior arm: its measured mean outcome, the models' mean prediction at it, and
    the prediction interpolated from its two neighbours (how levels between arms are predicted).
    ``arm_outcome``: out-of-fold predicted outcomes ``(n, n_arms)`` of the same customers."""
    import pandas as pd

    means, ses = arm_means(y, action, arm_levels)
    rows = []
    for j in range(1, arm_levels.size - 1):
        lo, t, hi = arm_levels[j - 1], arm_levels[j], arm_levels[j + 1]
        w = (t - lo) / (hi - lo)
        interp = float(((1 - w) * arm_outcome[:, j - 1] + w * arm_outcome[:, j + 1]).mean())
        rows.append({"arm": float(t), "measured": means[j], "measured_se": ses[j],
                     "predicted": float(arm_outcome[:, j].mean()), "interpolated": interp,
                     "interpolation_error_z": (interp - means[j]) / ses[j] if ses[j] > 0 else float("nan")})
    return pd.DataFrame(rows)


def shape_bounds(raw: Any, name: str, baseline_value: Any, *, arm_levels: np.ndarray, unit_value: Callable,
                 shape: str, value_method: str, alpha: float) -> dict:
    """Bounds on the value and lift of a policy that offers levels between the arms.

    Under ``shape = "monotone"`` the expected outcome does not decrease with the level, so a
    customer offered ``t`` between the arms ``t_lo < t < t_hi`` has expected outcome between
    ``Y(t_lo)`` and ``Y(t_hi)``, and profit ``a(t) Y(t) - c(t)`` between the economics at ``t``
    applied to those two outcomes (which end is the lower one follows the sign of ``a(t)``;
    ``"monotone-decreasing"`` swaps the arms). Each bound is then the value of an arm-only
    policy (each customer's bounding arm) with the outcome transformed by the customer's own
    level's economics, identified by the customers randomized to those arms and estimated like
    every value (same propensity rule, same estimator). The lift's bounds subtract the baseline's
    value with paired influence values; the intervals are Imbens & Manski's (2004).

    ``raw``: the stacked evaluation fold with *raw outcomes* as ``y`` and numeric actions.
    """
    from ..evaluation.bounds import imbens_manski
    from ..evaluation.folds import variance_vector
    from ..evaluation.value import policy_value

    level = np.asarray(raw.policies[name], dtype=np.float64)
    levels = np.unique(level)
    a_of, c_of = unit_value(levels)
    a = a_of[np.searchsorted(levels, level)]
    c = c_of[np.searchsorted(levels, level)]
    hi_idx = np.clip(np.searchsorted(arm_levels, level, side="left"), 0, arm_levels.size - 1)
    on_arm = np.isclose(arm_levels[hi_idx], level, rtol=0, atol=1e-9)
    lo = np.where(on_arm, arm_levels[hi_idx], arm_levels[np.maximum(hi_idx - 1, 0)])
    hi = arm_levels[hi_idx]
    if shape == "monotone-decreasing":
        lo, hi = hi, lo
    low_arm = np.where(a >= 0, lo, hi)   # the arm whose outcome gives the lower profit
    high_arm = np.where(a >= 0, hi, lo)
    z = a * np.asarray(raw.y, dtype=np.float64) - c
    action = np.asarray(raw.action, dtype=np.float64)
    out = {}
    for side, arm in (("lower", low_arm), ("upper", high_arm)):
        v = policy_value(z, action, arm, method=value_method, propensity=raw.propensity, X=raw.X, alpha=alpha)
        g = variance_vector(v.influence, raw.strata)
        g_base = baseline_value.parts[0][3]
        out[f"value_{side}"] = (float(v.estimate), float(np.sqrt(g @ g)))
        d = g - g_base
        out[f"lift_{side}"] = (float(v.estimate) - baseline_value.estimate, float(np.sqrt(d @ d)))
    row = {}
    for what in ("value", "lift"):
        (lo_v, lo_s), (hi_v, hi_s) = out[f"{what}_lower"], out[f"{what}_upper"]
        ci_lo, ci_hi, _ = imbens_manski(lo_v, lo_s, hi_v, hi_s, alpha)
        row.update({f"{what}_lower": lo_v, f"{what}_upper": hi_v, f"{what}_ci_low": ci_lo, f"{what}_ci_high": ci_hi})
    return row


def every_estimator(folds: list, a: str, b: str, alpha: float):
    """``V(a) - V(b)`` by every estimator of step 3, each combined over the folds: they should
    agree within their intervals."""
    import pandas as pd

    from ..evaluation import METHODS
    from ..evaluation.estimators import DESCRIPTIONS
    from ..evaluation.folds import compare_in_folds

    rows = []
    for method in METHODS:
        try:
            (d,) = compare_in_folds(folds, [(a, b)], method=method, alpha=alpha)
        except ValueError as exc:  # e.g. a cell without customers for this estimator
            rows.append({"method": method, "description": f"{DESCRIPTIONS[method]} (not estimable: "
                         f"{str(exc).splitlines()[0]})"})
            continue
        lo, hi, p = d.interval(alpha)
        rows.append({"method": method, "estimate": d.estimate, "se": d.se, "ci_low": lo, "ci_high": hi,
                     "p_value": p, "description": DESCRIPTIONS[method]})
    return pd.DataFrame(rows)
