"""InfraValidator: TFX's InfraValidator stage for this pipeline's server (see ``executor``).

Same role and output as ``tfx.components.InfraValidator`` (an ``InfraBlessing``, with the
warm-up model inside it, which the Pusher requires and pushes), but the server it starts is
``quickdraw serve`` in a subprocess on loopback, not TF Serving's binary or image: it works
wherever the pipeline's own image runs (LocalDagRunner, ``kubeflow run-local``, Vertex).
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.infra_validation import executor
from components.infra_validation.config import InfraValidationConfig


class InfraValidatorSpec(types.ComponentSpec):
    PARAMETERS = {
        executor.DRAWINGS: ExecutionParameter(type=int),
        executor.WARMUP_POINTS: ExecutionParameter(type=int),
        executor.LOAD_TIMEOUT: ExecutionParameter(type=float),
        executor.REQUEST_TIMEOUT: ExecutionParameter(type=float),
        executor.CODE_FINGERPRINT: ExecutionParameter(type=str, optional=True),  # cache key only
    }
    INPUTS = {
        executor.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        executor.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {executor.BLESSING_KEY: ChannelParameter(type=standard_artifacts.InfraBlessing)}


class InfraValidator(base_component.BaseComponent):
    """Blesses a model only if ``quickdraw serve`` loads it and answers eval drawings as the model does."""

    SPEC_CLASS = InfraValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        examples: types.BaseChannel,
        config: InfraValidationConfig = InfraValidationConfig(),
        code_fingerprint: str | None = None,
    ) -> None:
        spec = InfraValidatorSpec(
            model=model,
            examples=examples,
            infra_drawings=config.infra_drawings,
            infra_warmup_points=config.infra_warmup_points,
            infra_load_timeout_s=config.infra_load_timeout_s,
            infra_request_timeout_s=config.infra_request_timeout_s,
            code_fingerprint=code_fingerprint,
            blessing=types.Channel(type=standard_artifacts.InfraBlessing),
        )
        super().__init__(spec=spec)
