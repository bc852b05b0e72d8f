"""create_pipeline and its configuration: what is wired, and what makes a component re-run."""

from __future__ import annotations

import os
import time

import pytest
import tensorflow_model_analysis as tfma

from components import evaluation
from components.conversion import ConversionConfig
from components.model import ModelConfig
from components.trainer import TrainingConfig
from pipeline import pipeline as P


def _components(p) -> dict:
    return {c.id: c for c in p.components}


def test_the_pipeline_has_every_component_wired(tmp_path):
    p = P.create_pipeline("t", str(tmp_path / "root"), str(tmp_path / "in"), str(tmp_path / "serving"))
    nodes = _components(p)
    assert set(nodes) == {
        "QuickDrawExampleGen",
        "StatisticsGen",
        "SchemaGen",
        "Transform",
        "Trainer",
        "latest_blessed_model_resolver",
        "Evaluator",
        "Pusher",
    }
    assert nodes["Trainer"].exec_properties["run_fn"] == P.RUN_FN
    assert nodes["Transform"].exec_properties["preprocessing_fn"] == P.PREPROCESSING_FN
    # The Pusher is gated on the Evaluator's blessing, the Evaluator compares with the resolver's baseline.
    assert nodes["Pusher"].inputs["model_blessing"].producer_component_id == "Evaluator"
    assert (
        nodes["Evaluator"].inputs["baseline_model"].producer_component_id == "latest_blessed_model_resolver"
    )


def test_settings_reach_the_components(tmp_path):
    settings = P.PipelineSettings(
        train_steps=7,
        eval_steps=3,
        conversion=ConversionConfig(train_per_class=11, salt="pepper"),
        training=TrainingConfig(batch_size=5, model=ModelConfig(lstm_units=9)),
    )
    nodes = _components(P.create_pipeline("t", str(tmp_path), "in", "out", settings, input_fingerprint="abc"))
    gen = nodes["QuickDrawExampleGen"].exec_properties
    assert (gen["train_per_class"], gen["salt"], gen["input_fingerprint"]) == (11, "pepper", "abc")
    custom = nodes["Trainer"].exec_properties["custom_config"]
    assert '"batch_size": 5' in custom and '"lstm_units": 9' in custom and P.CODE_FINGERPRINT in custom


def test_training_config_round_trips_and_refuses_unknown_settings():
    config = TrainingConfig(batch_size=5, model=ModelConfig(conv_filters=(8, 8), conv_kernels=(3, 3)))
    assert TrainingConfig.from_custom_config(config.to_custom_config()) == config
    assert TrainingConfig.from_custom_config(None) == TrainingConfig()
    with pytest.raises(ValueError, match="unknown training settings.*lstm_unit"):
        TrainingConfig.from_custom_config({"lstm_unit": 3})


def test_the_blessing_threshold_applies_to_the_overall_slice_only():
    config = evaluation.eval_config(0.6, max_accuracy_drop=0.02)
    (accuracy,) = [m for m in config.metrics_specs[0].metrics if m.class_name == "SparseCategoricalAccuracy"]
    (per_slice,) = accuracy.per_slice_thresholds
    assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
    assert per_slice.threshold.value_threshold.lower_bound.value == pytest.approx(0.6)
    assert per_slice.threshold.change_threshold.absolute.value == pytest.approx(-0.02, abs=1e-9)
    with pytest.raises(ValueError):
        evaluation.eval_config(1.5)


def test_the_input_fingerprint_follows_the_files(tmp_path):
    (tmp_path / "a.ndjson").write_text("{}\n")
    first = P.input_fingerprint(str(tmp_path))
    assert P.input_fingerprint(str(tmp_path)) == first
    (tmp_path / "b.ndjson").write_text("{}\n")
    second = P.input_fingerprint(str(tmp_path))
    assert second != first
    (tmp_path / "b.ndjson").write_text("{}\n{}\n")
    assert P.input_fingerprint(str(tmp_path)) != second


def test_the_code_fingerprint_changes_with_the_code(tmp_path, monkeypatch):
    import components

    fake = tmp_path / "components"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "m.py").write_text("x = 1\n")
    monkeypatch.setattr(components, "__file__", str(fake / "__init__.py"))
    before = P.code_fingerprint()
    time.sleep(0.01)
    (fake / "m.py").write_text("x = 2\n")
    assert P.code_fingerprint() != before
    os.remove(fake / "m.py")
    assert P.code_fingerprint() not in (before,)
