"""``ModelConfig`` and ``TrainingConfig``: the Trainer's settings, declared once (light: no TensorFlow).

They travel to the Trainer as its ``custom_config`` (``to_custom_config`` /
``from_custom_config``: one flat dict, unknown keys refused) and are the
``quickdraw run`` / ``kubeflow compile`` flags (derived in ``pipeline.cli``).
The defaults are the tutorial's architecture and optimiser.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from components import settings
from components.errors import ConfigError
from components.settings import at_least, between, each, setting

CODE_FINGERPRINT_KEY = "code_fingerprint"  # custom_config key of the pipeline's cache key, not a setting
# custom_config key of where resumable checkpoints live (the pipeline root's `checkpoints/`): an environment
# value set by the pipeline, not a setting
CHECKPOINT_ROOT_KEY = "checkpoint_root"
PROGRESS_SECONDS = 10.0  # how often the Trainer logs its progress
PROGRESS_PREFIX = "Training:"  # the Trainer's progress lines start with this (`quickdraw run` shows them)
TFLITE_VARIANTS = ("float32", "float16", "int8", "none")  # `tflite_export.VARIANTS` + none


def _one_of(choices: tuple[str, ...]):
    def check(value: str) -> str | None:
        return None if value in choices else f"one of {', '.join(choices)}"

    return check


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    conv_filters: tuple[int, ...] = setting((48, 64, 96), "Conv1D filters per layer", each(at_least(1)))
    conv_kernels: tuple[int, ...] = setting((5, 5, 3), "Conv1D kernel size per layer", each(at_least(1)))
    batch_norm: bool = setting(False, "batch norm before each convolution")
    dropout: float = setting(
        0.3, "dropout on the inputs of the later layers", between(0.0, 1.0, high_open=True)
    )
    lstm_units: int = setting(128, "units per LSTM direction", at_least(1))
    lstm_layers: int = setting(3, "bidirectional LSTM layers", at_least(1))
    learning_rate: float = setting(1e-4, "Adam learning rate", at_least(0.0))
    clip_norm: float = setting(9.0, "clip the gradients to this global norm (0: no clipping)", at_least(0.0))
    mixed_precision: bool = setting(
        False, "mixed_float16 compute (float32 weights, logits and loss; dynamic loss scaling): for GPUs"
    )

    def __post_init__(self) -> None:
        settings.validate(self)
        if len(self.conv_filters) != len(self.conv_kernels):
            raise ConfigError("conv_filters and conv_kernels must have the same length")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    batch_size: int = setting(64, "batch size per device (the tutorial's 8 starves a GPU)", at_least(1))
    shuffle_buffer: int = setting(10_000, "examples in the training shuffle buffer", at_least(0))
    seed: int = setting(0, "seed of the shuffle and the initial weights", at_least(0))
    top_k: int = setting(5, "class names the serving signatures return per drawing", at_least(1))
    bucket_by_length: bool = setting(
        True, "batch drawings of similar length together (sorted within windows; batches still shuffled)"
    )
    bucket_window: int = setting(
        12,
        "batches per length-sorting window: larger pads less but makes batches less varied "
        "(12: no accuracy lost at equal steps, BENCHMARKS.md)",
        at_least(1),
    )
    checkpoint_steps: int = setting(1000, "save a resumable checkpoint every N steps ...", at_least(1))
    checkpoint_seconds: float = setting(300.0, "... and at least every N seconds", at_least(1.0))
    warm_start: bool = setting(
        False, "start from the latest blessed model's weights when its architecture and classes match"
    )
    tflite: str = setting(
        "float32",
        "the on-device model written beside the SavedModel when it matches it: float32, float16, "
        "int8 (dynamic-range) or none",
        _one_of(TFLITE_VARIANTS),
    )
    model: ModelConfig = dataclasses.field(default=ModelConfig())

    def __post_init__(self) -> None:
        settings.validate(self)

    @classmethod
    def from_custom_config(cls, custom_config: dict[str, Any] | None) -> TrainingConfig:
        """From the Trainer's flat ``custom_config``; unknown keys are refused."""
        given = dict(custom_config or {})
        given.pop(CODE_FINGERPRINT_KEY, None)
        given.pop(CHECKPOINT_ROOT_KEY, None)
        model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
        own = {f.name for f in dataclasses.fields(cls)} - {"model"}
        unknown = set(given) - own - model_fields
        if unknown:
            raise ConfigError(
                f"unknown training settings {sorted(unknown)}; known: {sorted(own | model_fields)}"
            )
        model = settings.from_dict(ModelConfig, {k: v for k, v in given.items() if k in model_fields})
        return settings.from_dict(cls, {k: v for k, v in given.items() if k in own} | {"model": model})

    def to_custom_config(self) -> dict[str, Any]:
        flat = settings.to_dict(self)
        flat.update(flat.pop("model"))
        return flat
