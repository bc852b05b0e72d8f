"""``tuner_fn`` for TFX's Tuner: a random search over ``TuningConfig``'s space with the Trainer's own code.

Each trial builds the Trainer's model (``build_model``, with the learning-rate schedule over
``--tune-steps``) and input pipeline (``make_dataset``: length-bucketed, augmented at the trial's strength)
with the trial's choices applied as the Trainer will apply the winner's
(``TrainingConfig.with_hyperparameters``), trains ``--tune-steps`` steps and is scored by its top-1 on the
first ``--eval-steps`` batches of the eval split, as TFX's examples score trials. The Evaluator later scores
the trained model on that same split, so a tuned run's evaluation is slightly optimistic: the eval split
chose among a few settings.

Random search with ``max_trials`` set: each trial is a random point of the space and the count is bounded.
TFX's executor writes its results with ``oracle.get_best_trials(oracle.max_trials)``, which fails after the
whole search when the oracle has no ``max_trials``, as KerasTuner's Hyperband has (TFX issue #7778).
The search runs on KerasTuner's ``BaseTuner`` with its own ``run_trial``: ``keras_tuner`` drives Keras 3,
while the model is Keras 2 (``tf_keras``, which tensorflow-transform imposes), so KerasTuner's Keras
callbacks and model saving cannot touch it; a trial reports its score and its model is dropped.
"""

from __future__ import annotations

import json
import time

import keras_tuner as kt
from absl import logging

from components.training.config import PROGRESS_PREFIX, TrainingConfig
from components.tuning.config import TuningConfig, configs_of

OBJECTIVE = "val_accuracy"


def tuner_fn(fn_args):
    """TFX's Tuner entry point: the tuner (and no fit arguments: each trial makes its own datasets)."""
    import tensorflow_transform as tft
    from tfx.components.tuner.component import TunerFnResult

    from components.training import transform

    training, tuning = configs_of(fn_args.custom_config)
    tto = tft.TFTransformOutput(fn_args.transform_graph_path)
    names = transform.class_names(tto)
    space = kt.HyperParameters()
    for name, choices in tuning.space().items():
        space.Choice(name, list(choices))
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective(OBJECTIVE, "max"),
        max_trials=tuning.tune_trials,
        hyperparameters=space,
        seed=tuning.seed,
    )
    tuner = DrawingTuner(
        oracle,
        trial_run=TrialRun(fn_args, training, tuning, names, tto),
        directory=fn_args.working_dir,
        project_name="quickdraw",
        overwrite=True,
    )
    return TunerFnResult(tuner=tuner, fit_kwargs={"verbose": 0})  # KerasTuner's own display off


class TrialRun:
    """One trial: the Trainer's model and data with the trial's choices, trained and scored."""

    def __init__(
        self, fn_args, training: TrainingConfig, tuning: TuningConfig, names: list[str], tto
    ) -> None:
        self.fn_args, self.training, self.tuning, self.names, self.tto = fn_args, training, tuning, names, tto
        self.layer = tto.transform_features_layer()

    def __call__(self, values: dict) -> float:
        import tf_keras as keras

        from components.training import model as model_lib
        from components.training import trainer

        config = self.training.with_hyperparameters(values)
        keras.backend.clear_session()  # several models in one process
        keras.utils.set_random_seed(config.seed)
        model = model_lib.build_model(len(self.names), config.model, train_steps=self.tuning.tune_steps)
        train = trainer.training_batches(
            config, self.fn_args.train_files, self.tto, self.layer, config.batch_size
        )
        evaluation = trainer.make_dataset(self.fn_args.eval_files, self.tto, self.layer, config.batch_size)
        start = time.monotonic()
        model.fit(train, steps_per_epoch=self.tuning.tune_steps, epochs=1, verbose=0)
        scores = model.evaluate(evaluation, steps=self.fn_args.eval_steps or 1, verbose=0, return_dict=True)
        logging.info(
            "%s trial %s: %s in %.0f s",
            PROGRESS_PREFIX,
            json.dumps(values),
            _scored(scores),
            time.monotonic() - start,
        )
        return float(scores["accuracy"])


def _scored(scores: dict) -> str:
    return f"eval top-1 {scores['accuracy']:.4f}, top-3 {scores['top3_accuracy']:.4f}"


class DrawingTuner(kt.engine.base_tuner.BaseTuner):
    """KerasTuner's search loop around ``TrialRun``: no Keras model is handed to KerasTuner."""

    def __init__(self, oracle, trial_run: TrialRun, **kwargs) -> None:
        super().__init__(oracle=oracle, hypermodel=None, **kwargs)
        self.trial_run = trial_run

    def run_trial(self, trial, *fit_args, **fit_kwargs) -> dict:
        return {OBJECTIVE: self.trial_run(dict(trial.hyperparameters.values))}

    # TFX's executor prints these on stdout; to the log instead (`quickdraw run` prints the outcome).
    def search_space_summary(self, extended: bool = False) -> None:
        space = {hp.name: list(hp.values) for hp in self.oracle.get_space().space}
        logging.info(
            "%s searching %d trials of %s", PROGRESS_PREFIX, self.oracle.max_trials, json.dumps(space)
        )

    def results_summary(self, num_trials: int = 10) -> None:
        for trial in self.oracle.get_best_trials(num_trials):
            logging.info(
                "%s trial %s: %s, score %s",
                PROGRESS_PREFIX,
                trial.trial_id,
                trial.hyperparameters.values,
                trial.score,
            )
