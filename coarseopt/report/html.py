"""HTML for the study report (stdlib :mod:`html` escaping; no template engine)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from . import plots

__all__ = ["build_html", "write_report"]

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em;
       margin-top: 1.8em; } h3 { margin-bottom: 0.3em; }
.muted { color: #666; font-size: 0.92em; }
.box { background: #f4f7fb; border-left: 4px solid #4C72B0; padding: 0.8em 1.2em; margin: 1em 0; }
.warn { background: #fff6e5; border-left-color: #DD8452; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; }
th { background: #f0f0f0; } td.l, th.l { text-align: left; }
tr.hl td { background: #eef5e9; font-weight: 600; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
code { background: #f2f2f2; padding: 0 0.2em; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: Any, digits: int = 4) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–" if v is None else _e(v)
    return "–" if not math.isfinite(f) else f"{f:,.{digits}g}"


def _money(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(f):
        return "–"
    return f"{f:,.2f}" if abs(f) >= 100 else f"{f:.4f}"


def _pct(v: Any, digits: int = 1) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(f) else f"{100 * f:.{digits}f}%"


def _table(header: list[str], rows: list[list[str]], left: int = 1, highlight: set[int] | None = None,
           left_last: bool = False) -> str:
    highlight = highlight or set()
    last = len(header) - 1 if left_last else -1
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"l" if i < left or i == last else ""}">{_e(h)}</th>' for i, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for r, row in enumerate(rows):
        cls = ' class="hl"' if r in highlight else ""
        out.append(f"<tr{cls}>" + "".join(
            f'<td class="{"l" if i < left or i == last else ""}">{cell}</td>' for i, cell in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _img(fig, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{plots.to_base64_png(fig)}">'


def _who(seg: dict) -> str:
    parts = []
    for d in seg.get("distinctive", []):
        word = "more" if d["std_diff"] > 0 else "less"
        parts.append(
            f"{word} <code>{_e(d['feature'])}</code> ({_num(d['segment_mean'], 3)} vs "
            f"{_num(d['overall_mean'], 3)} overall)"
        )
    return "; ".join(parts) if parts else "close to the average customer"


def _z(alpha: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - alpha / 2)


def _confidence(alpha: float) -> str:
    """The confidence level of ``1 - alpha`` intervals as a percentage: ``"95%"``."""
    return f"{100 * (1 - alpha):.0f}%"


def _crossfit(study: Any) -> bool:
    """Whether the study is cross-fitted (else it holds customers out)."""
    return getattr(study, "split_method", "holdout") == "crossfit"


def _ci(lo: Any, hi: Any) -> str:
    return f"[{_money(lo)}, {_money(hi)}]"


def _point_or_bounds(r: Any, what: str) -> str:
    """The estimate, or ``[lower, upper]`` (bounded under a stated shape) where only bounds exist."""
    v = r.get(what)
    lo, hi = r.get(f"{what}_lower"), r.get(f"{what}_upper")
    if (v is None or not math.isfinite(float(v))) and lo is not None and math.isfinite(float(lo)):
        return f"bounds {_ci(lo, hi)}"
    return _money(v)


def _interpolation_section(study: Any, conf: str) -> list[str]:
    """Where the data can check between-arm predictions: each interior arm predicted from its
    neighbours, against its measured mean outcome."""
    tab = getattr(study, "interpolation", None)
    if tab is None or not len(tab):
        return []
    z = _z(study.config.evaluation["alpha"])
    rows = [[_num(r["arm"], 4), _money(r["measured"]), _ci(r["measured"] - z * r["measured_se"],
                                                           r["measured"] + z * r["measured_se"]),
             _money(r["predicted"]), _money(r["interpolated"]), _num(r["interpolation_error_z"], 2)]
            for _, r in tab.iterrows()]
    return ["<h3>How far to trust predictions between the arms</h3>",
            "<p>Levels between the arms are predicted by interpolating the models' predictions at the two "
            "neighbouring arms. Each interior arm is a test of that: its mean outcome measured on its "
            "customers, the models' prediction at it, and the prediction interpolated from its neighbours "
            "(out-of-fold predictions). <i>z</i>: interpolated minus measured, in standard errors.</p>",
            _table(["arm", "measured outcome", f"{conf} CI", "predicted", "interpolated", "z"], rows)]


def method_sentences(study: Any) -> str:
    """Two sentences on how the study evaluates its policies (report and docs say the same)."""
    if _crossfit(study):
        F = study.config.split["folds"]
        return (f"Every customer was used twice: the policy to deploy was learned on all customers, and each of "
                f"{F} folds was evaluated with the policy learned on the other {F - 1} folds, so no evaluated "
                f"customer helped choose the policy that was evaluated on it. The intervals are about the "
                f"expected value of a policy learned this way from {100 * (F - 1) // F}% of the customers, with "
                f"Imai & Li's variance, which counts how much the fold policies differ: evidence for the deployed "
                f"policy, which is learned the same way from more data.")
    return (f"The policies were learned on {len(study.train_index):,} customers and evaluated on "
            f"{len(study.test_index):,} other customers held out at random, so the evaluation is causal and "
            "not optimistic. The held-out half's information is not used to learn the policy.")


def _recommendation(study: Any) -> str:
    k = study.recommended_k
    if k is None:
        return ""
    ev = study.evaluation.set_index("policy")
    row = ev.loc[f"k={k}"]
    res = study.results[k]
    conf = _confidence(study.config.evaluation["alpha"])
    base = study.config.evaluation["baseline"]
    base_name = "control" if base == "control" else f"everyone: {base}"
    segs = "".join(
        f"<li><b>{_e(seg['treatment'])}</b> to everyone.</li>" if seg["share"] >= 1.0 else
        f"<li><b>{_e(seg['treatment'])}</b> to {_pct(seg['share'])} of customers: {_who(seg)}.</li>"
        for seg in study.segments[k] if seg["count"] > 0
    )
    lo, hi = row.get("lift_sim_ci_low"), row.get("lift_sim_ci_high")
    n_k = int(study.evaluation["policy"].str.startswith("k=").sum())
    sure = ""
    if lo is not None and math.isfinite(float(lo)):
        if float(lo) > 0:
            sure = (f"The lift over <i>{_e(base_name)}</i> is positive with {conf} confidence, "
                    f"simultaneously over the {n_k} k tried (adjusted p = {_num(row.get('p_adjusted'), 3)}).")
        elif float(hi) < 0:
            sure = f"This policy earns significantly <b>less</b> than <i>{_e(base_name)}</i>."
        else:
            sure = (f"<b>No k beats <i>{_e(base_name)}</i> with {conf} confidence</b>: the simultaneous interval "
                    f"of the best one includes zero (adjusted p = {_num(row.get('p_adjusted'), 3)}). "
                    "Personalizing may not pay here.")
    comp = ""
    if study.comparisons is not None and len(study.comparisons):
        c = study.comparisons[study.comparisons["policy_a"] == f"k={k}"]
        if len(c):
            c = c.iloc[0]
            comp = (f" Against {c['policy_b']}: {_money(c['estimate'])} per customer, {conf} CI "
                    f"{_ci(c['ci_low'], c['ci_high'])} (Holm-adjusted p = {_num(c.get('p_holm'), 3)} over the "
                    f"{len(study.comparisons)} comparisons of one k with the previous).")
    gap = ""
    if res.status != "optimal":
        gap = (f" The solver ({_e(res.solver)}) returned status <i>{_e(res.status)}</i>"
               + (f", gap {_pct(res.gap, 3)}" if res.gap is not None else ", no optimality proof") + ".")
    where = "fold by fold" if _crossfit(study) else "on held-out customers"
    bounded = not math.isfinite(float(row["value"])) and math.isfinite(float(row.get("lift_lower", math.nan)))
    if bounded:
        shape = study.config.evaluation.get("shape")
        return f"""
<div class="box">
<p><b>Recommendation: offer k = {k} treatment{'s' if k > 1 else ''}</b> (the largest lower bound of the lift
among the k tried):</p>
<ul>{segs}</ul>
<p>It offers levels between the experiment's arms, so the data bound its value rather than measure it:
under the stated shape (<code>{_e(shape)}</code>) its lift over <i>{_e(base_name)}</i> lies between
<b>{_money(row['lift_lower'])}</b> and <b>{_money(row['lift_upper'])}</b> per customer ({conf} CI
{_ci(row['lift_ci_low'], row['lift_ci_high'])}); the models predict {_money(row.get('predicted_lift'))}.
It captures {_pct(res.recovery)} of the estimated profit of full personalization.{gap}</p>
<p class="muted">{_e(method_sentences(study))}</p>
</div>"""
    return f"""
<div class="box">
<p><b>Recommendation: offer k = {k} treatment{'s' if k > 1 else ''}</b> (the largest estimated lift among the
k tried; its interval below is simultaneous over all k, so it stays valid although the same data chose k):</p>
<ul>{segs}</ul>
<p>Evaluated {where}, this policy earns <b>{_money(row['value'])}</b> per customer ({conf} CI
{_ci(row['value_ci_low'], row['value_ci_high'])}), <b>{_money(row['lift'])}</b> more than
<i>{_e(base_name)}</i> (simultaneous {conf} CI {_ci(lo, hi)}). {sure}{comp}
It captures {_pct(res.recovery)} of the estimated profit of full personalization.{gap}</p>
<p class="muted">{_e(method_sentences(study))}</p>
</div>"""


def _heterogeneity_section(study: Any) -> str:
    """First section: is there heterogeneity worth targeting (verdicts, TOC, GATES)?"""
    het = getattr(study, "heterogeneity", None)
    if not het:
        return ""
    conf = _confidence(het["alpha"])
    z = _z(het["alpha"])
    best = het["table"][-1]["arm"]
    detected = het["verdict"].startswith("Heterogeneity detected")
    who = ("customers, each predicted by models fitted without their fold (out-of-fold)"
           if _crossfit(study) else "held-out customers")
    others = "".join(f"<li>{_e(v)}</li>" for arm, v in het["verdicts"].items() if arm != best)
    rows = [[_e(r["arm"]), _num(r["mean_predicted"], 3), _num(r["ate"], 3),
             _ci(r["ate"] - z * r["ate_se"], r["ate"] + z * r["ate_se"]), _num(r["blp_ate"], 3),
             _num(r["blp_het"], 3), f"± {_num(z * r['blp_het_se'], 2)}", _num(r["blp_het_p"], 3),
             _num(r["autoc"], 3), _ci(r["autoc_ci_low"], r["autoc_ci_high"]),
             _num(r["qini"], 3), _ci(r["qini_ci_low"], r["qini_ci_high"])] for r in het["table"]]
    quint = [[str(g["group"]), f"{g['customers']:,}", _money(g["predicted"]), _money(g["measured"]),
              _ci(g["ci_low"], g["ci_high"])] for g in het["gates"] if str(g["arm"]) == str(best)]
    return "\n".join([
        "<h2>Is there heterogeneity worth targeting?</h2>",
        f'<div class="box{"" if detected else " warn"}"><b>{_e(het["verdict"])}</b></div>',
        f"<ul>{others}</ul>" if others else "",
        f"<p>On the {het['customers']:,} {who}, do the models' predicted lifts rank customers by "
        "their measured lift? <i>Calibration slope</i> (best linear predictor of the doubly robust scores on "
        "the predictions): 1 means the predicted differences between customers are right on average, 0 that "
        "they carry no information (p: one-sided test of slope &le; 0). <i>Mean coefficient</i>: 1 means the "
        "average predicted lift is right. <i>AUTOC</i> and <i>Qini</i>: rank-weighted average treatment "
        "effects, 0 when targeting by the predictions gains nothing over treating at random. "
        f"Intervals at {conf}.</p>",
        _table(["priority", "mean predicted", "measured", f"{conf} CI", "mean coef.", "calibration slope", "",
                "p", "AUTOC", f"{conf} CI", "Qini", f"{conf} CI"], rows),
        _img(plots.toc_figure(study), "TOC curves with pointwise confidence bands"),
        _img(plots.gates_figure(study), "predicted and measured lift per group of predicted lift"),
        f"<h3>Predicted and measured lift per group ({_e(best)})</h3>",
        _table(["group (1 = lowest predicted)", "customers", "predicted", "measured", f"{conf} CI"], quint),
    ])


def build_html(study: Any) -> str:
    """The report as one HTML string (plots embedded)."""
    conf = _confidence(study.config.evaluation["alpha"])
    parts = [
        *_head(study),
        _recommendation(study),
        _heterogeneity_section(study),
        *_evaluation_section(study, conf),
        *_comparisons_section(study, conf),
        *_budget_section(study, conf),
        *_bounds_note(study, conf),
        *_interpolation_section(study, conf),
        *_estimators_section(study, conf),
        *_arm_effects_section(study, conf),
        *_solutions_section(study),
        *_profiles_section(study),
        *_rules_section(study),
        *_run_facts(study),
    ]
    return "\n".join(p for p in parts if p)


def _head(study: Any) -> list[str]:
    """The document head, the title and one line on the data, the split and the solver."""
    cfg, info = study.config, study.data_info
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>coarseopt report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Coarse personalization report</h1>",
        f'<p class="muted">Data: {_e(info.get("source"))} · {info.get("rows_used", 0):,} customers '
        + (f"(cross-fitted, {cfg.split['folds']} folds) · " if _crossfit(study)
           else f"({len(study.train_index):,} for training, {len(study.test_index):,} held out) · ")
        + f"treatments: {', '.join(_e(t) for t in study.treatments)} (control: {_e(study.control)}) · "
        f"solver: <code>{_e(cfg.solve['solver'])}</code> · "
        + (f"learner: {_e(study.learner)} · " if getattr(study, "learner", "") else "")
        + f"config: {_e(cfg.source)}</p>",
    ]


def _evaluation_section(study: Any, conf: str) -> list[str]:
    """The value and lift of every policy with their intervals (``study.evaluation``)."""
    cfg, ev = study.config, study.evaluation
    hl = {i for i, p in enumerate(ev["policy"]) if p == f"k={study.recommended_k}"}
    rows = []
    for _, r in ev.iterrows():
        note = r.get("note") or ""
        rows.append([
            _e(r["policy"]) + (f'<br><span class="muted">{_e(note)}</span>' if note else ""), _e(r["offered"]),
            _point_or_bounds(r, "value"), _ci(r["value_ci_low"], r["value_ci_high"]),
            _point_or_bounds(r, "lift"), _ci(r["lift_ci_low"], r["lift_ci_high"]),
            _ci(r.get("lift_sim_ci_low"), r.get("lift_sim_ci_high")), _num(r.get("p_value"), 3),
            _pct(r.get("share_disagree")), _money(r.get("predicted_lift")),
        ] + ([_money(r.get("true_lift"))] if "true_lift" in ev else []))
    return [
        "<h2>How sure are we? " + ("Cross-fitted" if _crossfit(study) else "Held-out") + " evaluation</h2>",
        f"<p>{_e(method_sentences(study))} Value: estimated profit per customer "
        f"if everyone were treated by the policy; lift: difference to the baseline "
        f"(<code>{_e(cfg.evaluation['baseline'])}</code>), estimator <code>{_e(cfg.evaluation['method'])}</code>; "
        f"intervals at {conf}. <i>Disagree</i>: share of customers for whom the policy and the baseline differ "
        "(only they carry information about the lift). <i>Predicted lift</i>: what the fitted models "
        "expect on the same customers; a predicted lift far above the measured one means the models "
        "overstate the gains of personalization."
        + (" <i>True lift</i>: the synthetic data's known truth." if "true_lift" in ev else "")
        + f" <i>Simultaneous CI</i>: the lifts of all k at once ({conf} max-|t| intervals), the interval to "
        "read for the recommended k, which the same data chose.</p>",
        _img(plots.value_figure(study), "held-out value of each policy with confidence intervals"),
        _table(["policy", "offered", "value", f"{conf} CI", "lift", f"{conf} CI", "simultaneous CI", "p", "disagree",
                "predicted lift"] + (["true lift"] if "true_lift" in ev else []), rows, left=2, highlight=hl),
    ]


def _budget_section(study: Any, conf: str) -> list[str]:
    """Profit against budget (``study.budget_table``): value, lift and spend per customer of
    every k and of full personalization under each budget."""
    table = getattr(study, "budget_table", None)
    if table is None or not len(table):
        return []
    n = max(1, len(study.assignment))
    keep = study.budget.per_customer is not None
    rows = [[_money(r["budget"]), _money(r["budget"] / n), _e(r["offers"]), _e(r.get("offered", "")),
             _point_or_bounds(r, "value"), _ci(r["value_ci_low"], r["value_ci_high"]),
             _point_or_bounds(r, "lift"), _ci(r["lift_ci_low"], r["lift_ci_high"]),
             _money(r.get("predicted_spend")), _money(r.get("spend")), _ci(r.get("spend_ci_low"), r.get("spend_ci_high"))]
            for _, r in table.iterrows()]
    cost = study.config.solve["budget_cost"]
    what = ("the expected spend: the economics' fixed cost plus its proportional cost times the predicted outcome"
            if cost == "expected" else f"the column <code>{_e(cost)}</code> for every customer not given the control")
    return [
        "<h2>Profit against budget</h2>",
        "<p>" + ("Every policy above keeps the budget. " if keep else
                 "The policies above have no budget; here every k is learned again under each budget. ")
        + f"A customer's cost is {what}. Each policy is learned and evaluated with the same budget per customer "
        "as the whole study (a fold's customers are assigned as one batch that spends at most their share). "
        "<i>Predicted spend</i>: what the models expect the policy to spend per customer; <i>spend</i>: "
        f"estimated from what the experiment's customers actually cost, with its {conf} interval. Full "
        "personalization under the same budget (any arm for any customer) shows what the limit on the number "
        "of treatments costs.</p>",
        _img(plots.budget_figure(study), "profit and spend per customer against budget"),
        _table(["budget", "per customer", "policy", "offered", "value", f"{conf} CI", "lift", f"{conf} CI",
                "predicted spend", "spend", f"{conf} CI"], rows, left=4),
    ]


def _comparisons_section(study: Any, conf: str) -> list[str]:
    """Each k against the previous one, with Holm-adjusted p-values (``study.comparisons``)."""
    if study.comparisons is None or not len(study.comparisons):
        return []
    rows = [[_e(c["policy_a"]) + " vs " + _e(c["policy_b"]), _money(c["estimate"]),
             _ci(c["ci_low"], c["ci_high"]), _num(c.get("p_value"), 3), _num(c.get("p_holm"), 3)]
            for _, c in study.comparisons.iterrows()]
    return ["<h3>Does offering one more treatment pay?</h3>",
            "<p>Each k against the previous one. These comparisons are a family: read the Holm-adjusted "
            "p-value, which controls the chance of any false \"it pays\" among them.</p>",
            _table(["comparison", "difference", f"{conf} CI", "p", "p (Holm)"], rows)]


def _bounds_note(study: Any, conf: str) -> list[str]:
    """What the bounds of policies offering levels between the arms rest on, where there are any."""
    ev = study.evaluation
    if "value_lower" not in ev or not ev["value_lower"].notna().any():
        return []
    return [f"<p><b>Bounds.</b> Policies offering levels between the arms are bounded under the "
            f"stated shape (<code>[evaluation] shape = \"{_e(study.config.evaluation.get('shape'))}\"</code>): "
            "each customer's outcome at such a level lies between its outcomes at the two neighbouring "
            f"arms. The {conf} interval (Imbens &amp; Manski 2004) covers the true value if that shape "
            "holds; the predicted lift beside it is the models' value, which no data checks directly.</p>"]


def _estimators_section(study: Any, conf: str) -> list[str]:
    """The recommended policy against the baseline by every estimator (``study.estimators``)."""
    est = getattr(study, "estimators", None)
    if est is None or not len(est):
        return []
    rows = [[_e(r.get("method", "")), _money(r.get("estimate")), _ci(r.get("ci_low"), r.get("ci_high")),
             _num(r.get("se"), 3), _num(r.get("p_value"), 3), _e(r.get("description", ""))]
            for _, r in est.iterrows()]
    return [f"<h3>k={study.recommended_k} against the baseline, with every estimator</h3>",
            "<p>The same comparison by each estimator of the evaluation step; they should agree "
            "within their intervals (see docs/evaluation.md).</p>",
            _table(["estimator", "lift", f"{conf} CI", "se", "p", "how"], rows, left=1, left_last=True)]


def _arm_effects_section(study: Any, conf: str) -> list[str]:
    """Each arm given to everyone: the models' prediction against the measured effect."""
    arms = getattr(study, "arm_effects", None)
    if arms is None or not len(arms):
        return []
    z = _z(study.config.evaluation["alpha"])
    held = "measured_test" in arms
    rows = []
    for _, r in arms.iterrows():
        row = [_e(r["arm"]), f"{int(r['customers_train']):,}", _money(r["predicted"]),
               _money(r["measured_train"]),
               _ci(r["measured_train"] - z * r["measured_train_se"], r["measured_train"] + z * r["measured_train_se"])]
        if held:
            row += [_money(r["measured_test"]),
                    _ci(r["measured_test"] - z * r["measured_test_se"], r["measured_test"] + z * r["measured_test_se"])]
        rows.append(row)
    header = ["arm", "customers (training)", "predicted", "measured (training)", f"{conf} CI"]
    if held:
        header += ["measured (held out)", f"{conf} CI"]
    return ["<h3>Each arm for everyone: predicted and measured</h3>",
            "<p>Incremental profit per customer of giving every customer one arm instead of the control: "
            "the models' mean prediction, and the doubly robust estimate from the experiment's outcomes. "
            "Far apart means the models are biased.</p>",
            _table(header, rows)]


def _solutions_section(study: Any) -> list[str]:
    """The solver's answer for every k: offered treatments, status, bound, recovery."""
    rows = []
    for k, res in study.results.items():
        rows.append([
            f"k={k}", ", ".join(f"{_e(l)} ({_pct(s)})" for l, s in zip(res.offered_labels, res.shares) if s > 0),
            _e(res.status), _num(res.objective, 6), _num(res.bound, 6),
            _pct(res.gap, 3) if res.gap is not None else "–", _pct(res.recovery), f"{res.wall_time:.2f} s",
        ])
    return [
        "<h2>Which treatments to offer</h2>",
        "<p>For each k the solver chooses at most k treatments and assigns every training customer the "
        "most profitable offered one, by the cross-fitted profit estimates. <i>Recovery</i>: the share of "
        "full personalization's estimated profit captured; <i>bound</i> / <i>gap</i>: a proven upper bound "
        "and the distance to it, where the solver proves one (status <i>optimal</i> means proven).</p>",
        _table(["k", "offered (share)", "status", "objective (total)", "bound", "gap", "recovery", "time"], rows),
        _img(plots.recovery_figure(study), "recovery versus k"),
        _img(plots.segment_sizes_figure(study), "segment sizes per k"),
    ]


def _profiles_section(study: Any) -> list[str]:
    """Who each segment of every k is: feature means and mean profit per treatment."""
    parts = ["<h2>Who gets what: segment profiles</h2>",
             "<p>Mean of each feature among the customers of a segment (training half); the text lists "
             "the features that set the segment apart most. Mean profit: estimated incremental profit "
             "per customer of the segment under each treatment.</p>"]
    for k in study.results:
        segs = [s for s in study.segments[k] if s["count"] > 0]
        parts.append(f"<h3>k = {k}</h3>")
        if study.recommended_k == k or len(study.results) <= 3:
            if segs and segs[0]["profile"]:
                parts.append(_img(plots.profile_figure(study, k), f"segment profiles for k={k}"))
        tr = [str(t) for t in study.treatments]
        rows = [[_e(s["treatment"]), f"{s['count']:,}", _pct(s["share"]), _who(s)]
                + [_money(s["mean_profit"].get(t)) for t in tr] for s in segs]
        parts.append(_table(["segment", "customers", "share", "distinctive features"]
                            + [f"profit: {t}" for t in tr], rows, left=1))
    return parts


def _run_facts(study: Any) -> list[str]:
    """Rows read and dropped, timings, versions and the configuration; closes the document."""
    from ..config import dump_toml

    info = study.data_info
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in study.timings.items())
    versions = ", ".join(f"{k} {v}" for k, v in study.versions.items())
    return [
        "<h2>About this run</h2>",
        f"<p class=\"muted\">Rows read {info.get('rows_read', 0):,}, dropped {info.get('rows_dropped', 0):,}; "
        f"arms: {', '.join(f'{_e(a)} ({n:,})' for a, n in info.get('arms', {}).items())}.<br>"
        f"Timings: {_e(timings)}.<br>Versions: {_e(versions)}.</p>",
        "<details><summary>Configuration</summary><pre>" + _e(dump_toml(study.config.as_dict())) + "</pre></details>",
        "</body></html>",
    ]


def _rules_section(study: Any) -> list[str]:
    """The readable segment rules of every k (``study.rules``, from the saved policy)."""
    rules = getattr(study, "rules", None) or {}
    if not rules:
        return []
    depth = next(iter(rules.values()))["depth"]
    parts = [
        "<h2>Who gets what: segment rules</h2>",
        f"<p>For each k, the best policy tree of depth {depth} over the features: the if/else rules that "
        "give the offered treatments to the customers with the most estimated profit (exact search over "
        "every split, as R <code>policytree</code>). <em>Kept</em>: the share of the model-based "
        "assignment's estimated profit the rules keep on the customers they were fitted on (they ignore "
        "share bounds, so with bounds it can exceed 100%). <em>Held-out value</em> (holdout study only): "
        "mean profit per customer on the held-out customers, beside the model-based policy's. Run them in a database with the SQL "
        "expression, or with <code>coarseopt apply --rules</code>.</p>",
    ]
    for k, r in rules.items():
        held = "–" if r.get("held_out_value") is None else (
            f"{_money(r['held_out_value'])} ± {_money(r.get('held_out_value_se'))}")
        model = "–" if r.get("model_value") is None else (
            f"{_money(r['model_value'])} ± {_money(r.get('model_value_se'))}")
        parts += [
            f"<h3>k = {k}</h3>",
            f"<p>Kept {_pct(r.get('kept'))} of the model-based estimated profit; held-out value {held} "
            f"(model-based policy: {model}).</p>",
            f"<pre>{_e(r['text'])}</pre>",
            f"<details><summary>SQL</summary><pre>{_e(r['sql'])}</pre></details>",
        ]
    return parts


def write_report(study: Any, path: str | Path) -> Path:
    """Write the self-contained HTML report of ``study`` to ``path``."""
    path = Path(path)
    path.write_text(build_html(study), encoding="utf-8")
    return path
