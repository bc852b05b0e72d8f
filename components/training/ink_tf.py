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
