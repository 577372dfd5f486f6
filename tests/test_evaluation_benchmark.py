"""Smoke test of the policy-evaluation benchmark runner (a tiny configuration)."""

from __future__ import annotations

import json

import numpy as np


def test_benchmark_runner_quick(tmp_path):
    from benchmarks.evaluation import main, truth

    assert main(["--quick", "--out", str(tmp_path)]) == 0
    records = [json.loads(line) for line in (tmp_path / "evaluation.jsonl").read_text().splitlines()]
    sims = [r for r in records if r["section"] == "simulation"]
    assert {r["method"] for r in sims} == {"disagreement", "naive", "regression", "ipw", "snipw", "dr"}
    assert all(np.isfinite(r["bias"]) and 0.0 <= r["coverage"] <= 1.0 for r in sims)
    assert "Disagreement vs naive" in (tmp_path / "evaluation.md").read_text()
    facts = json.loads((tmp_path / "evaluation_facts.json").read_text())
    assert facts["reps"] == 20 and "versions" in facts
    # the report and a page's generated block can be rebuilt from the results alone
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- BEGIN generated: simulation -->\nold\n<!-- END generated: simulation -->\nend\n")
    assert main(["--from-results", "--out", str(tmp_path), "--docs", str(page)]) == 0
    text = page.read_text()
    assert "old" not in text and "20 replications of 400 customers" in text and text.endswith("end\n")
    # the process's truth: policies disagree exactly on the share asked for
    assert abs(truth(0.2)["p_d"] - 0.2) < 1e-9
