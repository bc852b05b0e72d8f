"""The seed's ink math in TensorFlow, for the serving graph.

A served model that takes a raw drawing (strokes as flat x, y and stroke lengths,
as a REST client can send them from an NDJSON line) must compute exactly the ink
the conversion job wrote for training, or training and serving drift. This is
`components.conversion.ink.batch_ink` for one drawing, in float32 TensorFlow ops; a test
checks it against the conversion's ink on every real drawing.
"""

from __future__ import annotations

import tensorflow as tf


def ink_from_strokes(x: tf.Tensor, y: tf.Tensor, stroke_lengths: tf.Tensor) -> tf.Tensor:
    """One drawing's ink, float32 [n - 1, 3]: (dx, dy, stroke_end) after bounding-box scaling.

    Args:
      x, y: the drawing's points, all strokes concatenated, shape [n] (n >= 2).
      stroke_lengths: points per stroke, shape [strokes]; zero-length strokes add
        nothing (as in the seed).
    """
    x = tf.cast(x, tf.float32)
    y = tf.cast(y, tf.float32)
    stroke_lengths = tf.cast(stroke_lengths, tf.int64)
    n = tf.shape(x, out_type=tf.int64)[0]
    last_points = tf.boolean_mask(tf.cumsum(stroke_lengths) - 1, stroke_lengths > 0)
    stroke_end = tf.scatter_nd(
        last_points[:, None], tf.ones_like(last_points, dtype=tf.float32), shape=tf.reshape(n, [1])
    )

    def normalized_deltas(v: tf.Tensor) -> tf.Tensor:
        lower = tf.reduce_min(v)
        scale = tf.reduce_max(v) - lower
        scale = tf.where(tf.equal(scale, 0.0), tf.ones_like(scale), scale)
        scaled = (v - lower) / scale
        return scaled[1:] - scaled[:-1]

    return tf.stack([normalized_deltas(x), normalized_deltas(y), stroke_end[1:]], axis=1)


def batch_ink_from_strokes(
    x: tf.Tensor, y: tf.Tensor, stroke_lengths: tf.Tensor, drawing_strokes: tf.Tensor
) -> tf.RaggedTensor:
    """Several drawings' ink at once, ragged float32 [drawings, (n_i - 1) * 3], each row flat as a VarLen
    ``ink`` feature holds it: ``ink_from_strokes`` of every drawing, without a Python loop.

    Args:
      x, y: every drawing's points, drawing after drawing, strokes concatenated, shape [points].
      stroke_lengths: points per stroke, drawing after drawing, shape [strokes].
      drawing_strokes: strokes per drawing, shape [drawings]: which strokes belong to which drawing.
    """
    x = tf.cast(x, tf.float32)
    y = tf.cast(y, tf.float32)
    stroke_lengths = tf.cast(stroke_lengths, tf.int64)
    drawing_strokes = tf.cast(drawing_strokes, tf.int64)
    total = tf.shape(x, out_type=tf.int64)[0]
    drawing_of_stroke = tf.repeat(tf.range(tf.size(drawing_strokes, out_type=tf.int64)), drawing_strokes)
    points = tf.math.unsorted_segment_sum(stroke_lengths, drawing_of_stroke, tf.size(drawing_strokes))
    last_points = tf.boolean_mask(tf.cumsum(stroke_lengths) - 1, stroke_lengths > 0)
    stroke_end = tf.scatter_nd(
        last_points[:, None], tf.ones_like(last_points, dtype=tf.float32), shape=tf.reshape(total, [1])
    )

    def normalized_deltas(v: tf.Tensor) -> tf.RaggedTensor:
        rows = tf.RaggedTensor.from_row_lengths(v, points)
        lower = tf.reduce_min(rows, axis=1)
        scale = tf.reduce_max(rows, axis=1) - lower
        scale = tf.where(tf.equal(scale, 0.0), tf.ones_like(scale), scale)
        scaled = (rows - lower[:, None]) / scale[:, None]
        return scaled[:, 1:] - scaled[:, :-1]

    ends = tf.RaggedTensor.from_row_lengths(stroke_end, points)[:, 1:]
    dx, dy = normalized_deltas(x), normalized_deltas(y)
    flat = tf.reshape(tf.stack([dx.flat_values, dy.flat_values, ends.flat_values], axis=1), [-1])
    return tf.RaggedTensor.from_row_lengths(flat, (points - 1) * 3)
