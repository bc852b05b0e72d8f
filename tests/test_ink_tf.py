"""The serving graph's ink equals the conversion job's ink, on every real drawing."""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from components.conversion import parsing
from components.training.ink_tf import ink_from_strokes
from tests.support import ndjson_lines

OPTIONS = parsing.ParseOptions(max_points=100_000)


def _strokes(text: bytes):
    drawing = json.loads(text)["drawing"]
    x = [v for stroke in drawing for v in stroke[0]]
    y = [v for stroke in drawing for v in stroke[1]]
    return np.array(x, np.float32), np.array(y, np.float32), np.array([len(s[0]) for s in drawing], np.int64)


def test_in_graph_ink_equals_the_conversion_on_real_drawings(real_dir, raw_dir):
    compiled = tf.function(
        ink_from_strokes,
        input_signature=[
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([None], tf.int64),
        ],
    )
    checked, worst = 0, 0.0
    for directory in (real_dir, raw_dir):
        for name, lines in ndjson_lines(directory).items():
            parsed = parsing.parse_lines(lines, 1, name, OPTIONS).drawings
            for i, text in enumerate(lines):
                got = compiled(*_strokes(text)).numpy()
                expected = parsed.ink.drawing(i)
                assert got.shape == expected.shape
                worst = max(worst, float(np.abs(got - expected).max()))
                checked += 1
    assert checked > 9_000 and worst <= 1e-6


def test_empty_strokes_and_flat_axes():
    ink = ink_from_strokes(
        tf.constant([5.0, 5.0, 5.0, 7.0]), tf.constant([0.0, 10.0, 20.0, 20.0]), tf.constant([0, 3, 0, 1])
    ).numpy()
    expected = parsing.parse_lines(
        [b'{"word":"w","key_id":"1","drawing":[[[],[]],[[5,5,5],[0,10,20]],[[],[]],[[7],[20]]]}'],
        1,
        "f",
        OPTIONS,
    ).drawings.ink.drawing(0)
    np.testing.assert_array_equal(ink, expected)
