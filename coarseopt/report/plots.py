"""The report's figures, drawn with matplotlib's object API (no pyplot state, no display).

Each function takes a :class:`coarseopt.pipeline.Study` and returns a
:class:`matplotlib.figure.Figure`; :func:`to_base64_png` turns one into the text of an
``<img src="data:image/png;base64,...">`` so that the report needs no other file.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np

__all__ = [
    "recovery_figure",
    "segment_sizes_figure",
    "profile_figure",
    "value_figure",
    "toc_figure",
    "gates_figure",
    "to_base64_png",
]

_PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
            "#CCB974", "#64B5CD"]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig


def _colors(treatments: list) -> dict:
    return {str(t): _PALETTE[i % len(_PALETTE)] for i, t in enumerate(treatments)}


def to_base64_png(fig) -> str:
    """The figure as base64-encoded PNG text."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def recovery_figure(study: Any):
    """Share of full personalization's estimated profit captured with k treatments."""
    ks = list(study.results)
    rec = [100 * study.results[k].recovery for k in ks]
    fig = _figure(6.0, 3.4)
    ax = fig.add_subplot()
    ax.plot(ks, rec, marker="o", color=_PALETTE[0])
    for k, r in zip(ks, rec):
        if math.isfinite(r):
            ax.annotate(f"{r:.1f}%", (k, r), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=9)
    ax.axhline(100, color="0.6", lw=1, ls="--")
    ax.set_xticks(ks)
    ax.set_xlabel("k: number of treatments offered")
    ax.set_ylabel("recovery (% of full personalization)")
    finite = [r for r in rec if math.isfinite(r)]
    low = min(finite + [100.0]) if finite else 0.0
    ax.set_ylim(min(low - 5, 95), 107)
    ax.set_title("Estimated profit recovered (training customers)", fontsize=11)
    ax.grid(alpha=0.3)
    return fig


def segment_sizes_figure(study: Any):
    """Stacked bars: the share of customers assigned to each treatment, for every k."""
    ks = list(study.results)
    colors = _colors(study.treatments)
    fig = _figure(6.8, 0.55 * len(ks) + 1.6)
    ax = fig.add_subplot()
    seen = set()
    for row, k in enumerate(ks):
        res = study.results[k]
        left = 0.0
        for lab, share in zip(res.offered_labels, res.shares):
            name = str(lab)
            ax.barh(row, 100 * share, left=left, color=colors[name], edgecolor="white",
                    label=name if name not in seen else None)
            seen.add(name)
            if share >= 0.08:
                ax.text(left + 50 * share, row, f"{100 * share:.0f}%", ha="center", va="center",
                        fontsize=9, color="white")
            left += 100 * share
    ax.set_yticks(range(len(ks)), [f"k={k}" for k in ks])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of customers (%)")
    ax.set_title("Segment sizes: who gets which treatment", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=min(4, len(seen)), frameon=False, fontsize=9)
    return fig


def profile_figure(study: Any, k: int, max_features: int = 16):
    """Heat map: how each segment differs from the average customer (standardized means)."""
    segs = study.segments[k]
    names = list(segs[0]["profile"]) if segs else []
    stats = getattr(study, "feature_stats", {}) or {}
    X = np.array([[seg["profile"][f] for f in names] for seg in segs], dtype=float)
    if stats:
        mean = np.array([stats[f]["mean"] for f in names])
        sd = np.array([stats[f]["sd"] for f in names])
    else:
        w = np.array([seg["share"] for seg in segs])
        mean = (w[:, None] * X).sum(axis=0)
        sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    Z = (X - mean) / sd
    if len(names) > max_features:
        keep = np.argsort(-np.abs(Z).max(axis=0))[:max_features]
        keep.sort()
        names = [names[i] for i in keep]
        X, Z = X[:, keep], Z[:, keep]
    fig = _figure(min(1.0 + 0.75 * len(names), 13.0), 1.2 + 0.55 * len(segs) + 1.2)
    ax = fig.add_subplot()
    lim = max(0.5, float(np.abs(Z).max()))
    im = ax.imshow(Z, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(len(segs)):
        for j in range(len(names)):
            dark = abs(Z[i, j]) > 0.6 * lim
            ax.text(j, i, _short(X[i, j]), ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_yticks(range(len(segs)), [f"{seg['treatment']} ({100 * seg['share']:.0f}%)" for seg in segs])
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    ax.set_title(f"Segment profiles for k={k}: feature means (color: above / below average)", fontsize=11)
    fig.colorbar(im, ax=ax, shrink=0.8, label="vs. average (std. dev.)")
    return fig


def _short(v: float) -> str:
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def value_figure(study: Any):
    """Held-out value of each policy and its lift over the baseline, with confidence intervals."""
    ev = study.evaluation
    alpha = study.config.evaluation["alpha"]
    names = list(ev["policy"])
    y = np.arange(len(names))
    fig = _figure(9.0, 0.5 * len(names) + 1.8)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    for ax, col, title in ((ax1, "value", "profit per customer"), (ax2, "lift", "lift over the baseline")):
        est = ev[col].to_numpy(dtype=float)
        lo = ev[f"{col}_ci_low"].to_numpy(dtype=float)
        hi = ev[f"{col}_ci_high"].to_numpy(dtype=float)
        err = np.vstack([est - lo, hi - est])
        colors = [_PALETTE[0] if n.startswith("k=") else "0.45" for n in names]
        for i in range(len(names)):
            ax.errorbar(est[i], y[i], xerr=err[:, i:i + 1], fmt="o", color=colors[i], capsize=4)
        bounds = (ev[f"{col}_lower"].to_numpy(dtype=float), ev[f"{col}_upper"].to_numpy(dtype=float)) \
            if f"{col}_lower" in ev else None
        for i in range(len(names)):
            if np.isfinite(est[i]):
                continue
            if bounds is not None and np.isfinite(bounds[0][i]):
                # bounded under a stated shape: the bounds as a bar, the interval as whiskers
                ax.plot([bounds[0][i], bounds[1][i]], [y[i], y[i]], lw=6, color=colors[i], alpha=0.35,
                        solid_capstyle="butt")
                ax.plot([lo[i], hi[i]], [y[i], y[i]], lw=1, color=colors[i])
                for end in (lo[i], hi[i]):
                    ax.plot([end, end], [y[i] - 0.12, y[i] + 0.12], lw=1, color=colors[i])
                continue
            text = "n/a: not in the experiment's arms" if col == "value" else "n/a"
            ax.annotate(text, (0.02, y[i]), xycoords=("axes fraction", "data"),
                        va="center", fontsize=8, color="0.4")
        if col == "lift":
            ax.axvline(0, color="0.5", lw=1, ls="--")
            handles = []
            if "predicted_lift" in ev:
                handles.append(ax.scatter(ev["predicted_lift"].to_numpy(dtype=float), y, marker="D", s=28,
                                          facecolors="none", edgecolors=_PALETTE[1], label="predicted by the models",
                                          zorder=3))
            if "true_lift" in ev:
                handles.append(ax.scatter(ev["true_lift"].to_numpy(dtype=float), y, marker="x", s=40,
                                          color=_PALETTE[3], label="true (synthetic data)", zorder=3))
            if handles:
                fig.legend(handles=handles, loc="outside lower right", ncol=len(handles), frameon=False, fontsize=8)
        ax.set_title(f"{title} ({100 * (1 - alpha):.0f}% CI)", fontsize=11)
        ax.grid(axis="x", alpha=0.3)
    ax1.set_yticks(y, names)
    ax1.invert_yaxis()
    fig.suptitle("Evaluation on customers whose policy never saw them (shaded bar: bounds under the stated "
                 "shape)" if bounds is not None and np.isfinite(bounds[0]).any() else
                 "Evaluation on customers whose policy never saw them", fontsize=11)
    return fig


def _rows_by_arm(records: list, order: list) -> dict:
    out: dict = {str(a): [] for a in order}
    for r in records:
        out.setdefault(str(r["arm"]), []).append(r)
    return out


def toc_figure(study: Any):
    """TOC curves on customers the models did not see (held out or out-of-fold): measured
    lift of the top q by predicted lift minus the measured lift of everyone, with pointwise
    intervals."""
    het = study.heterogeneity
    alpha = het["alpha"]
    arms = [r["arm"] for r in het["table"]]
    curves = _rows_by_arm(het["toc"], arms)
    fig = _figure(6.8, 3.8)
    ax = fig.add_subplot()
    for i, arm in enumerate(arms):
        rows = curves[str(arm)]
        q = np.array([0.0] + [r["q"] for r in rows])
        est = np.array([np.nan] + [r["toc"] for r in rows], dtype=float)
        lo = np.array([np.nan] + [r["ci_low"] for r in rows], dtype=float)
        hi = np.array([np.nan] + [r["ci_high"] for r in rows], dtype=float)
        color = "0.15" if i == len(arms) - 1 else _PALETTE[i % len(_PALETTE)]
        ax.plot(q[1:], est[1:], marker="o", ms=3, color=color, label=str(arm))
        ax.fill_between(q[1:], lo[1:], hi[1:], color=color, alpha=0.12, lw=0)
    ax.axhline(0, color="0.5", lw=1, ls="--")
    ax.set_xlim(0, 1)
    ax.set_xlabel("q: share of customers treated first (highest predicted lift)")
    ax.set_ylabel("lift of the top q minus lift of all")
    ax.set_title(f"Targeting operator characteristic (customers the models did not see; "
                 f"{100 * (1 - alpha):.0f}% pointwise bands)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


def gates_figure(study: Any, max_panels: int = 6):
    """Predicted and measured lift per quantile group of predicted lift (GATES), one panel
    per arm (the best predicted arm first)."""
    het = study.heterogeneity
    alpha = het["alpha"]
    arms = [r["arm"] for r in het["table"]]
    arms = (arms[-1:] + arms[:-1])[:max_panels]
    groups = _rows_by_arm(het["gates"], arms)
    fig = _figure(min(3.2 * len(arms), 13.0), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(arms), sharey=True))
    for ax, arm in zip(axes, arms):
        rows = groups[str(arm)]
        g = np.array([r["group"] for r in rows])
        est = np.array([r["measured"] for r in rows], dtype=float)
        err = np.vstack([est - np.array([r["ci_low"] for r in rows], dtype=float),
                         np.array([r["ci_high"] for r in rows], dtype=float) - est])
        ax.errorbar(g, est, yerr=err, fmt="o", color=_PALETTE[0], capsize=4, label="measured")
        ax.scatter(g, [r["predicted"] for r in rows], marker="D", s=28, facecolors="none",
                   edgecolors=_PALETTE[1], label="predicted", zorder=3)
        ax.axhline(0, color="0.5", lw=1, ls="--")
        ax.set_xticks(g)
        ax.set_xlabel("group of predicted lift (1 = lowest)", fontsize=8)
        ax.set_title(str(arm), fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("lift over the control")
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle(f"Predicted and measured lift per group (customers the models did not see; "
                 f"{100 * (1 - alpha):.0f}% CI)", fontsize=11)
    return fig


def budget_figure(study: Any):
    """Profit against budget: for every k and full personalization, the value per customer
    (with its interval) and the spend per customer at each budget."""
    table = study.budget_table
    alpha = study.config.evaluation["alpha"]
    fig = _figure(9.0, 3.6)
    ax1, ax2 = fig.subplots(1, 2)
    offers = sorted(set(table["offers"]), key=lambda o: (o == "full personalization", o))
    n = max(1, len(study.assignment))
    for i, offer in enumerate(offers):
        rows = table[table["offers"] == offer].sort_values("budget")
        per_customer = rows["budget"].to_numpy(dtype=float) / n
        color = "0.35" if offer == "full personalization" else _PALETTE[i % len(_PALETTE)]
        style = "--" if offer == "full personalization" else "-"
        value = rows["value"].to_numpy(dtype=float)
        lo, hi = rows["value_ci_low"].to_numpy(dtype=float), rows["value_ci_high"].to_numpy(dtype=float)
        ax1.errorbar(per_customer, value, yerr=np.vstack([value - lo, hi - value]), fmt="o", ls=style, color=color,
                     capsize=3, label=offer)
        if "spend" in rows:
            ax2.plot(per_customer, rows["spend"].to_numpy(dtype=float), "o", ls=style, color=color, label=offer)
    top = float(table["budget"].max()) / n
    ax2.plot([0, top], [0, top], color="0.6", lw=1, ls=":", label="spend = budget")
    ax1.set_title(f"profit per customer ({100 * (1 - alpha):.0f}% CI)", fontsize=11)
    ax2.set_title("spend per customer (estimated from the data)", fontsize=11)
    for ax in (ax1, ax2):
        ax.set_xlabel("budget per customer")
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=8, frameon=False)
    fig.suptitle("Profit against budget, on customers whose policy never saw them", fontsize=11)
    return fig
