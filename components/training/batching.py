"""Length-bucketed batches: drawings of similar length batched together, batches still shuffled.

An LSTM runs over the padded length of its batch. Real drawings (mean 47 points, p99
139, max 502) batched at random leave most recurrent steps on padding: real ink is
36% of the steps at batch 32 and 21% at 256. Here the (already shuffled) stream of
serialized examples is cut into windows of ``window_batches × batch_size`` records;
each window is sorted by ink length (a stable sort, so ties keep the stream's order),
cut into batches, and the batches of the window are emitted in a seeded random
order. Every record of the stream lands in exactly one batch (nothing lost or
repeated within a pass), and the same seed gives the same batches.

The model gives a drawing the same scores whatever the padding of its batch
(``test_a_drawings_scores_do_not_depend_on_its_batchs_padding``), so bucketing
changes the cost of training, not what a batch computes.
"""

from __future__ import annotations

import tensorflow as tf

from components import features as F

_INK_ONLY = {F.INK: tf.io.VarLenFeature(tf.float32)}


def ink_lengths(serialized: tf.Tensor) -> tf.Tensor:
    """Points per drawing of a vector of serialized examples (only ``ink`` is parsed)."""
    ink = tf.io.parse_example(serialized, _INK_ONLY)[F.INK]
    rows = tf.cast(ink.indices[:, 0], tf.int32)
    n = tf.size(serialized)
    return tf.math.bincount(rows, minlength=n, maxlength=n) // 3


def _sorted_batches(
    window: tf.Tensor, index: tf.Tensor, batch_size: int, seed: int | None
) -> tf.data.Dataset:
    """One window → its records sorted by length, cut into batches, in a seeded random order."""
    order = tf.argsort(ink_lengths(window), stable=True)
    ordered = tf.gather(window, order)
    n = tf.size(ordered, out_type=tf.int64)
    count = (n + batch_size - 1) // batch_size
    splits = tf.minimum(tf.range(count + 1, dtype=tf.int64) * batch_size, n)
    batches = tf.RaggedTensor.from_row_splits(ordered, splits)
    if seed is not None:
        keys = tf.random.stateless_uniform([count], seed=tf.stack([tf.constant(seed, tf.int64), index]))
        batches = tf.gather(batches, tf.argsort(keys))
    return tf.data.Dataset.from_tensor_slices(batches)


def length_bucketed_batches(
    records: tf.data.Dataset, batch_size: int, window_batches: int, seed: int | None = None
) -> tf.data.Dataset:
    """Serialized examples → batches (vectors) of serialized examples of similar ink length.

    ``seed`` None keeps each window's batches in length order (evaluation needs no shuffle).
    A window may be short only at the end of a finite stream; its last batch may be short.
    """
    windows = records.batch(batch_size * window_batches).enumerate()
    return windows.flat_map(lambda index, window: _sorted_batches(window, index, batch_size, seed))
