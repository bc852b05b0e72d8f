"""Stroke augmentation (``components.training.augment``): valid ink, seeded, only what it should change."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from components import features as F
from components.conversion import parsing
from components.training import augment
from components.training.config import Augmentation, TrainingConfig
from tests.support import ndjson_lines

STRONG = Augmentation(rotation=30, scale=0.3, shear=0.3, drop_points=0.5, drop_strokes=0.5)


@pytest.fixture(scope="module")
def real_inputs(real_dir) -> dict:
    """The model inputs of 600 real drawings (every class), right-padded as the transform layer gives them."""
    lines = [t for texts in ndjson_lines(real_dir).values() for t in texts[:2]][:600]
    ink = parsing.parse_lines(lines, 1, "all", parsing.ParseOptions(max_points=20_000)).drawings.ink
    drawings = [ink.drawing(i) for i in range(len(ink))]
    dense = tf.keras.utils.pad_sequences(drawings, dtype="float32", padding="post", value=0.0)
    return {F.INK: tf.constant(dense), F.LENGTH: tf.constant([len(d) for d in drawings], tf.int64)}


def _augmented(inputs: dict, augmentation: Augmentation, seed: tuple[int, int] = (0, 0)) -> dict:
    return {
        k: v.numpy()
        for k, v in augment.augment_batch(inputs, tf.constant(seed, tf.int64), augmentation).items()
    }


def _strokes(ink: np.ndarray) -> int:
    return int(ink[:, 2].sum())


def _ends(ink: np.ndarray) -> np.ndarray:
    """The first point and the strokes' last points, each axis scaled to their own [0, 1]."""
    points = np.concatenate([[[0.0, 0.0]], np.cumsum(ink[:, :2], axis=0)])
    ends = points[np.concatenate([[True], ink[:, 2] == 1.0])]
    extent = ends.max(axis=0) - ends.min(axis=0)
    return (ends - ends.min(axis=0)) / np.where(extent > 0, extent, 1.0)


def test_augmented_ink_is_valid_ink(real_inputs):
    out = _augmented(real_inputs, STRONG)
    ink, length = out[F.INK], out[F.LENGTH]
    assert ink.shape[0] == len(length) and ink.shape[1] == length.max()
    assert np.isfinite(ink).all()
    assert set(np.unique(ink[:, :, 2])) <= {0.0, 1.0}
    for i, n in enumerate(length):
        assert n >= 1
        assert ink[i, n - 1, 2] == 1.0, "the last row ends a stroke"
        assert not ink[i, n:].any(), "right-padded with zeros"
    # Each axis of a drawing spans its bounding box before the ±30% scaling: [0.7, 1.3] or 0 (a flat axis)
    for i, n in enumerate(length):
        points = np.concatenate([[[0.0, 0.0]], np.cumsum(ink[i, :n, :2], axis=0)])
        extent = points.max(axis=0) - points.min(axis=0)
        assert ((extent == 0) | ((extent > 0.7 - 1e-4) & (extent < 1.3 + 1e-4))).all(), extent


def test_no_augmentation_leaves_the_ink_as_it_is(real_inputs):
    out = _augmented(real_inputs, Augmentation())
    np.testing.assert_array_equal(out[F.LENGTH], real_inputs[F.LENGTH].numpy())
    np.testing.assert_allclose(out[F.INK], real_inputs[F.INK].numpy(), atol=1e-5)


def test_the_same_seed_gives_the_same_drawings_and_another_seed_others(real_inputs):
    first, again = _augmented(real_inputs, STRONG, (3, 7)), _augmented(real_inputs, STRONG, (3, 7))
    other = _augmented(real_inputs, STRONG, (3, 8))
    np.testing.assert_array_equal(first[F.INK], again[F.INK])
    assert not np.array_equal(first[F.LENGTH], other[F.LENGTH])


def test_dropping_points_keeps_every_stroke_and_its_ends(real_inputs):
    out = _augmented(real_inputs, Augmentation(drop_points=0.5))
    before, after = real_inputs[F.LENGTH].numpy(), out[F.LENGTH]
    assert (after <= before).all() and after.sum() < 0.8 * before.sum()
    for i in range(len(before)):
        original, changed = real_inputs[F.INK].numpy()[i, : before[i]], out[F.INK][i, : after[i]]
        assert _strokes(changed) == _strokes(original)
        # The first point and every stroke's last point are kept: up to the bounding box's rescaling, they
        # are where they were.
        np.testing.assert_allclose(_ends(changed), _ends(original), atol=1e-4)


def test_deleting_strokes_never_deletes_them_all(real_inputs):
    out = _augmented(real_inputs, Augmentation(drop_strokes=0.99))
    original = real_inputs[F.INK].numpy()
    strokes_before = np.array([_strokes(d) for d in original])
    strokes_after = np.array([_strokes(d[:n]) for d, n in zip(out[F.INK], out[F.LENGTH])])
    assert (strokes_after >= 1).all()
    assert (strokes_after < strokes_before).any()
    assert (strokes_after <= strokes_before).all()


def test_rotation_and_shear_change_the_steps_not_the_strokes(real_inputs):
    out = _augmented(real_inputs, Augmentation(rotation=20, shear=0.2))
    np.testing.assert_array_equal(out[F.LENGTH], real_inputs[F.LENGTH].numpy())
    np.testing.assert_array_equal(out[F.INK][:, :, 2], real_inputs[F.INK].numpy()[:, :, 2])
    assert np.abs(out[F.INK][:, :, :2] - real_inputs[F.INK].numpy()[:, :, :2]).max() > 0.05


def test_the_default_training_settings_augment_and_evaluation_does_not():
    assert TrainingConfig().augmentation().active
    assert not Augmentation().active
