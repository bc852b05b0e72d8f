"""``preprocessing_fn``: raw converted drawings → what the model reads (tf.Transform).

Everything between a stored/served ``tf.Example`` and the model lives here, in the
transform graph that travels with the SavedModel, so training, evaluation and
serving cannot drift:

- ``label``: the index of ``word`` in a vocabulary computed by tf.Transform on the
  **train split only** (the Transform component analyses ``train``). A class seen
  only in eval maps to one out-of-vocabulary bucket, index ``vocabulary size``:
  the model has an output for it that training never targets, so such drawings
  count as misclassified instead of crashing the evaluation.
- ``ink``: the drawing's (dx, dy, stroke_end) rows, ``[batch, None, 3]`` (ragged:
  tf.Transform can only describe fixed-size dense outputs). ``dense_inputs`` turns
  it into the right-padded dense ``[batch, time, 3]`` the cuDNN LSTM needs.
- ``length``: rows per drawing.

Only ``ink`` and ``word`` are read; at serving time ``word`` is absent and the
transform layer computes the model inputs alone.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from components import features as F

LABEL_VOCABULARY = "label"  # the vocabulary file's name in the transform graph's assets
UNKNOWN_CLASS = "<class not in training data>"  # the name of the out-of-vocabulary output


def preprocessing_fn(inputs: dict) -> dict:
    outputs = {}
    ink = inputs[F.INK]
    if isinstance(ink, tf.SparseTensor):
        ink = tf.RaggedTensor.from_sparse(ink)
    rows = ink.row_lengths() // 3
    outputs[F.INK] = tf.RaggedTensor.from_row_lengths(tf.reshape(ink.values, [-1, 3]), rows)
    outputs[F.LENGTH] = tf.cast(rows, tf.int64)
    outputs[F.LABEL] = tft.compute_and_apply_vocabulary(
        tf.reshape(inputs[F.WORD], [-1]), num_oov_buckets=1, vocab_filename=LABEL_VOCABULARY
    )
    return outputs


def dense_inputs(transformed: dict) -> dict:
    """The model's inputs from the transform's outputs: right-padded dense ink + length."""
    ink = transformed[F.INK]
    if isinstance(ink, tf.RaggedTensor):
        ink = ink.to_tensor(default_value=0.0, shape=[None, None, 3])
    return {F.INK: ink, F.LENGTH: transformed[F.LENGTH]}


def raw_feature_spec(tf_transform_output: tft.TFTransformOutput, with_label: bool) -> dict:
    """How to parse the raw examples for the transform layer: ``ink`` (+ ``word``), as the schema says."""
    wanted = (F.INK, F.WORD) if with_label else (F.INK,)
    spec = tf_transform_output.raw_feature_spec()
    return {name: spec[name] for name in wanted}


def class_names(tf_transform_output: tft.TFTransformOutput) -> list[str]:
    """Output index → class name: the train vocabulary, then the out-of-vocabulary bucket."""
    names = [w.decode() for w in tf_transform_output.vocabulary_by_name(LABEL_VOCABULARY)]
    return names + [UNKNOWN_CLASS]


def dense_inputs_with_label(transformed: dict) -> dict:
    """``dense_inputs`` plus the label (evaluation: TFMA reads the label from here)."""
    return {**dense_inputs(transformed), F.LABEL: transformed[F.LABEL]}
