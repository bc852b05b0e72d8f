"""`quickdraw report`: built from a real local pipeline run, checked for content, opened in headless Chromium."""

from __future__ import annotations

import os
import subprocess

import pytest
import tensorflow_model_analysis as tfma

from pipeline import local_run
from pipeline.configs import PipelineConfig
from pipeline.report import collect, render
from tests import browser as browser_lib
from tests.browser import CHROMIUM_FLAGS
from tests.support import DEMO_CLASSES, SETTINGS

pytestmark = pytest.mark.slow  # a TFX pipeline, a compile or a subprocess per test: `make test` only


@pytest.fixture(scope="module")
def strict_run(demo):
    """A run whose model misses the threshold, judged against the first run's blessed model."""
    strict = PipelineConfig(**{**SETTINGS.__dict__, "accuracy_threshold": 1.0})
    result, _ = local_run.run(
        input_pattern=demo["corpus"], pipeline_root=demo["root"], serving_dir=demo["serving"], settings=strict
    )
    return result


def test_the_report_of_a_blessed_run(demo, tmp_path):
    first = demo["first"]
    built = collect.build(demo["root"], run_id=first.run_id)
    assert built.outcome.blessed and built.outcome.pushed_to == first.pushed_to
    # The first run has no blessed baseline: the value threshold passed, the change threshold was not applied.
    assert [t.passed for t in built.thresholds] == [True, None]
    # Metrics are TFMA's own values.
    overall = tfma.load_eval_result(first.evaluation_uri).get_metrics_for_slice()
    for key, value in built.outcome.metrics.items():
        assert value == overall[key]["doubleValue"]
    assert len(built.per_class) == DEMO_CLASSES
    assert [r.accuracy for r in built.per_class] == sorted(r.accuracy for r in built.per_class)  # worst first
    assert sum(r.count for r in built.by_country) == built.outcome.metrics["example_count"]
    assert {r.name for r in built.by_recognized} <= {"0", "1"}
    assert (
        built.provenance["run id"] == first.run_id
        and built.provenance["training steps"] == SETTINGS.train_steps
    )
    wrong = 1 - built.outcome.metrics["sparse_categorical_accuracy"]
    if wrong > 0:
        assert built.misclassified and built.confused
        assert all(
            m.true != m.predicted and render.ink_svg(m.ink).startswith("<svg") for m in built.misclassified
        )
    page = render.render(built)
    assert "Blessed and pushed to" in page and first.run_id in page
    assert all(name in page for name in (r.name for r in built.per_class))
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
    assert "https://" not in page and "<script" not in page


def test_the_report_of_a_run_that_was_not_blessed_shows_why_and_the_baseline(strict_run, demo):
    built = collect.build(demo["root"])  # the latest run with an Evaluator
    assert built.outcome.run_id == strict_run.run_id and not built.outcome.blessed
    assert built.has_baseline and built.baseline  # the first run's model, blessed
    (value, change) = built.thresholds
    assert value.description.startswith("overall accuracy ≥ 1.0000") and value.passed is False
    assert change.passed is True  # the same model as the baseline: no drop
    page = render.render(built)
    assert "Not blessed: accuracy" in page and "Candidate vs baseline" in page and "FAILED" in page
    assert "not blessed" in built.text_summary().lower() and "FAILED" in built.text_summary()


def test_the_cli_writes_the_file_and_prints_a_summary(strict_run, demo, tmp_path, capsys):
    """`quickdraw report` in this process (`main` is what the console script calls): the summary, the file,
    and exit code 2 with the reason for a root without pipeline metadata."""
    from pipeline import cli

    out = tmp_path / "report.html"
    assert cli.main(["report", "--pipeline-root", demo["root"], "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Model not blessed" in printed and f"Report: {out}" in printed
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert cli.main(["report", "--pipeline-root", str(tmp_path), "--output", str(out)]) == 2
    assert "no pipeline metadata" in capsys.readouterr().err


def test_the_report_renders_in_headless_chromium_without_errors(demo, tmp_path):
    from PIL import Image, ImageStat

    chromium = browser_lib.chromium()
    page = tmp_path / "report.html"
    render.write(collect.build(demo["root"], run_id=demo["first"].run_id), str(page))
    shot = tmp_path / "shot.png"
    browser = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert browser.returncode == 0, browser.stderr[-3000:]
    console = [line for line in browser.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 1600)
    stat = ImageStat.Stat(image)
    assert stat.stddev[0] > 10, "the screenshot is blank"
    assert len(set(image.getdata())) > 20  # text, bars and drawings, not a flat page
    assert os.path.getsize(shot) > 20_000
