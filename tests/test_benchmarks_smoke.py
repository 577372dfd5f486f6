"""The benchmark runner end to end (light smoke configuration), and its metric helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks import _metrics, _report
from benchmarks.suite import SUITES, _expand, run


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    return run(["smoke"], out, quick=True, progress=False)


def _records(path):
    return [json.loads(line) for line in (path / "results.jsonl").read_text().splitlines() if line.strip()]


def test_smoke_run_writes_results_report_and_plots(smoke):
    records = _records(smoke)
    meta = records[0]
    assert meta["kind"] == "meta"
    assert meta["versions"]["numpy"] == np.__version__
    assert meta["machine"]["logical_cpus"] >= 1
    results = [r for r in records if r["kind"] == "result"]
    suites = {r["suite"] for r in results}
    assert {"smoke/pmed", "smoke/scaling"} <= suites
    assert not [r for r in results if r.get("status") in ("error", "killed")], "a method failed"
    # Skipped: only an optional peer that is not installed, or a method that does not apply.
    for r in records:
        if r["kind"] == "skip":
            assert r["reason"].startswith(("not applicable", "run only up to", "econml is not installed")), r
    report = (smoke / "report.md").read_text()
    assert "OR-Library p-median" in report and "Scaling" in report
    assert (smoke / "plots" / "time_vs_n.png").stat().st_size > 1000


def test_smoke_numbers_are_consistent(smoke):
    results = [r for r in _records(smoke) if r["kind"] == "result" and r.get("objective") is not None]
    assert results
    for r in results:
        assert math.isfinite(r["objective"])
        if r.get("recovery") is not None:
            assert r["recovery"] <= 1 + 1e-9
        if r.get("true_recovery") is not None:
            assert r["true_recovery"] <= 1 + 1e-9
        if r.get("bound") is not None and r["status"] != "time_limit":
            assert r["bound"] >= r["objective"] - 1e-6 * max(1.0, abs(r["bound"]))
        if r.get("shares"):
            assert sum(r["shares"]) == pytest.approx(1.0, abs=1e-3)
            assert len(r["shares"]) <= r["k"]
    pmed = [r for r in results if r["suite"] == "smoke/pmed"]
    assert pmed
    for r in pmed:
        assert r["cost"] >= r["optimum"] - 1e-6  # nobody beats a proven optimum
        if r["status"] == "optimal":
            assert r["cost"] == pytest.approx(r["optimum"])
    # baselines never report a proof
    for r in results:
        if r["method"] in ("grid-search", "kmeans-features", "kmeans-preferences"):
            assert r["bound"] is None or r["status"] == "optimal"


def test_smoke_held_out_suite(smoke):
    records = _records(smoke)
    syn = [r for r in records if r.get("suite") == "smoke/synthetic"]
    res = [r for r in syn if r["kind"] == "result" and r["method"] != "full-personalization"]
    assert res
    for r in res:
        assert 0 < len(r["offered"]) <= r["k"]
        assert 0 <= r["fidelity"] <= 1
    assert any("stability" in r for r in res)


def test_suite_names_are_checked():
    assert set(SUITES) >= {"smoke", "synthetic", "hillstrom", "pmed", "scaling", "all"}
    assert _expand(["all"]) == ["synthetic", "hillstrom", "pmed", "scaling"]
    with pytest.raises(ValueError, match="Unknown suite"):
        _expand(["everything"])


def test_segment_sizes_and_balance():
    facts = _metrics.segment_sizes(np.array([3, 3, 3, 1]))
    assert facts["segments"] == 2 and facts["shares"] == [0.75, 0.25]
    assert facts["min_share"] == 0.25
    equal = _metrics.segment_sizes(np.array([0, 1, 2, 0, 1, 2]))
    assert equal["balance"] == pytest.approx(1.0)
    assert facts["balance"] < 1.0


def test_fidelity_of_tree_shaped_and_random_segments():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    tree_shaped = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0.5)
    assert _metrics.fidelity(x, tree_shaped) > 0.97
    noise = rng.integers(0, 4, 600)
    assert _metrics.fidelity(x, noise) < 0.45


def test_stability_and_level_shift():
    levels = np.linspace(0, 1, 11)
    same = _metrics.stability(lambda rows: np.array([2, 5]), 100, np.array([2, 5]), levels=levels, resamples=3)
    assert same["jaccard"] == 1.0 and same["level_shift"] == 0.0
    moved = _metrics.stability(lambda rows: np.array([3, 5]), 100, np.array([2, 5]), levels=levels, resamples=3)
    assert moved["jaccard"] == pytest.approx(1 / 3, abs=1e-4)
    assert moved["level_shift"] == pytest.approx(0.05)


def test_report_findings_compare_leaders_with_baselines():
    recs = [
        {"kind": "result", "suite": "synthetic", "instance": "x", "method": "ot", "k": 5, "recovery": 0.99,
         "true_recovery": 0.9},
        {"kind": "result", "suite": "synthetic", "instance": "x", "method": "grid-search", "k": 5,
         "recovery": 0.95, "true_recovery": 0.92},
    ]
    text = " ".join(_report.findings(recs))
    assert "99.00%" in text
    assert "NOT ahead" in text and "grid-search" in text


def test_a_crash_in_estimation_fails_the_run(tmp_path, monkeypatch):
    """An estimation crash is not a skip: the run stops with the error."""
    from benchmarks import _data

    def crash(*args, **kwargs):
        raise RuntimeError("estimation crashed")

    monkeypatch.setattr(_data, "promotions_split", crash)
    with pytest.raises(RuntimeError, match="estimation crashed"):
        run(["synthetic"], tmp_path, quick=True, methods=["local-search"], progress=False)
    assert not [r for r in _records(tmp_path) if r["kind"] == "skip"]


def test_refresh_extras_rewrites_only_the_recorded_sections(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "euclidean.md").write_text("# Euclidean\n\nnew table\n", encoding="utf-8")
    title = _report.EXTRA[0][0]
    page = tmp_path / "page.md"
    page.write_text(f"# Benchmarks\n\nthe suite's part\n\n## {title}\n\nold table\n", encoding="utf-8")
    _report.refresh_extras(page, results)
    text = page.read_text(encoding="utf-8")
    assert "the suite's part" in text and "new table" in text and "old table" not in text
    assert text.count(f"## {title}") == 1
