"""The whole pipeline on a subset of the real drawings (not the demo pipeline's group: it builds its own root)."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest
import tensorflow as tf

from components.conversion.config import ConversionConfig
from components.conversion.manifest import read_manifest
from components.training import signatures
from components.training.transform import UNKNOWN_CLASS
from pipeline import local_run
from pipeline.configs import PipelineConfig
from tests.support import SETTINGS, SMALL

pytestmark = pytest.mark.slow  # a TFX pipeline, a compile or a subprocess per test: `make test` only

REAL_CLASSES = ["cat", "dog", "The Eiffel Tower", "hot air balloon", "zigzag", "snowflake"]


def test_the_pipeline_on_real_drawings(real_dir, tmp_path):
    corpus = tmp_path / "ndjson"
    corpus.mkdir()
    for name in REAL_CLASSES:
        shutil.copy(os.path.join(real_dir, f"{name}.ndjson"), corpus)
    settings = PipelineConfig(
        train_steps=30,
        eval_steps=2,
        accuracy_threshold=0.0,
        conversion=ConversionConfig(eval_fraction=0.2, max_points=600),
        training=dataclasses.replace(SMALL, tflite="none"),  # the TFLite export is tested on the demo run
        infra_validation=SETTINGS.infra_validation,
    )
    result, _ = local_run.run(
        input_pattern=str(corpus),
        pipeline_root=str(tmp_path / "root"),
        serving_dir=str(tmp_path / "serving"),
        settings=settings,
    )
    manifest = read_manifest(result.nodes["QuickDrawExampleGen"].uri("examples"))
    assert manifest["counts"]["reconciled"] and manifest["classes"]["count"] == len(REAL_CLASSES)
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
