"""QuickDrawExampleGen: NDJSON corpus → Examples artifact with deterministic train/eval splits.

Parameters mirror ``quickdraw convert``: eval fraction, salt, shards per split,
per-class caps, the recognized filter and the points limit. Rejections are
counted in the artifact's custom properties and listed in its ``rejected.jsonl``.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.example_gen import executor


class QuickDrawExampleGenSpec(types.ComponentSpec):
    PARAMETERS = {
        "input_pattern": ExecutionParameter(type=str),
        "eval_fraction": ExecutionParameter(type=float, optional=True),
        "shards": ExecutionParameter(type=int, optional=True),
        "salt": ExecutionParameter(type=str, optional=True),
        "train_per_class": ExecutionParameter(type=int, optional=True),
        "eval_per_class": ExecutionParameter(type=int, optional=True),
        "recognized_only": ExecutionParameter(type=int, optional=True),
        "max_points": ExecutionParameter(type=int, optional=True),
        # Not used by the executor: part of the cache key, so that changed code or changed
        # input files re-run it (see pipeline.pipeline.code_fingerprint / input_fingerprint).
        "code_fingerprint": ExecutionParameter(type=str, optional=True),
        "input_fingerprint": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {}
    OUTPUTS = {executor.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


class QuickDrawExampleGen(base_beam_component.BaseBeamComponent):
    """The conversion job's Beam transforms as the pipeline's ExampleGen."""

    SPEC_CLASS = QuickDrawExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        input_pattern: str,
        eval_fraction: float | None = None,
        shards: int | None = None,
        salt: str | None = None,
        train_per_class: int | None = None,
        eval_per_class: int | None = None,
        recognized_only: bool = False,
        max_points: int | None = None,
        code_fingerprint: str | None = None,
        input_fingerprint: str | None = None,
    ) -> None:
        """``input_pattern``: a directory of ``*.ndjson``, a glob or a file (local or gs://)."""
        spec = QuickDrawExampleGenSpec(
            input_pattern=input_pattern,
            eval_fraction=eval_fraction,
            shards=shards,
            salt=salt,
            train_per_class=train_per_class,
            eval_per_class=eval_per_class,
            recognized_only=int(recognized_only),
            max_points=max_points,
            code_fingerprint=code_fingerprint,
            input_fingerprint=input_fingerprint,
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        super().__init__(spec=spec)
