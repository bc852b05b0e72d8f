"""The feature contract both halves share: the stored ``tf.Example`` and the model's inputs.

The conversion writes the stored features; the Transform turns ``ink`` and ``word``
into the transformed ones at the bottom, which the model, the signatures and the
evaluation read. Names are declared here once. Stored features are kept compatible with the seed tutorial's ``train_model.py`` input_fn, which reads
``ink`` (VarLen float), ``shape`` (FixedLen [2] int64) and ``class_index``
(FixedLen [1] int64).
"""

INK = "ink"  # float list, n × 3 flattened: (dx, dy, stroke_end) per point
SHAPE = "shape"  # int64 [n, 3]
CLASS_INDEX = "class_index"  # int64: line number of `word` in the classes file
WORD = "word"  # bytes: the class name
KEY_ID = "key_id"  # bytes: the drawing's id, as in the NDJSON (a decimal string)
COUNTRYCODE = "countrycode"  # bytes: two-letter country code ("" when absent)
RECOGNIZED = "recognized"  # int64: 1 when the game recognised the drawing

ALL_FEATURES = (INK, SHAPE, CLASS_INDEX, WORD, KEY_ID, COUNTRYCODE, RECOGNIZED)

# Transformed features (the Transform's outputs; the model's inputs and label)
# INK again: float32 [batch, time, 3], right-padded with zeros
LENGTH = "length"  # int64 [batch]: points per drawing
LABEL = "label"  # int64 [batch]: index of `word` in the train vocabulary


def seed_parse_spec():
    """The tutorial's parse spec, unchanged: what its input_fn expects."""
    import tensorflow as tf

    return {
        INK: tf.io.VarLenFeature(dtype=tf.float32),
        SHAPE: tf.io.FixedLenFeature([2], dtype=tf.int64),
        CLASS_INDEX: tf.io.FixedLenFeature([1], dtype=tf.int64),
    }


def full_parse_spec():
    """Every feature the conversion writes."""
    import tensorflow as tf

    spec = seed_parse_spec()
    spec.update(
        {
            WORD: tf.io.FixedLenFeature([], dtype=tf.string),
            KEY_ID: tf.io.FixedLenFeature([], dtype=tf.string),
            COUNTRYCODE: tf.io.FixedLenFeature([], dtype=tf.string),
            RECOGNIZED: tf.io.FixedLenFeature([1], dtype=tf.int64),
        }
    )
    return spec
