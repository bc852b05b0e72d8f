"""The CLI's contract: flags derived from the settings' declarations, one-line user errors, bugs keep tracebacks."""

from __future__ import annotations

import dataclasses

import pytest

from components.conversion.config import ConversionConfig
from components.data_validation.config import ValidationConfig
from components.errors import UserError
from components.infra_validation.config import InfraValidationConfig
from components.training.config import ModelConfig, TrainingConfig
from components.tuning.config import TuningConfig
from pipeline import cli
from pipeline.configs import PipelineConfig


def _settings(*flags: str) -> PipelineConfig:
    args = cli.build_parser().parse_args(
        ["run", "--input", "i", "--pipeline-root", "r", "--serving-dir", "s", *flags]
    )
    return cli.pipeline_config_from_args(args)


def test_without_flags_the_settings_are_the_declared_defaults():
    assert _settings() == PipelineConfig()


def test_every_declared_setting_has_a_flag_that_reaches_it():
    settings = _settings(
        "--train-steps", "7", "--eval-steps", "5", "--accuracy-threshold", "0.3", "--max-accuracy-drop", "0.1",
        "--eval-fraction", "0.2", "--shards", "3", "--salt", "pepper", "--train-per-class", "3", "--eval-per-class", "2", "--recognized-only", "--max-points", "600", "--batch-size", "5",
        "--shuffle-buffer", "0", "--seed", "4", "--top-k", "3", "--no-bucket-by-length", "--bucket-window", "16",
        "--checkpoint-steps", "7", "--checkpoint-seconds", "9", "--warm-start", "--tflite", "int8", "--mixed-precision", "--conv-filters", "8,9", "--conv-kernels", "3,3",
        "--batch-norm", "--dropout", "0.5", "--lstm-units", "9", "--lstm-layers", "2", "--learning-rate", "0.01",
        "--clip-norm", "1.5", "--lr-schedule", "constant", "--warmup-fraction", "0.2",
        "--augment-rotation", "5", "--augment-scale", "0.1", "--augment-shear", "0.05", "--augment-drop-points", "0.2",
        "--augment-drop-strokes", "0.3", "--schema", "my.pbtxt", "--skew-threshold", "0.2", "--drift-threshold", "0.3",
        "--drift-baseline", "gs://b/stats", "--proceed-on-anomalies",
        "--infra-drawings", "3", "--infra-warmup-points", "50", "--infra-load-timeout-s", "9", "--infra-request-timeout-s", "4", "--bulk-infer",
    )  # fmt: skip
    assert (settings.train_steps, settings.eval_steps, settings.accuracy_threshold) == (7, 5, 0.3)
    assert settings.bulk_infer
    assert settings.max_accuracy_drop == 0.1
    assert settings.conversion == ConversionConfig(0.2, 3, "pepper", 3, 2, True, 600)
    assert settings.validation == ValidationConfig("my.pbtxt", 0.2, 0.3, "gs://b/stats", True)
    assert settings.infra_validation == InfraValidationConfig(3, 50, 9.0, 4.0)
    assert settings.training == TrainingConfig(
        batch_size=5,
        shuffle_buffer=0,
        seed=4,
        top_k=3,
        bucket_by_length=False,
        bucket_window=16,
        checkpoint_steps=7,
        checkpoint_seconds=9.0,
        warm_start=True,
        tflite="int8",
        augment_rotation=5.0,
        augment_scale=0.1,
        augment_shear=0.05,
        augment_drop_points=0.2,
        augment_drop_strokes=0.3,
        model=ModelConfig((8, 9), (3, 3), True, 0.5, 9, 2, 0.01, "constant", 0.2, 1.5, True),
    )
    # ... and every field of every config was set above, so none is left without a flag.
    configs = (
        settings,
        settings.conversion,
        settings.validation,
        settings.infra_validation,
        settings.training,
        settings.training.model,
    )
    for config in configs:
        for field in dataclasses.fields(config):
            if field.name not in (
                "model",
                "conversion",
                "validation",
                "training",
                "tuning",
                "infra_validation",
            ):
                assert getattr(config, field.name) != field.default, field.name
    # Tuning: --tune and --hyperparameters exclude each other, so two parses set every flag between them.
    tuned = _settings(
        "--tune", "--tune-trials", "2", "--tune-steps", "9", "--tune-learning-rate", "0.01,0.02",
        "--tune-dropout", "0.2", "--tune-lstm-units", "4,5", "--tune-lstm-layers", "2", "--tune-augmentation", "0,2",
    ).tuning  # fmt: skip
    assert tuned == TuningConfig(True, 2, 9, (0.01, 0.02), (0.2,), (4, 5), (2,), (0.0, 2.0))
    reused = _settings("--hyperparameters", "best.txt").tuning
    assert reused.hyperparameters == "best.txt" and not reused.tune
    for field in dataclasses.fields(TuningConfig):
        if field.metadata.get("flag"):
            changed = reused if field.name == "hyperparameters" else tuned
            assert getattr(changed, field.name) != field.default, field.name


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--shards", "0"], "--shards: must be >= 1, got 0"),
        (["--eval-fraction", "1.5"], "--eval-fraction: must be in [0.0, 1.0], got 1.5"),
        (["--dropout", "1"], "--dropout: must be in [0.0, 1.0), got 1.0"),
        (["--lstm-units", "many"], "--lstm-units: expected a int, got 'many'"),
        (["--conv-filters", "8,x"], "--conv-filters: expected comma-separated integers"),
    ],
)
def test_a_flag_out_of_bounds_is_refused_by_the_parser(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        _settings(*flags)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_config_error_is_one_line_and_exit_code_2(capsys):
    code = cli.main(
        ["run", "--input", "i", "--pipeline-root", "r", "--serving-dir", "s", "--conv-filters", "8,8",
         "--conv-kernels", "3"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err == "error: conv_filters and conv_kernels must have the same length\n"


def test_a_user_error_is_one_line_and_exit_code_2(tmp_path, capsys):
    code = cli.main(["predict", "--model", str(tmp_path / "nowhere"), str(tmp_path / "a.ndjson")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: no model at ") and err.count("\n") == 1


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    """Only UserError is shown as a message: a ValueError from a bug must surface as itself."""
    from pipeline import convert

    def broken(*args, **kwargs):
        raise ValueError("a bug, not a user error")

    monkeypatch.setattr(convert, "timed_conversion", broken)
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["convert", "--input", str(tmp_path), "--output", str(tmp_path / "out")])
    assert not issubclass(ValueError, UserError)
