"""Per-stage cache keys: each component's key covers exactly the code that decides its output.

TFX caches a component on its input artifacts and parameters. User code referenced by
import path (not a module file) is not part of that key, so each component that runs
our code gets a fingerprint of that code as a parameter: editing it re-runs the
component instead of reusing outputs the old code produced, and editing anything
else does not. On the full corpus the difference is hours: a change to the Pusher
must not re-convert 50M drawings.

A stage's key hashes its own sources and the keys of the stages whose output it
reads, because a re-run upstream stage gives it new input artifacts anyway; so the
keys change exactly where TFX would re-run. Where each key travels:

- ExampleGen, DataGate: their ``code_fingerprint`` execution parameter;
- Transform, Trainer, Pusher: ``custom_config[code_fingerprint]``;
- Evaluator: its ``eval_config`` parameter is the evaluation code's whole output
  (TFX's Evaluator takes no custom_config), so a change that alters the config re-runs
  it; its key here feeds the Pusher's.

``tests/test_fingerprints.py`` edits one file per stage in a copy of the tree and
checks which keys move; it also checks that every module under ``components/``
belongs to a stage, so new code cannot escape the cache key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping

from pipeline.runs import (
    DATA_GATE,
    EVALUATOR,
    EXAMPLE_GEN,
    INFRA_VALIDATOR,
    PUSHER,
    TRAINER,
    TRANSFORM,
    TUNER,
)


@dataclasses.dataclass(frozen=True)
class Stage:
    sources: tuple[str, ...]  # files or folders, relative to the repository root
    reads: tuple[str, ...] = ()  # the stages whose outputs it consumes


# The Trainer's code: the model, its input pipeline, its export (the Tuner's trials run it too).
TRAINING_CODE = (
    "components/training/config.py",
    "components/training/model.py",
    "components/training/lstm_variants.py",
    "components/training/trainer.py",
    "components/training/signatures.py",
    "components/training/ink_tf.py",
    "components/training/batching.py",
    "components/training/augment.py",
    "components/training/checkpoints.py",
    "components/training/warm_start.py",
    "components/training/tflite_export.py",
)

STAGES: dict[str, Stage] = {
    # The conversion library, the component around it, and what every config is built on.
    EXAMPLE_GEN: Stage(
        (
            "components/__init__.py",
            "components/errors.py",
            "components/settings.py",
            "components/features.py",
            "components/conversion",
            "components/example_gen",
        )
    ),
    # The schema construction, the skew/drift checks and the gate (the schema file's own bytes are
    # ImportCuratedSchema's `schema_fingerprint`).
    DATA_GATE: Stage(("components/data_validation",), reads=(EXAMPLE_GEN,)),
    # The transform code and the feature contract it maps.
    TRANSFORM: Stage(
        (
            "components/training/__init__.py",
            "components/training/transform.py",
            "components/features.py",
        ),
        reads=(EXAMPLE_GEN,),
    ),
    TRAINER: Stage(TRAINING_CODE, reads=(EXAMPLE_GEN, TRANSFORM)),
    # The search, and the Trainer's code each trial runs.
    TUNER: Stage(("components/tuning", *TRAINING_CODE), reads=(EXAMPLE_GEN, TRANSFORM)),
    EVALUATOR: Stage(("components/training/evaluation.py",), reads=(EXAMPLE_GEN, TRAINER)),
    # Its own code, and the server it starts (`quickdraw serve`: what a pushed model meets).
    INFRA_VALIDATOR: Stage(("components/infra_validation", "pipeline/serve"), reads=(EXAMPLE_GEN, TRAINER)),
    PUSHER: Stage(("components/pusher",), reads=(TRAINER, EVALUATOR, INFRA_VALIDATOR)),
}


def source_root() -> str:
    """The folder that holds the ``components`` package in use (the repo, or site-packages)."""
    import components

    return os.path.dirname(os.path.dirname(os.path.abspath(components.__file__)))


def stage_files(root: str, stage: Stage) -> list[str]:
    """The ``.py`` files of a stage, relative to ``root``, sorted."""
    found = set()
    for source in stage.sources:
        path = os.path.join(root, source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"stage source {source} is not under {root}")
        if os.path.isfile(path):
            found.add(source)
        for folder, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            found.update(os.path.relpath(os.path.join(folder, f), root) for f in files if f.endswith(".py"))
    return sorted(found)


def stage_fingerprints(root: str | None = None, stages: Mapping[str, Stage] = STAGES) -> dict[str, str]:
    """{stage: key}: SHA-256 over the stage's sources (paths and bytes) and its upstream keys."""
    root = root or source_root()
    keys: dict[str, str] = {}

    def key(name: str) -> str:
        if name not in keys:
            stage = stages[name]
            digest = hashlib.sha256()
            for upstream in stage.reads:
                digest.update(f"{upstream}={key(upstream)}\n".encode())
            for relative in stage_files(root, stage):
                digest.update(relative.replace(os.sep, "/").encode() + b"\0")
                with open(os.path.join(root, relative), "rb") as f:
                    digest.update(f.read())
                digest.update(b"\0")
            keys[name] = digest.hexdigest()[:16]
        return keys[name]

    for name in stages:
        key(name)
    return keys


def input_fingerprint(input_pattern: str) -> str:
    """SHA-256 over the input files' paths, sizes and modification times.

    QuickDrawExampleGen has no upstream artifact, so TFX would cache it on its parameters
    alone and reuse stale examples after the corpus changed. ``quickdraw run`` computes
    this at run time and passes it as a parameter (as TFX's own FileBasedExampleGen driver
    does with its input fingerprint).
    """
    from apache_beam.io.filesystems import FileSystems

    from components.conversion.files import resolve_inputs

    digest = hashlib.sha256()
    files = resolve_inputs(input_pattern)
    for result in FileSystems.match(files):
        for meta in result.metadata_list:
            digest.update(f"{meta.path}\0{meta.size_in_bytes}\0{meta.last_updated_in_seconds}\n".encode())
    return digest.hexdigest()[:16]
