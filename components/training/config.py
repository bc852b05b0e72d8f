"""``ModelConfig`` and ``TrainingConfig``: the Trainer's settings, declared once (light: no TensorFlow).

They travel to the Trainer as its ``custom_config`` (``to_custom_config`` /
``from_custom_config``: one flat dict, unknown keys refused) and are the
``quickdraw run`` / ``kubeflow compile`` flags (derived in ``pipeline.cli``).
The defaults are the tutorial's architecture and gradient clipping; the learning rate (a warmed-up cosine
from a peak of 1e-3) and the stroke augmentation are this project's, measured against the tutorial's
constant 1e-4 in BENCHMARKS.md ("Model quality").
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
LR_SCHEDULES = ("cosine", "constant")
# What TFX's Tuner may choose (``components.tuning``); the Trainer applies them over its settings.
HYPERPARAMETERS = ("learning_rate", "dropout", "lstm_units", "lstm_layers", "augmentation")


def hyperparameter_values(hyperparameters: dict | None) -> dict[str, Any]:
    """The chosen values of a Tuner's ``best_hyperparameters`` (KerasTuner's ``HyperParameters`` config:
    ``{"space": [...], "values": {...}}``; a bare ``{name: value}`` is taken as the values), or ``{}``
    when there are none."""
    if not hyperparameters:
        return {}
    return dict(hyperparameters.get("values", hyperparameters))


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
    learning_rate: float = setting(
        1e-3, "Adam's peak learning rate (the tutorial's constant 1e-4 is tuned for 1M steps)", at_least(0.0)
    )
    lr_schedule: str = setting(
        "cosine",
        "cosine: linear warm-up to the peak, then cosine decay to 0 over --train-steps; constant: the peak "
        "throughout (the tutorial)",
        _one_of(LR_SCHEDULES),
    )
    warmup_fraction: float = setting(
        0.05, "share of --train-steps spent warming the learning rate up (cosine)", between(0.0, 1.0, True)
    )
    clip_norm: float = setting(9.0, "clip the gradients to this global norm (0: no clipping)", at_least(0.0))
    mixed_precision: bool = setting(
        False, "mixed_float16 compute (float32 weights, logits and loss; dynamic loss scaling): for GPUs"
    )

    def __post_init__(self) -> None:
        settings.validate(self)
        if len(self.conv_filters) != len(self.conv_kernels):
            raise ConfigError("conv_filters and conv_kernels must have the same length")


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """How far the training drawings are changed (``augment``); 0 turns a change off."""

    rotation: float = 0.0  # degrees, ±
    scale: float = 0.0  # fraction, ± per axis
    shear: float = 0.0  # ±, x += shear · y
    drop_points: float = 0.0  # probability per interior point
    drop_strokes: float = 0.0  # probability per stroke

    @property
    def active(self) -> bool:
        return any(dataclasses.astuple(self))


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
    augment_rotation: float = setting(
        15.0, "training drawings rotated by up to ± this many degrees", between(0.0, 180.0)
    )
    augment_scale: float = setting(
        0.15,
        "training drawings' x and y scaled independently by up to ± this fraction",
        between(0.0, 1.0, True),
    )
    augment_shear: float = setting(
        0.15, "training drawings sheared by up to ± this (x += shear · y)", at_least(0.0)
    )
    augment_drop_points: float = setting(
        0.1, "probability of dropping each interior point of a training drawing", between(0.0, 1.0, True)
    )
    augment_drop_strokes: float = setting(
        0.0, "probability of deleting each stroke of a training drawing (never all)", between(0.0, 1.0, True)
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

    def augmentation(self) -> Augmentation:
        return Augmentation(
            self.augment_rotation,
            self.augment_scale,
            self.augment_shear,
            self.augment_drop_points,
            self.augment_drop_strokes,
        )

    def with_hyperparameters(self, values: dict[str, Any]) -> TrainingConfig:
        """These settings with a Tuner's choices over them: the model's learning rate, dropout, LSTM units
        and layers, and ``augmentation``, a factor on every ``augment_*`` setting. Unknown names are refused
        (a file from another project's Tuner must not be half applied)."""
        unknown = set(values) - set(HYPERPARAMETERS)
        if unknown:
            raise ConfigError(f"unknown hyperparameters {sorted(unknown)}; known: {list(HYPERPARAMETERS)}")
        kinds = {"learning_rate": float, "dropout": float, "lstm_units": int, "lstm_layers": int}
        model = dataclasses.replace(
            self.model, **{k: kind(values[k]) for k, kind in kinds.items() if k in values}
        )
        factor = float(values.get("augmentation", 1.0))
        augment = {
            f.name: getattr(self, f.name) * factor
            for f in dataclasses.fields(self)
            if f.name.startswith("augment_")
        }
        augment["augment_rotation"] = min(augment["augment_rotation"], 180.0)
        for name in ("augment_scale", "augment_drop_points", "augment_drop_strokes"):
            augment[name] = min(augment[name], 0.95)  # probabilities and fractions stay below 1
        return dataclasses.replace(self, model=model, **augment)

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
