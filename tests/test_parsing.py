"""Parsing and validation: every bad line gets its reason, fast and slow paths agree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from components.conversion import parsing
from tests.support import BAD_LINES, MAX_POINTS, line, ndjson_lines

OPTIONS = parsing.ParseOptions(max_points=MAX_POINTS)


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_each_bad_line_is_rejected_with_its_reason(case):
    text, reason = BAD_LINES[case]
    assert parsing.parse_line(text, OPTIONS.max_points) == reason
    # Inside a block of good lines (the vectorised path, or its fallback), same verdict.
    block = [line(key_id="a"), text, line(key_id="b")]
    parsed = parsing.parse_lines(block, 10, "f.ndjson", OPTIONS)
    assert [(r.line, r.reason) for r in parsed.rejections] == [(11, reason)]
    assert list(parsed.drawings.key_id) == ["a", "b"]
    assert list(parsed.drawings.line) == [10, 12]


def test_all_bad_lines_in_one_block_are_each_accounted_for():
    texts = [t for t, _ in BAD_LINES.values()]
    parsed = parsing.parse_lines(texts + [line()], 1, "f", OPTIONS)
    assert [r.reason for r in parsed.rejections] == [r for _, r in BAD_LINES.values()]
    assert len(parsed.drawings) == 1 and parsed.lines == len(texts) + 1


def test_rejection_keeps_the_line_text():
    parsed = parsing.parse_lines([b'{"word": "caf\xe9"}\r'], 3, "f", OPTIONS)
    (rejection,) = parsed.rejections
    assert rejection.text == '{"word": "caf\\xe9"}'
    assert rejection.to_json() == {"source": "f", "line": 3, "reason": "invalid_utf8", "text": rejection.text}


def test_optional_fields_default_and_integer_key_ids_are_accepted():
    parsed = parsing.parse_lines([line(countrycode=..., recognized=..., key_id=5)], 1, "f", OPTIONS)
    assert not parsed.rejections
    d = parsed.drawings
    assert (d.countrycode[0], d.recognized[0], d.key_id[0]) == ("", 0, "5")


def test_recognized_only_filters_and_counts():
    options = parsing.ParseOptions(max_points=100, recognized_only=True)
    block = [line(key_id="1"), line(key_id="2", recognized=False), line(key_id="3", recognized=...)]
    parsed = parsing.parse_lines(block, 1, "f", options)
    assert list(parsed.drawings.key_id) == ["1"] and parsed.filtered == 2 and not parsed.rejections


def test_empty_strokes_are_skipped_like_the_seed(seed_reference):
    text = line(drawing=[[[], []], [[0, 10, 20], [0, 5, 0]], [[], []], [[3, 4], [9, 9]]])
    expected, _ = seed_reference.parse_line(text.decode())
    parsed = parsing.parse_lines([text], 1, "f", OPTIONS)
    np.testing.assert_array_equal(parsed.drawings.ink.drawing(0), expected)


def test_raw_format_drops_timings_and_parses(raw_dir):
    for name, lines in ndjson_lines(raw_dir).items():
        parsed = parsing.parse_lines(lines, 1, name, OPTIONS)
        assert len(parsed.drawings) == len(lines) and not parsed.rejections


def test_default_max_points_passes_every_real_drawing(real_dir, raw_dir):
    for directory in (real_dir, raw_dir):
        for name, lines in ndjson_lines(directory).items():
            for text in lines:
                record = json.loads(text)
                assert sum(len(s[0]) for s in record["drawing"]) <= MAX_POINTS, name


def test_fast_and_slow_paths_agree_on_real_data(real_dir):
    lines = [text for texts in ndjson_lines(real_dir).values() for text in texts]
    fast = parsing._parse_block_fast(lines, 1, "all", OPTIONS)
    slow = parsing.parse_lines_slow(lines, 1, "all", OPTIONS)
    assert fast is not None, "the real corpus should take the vectorised path"
    for column in ("key_id", "word", "countrycode", "recognized", "line"):
        assert list(getattr(fast.drawings, column)) == list(getattr(slow.drawings, column)), column
    np.testing.assert_array_equal(fast.drawings.ink.values, slow.drawings.ink.values)
    np.testing.assert_array_equal(fast.drawings.ink.row_offsets, slow.drawings.ink.row_offsets)
