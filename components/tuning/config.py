"""``TuningConfig``: whether to tune, for how long, and the search space (light: no TensorFlow).

The search space is five choices, each a setting (comma-separated values on the command line): the peak
learning rate, the dropout, the LSTM units and layers, and the augmentation's strength (a factor on every
``--augment-*`` setting: 0 turns augmentation off, 2 doubles it). The Trainer applies the chosen values over
its own settings (``TrainingConfig.with_hyperparameters``), so one name per choice is shared by both.
"""

from __future__ import annotations

import dataclasses
import os

from components import settings
from components.errors import ConfigError
from components.settings import at_least, between, each, setting
from components.training.config import CODE_FINGERPRINT_KEY, HYPERPARAMETERS, TrainingConfig

TRAINING_KEY = "training"  # the Tuner's custom_config: the Trainer's settings (what the trials change)
TUNING_KEY = "tuning"  # the Tuner's custom_config: TuningConfig


@dataclasses.dataclass(frozen=True)
class TuningConfig:
    tune: bool = setting(
        False, "search the learning rate, dropout, LSTM size and augmentation with TFX's Tuner, then train"
    )
    tune_trials: int = setting(
        4, "trials of the search (random search: each a random point of the space)", at_least(1)
    )
    tune_steps: int = setting(300, "training steps per trial", at_least(1))
    tune_learning_rate: tuple[float, ...] = setting(
        (3e-4, 1e-3, 3e-3), "the peak learning rates to try", each(at_least(0.0))
    )
    tune_dropout: tuple[float, ...] = setting(
        (0.1, 0.3, 0.5), "the dropouts to try", each(between(0.0, 1.0, True))
    )
    tune_lstm_units: tuple[int, ...] = setting((64, 128, 256), "the LSTM units to try", each(at_least(1)))
    tune_lstm_layers: tuple[int, ...] = setting((1, 2, 3), "the LSTM layers to try", each(at_least(1)))
    tune_augmentation: tuple[float, ...] = setting(
        (0.0, 0.5, 1.0, 1.5),
        "the augmentation strengths to try (a factor on every --augment-* setting)",
        each(at_least(0.0)),
    )
    hyperparameters: str | None = setting(
        None,
        "train with an earlier --tune's best hyperparameters (its best_hyperparameters.txt, or the folder "
        "holding only it) instead of tuning",
    )
    seed: int = setting(0, "seed of the search", at_least(0), flag=False)

    def __post_init__(self) -> None:
        settings.validate(self)
        if self.tune and self.hyperparameters:
            raise ConfigError("--tune and --hyperparameters exclude each other: tune, or reuse a result")
        for name in HYPERPARAMETERS:
            if not getattr(self, f"tune_{name}"):
                raise ConfigError(f"{settings.flag_name('tune_' + name)} needs at least one value")

    def space(self) -> dict[str, tuple]:
        """{hyperparameter: its choices}, in ``HYPERPARAMETERS`` order."""
        return {name: getattr(self, f"tune_{name}") for name in HYPERPARAMETERS}


def custom_config(training: TrainingConfig, tuning: TuningConfig, code_fingerprint: str) -> dict:
    """The Tuner component's ``custom_config``: both configs and the stage's code fingerprint."""
    return {
        TRAINING_KEY: training.to_custom_config(),
        TUNING_KEY: settings.to_dict(tuning),
        CODE_FINGERPRINT_KEY: code_fingerprint,
    }


def configs_of(custom: dict) -> tuple[TrainingConfig, TuningConfig]:
    """The configs back from the Tuner's ``custom_config``."""
    return TrainingConfig.from_custom_config(custom[TRAINING_KEY]), settings.from_dict(
        TuningConfig, custom[TUNING_KEY]
    )


def hyperparameters_folder(path: str) -> str:
    """The HyperParameters artifact's folder for ``--hyperparameters PATH``: TFX's Trainer reads the only file
    in it, so the folder must hold exactly one (the Tuner's own output folder does)."""
    if "://" in path:
        return path.rsplit("/", 1)[0] if path.endswith(".txt") else path
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    if not os.path.exists(path):
        raise ConfigError(f"--hyperparameters {path}: no such file or folder")
    files = [f for f in os.listdir(folder) if not f.startswith(".")]
    if len(files) != 1:
        raise ConfigError(
            f"--hyperparameters {path}: its folder must hold only the hyperparameters file (TFX's Trainer reads "
            f"the one file there), it holds {len(files)}: {sorted(files)[:5]}"
        )
    return os.path.abspath(folder)
