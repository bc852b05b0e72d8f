"""Resumable training: checkpoints that a re-run of the same Trainer finds, and resumes from.

A preempted or retried Trainer is a new TFX execution with new output directories, so
its checkpoints cannot live there. They live under the pipeline root's
``checkpoints/<key>/`` (locally, or the ``gs://`` root on Kubeflow/Vertex), where
``key`` hashes everything that decides the training: the input artifacts, the
settings, the steps and the code fingerprint. The same Trainer run again finds them;
a changed setting, input or code gets another key and starts from step 0, never
from a stale checkpoint.

A checkpoint holds the model, the optimizer (moments, iteration count, loss scale)
and the step. The input pipeline is deterministic for a seed, so a resumed Trainer
skips the batches already consumed and continues with the data it would have seen.
Checkpoints are written every ``checkpoint_steps`` steps and at least every
``checkpoint_seconds``, and removed once the model is saved.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import time
from typing import Any

import tensorflow as tf
import tf_keras as keras
from absl import logging

from components.training.config import PROGRESS_PREFIX

KEEP = 2  # checkpoints kept: the newest may be the one being written when the pod dies


def resume_key(identity: dict[str, Any]) -> str:
    """A short hash of what decides the training (inputs, settings, steps, code)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


class Resumable:
    """The model, its optimizer and the step, saved to and restored from one directory."""

    def __init__(self, directory: str, model: keras.Model) -> None:
        self.directory = directory
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        optimizer = model.optimizer
        # Slot variables exist only once built: build them now, so a restore fills them at once.
        getattr(optimizer, "inner_optimizer", optimizer).build(model.trainable_variables)
        self._checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=self.step)
        self._manager = tf.train.CheckpointManager(self._checkpoint, directory, max_to_keep=KEEP)

    def restore(self) -> int:
        """The step to resume from: 0 without a checkpoint."""
        latest = self._manager.latest_checkpoint
        if latest is None:
            return 0
        self._checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.step.numpy())

    def save(self, step: int) -> str:
        self.step.assign(step)
        return self._manager.save(checkpoint_number=step)

    def remove(self) -> None:
        if tf.io.gfile.exists(self.directory):
            tf.io.gfile.rmtree(self.directory)


class CheckpointEvery(keras.callbacks.Callback):
    """Saves every ``steps`` steps and at least every ``seconds`` (``initial_step``: where this run began)."""

    def __init__(self, resumable: Resumable, initial_step: int, steps: int, seconds: float) -> None:
        super().__init__()
        self.resumable, self.initial_step, self.steps, self.seconds = resumable, initial_step, steps, seconds

    def on_train_begin(self, logs=None) -> None:
        self._saved_step, self._saved_at = self.initial_step, time.monotonic()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        step = self.initial_step + batch + 1
        now = time.monotonic()
        if step - self._saved_step >= self.steps or now - self._saved_at >= self.seconds:
            path = self.resumable.save(step)
            self._saved_step, self._saved_at = step, now
            logging.info("%s checkpoint at step %d: %s", PROGRESS_PREFIX, step, path)


def checkpoint_directory(root: str, identity: dict[str, Any]) -> str:
    return posixpath.join(root.rstrip("/"), resume_key(identity))
