"""The on-device model: pushed beside the SavedModel, equal to it on every real drawing, or not written at all."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

from components.training import tflite_export
from pipeline import predict
from tests.support import MAX_POINTS

pytestmark = pytest.mark.slow  # the demo pipeline and subprocesses: `make test` only


@pytest.fixture(scope="module")
def version_dir(demo) -> str:
    return demo["first"].pushed_to  # the version `served` is: another test may push a newer one


def test_the_pushed_version_holds_the_tflite_model_its_labels_and_its_parity(version_dir, served):
    for name in (tflite_export.TFLITE_FILE, tflite_export.LABELS_FILE, tflite_export.REPORT_FILE):
        assert os.path.exists(os.path.join(version_dir, name)), name
    with open(os.path.join(version_dir, tflite_export.LABELS_FILE), encoding="utf-8") as f:
        assert f.read().splitlines() == [n.decode() for n in served.class_names().numpy()]
    with open(os.path.join(version_dir, tflite_export.REPORT_FILE)) as f:
        report = json.load(f)
    assert report["variant"] == "float32" and report["passed"] and report["written"]
    assert report["drawings"] > 0 and report["max_abs_difference"] < 1e-4
    assert report["bytes"] == os.path.getsize(os.path.join(version_dir, tflite_export.TFLITE_FILE))


def _real_drawings(real_dir: str) -> list[predict.Drawing]:
    out: list[predict.Drawing] = []
    skipped: list[str] = []
    for name in sorted(os.listdir(real_dir)):
        if name.endswith(".ndjson"):
            with open(os.devnull, "w") as quiet:
                out += predict.read_drawings(os.path.join(real_dir, name), MAX_POINTS, quiet, skipped)
    return out


def test_tflite_agrees_with_the_saved_model_on_every_real_drawing(version_dir, served, real_dir):
    import tensorflow as tf

    drawings = _real_drawings(real_dir)
    assert len(drawings) > 9000
    serve = served.signatures["serving_default"]
    reference = np.concatenate([
        serve(examples=tf.constant(predict.serialized_examples(drawings[i : i + 512])))["probabilities"].numpy()
        for i in range(0, len(drawings), 512)
    ])  # fmt: skip
    with open(os.path.join(version_dir, tflite_export.TFLITE_FILE), "rb") as f:
        interpreter = tflite_export.Interpreter(f.read(), threads=1)
    got = np.stack([interpreter(ink) for ink in predict.inks(drawings)])
    assert np.abs(got - reference).max() < 1e-4
    top1, best = got.argmax(axis=1), reference.argmax(axis=1)
    differ = np.flatnonzero(top1 != best)
    # a different top-1 only where the SavedModel's own best two are tied within the tolerance
    assert all(reference[i, best[i]] - reference[i, top1[i]] < 1e-4 for i in differ), differ


def test_predict_with_tflite_gives_the_saved_models_answers(demo, real_dir):
    import io

    files = [os.path.join(real_dir, n) for n in sorted(os.listdir(real_dir)) if n.endswith(".ndjson")][:3]

    def run(tflite: bool) -> list[dict]:
        out = io.StringIO()
        predict.predict_files(demo["serving"], files, out=out, errors=io.StringIO(), tflite=tflite)
        return [json.loads(line) for line in out.getvalue().splitlines()]

    saved, lite = run(False), run(True)
    assert len(saved) == len(lite) > 50
    for a, b in zip(saved, lite):
        assert a["key_id"] == b["key_id"]
        assert [t["label"] for t in a["top_k"]][:1] == [t["label"] for t in b["top_k"]][:1]
        np.testing.assert_allclose(
            [t["score"] for t in a["top_k"]], [t["score"] for t in b["top_k"]], atol=1e-4
        )


def test_predict_tflite_on_a_version_without_it_says_why(tmp_path):
    version = tmp_path / "serving" / "5"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"")
    with pytest.raises(predict.ModelNotFound, match="has no model.tflite"):
        predict.TFLitePredictor(str(tmp_path / "serving"))


def test_a_tflite_model_that_disagrees_is_not_written(version_dir, tmp_path, monkeypatch, caplog):
    """The demo's TFLite model against another model (fresh weights): parity fails, nothing is written."""
    from components.training import model as model_lib
    from components.training import warm_start

    class_names, config = warm_start.described(version_dir)
    other = model_lib.build_model(len(class_names), config)
    with open(os.path.join(version_dir, tflite_export.TFLITE_FILE), "rb") as f:
        demo_tflite = f.read()
    monkeypatch.setattr(tflite_export, "convert", lambda model, variant: demo_tflite)
    rng = np.random.default_rng(0)
    inks = [rng.normal(size=(n, 3)).astype(np.float32) for n in (5, 40, 120)]
    with caplog.at_level(logging.WARNING):
        report = tflite_export.export(other, str(tmp_path), class_names, "float32", inks)
    assert not report["passed"] and not report["written"]
    assert os.listdir(tmp_path) == []
    assert "TFLite model (float32) not written" in caplog.text


def test_without_eval_drawings_nothing_is_written(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        report = tflite_export.export(None, str(tmp_path), ["a"], "float32", [])
    assert report["written"] is False and os.listdir(tmp_path) == []
    assert "no eval drawings" in caplog.text


def test_an_unknown_variant_is_refused_by_the_settings():
    from components.errors import ConfigError
    from components.training.config import TFLITE_VARIANTS, TrainingConfig

    assert set(TFLITE_VARIANTS) == set(tflite_export.VARIANTS) | {tflite_export.NONE}
    with pytest.raises(ConfigError, match="one of float32, float16, int8, none"):
        TrainingConfig(tflite="int4")
