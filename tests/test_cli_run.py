"""``coarseopt run`` end to end, as a subprocess: outputs, their content, overwrite rules."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from test_cli import assert_one_line_error, make_experiment, run_cli, write_study

N = 6000
DROPPED = [0, 5, 7]  # rows with a missing feature value, dropped by `dropna = true`


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    """One run of the small study (k = 1, 2; exact solver), shared by the content tests."""
    tmp = tmp_path_factory.mktemp("run")
    df = make_experiment(N, seed=0)
    df.loc[DROPPED, "region"] = np.nan
    config = write_study(tmp, df)
    proc = run_cli("run", str(config), "--out", "results", "--set", "evaluation.all_estimators=true",
                   "--set", "data.dropna=true", cwd=tmp)
    return tmp, config, proc


def test_run_succeeds_and_prints_a_summary(study_run):
    tmp, _, proc = study_run
    assert proc.returncode == 0, proc.stderr
    assert "k=2: offer A" in proc.stdout
    assert "wrote results" in proc.stdout
    assert proc.stderr.strip() == ""  # no bars, no logs when not a terminal and not --verbose
    files = sorted(p.name for p in (tmp / "results").iterdir())
    assert files == ["assignment.csv", "config.toml", "evaluation.csv", "policy", "profit.parquet", "report.html",
                     "segments.json", "summary.json"]
    # nothing left beside the output directory
    assert [p.name for p in tmp.iterdir() if p.name.startswith(".")] == []


def test_offered_treatments_and_segments(study_run):
    tmp, _, _ = study_run
    summary = json.loads((tmp / "results" / "summary.json").read_text(encoding="utf-8"))
    # cross-fitted (the default): every customer learns the deployed policy and is evaluated once
    assert summary["split"] == "crossfit" and summary["folds"] == 5
    assert summary["n_train"] == summary["n_test"] == N - len(DROPPED)
    assert summary["data"]["rows_dropped"] == len(DROPPED) and summary["data"]["rows_read"] == N
    assert summary["treatments"] == ["A", "B", "none"] and summary["control"] == "none"
    k2 = summary["results"]["2"]
    assert k2["status"] == "optimal" and k2["gap"] == pytest.approx(0.0, abs=1e-9)
    assert k2["offered"] == ["A", "B"]  # the designed optimum: A for x1 > 0, B for VIPs
    assert sum(k2["shares"]) == pytest.approx(1.0)
    assert 0 < summary["results"]["1"]["recovery"] < k2["recovery"] <= 1.0 + 1e-12
    segments = json.loads((tmp / "results" / "segments.json").read_text(encoding="utf-8"))
    segs = {s["treatment"]: s for s in segments["2"]["segments"]}
    assert segs["A"]["profile"]["x1"] > 0 > segs["B"]["profile"]["x1"]
    assert segs["B"]["profile"]["vip"] > segs["A"]["profile"]["vip"]
    assert sum(s["count"] for s in segs.values()) == summary["n_train"]


def test_assignment_covers_every_customer(study_run):
    tmp, _, _ = study_run
    assign = pd.read_csv(tmp / "results" / "assignment.csv")
    assert list(assign.columns) == ["row", "split", "treatment_k1", "evaluated_k1", "treatment_k2", "evaluated_k2"]
    kept = [i for i in range(N) if i not in DROPPED]
    assert len(assign) == len(kept) and assign["row"].tolist() == list(range(len(kept)))
    assert sorted(set(assign["split"])) == [1, 2, 3, 4, 5]           # the fold of every customer
    assert assign["treatment_k1"].nunique() == 1
    assert set(assign["treatment_k2"]) <= {"A", "B"} and set(assign["evaluated_k2"]) <= {"A", "B"}
    data = make_experiment(N, seed=0).iloc[kept].reset_index(drop=True)
    # every customer is evaluated with its fold's policy, learned without it, which targets by the
    # rule where the choice matters: x1 > 0 and not VIP gain only from A; VIPs with x1 <= 0 only from B
    a_only = (data["x1"] > 0) & (data["vip"] == 0)
    b_only = (data["x1"] <= 0) & (data["vip"] == 1)
    for col in ("treatment_k2", "evaluated_k2"):
        assert (assign.loc[a_only, col] == "A").mean() > 0.8
        assert (assign.loc[b_only, col] == "B").mean() > 0.8


def test_evaluation_table_shows_a_significant_lift(study_run):
    tmp, _, _ = study_run
    ev = pd.read_csv(tmp / "results" / "evaluation.csv")
    assert ev["policy"].tolist() == ["control", "k=1", "k=2", "full personalization"]
    row = ev.set_index("policy").loc["k=2"]
    # true lift of k = 2 over control is about 3 * P(x1 > 0 or vip) - 0.5 ~ 1.75 per customer
    assert row["lift_ci_low"] > 0.5 and row["p_value"] < 1e-6
    assert row["value_ci_low"] < row["value"] < row["value_ci_high"]
    summary = json.loads((tmp / "results" / "summary.json").read_text(encoding="utf-8"))
    assert summary["recommended_k"] == 2
    assert row["lift_sim_ci_low"] < row["lift_ci_low"] and row["lift_sim_ci_high"] > row["lift_ci_high"]
    comp = summary["comparisons"][0]
    assert comp["policy_a"] == "k=2" and comp["p_holm"] >= comp["p_value"]


def test_report_is_self_contained(study_run):
    tmp, _, _ = study_run
    html = (tmp / "results" / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= 4
    assert "<script" not in html and "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "Recommendation: offer k = 2 treatments" in html
    assert "each of 5 folds was evaluated with the policy learned on the other 4 folds" in html
    assert "every estimator" in html


def test_profit_of_a_run_feeds_solve(study_run):
    """`coarseopt solve` on a run's profit.parquet reproduces the run's solution."""
    tmp, _, _ = study_run
    proc = run_cli("solve", "results/profit.parquet", "-k", "2", "--solver", "enumerate", "--json", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    (res,) = json.loads(proc.stdout)
    summary = json.loads((tmp / "results" / "summary.json").read_text(encoding="utf-8"))
    assert res["offered"] == summary["results"]["2"]["offered"]
    assert res["objective"] == pytest.approx(summary["results"]["2"]["objective"])


def test_existing_output_needs_force(study_run):
    tmp, config, _ = study_run
    out = tmp / "results"
    before = (out / "summary.json").read_bytes()
    proc = run_cli("run", str(config), "--out", "results", "--set", "data.dropna=true", cwd=tmp)
    assert_one_line_error(proc, "not empty", "--force")
    assert (out / "summary.json").read_bytes() == before
    (out / "stale.txt").write_text("old", encoding="utf-8")
    proc = run_cli("run", str(config), "--out", "results", "--force", "--quiet", "--set", "data.dropna=true",
                   "--set", "solve.k=1", "--set", "output.report=false", "--set", "output.assignment_format=parquet",
                   "--set", "split.method=holdout", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""  # --quiet
    names = {p.name for p in out.iterdir()}
    assert "stale.txt" not in names and "report.html" not in names  # replaced as a whole
    assert "assignment.parquet" in names
    assign = pd.read_parquet(out / "assignment.parquet")
    assert list(assign.columns) == ["row", "split", "treatment_k1", "evaluated_k1"]
    assert set(assign["split"]) == {"train", "test"}
    assert (assign["evaluated_k1"] == "").sum() == (assign["split"] == "train").sum()   # valued on test only
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["split"] == "holdout" and summary["n_train"] + summary["n_test"] == N - len(DROPPED)
    assert [p.name for p in tmp.iterdir() if p.name.startswith(".")] == []


def test_embedded_default_on_a_subsample(tmp_path):
    """The default study (bundled Hillstrom data) with a subsample and an exact solver."""
    proc = run_cli("run", "--set", "data.sample=6000", "--set", "estimation.cv=2", "--set", "solve.solver=enumerate",
                   "--set", "evaluation.all_estimators=false", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "coarseopt-results"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["data"]["rows_used"] == 6000
    assert summary["treatments"] == ["Mens E-Mail", "No E-Mail", "Womens E-Mail"]
    assert sorted(summary["results"]) == ["1", "2", "3"]
    assert all(r["status"] == "optimal" for r in summary["results"].values())
    assert summary["results"]["3"]["recovery"] == pytest.approx(1.0)
    assert (out / "report.html").stat().st_size > 10_000

