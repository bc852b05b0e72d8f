"""``run_fn`` for the TFX Trainer: train the tutorial's model on the transformed drawings.

Input pipeline: the ExampleGen's raw shards are read, batched by length
(``batching``: drawings of similar length together, so the LSTMs do not run over
padding; on by default), parsed (only ``ink`` and ``word``) and passed through the
transform layer inside ``tf.data``, so the Transform component does not have to
write a second copy of the corpus and the model sees exactly what the serving
signatures compute. An interrupted Trainer re-run with the same inputs and settings
resumes from its last checkpoint (``checkpoints``); ``warm_start`` starts from the
latest blessed model's weights when they fit. Training runs inside a
``tf.distribute`` strategy scope (MirroredStrategy across the GPUs when there are
several), logs to TensorBoard in the Trainer's run directory, and the model is
saved with the signatures of ``signatures``.

Settings come from the Trainer's ``custom_config`` (see ``TrainingConfig``); steps
from its ``train_args`` / ``eval_args``; the largest drawing ``predict_strokes``
accepts from the conversion's manifest (``conversion_max_points``).
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import time

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from absl import logging

from components import features as F
from components.conversion.manifest import MANIFEST_FILE
from components.training import augment, batching, signatures, tflite_export, transform, warm_start
from components.training import model as model_lib
from components.training.checkpoints import CheckpointEvery, Resumable, checkpoint_directory
from components.training.config import (
    CHECKPOINT_ROOT_KEY,
    PROGRESS_PREFIX,
    PROGRESS_SECONDS,
    Augmentation,
    TrainingConfig,
    hyperparameter_values,
)

# In the Trainer's model_run: from which step it resumed, whether it warm-started, the steps trained in total.
SUMMARY_FILE = "training_summary.json"


def _files(patterns: list[str]) -> list[str]:
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise ValueError(f"no input files match {patterns}")
    return files


def make_dataset(
    patterns: list[str],
    tf_transform_output: tft.TFTransformOutput,
    tft_layer,
    batch_size: int,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    repeat: bool = True,
    bucket_window: int | None = None,
    skip_batches: int = 0,
    augmentation: Augmentation | None = None,
) -> tf.data.Dataset:
    """(model inputs, label) batches from raw example shards, through the transform layer.

    ``bucket_window``: batches per length-sorting window (``batching``); None batches the
    stream as it comes. ``skip_batches``: where a resumed Trainer picks the stream up
    (the stream is deterministic for a seed, so these are the batches already trained on).
    ``augmentation``: the training split's stroke augmentation (``augment``), keyed by
    ``(seed, batch index)``; None (evaluation) leaves the ink as the transform layer computes it.
    """
    spec = transform.raw_feature_spec(tf_transform_output, with_label=True)
    records = example_records(patterns, shuffle_buffer, seed, repeat)
    if bucket_window:
        batches = batching.length_bucketed_batches(records, batch_size, bucket_window, seed)
    else:
        batches = records.batch(batch_size)

    augmenting = augmentation is not None and augmentation.active
    stream_seed = tf.constant(seed or 0, tf.int64)

    # Straight-line graph code (its branches are on Python values): AutoGraph's rewrite of it, the transform
    # layer and the augmentation added ~1 s to the first trace of every process and changed nothing.
    @tf.autograph.experimental.do_not_convert
    def to_model(index, serialized):
        transformed = tft_layer(tf.io.parse_example(serialized, spec))
        inputs = transform.dense_inputs(transformed)
        if augmenting:
            inputs = augment.augment_batch(inputs, tf.stack([stream_seed, index]), augmentation)
        return inputs, transformed[F.LABEL]

    batches = batches.enumerate()  # the batch index keys the augmentation, so it counts skipped batches
    batches = batches.skip(skip_batches) if skip_batches else batches
    return batches.map(to_model, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def training_batches(
    config: TrainingConfig,
    patterns: list[str],
    tf_transform_output: tft.TFTransformOutput,
    tft_layer,
    batch_size: int,
    skip_batches: int = 0,
) -> tf.data.Dataset:
    """The training stream as ``config`` asks for it: shuffled, length-bucketed when on, augmented; what
    the Trainer fits on and what each of the Tuner's trials fits on."""
    return make_dataset(
        patterns,
        tf_transform_output,
        tft_layer,
        batch_size,
        config.shuffle_buffer,
        config.seed,
        bucket_window=config.bucket_window if config.bucket_by_length else None,
        skip_batches=skip_batches,
        augmentation=config.augmentation(),
    )


def example_records(
    patterns: list[str], shuffle_buffer: int = 0, seed: int | None = None, repeat: bool = True
) -> tf.data.Dataset:
    """Serialized examples of the shards; shuffled (files, then a buffer) when ``shuffle_buffer``."""
    files = _files(patterns)
    compression = "GZIP" if files[0].endswith(".gz") else ""
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_buffer:
        ds = ds.shuffle(len(files), seed=seed)
    ds = ds.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type=compression),
        cycle_length=min(len(files), 16),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=seed is not None,
    )
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    return ds.repeat() if repeat else ds


class ProgressLog(keras.callbacks.Callback):
    """Logs step, loss, accuracy, examples/s and the time left every ``seconds`` (Keras prints one line
    per epoch, and a Trainer runs one epoch). ``initial_step``: where a resumed run began.

    The rate and the time left are measured from the end of the first step: the first step builds the
    graph, and counting it as a step showed an ETA of hours on a run of minutes."""

    def __init__(
        self, total_steps: int, batch_size: int, initial_step: int = 0, seconds: float = PROGRESS_SECONDS
    ) -> None:
        super().__init__()
        self.total_steps, self.batch_size, self.seconds = total_steps, batch_size, seconds
        self.initial_step = initial_step

    def on_train_begin(self, logs=None) -> None:
        self._start = self._last = time.monotonic()
        self._first: tuple[float, int] | None = None  # (time, batches) at the end of the first step

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        now = time.monotonic()
        done = batch + 1  # in this run
        step = self.initial_step + done
        if self._first is None:
            self._first = (now, done)
            if step != self.total_steps:
                logging.info(
                    "%s step %d/%d: the graph is built (%.0f s); the rate and the time left follow",
                    PROGRESS_PREFIX,
                    step,
                    self.total_steps,
                    now - self._start,
                )
                return
        if now - self._last < self.seconds and step != self.total_steps:
            return
        self._last = now
        logs = logs or {}
        since, before = self._first
        measured = done - before
        rate = measured / (now - since) if measured and now > since else None
        logging.info(
            "%s step %d/%d: loss %.4f, accuracy %.4f, %s examples/s, ETA %s",
            PROGRESS_PREFIX,
            step,
            self.total_steps,
            logs.get("loss", float("nan")),
            logs.get("accuracy", float("nan")),
            f"{rate * self.batch_size:.0f}" if rate else "–",
            _duration((self.total_steps - step) / rate) if rate else "–",
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def conversion_max_points(train_patterns: list[str]) -> int:
    """The points limit the training data was converted under: what ``predict_strokes`` accepts.

    Read from the Examples artifact's ``manifest.json`` (beside its ``Split-train/``
    directory), so the serving bound is the conversion's own setting, declared once.
    """
    examples_root = posixpath.dirname(posixpath.dirname(train_patterns[0].rstrip("/")))
    with tf.io.gfile.GFile(posixpath.join(examples_root, MANIFEST_FILE)) as f:
        return int(json.load(f)["config"]["max_points"])


def distribution_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over several GPUs; otherwise the default (one device) strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def _checkpoint_root(fn_args) -> str:
    """Where resumable checkpoints live: the pipeline root's (set by the pipeline), else the working dir."""
    custom = fn_args.custom_config or {}
    return custom.get(CHECKPOINT_ROOT_KEY) or posixpath.join(
        fn_args.working_dir or fn_args.model_run_dir, "checkpoints"
    )


def _identity(fn_args) -> dict:
    """What decides this training: a re-run with the same identity may resume from its checkpoints."""
    custom = {k: v for k, v in (fn_args.custom_config or {}).items() if k != CHECKPOINT_ROOT_KEY}
    return {
        "train_files": list(fn_args.train_files),
        "eval_files": list(fn_args.eval_files),
        "transform_output": fn_args.transform_output,
        "train_steps": fn_args.train_steps,
        "eval_steps": fn_args.eval_steps,
        "base_model": fn_args.base_model,
        "custom_config": custom,
        # A Tuner's (or an imported) choice changes the training as much as a setting does.
        "hyperparameters": hyperparameter_values(getattr(fn_args, "hyperparameters", None)),
    }


@dataclasses.dataclass
class Start:
    """Where training begins: the model (in the strategy's scope), its checkpoints, and the step to resume
    from (0 unless an interrupted run of the same Trainer left a checkpoint)."""

    model: keras.Model
    resumable: Resumable
    step: int
    global_batch: int


def start_training(fn_args, config: TrainingConfig, names: list[str], summary: dict) -> Start:
    """Build the model in a ``tf.distribute`` scope; resume from this Trainer's own checkpoints, else start
    from the latest blessed model when ``--warm-start`` and it fits, else cold. ``summary`` records which."""
    strategy = distribution_strategy()
    # Global batch: each replica gets batch_size (the tutorial's per-device batch).
    global_batch = config.batch_size * strategy.num_replicas_in_sync
    with strategy.scope():
        model = model_lib.build_model(len(names), config.model, train_steps=fn_args.train_steps)
        resumable = Resumable(checkpoint_directory(_checkpoint_root(fn_args), _identity(fn_args)), model)
        step = resumable.restore()
    if step:
        logging.info("%s resuming from step %d (%s)", PROGRESS_PREFIX, step, resumable.directory)
    elif config.warm_start and fn_args.base_model:
        why_not = warm_start.load(model, fn_args.base_model, names, config.model)
        summary["warm_start"] = {"from": fn_args.base_model, "loaded": why_not is None, "reason": why_not}
        if why_not:
            logging.warning("%s warm start skipped, starting cold: %s", PROGRESS_PREFIX, why_not)
        else:
            logging.info("%s warm start from %s", PROGRESS_PREFIX, fn_args.base_model)
    elif config.warm_start:
        summary["warm_start"] = {"from": None, "loaded": False, "reason": "no blessed model yet"}
        logging.info("%s warm start: no blessed model yet, starting cold", PROGRESS_PREFIX)
    summary["resumed_from_step"] = step
    return Start(model, resumable, step, global_batch)


def fit(fn_args, config: TrainingConfig, tf_transform_output, tft_layer, start: Start) -> None:
    """Train the steps left (all of them unless resumed), with TensorBoard logs, progress lines and
    checkpoints; the eval split's first ``eval_steps`` batches are Keras's validation."""
    if start.step >= fn_args.train_steps:
        return
    train = training_batches(
        config,
        fn_args.train_files,
        tf_transform_output,
        tft_layer,
        start.global_batch,
        skip_batches=start.step,
    )
    # Not bucketed: the first `eval_steps` batches of length-sorted windows would be the shortest drawings.
    evaluation = make_dataset(fn_args.eval_files, tf_transform_output, tft_layer, start.global_batch)
    start.model.fit(
        train,
        steps_per_epoch=fn_args.train_steps - start.step,
        epochs=1,
        validation_data=evaluation,
        validation_steps=fn_args.eval_steps,
        callbacks=[
            keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq=100),
            ProgressLog(fn_args.train_steps, start.global_batch, initial_step=start.step),
            CheckpointEvery(start.resumable, start.step, config.checkpoint_steps, config.checkpoint_seconds),
        ],
        verbose=0,  # the progress lines say it: Keras's own per-epoch line would repeat them
    )


def export(
    fn_args, config: TrainingConfig, model, tf_transform_output, names: list[str], summary: dict
) -> None:
    """The SavedModel with its serving signatures, the weights for a later warm start, and ``model.tflite``
    beside it when it agrees with the SavedModel (its parity figures go into ``summary``)."""
    # Before the signatures attach the transform layer: the weights file holds the model's own layers only.
    warm_start.write(model, fn_args.serving_model_dir, names, config.model)
    max_points = conversion_max_points(fn_args.train_files)
    logging.info("%s saving the model with its signatures to %s", PROGRESS_PREFIX, fn_args.serving_model_dir)
    signatures.save(model, fn_args.serving_model_dir, tf_transform_output, names, config.top_k, max_points)
    if config.tflite != tflite_export.NONE:
        logging.info(
            "%s converting to TFLite (%s) and checking it against the SavedModel",
            PROGRESS_PREFIX,
            config.tflite,
        )
        records = example_records(fn_args.eval_files, repeat=False).take(tflite_export.PARITY_DRAWINGS)
        inks = tflite_export.eval_inks(list(records.as_numpy_iterator()))
        summary["tflite"] = tflite_export.export(model, fn_args.serving_model_dir, names, config.tflite, inks)


def write_summary(fn_args, summary: dict) -> None:
    """``training_summary.json`` beside the TensorBoard logs: how the run started and what it trained."""
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(posixpath.join(fn_args.model_run_dir, SUMMARY_FILE), "w") as f:
        f.write(json.dumps(summary, indent=2))


def run_fn(fn_args) -> None:
    """The TFX Trainer's entry point (``tfx.components.Trainer(run_fn=...)``): start (resume, warm start or
    cold), fit, export, and say how it went in ``training_summary.json``."""
    config = TrainingConfig.from_custom_config(fn_args.custom_config)
    tuned = hyperparameter_values(fn_args.hyperparameters)
    if tuned:
        config = config.with_hyperparameters(tuned)
        logging.info(
            "%s with the hyperparameters given (%s) over the settings", PROGRESS_PREFIX, json.dumps(tuned)
        )
    logging.info("training config: %s", json.dumps(config.to_custom_config()))
    keras.utils.set_random_seed(config.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    tft_layer = tf_transform_output.transform_features_layer()
    names = transform.class_names(tf_transform_output)
    summary: dict = {
        "train_steps": fn_args.train_steps,
        "bucket_by_length": config.bucket_by_length,
        "learning_rate": {
            "peak": config.model.learning_rate,
            "schedule": config.model.lr_schedule,
            "warmup_fraction": config.model.warmup_fraction,
        },
        "augmentation": dataclasses.asdict(config.augmentation()),
        # The Tuner's (or an imported) choice, applied over the settings; null when none was given.
        "hyperparameters": tuned or None,
    }

    start = start_training(fn_args, config, names, summary)
    fit(fn_args, config, tf_transform_output, tft_layer, start)
    export(fn_args, config, start.model, tf_transform_output, names, summary)
    summary["optimizer_iterations"] = int(start.model.optimizer.iterations.numpy())  # resumed steps included
    start.resumable.remove()  # the model is saved: a re-run of this Trainer starts afresh
    write_summary(fn_args, summary)
