"""The SavedModel's serving signatures; all of them share the transform graph.

- ``serving_default`` (TFX convention): serialized ``tf.Example`` in (as the
  conversion writes them; only ``ink`` is read), class probabilities and the
  top-k class names and scores out.
- ``predict_strokes``: one raw drawing as a REST client has it in an NDJSON line:
  ``x`` and ``y`` (all strokes' points concatenated) and ``stroke_lengths``. The ink is
  computed in-graph (``ink_tf``, equal to the conversion's) and goes
  through the same transform layer. Malformed drawings fail with a clear
  ``INVALID_ARGUMENT`` before any model work (empty, x/y length mismatch, stroke
  lengths that do not add up, non-finite values, more than ``max_points`` points).
- ``predict_strokes_batch``: several raw drawings in one call, for clients and for the server's batcher
  (``quickdraw serve --enable-batching`` merges concurrent ``predict_strokes`` requests into one call of it).
  Ragged drawings travel flat, as ``predict_strokes``'s do one level down: ``x``, ``y`` and
  ``stroke_lengths`` are every drawing's, one drawing after the other, and ``drawing_strokes`` says how many
  strokes each drawing has. Outputs are batch-major, one row per drawing, equal to ``predict_strokes`` on
  each drawing alone (``tests/test_pipeline_e2e.py``).
- ``transform_features``: serialized examples → the transform's outputs with the
  label, for TFMA (label present for evaluation, absent for serving).
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from components import features as F
from components.training import transform
from components.training.ink_tf import batch_ink_from_strokes, ink_from_strokes
from components.training.lstm_variants import cudnn_variant_for_inference

PROBABILITIES = "probabilities"
TOP_K_LABELS = "top_k_labels"
TOP_K_SCORES = "top_k_scores"
SERVING_DEFAULT = "serving_default"
PREDICT_STROKES = "predict_strokes"
PREDICT_STROKES_BATCH = "predict_strokes_batch"
TRANSFORM_FEATURES = "transform_features"


def _point_checks(x: tf.Tensor, y: tf.Tensor, lengths: tf.Tensor) -> list:
    """What one drawing and a batch of them share: x and y of one length, stroke lengths that are >= 0 and add
    up to it, finite coordinates."""
    n = tf.size(x, out_type=tf.int64)
    return [
        tf.debugging.assert_equal(n, tf.size(y, out_type=tf.int64), message="x and y differ in length"),
        tf.debugging.assert_non_negative(lengths, message="stroke_lengths must be >= 0"),
        tf.debugging.assert_equal(
            tf.reduce_sum(lengths), n, message="stroke_lengths must add up to the number of points"
        ),
        tf.debugging.assert_all_finite(x, message="x has a non-finite value"),
        tf.debugging.assert_all_finite(y, message="y has a non-finite value"),
    ]


def _size_checks(points: tf.Tensor, max_points: int, fewest: str) -> list:
    """Each drawing's points within [2, max_points]."""
    return [
        tf.debugging.assert_greater_equal(points, tf.constant(2, tf.int64), message=fewest),
        tf.debugging.assert_less_equal(
            points,
            tf.constant(max_points, tf.int64),
            message=f"a drawing may have at most {max_points} points",
        ),
    ]


def validate_strokes(x: tf.Tensor, y: tf.Tensor, stroke_lengths: tf.Tensor, max_points: int) -> list:
    """Assertions that fail with a readable message on a malformed drawing."""
    n = tf.size(x, out_type=tf.int64)
    return _point_checks(x, y, tf.cast(stroke_lengths, tf.int64)) + _size_checks(
        n, max_points, "a drawing needs >= 2 points"
    )


def validate_batch(
    x: tf.Tensor, y: tf.Tensor, stroke_lengths: tf.Tensor, drawing_strokes: tf.Tensor, max_points: int
) -> tuple[list, tf.Tensor]:
    """``validate_strokes`` for a batch, per drawing; also the points of each drawing (once they are known
    to add up). Returns (assertions, points per drawing)."""
    lengths = tf.cast(stroke_lengths, tf.int64)
    per_drawing = tf.cast(drawing_strokes, tf.int64)
    layout = _point_checks(x, y, lengths) + [
        tf.debugging.assert_positive(tf.size(per_drawing), message="a batch needs at least one drawing"),
        tf.debugging.assert_non_negative(per_drawing, message="drawing_strokes must be >= 0"),
        tf.debugging.assert_equal(
            tf.reduce_sum(per_drawing),
            tf.size(lengths, out_type=tf.int64),
            message="drawing_strokes must add up to the number of strokes",
        ),
    ]
    with tf.control_dependencies(layout):
        drawing_of_stroke = tf.repeat(tf.range(tf.size(per_drawing, out_type=tf.int64)), per_drawing)
        points = tf.math.unsorted_segment_sum(lengths, drawing_of_stroke, tf.size(per_drawing))
    return layout + _size_checks(points, max_points, "every drawing needs >= 2 points"), points


def weights_holder(model) -> tf.Module:
    """A plain ``tf.Module`` that tracks the Keras model's variables, and nothing Keras.

    Saving the Keras model object itself (``tf.saved_model.save(model)``, or passing it to the TFLite
    converter, which saves it first) makes Keras trace every layer's ``call`` so that the SavedModel could
    be reloaded as a Keras model. Nothing reloads it that way: TF Serving, TFMA, ``quickdraw serve`` and
    ``predict`` use the signatures, and a warm start reads the weights file in ``assets.extra``. That
    tracing was most of the export's time (BENCHMARKS.md); a holder of the variables saves the same
    functions and weights without it.
    """
    holder = tf.Module()
    holder.model_weights = list(model.weights)
    return holder


def serving_module(model, tf_transform_output: tft.TFTransformOutput, class_names: list[str]) -> tf.Module:
    """What the SavedModel's root holds: the model's weights, the transform layer (tracked, so its
    vocabulary assets are saved with it) and ``class_names()`` (output index → class name, for clients that
    rank the probabilities themselves, as ``quickdraw predict`` does)."""
    module = weights_holder(model)
    module.tft_layer = tf_transform_output.transform_features_layer()
    module.class_names = tf.function(lambda: tf.constant(class_names), input_signature=[])
    return module


def make_signatures(
    module: tf.Module,
    model,
    tf_transform_output: tft.TFTransformOutput,
    class_names: list[str],
    top_k: int,
    max_points: int,
) -> dict:
    """The signatures to save ``module`` with: ``model`` ({ink, length} → logits) behind the transform layer.
    Traced without AutoGraph: they are straight-line graph code (their branches are on Python values), and
    its rewrite of them and of the transform layer cost ~0.5 s of every export for the same graphs."""
    names = tf.constant(class_names)
    serving_spec = transform.raw_feature_spec(tf_transform_output, with_label=False)
    eval_spec = transform.raw_feature_spec(tf_transform_output, with_label=True)
    k = min(top_k, len(class_names))

    def predict(raw: dict) -> dict:
        inputs = transform.dense_inputs(module.tft_layer(raw))
        probabilities = tf.nn.softmax(model(inputs, training=False), axis=-1)
        scores, indices = tf.math.top_k(probabilities, k=k)
        return {PROBABILITIES: probabilities, TOP_K_LABELS: tf.gather(names, indices), TOP_K_SCORES: scores}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")], autograph=False)
    def serve_examples(serialized):
        return predict(tf.io.parse_example(serialized, serving_spec))

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.float32, name="x"),
            tf.TensorSpec([None], tf.float32, name="y"),
            tf.TensorSpec([None], tf.int32, name="stroke_lengths"),
        ],
        autograph=False,
    )
    def serve_strokes(x, y, stroke_lengths):
        with tf.control_dependencies(validate_strokes(x, y, stroke_lengths, max_points)):
            flat = tf.reshape(ink_from_strokes(x, y, stroke_lengths), [1, -1])
        ink = tf.RaggedTensor.from_tensor(flat).to_sparse()  # as parse_example gives a VarLen feature
        return predict({F.INK: ink})

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.float32, name="x"),
            tf.TensorSpec([None], tf.float32, name="y"),
            tf.TensorSpec([None], tf.int32, name="stroke_lengths"),
            tf.TensorSpec([None], tf.int32, name="drawing_strokes"),
        ],
        autograph=False,
    )
    def serve_strokes_batch(x, y, stroke_lengths, drawing_strokes):
        checks, _ = validate_batch(x, y, stroke_lengths, drawing_strokes, max_points)
        with tf.control_dependencies(checks):
            ink = batch_ink_from_strokes(x, y, stroke_lengths, drawing_strokes)
        return predict({F.INK: ink.to_sparse()})

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")], autograph=False)
    def transform_features(serialized):
        return transform.dense_inputs_with_label(module.tft_layer(tf.io.parse_example(serialized, eval_spec)))

    return {
        SERVING_DEFAULT: serve_examples.get_concrete_function(),
        PREDICT_STROKES: serve_strokes.get_concrete_function(),
        PREDICT_STROKES_BATCH: serve_strokes_batch.get_concrete_function(),
        TRANSFORM_FEATURES: transform_features.get_concrete_function(),
    }


def save(
    model,
    directory: str,
    tf_transform_output: tft.TFTransformOutput,
    class_names: list[str],
    top_k: int,
    max_points: int,
) -> None:
    """The SavedModel in ``directory``: the serving module and its four signatures, whose LSTMs carry their
    cuDNN variant for a GPU server but not its gradient (``lstm_variants``)."""
    with cudnn_variant_for_inference():
        module = serving_module(model, tf_transform_output, class_names)
        sigs = make_signatures(module, model, tf_transform_output, class_names, top_k, max_points)
        tf.saved_model.save(module, directory, signatures=sigs)
