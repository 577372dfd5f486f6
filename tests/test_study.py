"""The study's own rules: share bounds kept for every customer it assigns, propensity from the
experiment's arm shares, the holdout and cross-fitted splits."""

from __future__ import annotations

import numpy as np
import pytest

from coarseopt.config import parse_config
from coarseopt.pipeline import run_study


def _study(**sections):
    raw = {
        "data": {"dataset": "promotions", "n": 3000, "seed": 4},
        "estimation": {"learner": "t", "base_model": "linear", "n_jobs": 1},
        "solve": {"k": [2], "solver": "ot"},
        "evaluation": {"all_estimators": False},
        "output": {"report": False},
    }
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return run_study(parse_config(raw), progress=False)


@pytest.mark.parametrize("method", ["crossfit", "holdout"])
def test_share_bounds_hold_for_every_assigned_customer(method):
    """Held-out or fold customers, and the deployed policy, keep [solve] max_share (the plain
    best-offered rule gave one treatment far more than its cap)."""
    cap = 0.5
    study = _study(split={"method": method}, solve={"max_share": cap})
    assign = study.assignment
    deployed = assign["treatment_k2"].value_counts(normalize=True)
    assert deployed.max() <= cap + 1e-9
    for _, part in assign[assign["evaluated_k2"] != ""].groupby("split"):
        shares = part["evaluated_k2"].value_counts()
        assert shares.max() <= np.floor(cap * len(part)) + 1e-9
    free = _study(split={"method": method})          # without the cap, the bound would bind
    assert free.assignment["treatment_k2"].value_counts(normalize=True).max() > cap


def test_crossfit_evaluates_every_customer_once_with_its_folds_policy():
    study = _study()
    assign = study.assignment
    assert study.split_method == "crossfit" and sorted(assign["split"].unique()) == [1, 2, 3, 4, 5]
    assert (assign["evaluated_k2"] != "").all()
    assert len(study.fold_results) == 5 and all(2 in r for r in study.fold_results)
    row = study.evaluation.set_index("policy").loc["k=2"]
    assert row["lift_sim_ci_low"] <= row["lift_ci_low"] <= row["lift"] <= row["lift_ci_high"] <= row["lift_sim_ci_high"]
