"""``run_fn`` for the TFX Trainer: train the tutorial's model on the transformed drawings.

Input pipeline: the ExampleGen's raw shards are read, parsed (only ``ink`` and
``word``) and passed through the transform layer inside ``tf.data``, so the
Transform component does not have to write a second copy of the corpus and the
model sees exactly what the serving signatures compute. Training runs inside a
``tf.distribute`` strategy scope (MirroredStrategy across the GPUs when there are
several), logs to TensorBoard in the Trainer's run directory, and the model is
saved with the signatures of ``signatures``.

Settings come from the Trainer's ``custom_config`` (see ``TrainingConfig``); steps
from its ``train_args`` / ``eval_args``; the largest drawing ``predict_strokes``
accepts from the conversion's manifest (``conversion_max_points``).
"""

from __future__ import annotations

import json
import posixpath
import time

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from absl import logging

from components import features as F
from components.conversion.manifest import MANIFEST_FILE
from components.training import model as model_lib
from components.training import signatures, transform
from components.training.config import PROGRESS_PREFIX, PROGRESS_SECONDS, TrainingConfig


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
) -> tf.data.Dataset:
    """(model inputs, label) batches from raw example shards, through the transform layer."""
    files = _files(patterns)
    compression = "GZIP" if files[0].endswith(".gz") else ""
    spec = transform.raw_feature_spec(tf_transform_output, with_label=True)
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
    if repeat:
        ds = ds.repeat()

    def to_model(serialized):
        transformed = tft_layer(tf.io.parse_example(serialized, spec))
        return transform.dense_inputs(transformed), transformed[F.LABEL]

    return ds.batch(batch_size).map(to_model, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class ProgressLog(keras.callbacks.Callback):
    """Logs step, loss, accuracy and examples/s every ``seconds`` (Keras prints one line per epoch)."""

    def __init__(self, total_steps: int, batch_size: int, seconds: float = PROGRESS_SECONDS) -> None:
        super().__init__()
        self.total_steps, self.batch_size, self.seconds = total_steps, batch_size, seconds

    def on_train_begin(self, logs=None) -> None:
        self._start = self._last = time.monotonic()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        now = time.monotonic()
        step = batch + 1
        if now - self._last < self.seconds and step != self.total_steps:
            return
        self._last = now
        logs = logs or {}
        rate = step * self.batch_size / max(now - self._start, 1e-9)
        logging.info(
            "%s step %d/%d: loss %.4f, accuracy %.4f, %.0f examples/s",
            PROGRESS_PREFIX,
            step,
            self.total_steps,
            logs.get("loss", float("nan")),
            logs.get("accuracy", float("nan")),
            rate,
        )


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


def run_fn(fn_args) -> None:
    """The TFX Trainer's entry point (``tfx.components.Trainer(run_fn=...)``)."""
    config = TrainingConfig.from_custom_config(fn_args.custom_config)
    logging.info("training config: %s", json.dumps(config.to_custom_config()))
    keras.utils.set_random_seed(config.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    tft_layer = tf_transform_output.transform_features_layer()
    names = transform.class_names(tf_transform_output)

    strategy = distribution_strategy()
    # Global batch: each replica gets batch_size (the tutorial's per-device batch).
    global_batch = config.batch_size * strategy.num_replicas_in_sync
    train = make_dataset(
        fn_args.train_files, tf_transform_output, tft_layer, global_batch, config.shuffle_buffer, config.seed
    )
    evaluation = make_dataset(fn_args.eval_files, tf_transform_output, tft_layer, global_batch)
    with strategy.scope():
        model = model_lib.build_model(len(names), config.model)

    model.fit(
        train,
        steps_per_epoch=fn_args.train_steps,
        epochs=1,
        validation_data=evaluation,
        validation_steps=fn_args.eval_steps,
        callbacks=[
            keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq=100),
            ProgressLog(fn_args.train_steps, global_batch),
        ],
        verbose=2,
    )
    max_points = conversion_max_points(fn_args.train_files)
    sigs = signatures.make_signatures(model, tf_transform_output, names, config.top_k, max_points)
    logging.info("%s saving the model with its signatures to %s", PROGRESS_PREFIX, fn_args.serving_model_dir)
    tf.saved_model.save(model, fn_args.serving_model_dir, signatures=sigs)
