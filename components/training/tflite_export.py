"""The on-device model: ``model.tflite`` beside the SavedModel, written only when it agrees with it.

Like TFX's TFLite rewriter, this runs in the Trainer right after the export, so the
Pusher publishes the TFLite model inside the same version directory, in the same
atomic rename as the SavedModel (TF Serving ignores the extra files). Beside it:
``labels.txt`` (output index → class name, one per line) and ``tflite.json`` (the
variant, its parity and its size).

The TFLite model takes one drawing: ``ink`` float32 [1, points, 3] as the conversion
and ``predict_strokes`` compute it, and ``length`` int64 [1]; it returns
``probabilities`` [1, classes + 1]. With no padding in a single drawing, the masked
BiLSTM converts to TFLite builtin ops (no Select TF ops).

Variants: ``float32`` (the default), ``float16`` (weights stored in float16) and
``int8`` (dynamic-range quantisation of the weights). Before anything is written the
TFLite model scores the parity drawings (the first drawings of the eval split) and is
compared with the Keras model that was just saved: every drawing's top-1 class must
agree (up to ties within the tolerance) and every probability must differ by less
than the variant's tolerance. A model that fails writes no TFLite file; the run says
why and the SavedModel push is unaffected.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from components import features as F
from components.training import signatures
from components.training.lstm_variants import no_cudnn_variant

TFLITE_FILE = "model.tflite"
LABELS_FILE = "labels.txt"
REPORT_FILE = "tflite.json"
NONE = "none"
PARITY_DRAWINGS = 500  # the first drawings of the eval split the TFLite model must agree on


@dataclasses.dataclass(frozen=True)
class Variant:
    tolerance: float  # largest |TFLite − SavedModel| allowed on any probability
    describe: str


VARIANTS = {
    "float32": Variant(1e-4, "float32 weights and compute"),
    "float16": Variant(1e-2, "float16 weights (half the size), float32 compute"),
    "int8": Variant(5e-2, "int8 weights (dynamic-range quantisation), float32 activations"),
}


def single_drawing_function(model) -> tf.types.experimental.ConcreteFunction:
    """{ink [1, points, 3], length [1]} → {probabilities}: what the TFLite model computes."""

    @tf.function(
        input_signature=[
            tf.TensorSpec([1, None, 3], tf.float32, name=F.INK),
            tf.TensorSpec([1], tf.int64, name=F.LENGTH),
        ]
    )
    def probabilities(ink, length):
        logits = model({F.INK: ink, F.LENGTH: length}, training=False)
        return {"probabilities": tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)}

    return probabilities.get_concrete_function()


@contextlib.contextmanager
def native_output_to_log(what: str) -> Iterator[None]:
    """What TFLite's C++ code writes straight to the process's stderr (the converter's "Ignored
    output_format", "Created TensorFlow Lite XNNPACK delegate for CPU") goes to the Python log at INFO instead:
    the log file has it, and the terminal shows it only with ``-v``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            said = capture.read().decode("utf-8", errors="replace").strip()
            if said:
                logging.info("%s wrote:\n%s", what, said)


def convert(model, variant: str) -> bytes:
    """The Keras model → TFLite flatbuffer, builtin ops only (a conversion needing Select TF ops fails)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown TFLite variant {variant!r}; one of {', '.join(VARIANTS)}")
    # The variables' holder, not the Keras model: the converter saves what it is given first, and saving
    # the Keras model traces every layer for nothing (``signatures.weights_holder``).
    with no_cudnn_variant():  # TFLite runs its own kernels (``lstm_variants``)
        function = single_drawing_function(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], signatures.weights_holder(model))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with native_output_to_log("the TFLite converter"):
        return converter.convert()


class Interpreter:
    """One TFLite model, one drawing at a time (the input is resized to each drawing's points)."""

    def __init__(self, content: bytes, threads: int | None = None) -> None:
        with native_output_to_log("the TFLite interpreter"):
            self.interpreter = tf.lite.Interpreter(model_content=content, num_threads=threads)
        inputs = {d["name"]: d for d in self.interpreter.get_input_details()}
        self.ink = next(d["index"] for n, d in inputs.items() if F.INK in n)
        self.length = next(d["index"] for n, d in inputs.items() if F.LENGTH in n)
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.points = -1

    def __call__(self, ink: np.ndarray) -> np.ndarray:
        """ink [points, 3] → probabilities [classes + 1]."""
        points = int(ink.shape[0])
        if points != self.points:
            with native_output_to_log("the TFLite interpreter"):  # XNNPACK says so on each allocation
                self.interpreter.resize_tensor_input(self.ink, [1, points, 3])
                self.interpreter.allocate_tensors()
            self.points = points
        self.interpreter.set_tensor(self.ink, ink.reshape(1, points, 3).astype(np.float32))
        self.interpreter.set_tensor(self.length, np.array([points], np.int64))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output)[0].copy()


def reference_probabilities(model, inks: list[np.ndarray], batch: int = 64) -> np.ndarray:
    """The Keras model's probabilities for each drawing (padded batches: the scores do not depend on it)."""
    out = []
    for start in range(0, len(inks), batch):
        chunk = inks[start : start + batch]
        longest = max(len(i) for i in chunk)
        padded = np.zeros((len(chunk), longest, 3), np.float32)
        for row, ink in enumerate(chunk):
            padded[row, : len(ink)] = ink
        logits = model({F.INK: padded, F.LENGTH: np.array([len(i) for i in chunk], np.int64)}, training=False)
        out.append(tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1).numpy())
    return np.concatenate(out)


def parity(content: bytes, reference: np.ndarray, inks: list[np.ndarray], tolerance: float) -> dict:
    """How the TFLite model's probabilities compare with ``reference`` on ``inks``."""
    interpreter = Interpreter(content)
    got = np.stack([interpreter(ink) for ink in inks])
    difference = np.abs(got - reference)
    # a top-1 disagreement counts unless the reference's best two are within the tolerance (a tie)
    best = reference.argmax(axis=1)
    tied = reference.max(axis=1) - reference[np.arange(len(got)), got.argmax(axis=1)] <= tolerance
    disagree = int(((got.argmax(axis=1) != best) & ~tied).sum())
    return {
        "drawings": len(inks),
        "max_abs_difference": float(difference.max()),
        "mean_abs_difference": float(difference.mean()),
        "top1_agreement": float((got.argmax(axis=1) == best).mean()),
        "top1_disagreements_beyond_ties": disagree,
        "tolerance": tolerance,
        "passed": bool(difference.max() < tolerance and disagree == 0),
    }


def export(
    model, serving_model_dir: str, class_names: list[str], variant: str, inks: list[np.ndarray]
) -> dict:
    """Converts, checks parity on ``inks``, and writes the TFLite files only when it passes. Returns the report."""
    if variant == NONE:
        return {"variant": NONE}
    if not inks:
        logging.warning("TFLite model (%s) not written: no eval drawings to check it against", variant)
        return {"variant": variant, "written": False, "passed": False, "drawings": 0}
    content = convert(model, variant)
    report = {
        "variant": variant,
        "describe": VARIANTS[variant].describe,
        "bytes": len(content),
        **parity(content, reference_probabilities(model, inks), inks, VARIANTS[variant].tolerance),
    }
    if not report["passed"]:
        report["written"] = False
        logging.warning(
            "TFLite model (%s) not written: on %d eval drawings the largest probability difference is %.2g "
            "(tolerance %.0e) and %d top-1 classes differ",
            variant, report["drawings"], report["max_abs_difference"], report["tolerance"],
            report["top1_disagreements_beyond_ties"],
        )  # fmt: skip
        return report
    with tf.io.gfile.GFile(os.path.join(serving_model_dir, TFLITE_FILE), "wb") as f:
        f.write(content)
    with tf.io.gfile.GFile(os.path.join(serving_model_dir, LABELS_FILE), "w") as f:
        f.write("".join(name.replace("\n", " ") + "\n" for name in class_names))
    report["written"] = True
    with tf.io.gfile.GFile(os.path.join(serving_model_dir, REPORT_FILE), "w") as f:
        f.write(json.dumps(report, indent=2))
    return report


def eval_inks(serialized: list[bytes]) -> list[np.ndarray]:
    """The ink [points, 3] of serialized examples, as stored by the conversion."""
    parsed = tf.io.parse_example(serialized, {F.INK: tf.io.VarLenFeature(tf.float32)})[F.INK]
    dense = tf.RaggedTensor.from_sparse(parsed)
    return [row.numpy().reshape(-1, 3) for row in dense]
