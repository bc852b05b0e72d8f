"""``create_pipeline``: the whole TFX pipeline, with every environment-specific value a parameter.

ExampleGen (the conversion's Beam transforms) → StatisticsGen → ImportSchemaGen (the
curated schema) → ExampleValidator → DataGate (+ train/eval skew, drift from the statistics
of the previous examples) → only when the data passes: Transform (label vocabulary on train,
ink → padded sequence + length) → with ``--tune``, TFX's Tuner (or ``--hyperparameters``: an Importer of
an earlier result) →
Trainer (Conv1D + BiLSTM) → Evaluator (TFMA, thresholds vs the latest blessed
model) → InfraValidator (the candidate served by ``quickdraw serve``, warm-up
written) → Pusher (blessed by both only, atomic, versioned) → with ``--bulk-infer``, TFX's BulkInferrer
(the blessed model over the train and eval examples: the report's disputed drawings). The same function is compiled
for Kubeflow/Vertex and run locally by ``quickdraw run`` (LocalDagRunner).

User code is referenced by import path (``components.training.transform.preprocessing_fn``,
``components.training.trainer.run_fn``), not by module file: the package is installed
wherever the pipeline runs (this venv, or the pipeline image), so nothing has to
be shipped separately to remote workers. Each component that runs our code gets
the fingerprint of exactly that code as a parameter (``pipeline.fingerprints``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# tfx.v1's names, each from its own module: `from tfx import v1` also imports every extension (Vertex AI's
# client among them), 2-3 s of each `quickdraw run`'s start spent on nothing a pipeline here uses.
from tfx import components as tfx_components
from tfx.dsl.components.base.base_component import BaseComponent
from tfx.dsl.components.common.importer import Importer
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.experimental.conditionals.conditional import Cond
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration import metadata
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import bulk_inferrer_pb2, pusher_pb2, trainer_pb2, transform_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.data_validation import config as validation_config
from components.data_validation import schema as schema_lib
from components.data_validation.component import DataGate, ImportCuratedSchema
from components.data_validation.executor import PASSED
from components.example_gen import QuickDrawExampleGen
from components.infra_validation.component import InfraValidator
from components.pusher import VersionedPusher
from components.training import evaluation
from components.training.config import CHECKPOINT_ROOT_KEY, CODE_FINGERPRINT_KEY
from components.tuning import config as tuning_config
from pipeline import fingerprints, runs
from pipeline.configs import PipelineConfig

PREPROCESSING_FN = "components.training.transform.preprocessing_fn"
RUN_FN = "components.training.trainer.run_fn"
TUNER_FN = "components.tuning.tuner.tuner_fn"
CHECKPOINTS_DIR = "checkpoints"  # under the pipeline root: where an interrupted Trainer's re-run resumes from


def create_pipeline(
    *,
    pipeline_name: str,
    input_pattern: str,
    pipeline_root: str,
    serving_dir: str,
    settings: PipelineConfig = PipelineConfig(),
    metadata_connection_config: Any = None,
    beam_pipeline_args: list[str] | None = None,
    enable_cache: bool = True,
    input_fingerprint: str | None = None,
    code_fingerprints: Mapping[str, str] | None = None,
    schemas_dir: str = validation_config.SCHEMAS_DIR,
    drift_baseline: str | None = None,
) -> Pipeline:
    """The pipeline. ``input_fingerprint`` (``fingerprints.input_fingerprint``) makes a changed corpus
    re-run the ExampleGen; without it the ExampleGen is cached on its parameters.
    ``code_fingerprints``: the per-stage code keys (default: ``fingerprints.stage_fingerprints()`` of
    the installed code). ``schemas_dir``: where the built-in schemas lie for the components (this
    package's folder; the pipeline image's copy when compiling for Kubeflow). ``drift_baseline``: the
    statistics to check drift against when ``--drift-baseline`` is not set (``quickdraw run`` finds them
    in MLMD: ``runs.statistics_of_other_examples``)."""
    code = dict(code_fingerprints or fingerprints.stage_fingerprints())
    example_gen = QuickDrawExampleGen(
        input_pattern=input_pattern,
        config=settings.conversion,
        code_fingerprint=code[runs.EXAMPLE_GEN],
        input_fingerprint=input_fingerprint,
    ).with_id(runs.EXAMPLE_GEN)
    examples = example_gen.outputs["examples"]
    statistics_gen = tfx_components.StatisticsGen(examples=examples).with_id(runs.STATISTICS_GEN)
    schema_file, schema_fingerprint = curated_schema(settings, schemas_dir)
    schema_gen = ImportCuratedSchema(schema_file, schema_fingerprint).with_id(runs.SCHEMA_GEN)
    schema = schema_gen.outputs["schema"]
    example_validator = tfx_components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema
    ).with_id(runs.EXAMPLE_VALIDATOR)
    data_gate = DataGate(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema,
        anomalies=example_validator.outputs["anomalies"],
        config=settings.validation,
        previous_statistics=settings.validation.drift_baseline or drift_baseline,
        code_fingerprint=code[runs.DATA_GATE],
    ).with_id(runs.DATA_GATE)
    # Outside the gate: an Importer reads no data (and KFP's importer tasks take no trigger condition).
    importer = _hyperparameters_importer(settings)
    with Cond(data_gate.outputs["verdict"].future()[0].custom_property(PASSED) == 1):
        transform, tuner, trainer, baseline, evaluator, infra_validator, pusher = _training(
            settings, pipeline_root, serving_dir, code, examples, schema, importer
        )
        bulk_inferrer = _bulk_inferrer(settings, examples, trainer, evaluator, pusher)
    components: list[BaseComponent] = [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        data_gate,
        *([importer] if importer else []),
        transform,
        *([tuner] if tuner else []),
        trainer,
        baseline,
        evaluator,
        infra_validator,
        pusher,
        *([bulk_inferrer] if bulk_inferrer else []),
    ]
    return Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )


def _training(
    settings: PipelineConfig, pipeline_root: str, serving_dir: str, code, examples, schema, importer
):
    """Transform → (Tuner, or an imported result) → Trainer → Evaluator (against the latest blessed model)
    → InfraValidator (served by `quickdraw serve`) → Pusher."""
    transform = tfx_components.Transform(
        examples=examples,
        schema=schema,
        preprocessing_fn=PREPROCESSING_FN,
        # The vocabulary comes from train only; the Trainer applies the transform graph
        # itself, so no transformed copy of the corpus is written.
        splits_config=transform_pb2.SplitsConfig(analyze=["train"], transform=[]),
        materialize=False,
        # The data was described and validated before it (StatisticsGen, DataGate): a pass saved.
        disable_statistics=True,
        custom_config={CODE_FINGERPRINT_KEY: code[runs.TRANSFORM]},
    ).with_id(runs.TRANSFORM)
    baseline = Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
    ).with_id(runs.BLESSED_MODEL_RESOLVER)
    tuner = _tuner(settings, code, examples, transform.outputs["transform_graph"])
    hyperparameters = None  # the Trainer's settings alone
    if tuner is not None:
        hyperparameters = tuner.outputs["best_hyperparameters"]
    elif importer is not None:
        hyperparameters = importer.outputs["result"]
    trainer = tfx_components.Trainer(
        run_fn=RUN_FN,
        examples=examples,
        transform_graph=transform.outputs["transform_graph"],
        hyperparameters=hyperparameters,
        # Only with --warm-start: an input re-runs the Trainer whenever a newer model is blessed.
        base_model=baseline.outputs["model"] if settings.training.warm_start else None,
        train_args=trainer_pb2.TrainArgs(num_steps=settings.train_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=settings.eval_steps),
        custom_config={
            **settings.training.to_custom_config(),
            CODE_FINGERPRINT_KEY: code[runs.TRAINER],
            CHECKPOINT_ROOT_KEY: checkpoint_root(pipeline_root),
        },
    ).with_id(runs.TRAINER)
    evaluator = tfx_components.Evaluator(
        examples=examples,
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        eval_config=evaluation.eval_config(settings.accuracy_threshold, settings.max_accuracy_drop),
        example_splits=["eval"],
    ).with_id(runs.EVALUATOR)
    infra_validator = InfraValidator(
        model=trainer.outputs["model"],
        examples=examples,
        config=settings.infra_validation,
        code_fingerprint=code[runs.INFRA_VALIDATOR],
    ).with_id(runs.INFRA_VALIDATOR)
    # As TFX's Pusher after an InfraValidator with make_warmup: it pushes the InfraBlessing's copy of the
    # model (warm-up file included), and only when both blessings say so.
    pusher = VersionedPusher(
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=infra_validator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_dir)
        ),
        custom_config={CODE_FINGERPRINT_KEY: code[runs.PUSHER]},
    ).with_id(runs.PUSHER)
    return transform, tuner, trainer, baseline, evaluator, infra_validator, pusher


def _tuner(settings: PipelineConfig, code, examples, transform_graph) -> BaseComponent | None:
    """TFX's Tuner (``--tune``): a random search whose best hyperparameters the Trainer uses."""
    tuning = settings.tuning
    if not tuning.tune:
        return None
    return tfx_components.Tuner(
        tuner_fn=TUNER_FN,
        examples=examples,
        transform_graph=transform_graph,
        train_args=trainer_pb2.TrainArgs(num_steps=tuning.tune_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=settings.eval_steps),
        custom_config=tuning_config.custom_config(settings.training, tuning, code[runs.TUNER]),
    ).with_id(runs.TUNER)


def _bulk_inferrer(settings: PipelineConfig, examples, trainer, evaluator, pusher) -> BaseComponent | None:
    """TFX's BulkInferrer (``--bulk-infer``): the blessed model's ``serving_default`` (serialized
    ``tf.Example``s in, as BulkInferrer requires) over the train and eval examples, as ``PredictionLog``s in an
    ``InferenceResult``; the report's disputed drawings and ``quickdraw disputes`` read them. It runs after
    the Pusher and infers only when the Evaluator blessed the model (TFX skips an unblessed one)."""
    if not settings.bulk_infer:
        return None
    bulk_inferrer = tfx_components.BulkInferrer(
        examples=examples,
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        data_spec=bulk_inferrer_pb2.DataSpec(example_splits=["train", "eval"]),
        model_spec=bulk_inferrer_pb2.ModelSpec(model_signature_name=["serving_default"]),
    ).with_id(runs.BULK_INFERRER)
    bulk_inferrer.add_upstream_node(pusher)
    return bulk_inferrer


def _hyperparameters_importer(settings: PipelineConfig) -> BaseComponent | None:
    """``--hyperparameters FILE``: an earlier Tuner's result imported as a HyperParameters artifact, TFX's
    pattern for reusing one without tuning again."""
    if not settings.tuning.hyperparameters:
        return None
    return Importer(
        source_uri=tuning_config.hyperparameters_folder(settings.tuning.hyperparameters),
        artifact_type=standard_artifacts.HyperParameters,
    ).with_id(runs.HYPERPARAMETERS_IMPORTER)


def curated_schema(settings: PipelineConfig, schemas_dir: str) -> tuple[str, str | None]:
    """The schema file ImportSchemaGen reads and the fingerprint of its bytes (the cache key).

    A built-in schema is fingerprinted from this package's copy (the image holds the same
    file). A local file of the user's is read now, so a typo fails before anything runs; a
    remote one (gs://) is not read while compiling offline: its path is its cache key.
    """
    chosen = settings.validation.schema
    if settings.validation.built_in:
        _, fingerprint = schema_lib.read(validation_config.built_in_path(chosen))
        return validation_config.built_in_path(chosen, schemas_dir), fingerprint
    if "://" in chosen:
        return chosen, None
    path = os.path.abspath(chosen)
    _, fingerprint = schema_lib.read(path)
    return path, fingerprint


def checkpoint_root(pipeline_root: str) -> str:
    """Where Trainers keep resumable checkpoints: ``<pipeline root>/checkpoints`` (local or gs://)."""
    return pipeline_root.rstrip("/") + "/" + CHECKPOINTS_DIR


def local_metadata_config(pipeline_root: str):
    """MLMD in SQLite under the pipeline root (what `quickdraw run` uses)."""
    return metadata.sqlite_metadata_connection_config(runs.metadata_path(pipeline_root))
