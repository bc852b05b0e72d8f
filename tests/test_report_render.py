"""The report's templates: every value from a run is shown as text, on both pages, without a pipeline run."""

from __future__ import annotations

import numpy as np
import pytest
from markupsafe import escape

from components.data_validation.verdict import Verdict
from pipeline.disputes import Disputes, ScoredDrawing
from pipeline.outcome import Outcome
from pipeline.report import render
from pipeline.report.collect import Misclassified, Report, SliceRow, Threshold
from pipeline.report.data import DataSection, Lengths

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'


def _verdict(passed: bool) -> Verdict:
    return Verdict(
        passed=passed,
        proceeded_despite_anomalies=False,
        lines=[] if passed else [f"word [train]: Unexpected string values ({HOSTILE})"],
        notes=[f"skew checked on {HOSTILE}"],
        anomalies_uri=f"/root/{HOSTILE}",
        example_validator_anomalies=f"/root/ev/{HOSTILE}",
    )


def _data(passed: bool) -> DataSection:
    return DataSection(
        counts_by_class={HOSTILE: {"train": 3, "eval": 1}},
        counts_by_country={HOSTILE: {"train": 3, "eval": 1}},
        lengths=[Lengths("train", 3, 12.0, [float(q) for q in range(11)])],
        verdict=_verdict(passed),
        statistics_uri=f"/stats/{HOSTILE}",
    )


def _outcome(trained: bool) -> Outcome:
    return Outcome(
        run_id=f"run-{HOSTILE}",
        nodes={},
        blessed=False,
        reasons=[f"accuracy 0.1 < threshold 0.9 {HOSTILE}"],
        metrics={"sparse_categorical_accuracy": 0.1, "example_count": 4.0} if trained else {},
        pushed_to=None,
        evaluation_uri=f"/eval/{HOSTILE}" if trained else None,
        data=_verdict(trained),
    )


def _disputes(ink: np.ndarray) -> Disputes:
    """Bulk predictions in which a hostile class name is a word, the model's choice and a key_id."""
    found = Disputes()
    for recognized in (True, False):
        drawing = ScoredDrawing(
            HOSTILE, HOSTILE, "train", HOSTILE, recognized, 0.1, ((f"{HOSTILE}!", 0.8), ("b", 0.1)), ink
        )
        found.add(drawing)
    return found


def _assert_only_escaped(page: str) -> None:
    assert HOSTILE not in page and "<script" not in page and "<img" not in page
    assert str(escape(HOSTILE)) in page  # Jinja2's autoescape


@pytest.mark.parametrize("trained", [True, False], ids=["evaluation", "stopped"])
def test_every_value_from_the_run_is_text_not_markup(trained):
    report = Report(
        outcome=_outcome(trained),
        provenance={"run id": HOSTILE, HOSTILE: {"k": HOSTILE}},
        data=_data(trained),
    )
    if trained:
        row = SliceRow(HOSTILE, 0.25, 4)
        ink = np.array([[0.1, 0.2, 0.0], [0.3, -0.1, 1.0]], dtype=np.float32)
        report = Report(
            outcome=report.outcome,
            provenance=report.provenance,
            data=report.data,
            thresholds=[Threshold(f"overall accuracy ≥ 0.9 {HOSTILE}", 0.1, False)],
            per_class=[row],
            by_country=[row],
            by_recognized=[SliceRow("1", 0.25, 4)],
            confused=[(HOSTILE, HOSTILE, 3)],
            misclassified=[Misclassified(HOSTILE, HOSTILE, HOSTILE, 0.9, ink)],
            scanned=4,
            disputes=_disputes(ink),
        )
    page = render.render(report)
    assert page.startswith("<!DOCTYPE html>")
    _assert_only_escaped(page)
    if trained:
        assert "Not blessed: accuracy 0.1" in page and "<polyline points=" in page and "FAILED" in page
        assert "Drawings the model disputes" in page and f"→ {escape(HOSTILE)}! (0.80)" in page
    else:
        assert "Not trained: the data validation stopped the run" in page


def test_a_drawing_becomes_one_polyline_per_stroke():
    # Two strokes: the second point ends the first stroke (the pen is lifted after it).
    ink = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 1, 1]], dtype=np.float32)
    drawing = render.ink_drawing(ink)
    assert len(drawing.strokes) == 2
    svg = render.ink_svg(ink)
    assert svg.startswith("<svg") and svg.count("<polyline") == 2


def test_a_model_the_infra_validator_refused_says_why_as_text():
    import dataclasses

    from pipeline import runs

    outcome = dataclasses.replace(
        _outcome(True),
        blessed=True,
        reasons=[],
        infra_validation=runs.InfraValidation(False, f"refused {HOSTILE}"),
    )
    page = render.render(Report(outcome=outcome, provenance={}, data=_data(True)))
    _assert_only_escaped(page)
    assert f"the InfraValidator refused it: refused {escape(HOSTILE)}; not pushed" in page
    served = dataclasses.replace(
        outcome, infra_validation=runs.InfraValidation(True, ""), pushed_to="/serving/7"
    )
    page = render.render(Report(outcome=served, provenance={}, data=_data(True)))
    assert "Blessed and pushed to /serving/7, after <code>quickdraw serve</code> loaded it" in page
