"""Smoke test of the deployment benchmark (``python -m benchmarks.apply``) on tiny sizes."""

from __future__ import annotations

import pytest

from benchmarks import apply as bench


@pytest.mark.slow
def test_apply_benchmark_runs_and_reports(tmp_path):
    rows = bench.quality(0, 1500, 2000, (2,), tmp_path)
    rows += bench.scale((3000,), tmp_path, n_train=1500)
    quality = [r for r in rows if r["suite"] == "quality"][0]
    # a policy never beats the perfect use of its own offered set, nor that set the true optimum
    assert quality["applied"] <= quality["oracle_offered"] + 1e-12
    assert quality["oracle_offered"] <= quality["optimal"] + 1e-9
    assert all(quality[f"rules_d{d}"] <= quality["oracle_offered"] + 1e-12 for d in (1, 2, 3))
    bounds = [r for r in rows if r["suite"] == "bounds"][0]
    assert bounds["batch_max_share"] <= 0.4 + 1e-12
    scale = [r for r in rows if r["suite"] == "scale"][0]
    assert scale["output_rows"] == 3000 and scale["peak_rss_mb"] > 0
    text = bench._markdown(rows, {"usable_cpus": 2, "cpu": "x", "commit": None})
    assert "oracle use of its offered set" in text and "peak memory" in text
