"""`quickdraw kubeflow compile`: the same pipeline as a KFP v2 pipeline spec, compiled offline."""

from __future__ import annotations

import json

import pytest
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
    WorkerOptions,
)
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from components.conversion.config import ConversionConfig
from components.data_validation import schema as schema_lib
from components.data_validation.config import ValidationConfig, built_in_path
from components.training.config import CODE_FINGERPRINT_KEY, ModelConfig, TrainingConfig
from pipeline import fingerprints
from pipeline import kubeflow_v2 as kfp_runner
from pipeline.configs import PipelineConfig
from tests.support import GATED_COMPONENTS, PIPELINE_COMPONENTS

pytestmark = pytest.mark.slow  # a TFX pipeline, a compile or a subprocess per test: `make test` only

IMAGE = "europe-docker.pkg.dev/my-project/ml/quickdraw-pipeline:0.1.0"
DATAFLOW = dict(project="my-project", region="europe-west4", temp_location="gs://bucket/tmp")
BEAM_COMPONENTS = ("QuickDrawExampleGen", "StatisticsGen", "Transform", "Evaluator")
ALL = PIPELINE_COMPONENTS


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp") / "pipeline.json"
    settings = PipelineConfig(
        train_steps=777,
        eval_steps=33,
        accuracy_threshold=0.65,
        conversion=ConversionConfig(eval_per_class=100),
        validation=ValidationConfig(
            skew_threshold=0.05,
            drift_threshold=0.15,
            drift_baseline="gs://bucket/root/StatisticsGen/statistics/7",
        ),
        training=TrainingConfig(batch_size=256, model=ModelConfig(lstm_units=64)),
    )
    beam_args = kfp_runner.dataflow_args(
        **DATAFLOW, image=IMAGE, machine_type="n2-standard-8", max_num_workers=20
    )
    spec = kfp_runner.compile_pipeline(
        str(out),
        input_pattern="gs://bucket/ndjson/*.ndjson",
        pipeline_root="gs://bucket/root",
        serving_dir="gs://bucket/serving",
        image=IMAGE,
        settings=settings,
        beam_args=beam_args,
    )
    with open(out) as f:
        assert json.load(f) == spec
    return spec, settings


def _executor(spec: dict, name: str) -> dict:
    return spec["pipelineSpec"]["deploymentSpec"]["executors"][f"{name}_executor"]


def _parameters(spec: dict, task: str) -> dict:
    params = spec["pipelineSpec"]["root"]["dag"]["tasks"][task]["inputs"]["parameters"]
    return {k: v["runtimeValue"]["constantValue"] for k, v in params.items()}


def test_it_is_a_valid_kfp_v2_pipeline_spec_with_every_component(compiled):
    spec, _ = compiled
    parsed = json_format.ParseDict(spec["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    tasks = set(parsed.root.dag.tasks)
    assert set(ALL) <= tasks
    assert any(t.startswith("latest_blessed_model_resolver") for t in tasks)
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"
    for name in ALL:
        assert parsed.deployment_spec["executors"][f"{name}_executor"]["container"]["image"] == IMAGE


def test_the_data_validation_is_compiled_and_gates_the_training(compiled):
    spec, settings = compiled
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    schema = _parameters(spec, "ImportSchemaGen")
    # The image's copy of the built-in schema (kubeflow/Dockerfile copies components/ to /pipeline).
    assert schema["schema_file"]["stringValue"] == kfp_runner.IMAGE_SCHEMAS_DIR + "/quickdraw.pbtxt"
    _, fingerprint = schema_lib.read(built_in_path("quickdraw"))
    assert schema["schema_fingerprint"]["stringValue"] == fingerprint
    gate = _parameters(spec, "DataGate")
    assert float(gate["skew_threshold"]["doubleValue"]) == settings.validation.skew_threshold
    assert float(gate["drift_threshold"]["doubleValue"]) == settings.validation.drift_threshold
    assert int(gate["proceed_on_anomalies"]["intValue"]) == 0
    assert set(tasks["DataGate"]["dependentTasks"]) >= {
        "ExampleValidator",
        "ImportSchemaGen",
        "StatisticsGen",
    }
    assert gate["previous_statistics"]["stringValue"] == "gs://bucket/root/StatisticsGen/statistics/7"
    for name in GATED_COMPONENTS:
        condition = tasks[name]["triggerPolicy"]["condition"]
        assert "_DataGate.verdict" in condition and "['passed'] == 1" in condition, name


def test_dataflow_options_reach_every_beam_component(compiled):
    spec, _ = compiled
    for name in BEAM_COMPONENTS:
        args = _executor(spec, name)["container"]["args"]
        options = PipelineOptions([a for a in args if a.startswith("--") and "=" in a])
        cloud = options.view_as(GoogleCloudOptions)
        assert options.view_as(StandardOptions).runner == "DataflowRunner"
        assert (cloud.project, cloud.region, cloud.temp_location) == tuple(DATAFLOW.values())
        assert options.view_as(WorkerOptions).sdk_container_image == IMAGE
        assert options.view_as(WorkerOptions).max_num_workers == 20
        assert options.view_as(WorkerOptions).machine_type == "n2-standard-8"


def custom_keys(parameters: dict) -> str:
    return json.loads(parameters["custom_config"]["stringValue"])[CODE_FINGERPRINT_KEY]


def test_the_pipeline_parameters_round_trip(compiled):
    spec, settings = compiled
    trainer = _parameters(spec, "Trainer")
    assert json.loads(trainer["train_args"]["stringValue"]) == {"num_steps": 777}
    assert json.loads(trainer["eval_args"]["stringValue"]) == {"num_steps": 33}
    assert trainer["run_fn"]["stringValue"] == "components.training.trainer.run_fn"
    custom = json.loads(trainer["custom_config"]["stringValue"])
    assert TrainingConfig.from_custom_config(custom) == settings.training
    gen = _parameters(spec, "QuickDrawExampleGen")
    assert gen["input_pattern"]["stringValue"] == "gs://bucket/ndjson/*.ndjson"
    assert int(gen["eval_per_class"]["intValue"]) == 100
    evaluator = json.dumps(_parameters(spec, "Evaluator"))
    assert "0.65" in evaluator
    pusher = json.dumps(_parameters(spec, "Pusher"))
    assert "gs://bucket/serving" in pusher
    # The per-stage code keys survive the IR's serialization.
    keys = fingerprints.stage_fingerprints()
    assert gen["code_fingerprint"]["stringValue"] == keys["QuickDrawExampleGen"]
    assert keys["Pusher"] in pusher and keys["Trainer"] == custom_keys(trainer)


@pytest.mark.parametrize("missing", ["project", "region", "temp_location"])
def test_a_missing_dataflow_option_is_a_clear_error_before_anything_is_written(missing, tmp_path):
    given = {**DATAFLOW, missing: None}
    with pytest.raises(kfp_runner.CompileError, match="--" + missing.replace("_", "-")):
        kfp_runner.dataflow_args(**given, image=IMAGE)


def test_the_cli_refuses_an_incomplete_dataflow_request_and_writes_nothing(tmp_path, capsys):
    from pipeline import cli

    out = tmp_path / "p.json"
    command = ["kubeflow", "compile", "--pipeline-root", "gs://b/root", "--input", "gs://b/in"]
    command += ["--serving-dir", "gs://b/serving", "--image", IMAGE, "--output", str(out)]
    assert cli.main([*command, "--beam-runner", "DataflowRunner", "--project", "p"]) == 2
    assert "needs --region, --temp-location" in capsys.readouterr().err
    assert not out.exists()
    assert cli.main(command) == 0
    assert json.loads(out.read_text())["pipelineSpec"]["pipelineInfo"]["name"] == "quickdraw"


def test_the_tuner_and_the_hyperparameters_importer_compile(tmp_path):
    """--tune compiles TFX's Tuner (gated like the Trainer, its own code key, feeding the Trainer);
    --hyperparameters compiles an Importer outside the gate (KFP importers take no trigger condition)."""
    from components.tuning.config import TuningConfig

    def compile_with(tuning: TuningConfig) -> dict:
        return kfp_runner.compile_pipeline(
            str(tmp_path / "pipeline.json"),
            input_pattern="gs://bucket/ndjson/*.ndjson",
            pipeline_root="gs://bucket/root",
            serving_dir="gs://bucket/serving",
            image=IMAGE,
            settings=PipelineConfig(tuning=tuning),
        )

    tasks = compile_with(TuningConfig(tune=True, tune_trials=3))["pipelineSpec"]["root"]["dag"]["tasks"]
    assert "['passed'] == 1" in tasks["Tuner"]["triggerPolicy"]["condition"]
    source = tasks["Trainer"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"]
    assert source == {"producerTask": "Tuner", "outputArtifactKey": "best_hyperparameters"}
    tuner_parameters = {
        k: v["runtimeValue"]["constantValue"] for k, v in tasks["Tuner"]["inputs"]["parameters"].items()
    }
    assert custom_keys(tuner_parameters) == fingerprints.stage_fingerprints()["Tuner"]

    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "best_hyperparameters.txt").write_text('{"values": {"dropout": 0.1}}')
    tasks = compile_with(TuningConfig(hyperparameters=str(tmp_path / "best")))["pipelineSpec"]["root"]["dag"][
        "tasks"
    ]
    assert "Tuner" not in tasks and "triggerPolicy" not in tasks["hyperparameters_importer"]
    source = tasks["Trainer"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"]
    assert source["producerTask"] == "hyperparameters_importer"


def test_the_bulk_inferrer_compiles_after_the_pusher(tmp_path):
    """--bulk-infer compiles TFX's BulkInferrer: gated like the Trainer, run after the Pusher, on the Trainer's
    model with the Evaluator's blessing, over the ExampleGen's examples."""

    def tasks_of(settings: PipelineConfig) -> dict:
        spec = kfp_runner.compile_pipeline(
            str(tmp_path / "pipeline.json"),
            input_pattern="gs://bucket/ndjson/*.ndjson",
            pipeline_root="gs://bucket/root",
            serving_dir="gs://bucket/serving",
            image=IMAGE,
            settings=settings,
        )
        return spec["pipelineSpec"]["root"]["dag"]["tasks"]

    task = tasks_of(PipelineConfig(bulk_infer=True))["BulkInferrer"]
    assert "['passed'] == 1" in task["triggerPolicy"]["condition"]
    assert "Pusher" in task["dependentTasks"]
    sources = {k: v["taskOutputArtifact"] for k, v in task["inputs"]["artifacts"].items()}
    assert sources.pop("_DataGate.verdict")["producerTask"] == "DataGate"  # the gate's condition reads it
    assert sources == {
        "examples": {"producerTask": "QuickDrawExampleGen", "outputArtifactKey": "examples"},
        "model": {"producerTask": "Trainer", "outputArtifactKey": "model"},
        "model_blessing": {"producerTask": "Evaluator", "outputArtifactKey": "blessing"},
    }
    assert "BulkInferrer" not in tasks_of(PipelineConfig())
