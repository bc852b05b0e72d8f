"""Warm start: begin training from the latest blessed model's weights, when they fit.

Every exported model carries, in its ``assets.extra/`` (which TF Serving ignores), its
layer weights and a small description: the class vocabulary and the architecture.
A warm start loads those weights only when both match the model about to be trained
(same classes in the same order, same layers and sizes); otherwise it says why in
one line and the Trainer starts cold. Only the weights are taken: the optimizer
starts fresh, as the new run's settings say.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile

import tensorflow as tf
import tf_keras as keras

from components.training.config import ModelConfig

EXTRA = "assets.extra"
DESCRIPTION = "quickdraw_model.json"
WEIGHTS = "warm_start.weights.h5"
# The settings that decide the weights' shapes (the rest, e.g. learning rate or dropout, may change).
ARCHITECTURE = ("conv_filters", "conv_kernels", "batch_norm", "lstm_units", "lstm_layers")


def architecture(config: ModelConfig) -> dict:
    """The settings that decide the weights' shapes, as the description stores them (JSON: lists, not tuples)."""
    values = dataclasses.asdict(config)
    return {
        name: list(values[name]) if isinstance(values[name], tuple) else values[name] for name in ARCHITECTURE
    }


def _local_path(path: str) -> str:
    """h5py reads and writes local files only: a temporary local path for a remote (gs://) one."""
    return os.path.join(tempfile.mkdtemp(), WEIGHTS) if "://" in path else path


def write(model: keras.Model, serving_model_dir: str, class_names: list[str], config: ModelConfig) -> None:
    """Store the weights and the description beside an exported SavedModel."""
    extra = os.path.join(serving_model_dir, EXTRA)
    tf.io.gfile.makedirs(extra)
    local = _local_path(os.path.join(extra, WEIGHTS))
    model.save_weights(local)
    if local != os.path.join(extra, WEIGHTS):
        tf.io.gfile.copy(local, os.path.join(extra, WEIGHTS), overwrite=True)
    description = {"class_names": class_names, "architecture": architecture(config)}
    with tf.io.gfile.GFile(os.path.join(extra, DESCRIPTION), "w") as f:
        f.write(json.dumps(description, indent=2))


def described(model_dir: str) -> tuple[list[str], ModelConfig]:
    """The class names and the architecture (other settings at their defaults) an exported model was made with."""
    with tf.io.gfile.GFile(os.path.join(model_dir, EXTRA, DESCRIPTION)) as f:
        description = json.load(f)
    shapes = {k: tuple(v) if isinstance(v, list) else v for k, v in description["architecture"].items()}
    return description["class_names"], ModelConfig(**shapes)


def load(model: keras.Model, base_model_dir: str, class_names: list[str], config: ModelConfig) -> str | None:
    """Load the base model's weights into ``model``; None when done, else why not (one line)."""
    path = os.path.join(base_model_dir, EXTRA, DESCRIPTION)
    if not tf.io.gfile.exists(path):
        return f"{base_model_dir} has no {EXTRA}/{DESCRIPTION} (exported before warm starts existed)"
    with tf.io.gfile.GFile(path) as f:
        base = json.load(f)
    if base["class_names"] != class_names:
        added = sorted(set(class_names) - set(base["class_names"]))[:3]
        removed = sorted(set(base["class_names"]) - set(class_names))[:3]
        return (
            f"the class vocabulary differs ({len(base['class_names'])} classes there, {len(class_names)} here; "
            f"new e.g. {added}, gone e.g. {removed}, or another order)"
        )
    if base["architecture"] != architecture(config):
        changed = {
            k: (base["architecture"][k], v)
            for k, v in architecture(config).items()
            if base["architecture"].get(k) != v
        }
        return f"the architecture differs (base → now: {changed})"
    weights = os.path.join(base_model_dir, EXTRA, WEIGHTS)
    local = _local_path(weights)
    if local != weights:
        tf.io.gfile.copy(weights, local, overwrite=True)
    model.load_weights(local)  # the checks above make every shape match: nothing is half-loaded
    return None
