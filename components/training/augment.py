"""Stroke augmentation: random, seeded changes to the training drawings, inside ``tf.data``.

A short run over a few thousand drawings per class overfits the exact strokes it sees; people draw the
same class turned, stretched, slanted, with more or fewer points and with strokes left out. Each batch of
the **training** split (never evaluation, never serving: those read the transform layer's ink as it is)
is changed, per drawing, in this order:

1. **whole strokes deleted**, each with probability ``drop_strokes`` (a drawing never loses all of them);
2. **interior points dropped**, each with probability ``drop_points`` (a stroke's first and last points are
   kept, so strokes keep their ends and their count);
3. **rotation** by up to ± ``rotation`` degrees and **shear** by up to ± ``shear`` (x += shear · y);
4. the drawing is **scaled back to its bounding box** (each axis to [0, 1]), as the conversion does, so the
   ink is what the conversion would write for the changed drawing;
5. **x and y scaled** independently by up to ± ``scale`` (a fraction: sketch-rnn's ±15%), after the
   bounding box, since the bounding box would undo it.

The ink stays valid ink (``tests/test_augment.py``): rows of (dx, dy, stroke_end) from the first point,
right-padded with zeros, finite, stroke_end 0 or 1 and 1 on each drawing's last row, ``length`` equal to
the rows. Dropping points shortens drawings: a batch is padded to its own new longest, and ``length``
says how long each is, so the LSTMs still stop at each drawing's end.

Randomness is stateless, keyed by ``(seed, batch index)``: the same seed gives the same augmented stream,
and a resumed Trainer that skips the batches it already trained on sees the same batches after them.
Vectorised over the batch (no per-drawing Python), so it costs the input pipeline little
(BENCHMARKS.md, "Model quality").
"""

from __future__ import annotations

import math

import tensorflow as tf

from components import features as F
from components.training.config import Augmentation


def augment_batch(inputs: dict, seed: tf.Tensor, augmentation: Augmentation) -> dict:
    """The model inputs ``{ink [B, T, 3], length [B]}`` of one batch, augmented; ``seed``: int64 [2]."""
    ink, length = inputs[F.INK], tf.cast(inputs[F.LENGTH], tf.int32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=4)
    points, ends, valid = _points(ink, length)
    keep = valid
    if augmentation.drop_strokes:
        keep &= ~_dropped_strokes(ends, keep, augmentation.drop_strokes, seeds[0])
    if augmentation.drop_points:
        keep &= ~_dropped_interior_points(ends, keep, augmentation.drop_points, seeds[1])
    points, ends = _kept(points, ends, keep, valid)
    batch = tf.shape(ink)[0]
    if augmentation.rotation or augmentation.shear:
        points = _transformed(points, _rotation_shear(batch, augmentation, seeds[2]))
    points = _in_bounding_box(points)
    if augmentation.scale:
        factors = tf.random.stateless_uniform(
            [batch, 2], seeds[3], 1.0 - augmentation.scale, 1.0 + augmentation.scale
        )
        points = points * factors[:, None, :]
    deltas = points[:, 1:] - points[:, :-1]
    rows = tf.concat([deltas, ends[:, 1:, None]], axis=-1)
    return {
        **inputs,
        F.INK: rows.to_tensor(default_value=0.0, shape=[None, None, 3]),
        F.LENGTH: tf.cast(rows.row_lengths(), inputs[F.LENGTH].dtype),
    }


def _points(ink: tf.Tensor, length: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Absolute points ``[B, T + 1, 2]`` (the first at the origin), their stroke_end flags and validity.

    The ink's row i is the step into point i + 1; the first point has no row, so its flag is taken as 0.
    """
    batch = tf.shape(ink)[0]
    points = tf.concat([tf.zeros([batch, 1, 2]), tf.cumsum(ink[:, :, :2], axis=1)], axis=1)
    ends = tf.concat([tf.zeros([batch, 1]), ink[:, :, 2]], axis=1)
    valid = tf.sequence_mask(length + 1, tf.shape(points)[1])
    return points, ends, valid


def _stroke_ids(ends: tf.Tensor) -> tf.Tensor:
    """Each point's stroke (0, 1, …): a stroke starts after a point whose stroke_end is set."""
    return tf.cast(tf.cumsum(ends, axis=1, exclusive=True), tf.int32)


def _dropped_strokes(ends: tf.Tensor, valid: tf.Tensor, probability: float, seed: tf.Tensor) -> tf.Tensor:
    """Points of the strokes deleted, never every stroke of a drawing (then none)."""
    strokes = _stroke_ids(ends)
    draws = tf.random.stateless_uniform(tf.shape(ends), seed)  # one per stroke id (ids < points)
    dropped = tf.gather(draws, strokes, batch_dims=1) < probability
    any_left = tf.reduce_any(valid & ~dropped, axis=1, keepdims=True)
    return dropped & any_left


def _dropped_interior_points(
    ends: tf.Tensor, keep: tf.Tensor, probability: float, seed: tf.Tensor
) -> tf.Tensor:
    """Points dropped: only those that neither start nor end a stroke."""
    is_end = ends > 0.5
    is_start = tf.concat([tf.ones_like(is_end[:, :1]), is_end[:, :-1]], axis=1)
    interior = keep & ~is_end & ~is_start
    return interior & (tf.random.stateless_uniform(tf.shape(ends), seed) < probability)


def _kept(
    points: tf.Tensor, ends: tf.Tensor, keep: tf.Tensor, valid: tf.Tensor
) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """The kept points, ragged. A drawing left with fewer than 2 points (ink needs one step) keeps all its
    own: it happens only when every stroke but a one-point one was deleted."""
    enough = tf.reduce_sum(tf.cast(keep, tf.int32), axis=1, keepdims=True) >= 2
    keep = tf.where(enough, keep, valid)
    return tf.ragged.boolean_mask(points, keep), tf.ragged.boolean_mask(ends, keep)


def _rotation_shear(batch: tf.Tensor, augmentation: Augmentation, seed: tf.Tensor) -> tf.Tensor:
    """One 2 × 2 matrix per drawing: rotation @ shear."""
    draws = tf.random.stateless_uniform([batch, 2], seed, -1.0, 1.0)
    angle = draws[:, 0] * math.radians(augmentation.rotation)
    shear = draws[:, 1] * augmentation.shear
    cos, sin = tf.cos(angle), tf.sin(angle)
    # [[cos, -sin], [sin, cos]] @ [[1, shear], [0, 1]]
    return tf.stack(
        [tf.stack([cos, cos * shear - sin], axis=-1), tf.stack([sin, sin * shear + cos], axis=-1)], axis=1
    )


def _transformed(points: tf.RaggedTensor, matrices: tf.Tensor) -> tf.RaggedTensor:
    """Each drawing's points through its own matrix (row vectors: p @ Mᵀ)."""
    per_point = tf.gather(matrices, points.value_rowids())
    moved = tf.einsum("pj,pkj->pk", points.values, per_point)
    return points.with_values(moved)


def _in_bounding_box(points: tf.RaggedTensor) -> tf.RaggedTensor:
    """Each axis of each drawing scaled to [0, 1] (a flat axis is left at 0), as the conversion does."""
    lower = tf.reduce_min(points, axis=1)
    extent = tf.reduce_max(points, axis=1) - lower
    extent = tf.where(extent > 0.0, extent, tf.ones_like(extent))
    rows = points.value_rowids()
    return points.with_values((points.values - tf.gather(lower, rows)) / tf.gather(extent, rows))
