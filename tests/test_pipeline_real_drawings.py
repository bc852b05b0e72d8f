"""The whole pipeline on a subset of the real drawings (not the demo pipeline's group: it builds its own root)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import pytest
import tensorflow as tf

from components.conversion.config import ConversionConfig
from components.conversion.manifest import read_manifest
from components.data_validation.config import ValidationConfig
from components.training import signatures
from components.training.transform import UNKNOWN_CLASS
from pipeline import local_run
from pipeline.configs import PipelineConfig
from tests.support import SETTINGS, SMALL, write_ndjson

pytestmark = pytest.mark.slow  # a TFX pipeline, a compile or a subprocess per test: `make test` only

REAL_CLASSES = ["cat", "dog", "The Eiffel Tower", "hot air balloon", "zigzag", "snowflake"]
# Real drawings under a name no schema knows, and markup: the data validation stops a run on it unless told to
# proceed; the report shows the name as text.
HOSTILE = "<img src=x onerror=alert(1)>"
RENAMED = "bicycle"


def test_the_pipeline_on_real_drawings_proceeding_past_a_class_the_schema_does_not_know(real_dir, tmp_path):
    """The defaults' pipeline (bucketing included) on real drawings of six classes and a seventh that the
    schema does not know: the class is the run's only anomaly (the real drawings fit the schema), and
    `--proceed-on-anomalies` trains, pushes and says so in the outcome and the report."""
    from pipeline.report import collect, render

    corpus = tmp_path / "ndjson"
    corpus.mkdir()
    for name in REAL_CLASSES:
        shutil.copy(os.path.join(real_dir, f"{name}.ndjson"), corpus)
    with open(os.path.join(real_dir, f"{RENAMED}.ndjson"), encoding="utf-8") as f:
        renamed = [{**json.loads(line), "word": HOSTILE} for line in f]
    write_ndjson(corpus, {"hostile.ndjson": renamed})
    settings = PipelineConfig(
        train_steps=30,
        eval_steps=2,
        accuracy_threshold=0.0,
        conversion=ConversionConfig(eval_fraction=0.2, max_points=600),
        validation=ValidationConfig(proceed_on_anomalies=True),
        training=dataclasses.replace(SMALL, tflite="none"),  # the TFLite export is tested on the demo run
        infra_validation=SETTINGS.infra_validation,
    )
    result, _ = local_run.run(
        input_pattern=str(corpus),
        pipeline_root=str(tmp_path / "root"),
        serving_dir=str(tmp_path / "serving"),
        settings=settings,
    )
    assert result.data.proceeded_despite_anomalies
    assert [line for line in result.data.lines if HOSTILE not in line] == [], result.data.lines
    assert "trained anyway (--proceed-on-anomalies)" in result.summary()
    report = collect.build(str(tmp_path / "root"))
    assert "trained anyway" in report.text_summary()
    page = render.render(report)
    assert "Trained anyway (--proceed-on-anomalies)" in page
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert report.data.counts_by_class[HOSTILE]["train"] > 0

    manifest = read_manifest(result.nodes["QuickDrawExampleGen"].uri("examples"))
    assert manifest["counts"]["reconciled"] and manifest["classes"]["count"] == len(REAL_CLASSES) + 1
    assert result.metrics["example_count"] == manifest["splits"]["eval"]["records"] > 0
    assert result.blessed and result.pushed_to  # threshold 0: any model passes
    served = tf.saved_model.load(result.pushed_to)
    names = [n.decode() for n in served.class_names().numpy()]
    assert sorted(names[:-1]) == sorted(manifest["splits"]["train"]["per_class"])  # the train vocabulary
    assert names[-1] == UNKNOWN_CLASS  # then the bucket of classes never seen in training
    # One max_points: the served model accepts what the conversion accepted, and no more.
    serve = served.signatures[signatures.PREDICT_STROKES]
    points = tf.range(601, dtype=tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 600 points"):
        serve(x=points, y=points, stroke_lengths=tf.constant([601], tf.int32))
    assert serve(x=points[:600], y=points[:600], stroke_lengths=tf.constant([600], tf.int32))
