"""create_pipeline and its configuration: what is wired, and what makes a component re-run."""

from __future__ import annotations

import pytest
import tensorflow_model_analysis as tfma

from components.conversion.config import ConversionConfig
from components.training import evaluation
from components.training.config import CODE_FINGERPRINT_KEY, ModelConfig, TrainingConfig
from pipeline import fingerprints
from pipeline import pipeline as P
from pipeline.configs import PipelineConfig
from tests.support import PIPELINE_COMPONENTS


def _components(p) -> dict:
    return {c.id: c for c in p.components}


def test_the_pipeline_has_every_component_wired(tmp_path):
    p = P.create_pipeline(
        pipeline_name="t",
        input_pattern=str(tmp_path / "in"),
        pipeline_root=str(tmp_path / "root"),
        serving_dir=str(tmp_path / "serving"),
    )
    nodes = _components(p)
    assert set(nodes) == {*PIPELINE_COMPONENTS, "latest_blessed_model_resolver"}
    assert nodes["Trainer"].exec_properties["run_fn"] == P.RUN_FN
    assert nodes["Transform"].exec_properties["preprocessing_fn"] == P.PREPROCESSING_FN
    # The Pusher is gated on the Evaluator's blessing, the Evaluator compares with the resolver's baseline.
    assert nodes["Pusher"].inputs["model_blessing"].producer_component_id == "Evaluator"
    assert (
        nodes["Evaluator"].inputs["baseline_model"].producer_component_id == "latest_blessed_model_resolver"
    )


def test_settings_reach_the_components(tmp_path):
    settings = PipelineConfig(
        train_steps=7,
        eval_steps=3,
        conversion=ConversionConfig(train_per_class=11, salt="pepper"),
        training=TrainingConfig(batch_size=5, model=ModelConfig(lstm_units=9)),
    )
    nodes = _components(
        P.create_pipeline(
            pipeline_name="t",
            input_pattern="in",
            pipeline_root=str(tmp_path),
            serving_dir="out",
            settings=settings,
            input_fingerprint="abc",
        )
    )
    gen = nodes["QuickDrawExampleGen"].exec_properties
    assert (gen["train_per_class"], gen["salt"], gen["input_fingerprint"]) == (11, "pepper", "abc")
    # Every conversion setting is an ExampleGen parameter, derived from its declaration.
    assert {k: gen[k] for k in ConversionConfig().to_json()} == {
        **settings.conversion.to_json(),
        "recognized_only": 0,
    }
    custom = nodes["Trainer"].exec_properties["custom_config"]
    assert '"batch_size": 5' in custom and '"lstm_units": 9' in custom and CODE_FINGERPRINT_KEY in custom
    # One max_points: the Trainer reads it from the conversion's manifest, not from its own setting.
    assert "max_points" not in custom
    keys = fingerprints.stage_fingerprints()
    assert gen["code_fingerprint"] == keys["QuickDrawExampleGen"]
    for node in ("Transform", "Trainer", "Pusher"):
        assert keys[node] in nodes[node].exec_properties["custom_config"], node


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


def test_the_trainer_gets_a_checkpoint_root_and_a_base_model_only_with_warm_start(tmp_path):
    root = str(tmp_path / "root")
    cold = _components(
        P.create_pipeline(pipeline_name="t", input_pattern="in", pipeline_root=root, serving_dir="out")
    )["Trainer"]
    assert "base_model" not in cold.inputs  # a newer blessed model must not re-run a cold Trainer
    assert f'"checkpoint_root": "{root}/checkpoints"' in cold.exec_properties["custom_config"]
    warm = PipelineConfig(training=TrainingConfig(warm_start=True))
    trainer = _components(
        P.create_pipeline(
            pipeline_name="t", input_pattern="in", pipeline_root=root, serving_dir="out", settings=warm
        )
    )["Trainer"]
    assert trainer.inputs["base_model"].producer_component_id == "latest_blessed_model_resolver"


def test_the_schema_choice_reaches_import_schema_gen_with_its_fingerprint(tmp_path):
    from components.data_validation import schema as schema_lib
    from components.data_validation.config import ValidationConfig, built_in_path

    def schema_node(schema: str):
        settings = PipelineConfig(validation=ValidationConfig(schema=schema))
        nodes = _components(
            P.create_pipeline(
                pipeline_name="t",
                input_pattern="in",
                pipeline_root=str(tmp_path / "root"),
                serving_dir="out",
                settings=settings,
            )
        )
        return nodes["ImportSchemaGen"].exec_properties, nodes["DataGate"].exec_properties

    params, gate = schema_node("demo")
    assert params["schema_file"] == built_in_path("demo") and params["schema_fingerprint"]
    assert gate["code_fingerprint"] == fingerprints.stage_fingerprints()["DataGate"]
    own = tmp_path / "mine.pbtxt"
    own.write_text(open(built_in_path("demo")).read())
    first = schema_node(str(own))[0]["schema_fingerprint"]
    own.write_text(open(built_in_path("quickdraw")).read())
    assert schema_node(str(own))[0]["schema_fingerprint"] != first, (
        "an edited schema must re-run ImportSchemaGen"
    )
    assert schema_node("gs://bucket/schema.pbtxt")[0]["schema_fingerprint"] is None  # not read offline
    with pytest.raises(schema_lib.SchemaError, match="cannot read the schema"):
        schema_node(str(tmp_path / "absent.pbtxt"))


def test_local_beam_args_keep_tfx_from_building_a_copy_of_itself_for_the_workers(monkeypatch):
    """TFX's own check (`dependency_utils.make_beam_dependency_flags`, which every Beam executor calls) on the
    args a local run and a compile give the components; its sdist build is replaced by a counter."""
    from tfx.utils import dependency_utils

    from pipeline.local_run import default_beam_args

    built: list[str] = []
    monkeypatch.setattr(
        dependency_utils, "build_ephemeral_package", lambda: built.append("sdist") or "tfx.tar.gz"
    )
    for local in (default_beam_args([]), default_beam_args(["--direct_running_mode=multi_processing"])):
        assert dependency_utils.make_beam_dependency_flags(local) == local
    assert "--sdk_container_image=gcr.io/p/quickdraw:1" in default_beam_args([], "gcr.io/p/quickdraw:1")
    assert not built
    for left_to_tfx in (["--runner=DataflowRunner", "--project=p"], ["--requirements_file=r.txt"]):
        args = default_beam_args(left_to_tfx)
        assert not any(a.startswith("--sdk_container_image") for a in args)
    dependency_utils.make_beam_dependency_flags(default_beam_args(["--runner=DataflowRunner", "--project=p"]))
    assert built == ["sdist"]
