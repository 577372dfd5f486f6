"""The study report and atomic outputs, in process: plots, HTML, failure leaves no files."""

from __future__ import annotations

import base64
import html
import json
import re

import pytest

from coarseopt.config import load_config
from coarseopt.pipeline import OutputError, run_study, write_outputs
from coarseopt.report import build_html, plots
from test_cli import make_experiment, write_study

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    config = write_study(tmp, make_experiment(2000, seed=2))
    cfg = load_config(config, overrides=[("solve.k", [1, 2, 3])])
    return run_study(cfg, progress=False)


def test_every_figure_renders_to_png(study):
    figures = [
        plots.recovery_figure(study),
        plots.segment_sizes_figure(study),
        plots.profile_figure(study, 2),
        plots.value_figure(study),
        plots.toc_figure(study),
        plots.gates_figure(study),
    ]
    for fig in figures:
        data = base64.b64decode(plots.to_base64_png(fig))
        assert data.startswith(PNG) and len(data) > 5_000


def test_html_has_the_answer_and_its_uncertainty(study):
    html = build_html(study)
    text = re.sub(r"<[^>]+>", " ", html)
    k = study.recommended_k
    assert k in study.results
    assert f"Recommendation: offer k = {k}" in text
    for seg in study.segments[k]:
        assert str(seg["treatment"]) in text
    assert "95% CI" in text
    assert "How sure are we?" in text
    assert "Does offering one more treatment pay?" in text
    assert "Who gets what" in text
    assert text.count("k=3") >= 3  # solution table, evaluation table and a plot label at least
    assert "<script" not in html


def test_heterogeneity_comes_first(study):
    text = html.unescape(re.sub(r"<[^>]+>", " ", build_html(study)))
    assert text.index("Is there heterogeneity worth targeting?") < text.index("How sure are we?")
    het = study.heterogeneity
    assert het["verdict"] in text
    assert {r["arm"] for r in het["table"]} == {"A", "B", "best predicted arm vs control"}
    assert "Predicted and measured lift per group" in text


def test_segment_profiles_are_consistent(study):
    for k, res in study.results.items():
        segs = study.segments[k]
        assert [s["treatment"] for s in segs] == list(res.offered_labels)
        assert sum(s["count"] for s in segs) == len(study.train_index)
        offered = [str(t) for t in res.offered_labels]
        for s in segs:
            assert set(s["profile"]) == set(study.features)
            # everyone in a segment prefers its treatment among the offered ones, so on average too
            assert s["mean_profit"][str(s["treatment"])] == max(s["mean_profit"][t] for t in offered)


def test_failed_write_leaves_nothing(study, tmp_path, monkeypatch):
    import coarseopt.report as report

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "write_report", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_outputs(study, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []

    # an existing directory replaced with --force survives a failed run untouched
    out = tmp_path / "keep"
    out.mkdir()
    (out / "old.txt").write_text("previous results", encoding="utf-8")
    with pytest.raises(RuntimeError):
        write_outputs(study, out, force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]
    assert (out / "old.txt").read_text(encoding="utf-8") == "previous results"


def test_output_rules(study, tmp_path):
    out = write_outputs(study, tmp_path / "a" / "b")  # parents are created
    assert (out / "report.html").is_file()
    with pytest.raises(OutputError, match="not empty"):
        write_outputs(study, out)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="not a directory"):
        write_outputs(study, tmp_path / "file", force=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (write_outputs(study, empty) / "summary.json").is_file()  # an empty directory is fine
    summary = json.loads((empty / "summary.json").read_text(encoding="utf-8"))
    assert summary["heterogeneity"]["verdict"] == study.heterogeneity["verdict"]
    assert len(summary["heterogeneity"]["gates"]) >= 3 and len(summary["heterogeneity"]["toc"]) == 60
