"""Pipeline-level settings: ``PipelineConfig`` and the pipeline's name (light: no TFX import).

The component settings are declared beside the code they steer
(``components.conversion.config.ConversionConfig``,
``components.data_validation.config.ValidationConfig``,
``components.infra_validation.config.InfraValidationConfig``,
``components.training.config.TrainingConfig`` / ``ModelConfig``); ``PipelineConfig``
gathers them with the few values that belong to the pipeline itself. Settings flow
one way: the CLI builds a ``PipelineConfig``, ``create_pipeline`` hands each
component its part, and no component imports this module.
"""

from __future__ import annotations

import dataclasses

from components import settings
from components.conversion.config import ConversionConfig
from components.data_validation.config import ValidationConfig
from components.infra_validation.config import InfraValidationConfig
from components.settings import at_least, between, setting
from components.training.config import TrainingConfig
from components.tuning.config import TuningConfig

PIPELINE_NAME = "quickdraw"


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """What a user tunes; the `quickdraw run` / `kubeflow compile` flags map onto these."""

    train_steps: int = setting(2_000, "training steps", at_least(1))
    eval_steps: int = setting(100, "validation steps at the end of training", at_least(1))
    accuracy_threshold: float = setting(
        0.5, "bless only models with at least this eval accuracy", between(0.0, 1.0)
    )
    max_accuracy_drop: float = setting(
        0.0, "... and at most this much below the latest blessed model", between(0.0, 1.0)
    )
    bulk_infer: bool = setting(
        False,
        "after the Pusher, score the train and eval examples with the blessed model (TFX's BulkInferrer): "
        "the report's disputed drawings and `quickdraw disputes`",
    )
    conversion: ConversionConfig = ConversionConfig()  # the ExampleGen's parameters, as `quickdraw convert`'s
    validation: ValidationConfig = ValidationConfig()  # the schema, the skew/drift thresholds, the gate
    training: TrainingConfig = TrainingConfig()
    tuning: TuningConfig = TuningConfig()  # TFX's Tuner before the Trainer (off by default), or its result
    infra_validation: InfraValidationConfig = InfraValidationConfig()  # the candidate served before a push

    def __post_init__(self) -> None:
        settings.validate(self)
