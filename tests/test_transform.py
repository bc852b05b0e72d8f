"""preprocessing_fn under real tf.Transform (Beam, in memory): vocabulary on train only, ink → rows + length."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from components.training import transform

RAW_SPEC = {"ink": tf.io.VarLenFeature(tf.float32), "word": tf.io.FixedLenFeature([], tf.string)}


def _drawing(rows: int, word: str) -> dict:
    ink = np.arange(rows * 3, dtype=np.float32) / 10
    return {"ink": ink.tolist(), "word": word.encode()}


def test_vocabulary_from_train_only_and_unseen_classes_in_the_extra_bucket(tmp_path):
    train = [_drawing(2, "cat"), _drawing(3, "cat"), _drawing(4, "dog"), _drawing(5, "cat")]
    evaluation = [_drawing(2, "dog"), _drawing(6, "zebra")]  # zebra: only in eval
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=False):
        (train_out, _), transform_fn = (train, metadata) | tft_beam.AnalyzeAndTransformDataset(
            transform.preprocessing_fn
        )
        eval_out, _ = ((evaluation, metadata), transform_fn) | tft_beam.TransformDataset()
    # Frequency order: cat (3) before dog (1); zebra is unseen: index 2 = vocabulary size.
    assert [row["label"] for row in train_out] == [0, 0, 1, 0]
    assert [row["label"] for row in eval_out] == [1, 2]
    assert [row["length"] for row in train_out] == [2, 3, 4, 5]
    first = train_out[0]["ink$ragged_values"]  # instance-dict form of the ragged [rows, 3] output
    np.testing.assert_allclose(
        np.asarray(first, dtype=np.float32).reshape(-1, 3), np.arange(6).reshape(2, 3) / 10
    )


def test_dense_inputs_right_pad_with_zeros():
    ragged = tf.ragged.constant([[[1.0, 2.0, 0.0]], [[1.0, 1.0, 0.0], [2.0, 2.0, 1.0]]], ragged_rank=1)
    dense = transform.dense_inputs({"ink": ragged, "length": tf.constant([1, 2], tf.int64)})
    assert dense["ink"].shape == (2, 2, 3)
    np.testing.assert_array_equal(dense["ink"].numpy()[0, 1], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(dense["length"].numpy(), [1, 2])
