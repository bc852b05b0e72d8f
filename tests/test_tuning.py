"""The Tuner's settings and what the Trainer does with its result (no pipeline: `test_pipeline_e2e.py` runs it)."""

from __future__ import annotations

import json

import pytest

from components.errors import ConfigError
from components.training.config import HYPERPARAMETERS, TrainingConfig
from components.tuning import config as tuning
from components.tuning.config import TuningConfig
from pipeline import cli, runs


def test_the_search_space_is_a_setting_per_hyperparameter_and_flags_reach_it():
    args = cli.build_parser().parse_args(
        ["run", "--input", "i", "--pipeline-root", "r", "--serving-dir", "s", "--tune", "--tune-trials", "3",
         "--tune-steps", "40", "--tune-learning-rate", "1e-3,0.005", "--tune-lstm-units", "32,64"]
    )  # fmt: skip
    chosen = cli.pipeline_config_from_args(args).tuning
    assert chosen.tune and (chosen.tune_trials, chosen.tune_steps) == (3, 40)
    assert chosen.tune_learning_rate == (1e-3, 0.005) and chosen.tune_lstm_units == (32, 64)
    assert list(chosen.space()) == list(HYPERPARAMETERS)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--input", "i", "--pipeline-root", "r", "--serving-dir", "s",
                                       "--tune-lstm-units", "a,b"])  # fmt: skip


def test_tuning_and_reusing_a_result_exclude_each_other_and_an_empty_choice_is_refused():
    with pytest.raises(ConfigError, match="exclude each other"):
        TuningConfig(tune=True, hyperparameters="best.txt")
    with pytest.raises(ConfigError, match="--tune-dropout needs at least one value"):
        TuningConfig(tune_dropout=())


def test_the_trainer_applies_the_chosen_values_over_its_settings():
    base = TrainingConfig()
    tuned = base.with_hyperparameters(
        {"learning_rate": 0.003, "dropout": 0.1, "lstm_units": 64, "lstm_layers": 2, "augmentation": 2.0}
    )
    assert (tuned.model.learning_rate, tuned.model.dropout) == (0.003, 0.1)
    assert (tuned.model.lstm_units, tuned.model.lstm_layers) == (64, 2)
    assert (
        tuned.augment_rotation == 2 * base.augment_rotation and tuned.augment_scale == 2 * base.augment_scale
    )
    assert tuned.batch_size == base.batch_size and tuned.model.conv_filters == base.model.conv_filters
    assert not base.with_hyperparameters({"augmentation": 0.0}).augmentation().active
    assert base.with_hyperparameters({"augmentation": 20.0}).augment_drop_points < 1.0, "stays a probability"
    with pytest.raises(ConfigError, match="unknown hyperparameters"):
        base.with_hyperparameters({"learning_rate": 0.01, "units": 3})


def test_a_hyperparameters_file_must_be_alone_in_its_folder(tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "best_hyperparameters.txt").write_text(json.dumps({"values": {"dropout": 0.1}}))
    assert tuning.hyperparameters_folder(str(alone / "best_hyperparameters.txt")) == str(alone)
    assert tuning.hyperparameters_folder(str(alone)) == str(alone)
    (tmp_path / "other.txt").write_text("{}")
    (tmp_path / "more.txt").write_text("{}")
    with pytest.raises(ConfigError, match="must hold only the hyperparameters file"):
        tuning.hyperparameters_folder(str(tmp_path / "other.txt"))
    with pytest.raises(ConfigError, match="no such file"):
        tuning.hyperparameters_folder(str(tmp_path / "missing.txt"))


def test_the_run_summary_says_where_the_hyperparameters_came_from():
    trials = [
        {"trial_id": "1", "score": 0.5, "dropout": 0.1},
        {"trial_id": "0", "score": 0.25, "dropout": 0.3},
    ]
    tuned = runs.Hyperparameters("the Tuner", {"dropout": 0.1}, trials)
    assert (
        tuned.summary() == "Hyperparameters: the Tuner's best of 2 trials (eval top-1 0.5000): dropout 0.1."
    )
    imported = runs.Hyperparameters("/h/best", {"dropout": 0.3}, [])
    assert imported.summary() == "Hyperparameters: from /h/best: dropout 0.3."


def test_the_tuners_custom_config_round_trips():
    training, search = TrainingConfig(batch_size=16), TuningConfig(tune=True, tune_trials=2)
    custom = json.loads(json.dumps(tuning.custom_config(training, search, "abc")))
    assert tuning.configs_of(custom) == (training, search)
