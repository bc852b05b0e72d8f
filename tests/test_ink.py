"""The ink math against the seed's own `parse_line`, on every real drawing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from components.conversion import parsing
from components.conversion.ink import batch_ink, points_of_ink
from tests.support import ndjson_lines

OPTIONS = parsing.ParseOptions(max_points=100_000)


@pytest.mark.parametrize("fixture", ["real_dir", "raw_dir"])
def test_ink_equals_seed_on_every_real_drawing(fixture, request, seed_reference):
    directory = request.getfixturevalue(fixture)
    checked, worst = 0, 0.0
    for name, lines in ndjson_lines(directory).items():
        parsed = parsing.parse_lines(lines, 1, name, OPTIONS)
        assert not parsed.rejections, parsed.rejections[:1]
        assert len(parsed.drawings) == len(lines)
        for i, line in enumerate(lines):
            expected, word = seed_reference.parse_line(line.decode())
            got = parsed.drawings.ink.drawing(i)
            assert got.shape == expected.shape
            assert parsed.drawings.word[i] == word
            worst = max(worst, float(np.abs(got - expected).max()))
            checked += 1
    assert worst <= 1e-6
    assert checked == sum(len(v) for v in ndjson_lines(directory).values())


def test_zero_extent_scales_by_one(seed_reference):
    # A vertical line: x extent is 0, so x is not scaled (seed: scale[scale == 0] = 1).
    line = json.dumps({"word": "line", "key_id": "1", "drawing": [[[5, 5, 5], [0, 10, 20]]]})
    expected, _ = seed_reference.parse_line(line)
    ink = batch_ink(
        np.array([5, 5, 5], np.float32),
        np.array([0, 10, 20], np.float32),
        np.array([0, 0, 1], np.float32),
        np.array([0, 3]),
    )
    np.testing.assert_array_equal(ink.values, expected)
    np.testing.assert_array_equal(ink.values, [[0, 0.5, 0], [0, 0.5, 1]])


def test_batch_of_drawings_is_independent_of_neighbours():
    one = batch_ink(
        np.array([0, 4], np.float32), np.array([0, 2], np.float32), np.array([0, 1], np.float32), [0, 2]
    )
    two = batch_ink(
        np.array([100, 300, 0, 4], np.float32),
        np.array([7, 9, 0, 2], np.float32),
        np.array([0, 1, 0, 1], np.float32),
        [0, 2, 4],
    )
    np.testing.assert_array_equal(two.drawing(1), one.drawing(0))
    assert list(two.row_offsets) == [0, 1, 2]


def test_a_drawing_needs_two_points():
    with pytest.raises(ValueError, match="at least 2 points"):
        batch_ink(np.zeros(1, np.float32), np.zeros(1, np.float32), np.ones(1, np.float32), [0, 1])


def test_points_of_ink_undo_the_ink_up_to_the_origin_and_the_scale(real_dir):
    """What the InfraValidator sends to predict_strokes and `quickdraw disputes` writes as a drawing: the
    points of every stroke, the first point at the origin, in the bounding box's units."""
    checked = 0
    for name, lines in list(ndjson_lines(real_dir).items())[:20]:
        for line in lines:
            strokes = json.loads(line)["drawing"]
            x = np.concatenate([s[0] for s in strokes]).astype(np.float64)
            y = np.concatenate([s[1] for s in strokes]).astype(np.float64)
            ends = np.concatenate([[0] * (len(s[0]) - 1) + [1] for s in strokes])
            ink = batch_ink(x, y, ends, np.array([0, len(x)])).drawing(0)
            px, py, lengths = points_of_ink(ink)
            assert lengths.tolist() == [len(s[0]) for s in strokes], name
            scale = [max(v.max() - v.min(), 1) for v in (x, y)]
            np.testing.assert_allclose(px, (x - x[0]) / scale[0], atol=1e-5)
            np.testing.assert_allclose(py, (y - y[0]) / scale[1], atol=1e-5)
            checked += 1
    assert checked > 400
