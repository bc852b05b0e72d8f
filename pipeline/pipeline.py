"""``create_pipeline``: the whole TFX pipeline, with every environment-specific value a parameter.

ExampleGen (the conversion's Beam transforms) → StatisticsGen → SchemaGen →
Transform (label vocabulary on train, ink → padded sequence + length) →
Trainer (Conv1D + BiLSTM) → Evaluator (TFMA, thresholds vs the latest blessed
model) → Pusher (blessed only, atomic, versioned). The same function is compiled
for Kubeflow/Vertex and run locally by ``quickdraw run`` (LocalDagRunner).

User code is referenced by import path (``components.transform.preprocessing_fn``,
``components.trainer.run_fn``), not by module file: the package is installed
wherever the pipeline runs (this venv, or the pipeline image), so nothing has to
be shipped separately to remote workers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any

from tfx import v1 as tfx
from tfx.dsl.components.base.base_component import BaseComponent

from components import evaluation
from components.conversion import ConversionConfig
from components.example_gen import QuickDrawExampleGen
from components.pusher import VersionedPusher
from components.trainer import TrainingConfig
from pipeline import configs

PREPROCESSING_FN = "components.transform.preprocessing_fn"
RUN_FN = "components.trainer.run_fn"
METADATA_FILE = "metadata.sqlite"
CODE_FINGERPRINT = "code_fingerprint"  # custom_config key; see code_fingerprint()


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    """What a user tunes; `quickdraw run` flags map onto these."""

    train_steps: int = configs.TRAIN_STEPS
    eval_steps: int = configs.EVAL_STEPS
    accuracy_threshold: float = configs.ACCURACY_THRESHOLD
    max_accuracy_drop: float = configs.MAX_ACCURACY_DROP
    conversion: ConversionConfig = ConversionConfig()  # the ExampleGen's parameters, as `quickdraw convert`'s
    training: TrainingConfig = TrainingConfig()


def code_fingerprint() -> str:
    """SHA-256 over the sources of the ``components`` package.

    TFX caches a component by its inputs and parameters. User code referenced by import
    path (not a module file) is not part of that key, so the fingerprint is passed as a
    parameter: changing the code re-runs the components that use it, instead of reusing
    outputs that the old code produced.
    """
    import components

    root = os.path.dirname(components.__file__)
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:16]


def input_fingerprint(input_pattern: str) -> str:
    """SHA-256 over the input files' paths, sizes and modification times.

    QuickDrawExampleGen has no upstream artifact, so TFX would cache it on its parameters
    alone and reuse stale examples after the corpus changed. ``quickdraw run`` computes
    this at run time and passes it as a parameter (as TFX's own FileBasedExampleGen driver
    does with its input fingerprint).
    """
    from apache_beam.io.filesystems import FileSystems

    from components.conversion import resolve_inputs

    digest = hashlib.sha256()
    files = resolve_inputs(input_pattern)
    for result in FileSystems.match(files):
        for meta in result.metadata_list:
            digest.update(f"{meta.path}\0{meta.size_in_bytes}\0{meta.last_updated_in_seconds}\n".encode())
    return digest.hexdigest()[:16]


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    input_pattern: str,
    serving_dir: str,
    settings: PipelineSettings = PipelineSettings(),
    metadata_connection_config: Any = None,
    beam_pipeline_args: list[str] | None = None,
    enable_cache: bool = True,
    input_fingerprint: str | None = None,
) -> tfx.dsl.Pipeline:
    """The pipeline. ``input_fingerprint`` (see ``input_fingerprint()``) makes a changed corpus re-run
    the ExampleGen; without it the ExampleGen is cached on its parameters."""
    code = code_fingerprint()
    example_gen = QuickDrawExampleGen(
        input_pattern=input_pattern,
        **dataclasses.asdict(settings.conversion),
        code_fingerprint=code,
        input_fingerprint=input_fingerprint,
    ).with_id("QuickDrawExampleGen")
    examples = example_gen.outputs["examples"]
    statistics_gen = tfx.components.StatisticsGen(examples=examples)
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"])
    transform = tfx.components.Transform(
        examples=examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        # The vocabulary comes from train only; the Trainer applies the transform graph
        # itself, so no transformed copy of the corpus is written.
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=[]),
        materialize=False,
        custom_config={CODE_FINGERPRINT: code},
    )
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=examples,
        transform_graph=transform.outputs["transform_graph"],
        train_args=tfx.proto.TrainArgs(num_steps=settings.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=settings.eval_steps),
        custom_config={
            **settings.training.to_custom_config(),
            "max_points": settings.conversion.max_points,  # what `predict_strokes` accepts
            CODE_FINGERPRINT: code,
        },
    )
    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = tfx.components.Evaluator(
        examples=examples,
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        eval_config=evaluation.eval_config(settings.accuracy_threshold, settings.max_accuracy_drop),
        example_splits=["eval"],
    )
    pusher = VersionedPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    ).with_id("Pusher")
    components: list[BaseComponent] = [
        example_gen,
        statistics_gen,
        schema_gen,
        transform,
        trainer,
        baseline,
        evaluator,
        pusher,
    ]
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )


def local_metadata_config(pipeline_root: str):
    """MLMD in SQLite under the pipeline root (what `quickdraw run` uses)."""
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(
        os.path.join(pipeline_root, METADATA_FILE)
    )
