"""QuickDrawExampleGen: NDJSON corpus → Examples artifact with deterministic train/eval splits.

Its execution parameters are ``input_pattern``, one parameter per ``ConversionConfig``
field (derived from the config's declaration, so a new conversion setting becomes a
parameter by itself) and two cache keys. Rejections are counted in the artifact's
custom properties and listed in its ``rejected.jsonl``.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import settings
from components.conversion.config import ConversionConfig
from components.example_gen import executor

INPUT_PATTERN = "input_pattern"
# Not read by the executor: part of the cache key, so that changed code or changed input files
# re-run it (see pipeline.fingerprints and pipeline.local_run's input fingerprint).
CODE_FINGERPRINT = "code_fingerprint"
INPUT_FINGERPRINT = "input_fingerprint"


def _parameter_type(annotation) -> type:
    """What a config field travels as: TFX/KFP parameters are int, float or str (bool as 0/1)."""
    kind = settings.base_type(annotation)
    return int if kind is bool else kind


class QuickDrawExampleGenSpec(types.ComponentSpec):
    PARAMETERS = {
        INPUT_PATTERN: ExecutionParameter(type=str),
        **{
            name: ExecutionParameter(type=_parameter_type(annotation), optional=True)
            for name, annotation in settings.field_types(ConversionConfig).items()
        },
        CODE_FINGERPRINT: ExecutionParameter(type=str, optional=True),
        INPUT_FINGERPRINT: ExecutionParameter(type=str, optional=True),
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
        config: ConversionConfig = ConversionConfig(),
        code_fingerprint: str | None = None,
        input_fingerprint: str | None = None,
    ) -> None:
        """``input_pattern``: a directory of ``*.ndjson``, a glob or a file (local or gs://)."""
        parameters = {
            name: int(value) if isinstance(value, bool) else value for name, value in config.to_json().items()
        }
        spec = QuickDrawExampleGenSpec(
            input_pattern=input_pattern,
            **parameters,
            code_fingerprint=code_fingerprint,
            input_fingerprint=input_fingerprint,
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        super().__init__(spec=spec)
