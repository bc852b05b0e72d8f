"""Parsing and validation: every bad line gets its reason, fast and slow paths agree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from components import parsing
from pipeline import configs
from tests.conftest import ndjson_lines

OPTIONS = parsing.ParseOptions(max_points=configs.MAX_POINTS)
GOOD = {
    "word": "cat",
    "countrycode": "US",
    "timestamp": "2017-03-01 00:00:00.00000 UTC",
    "recognized": True,
    "key_id": "123",
    "drawing": [[[0, 10, 20], [0, 5, 0]], [[3, 4], [9, 9]]],
}


def line(**changes) -> bytes:
    record = dict(GOOD, **changes)
    for key, value in changes.items():
        if value is ...:
            del record[key]
    return json.dumps(record).encode()


BAD_LINES = {
    "blank": (b"", parsing.BLANK_LINE),
    "spaces": (b"   \t", parsing.BLANK_LINE),
    "not utf-8": (b'{"word": "caf\xe9"}', parsing.INVALID_UTF8),
    "not json": (b'{"word": "cat", ', parsing.INVALID_JSON),
    "truncated mid-line": (line()[:-7], parsing.INVALID_JSON),
    "a list": (b"[1, 2, 3]", parsing.NOT_AN_OBJECT),
    "a number": (b"42", parsing.NOT_AN_OBJECT),
    "no word": (line(word=...), parsing.MISSING_WORD),
    "null word": (line(word=None), parsing.MISSING_WORD),
    "empty word": (line(word=""), parsing.INVALID_WORD),
    "numeric word": (line(word=7), parsing.INVALID_WORD),
    "no key_id": (line(key_id=...), parsing.MISSING_KEY_ID),
    "empty key_id": (line(key_id=""), parsing.INVALID_KEY_ID),
    "list key_id": (line(key_id=[1]), parsing.INVALID_KEY_ID),
    "numeric countrycode": (line(countrycode=1), parsing.INVALID_COUNTRYCODE),
    "string recognized": (line(recognized="yes"), parsing.INVALID_RECOGNIZED),
    "no drawing": (line(drawing=...), parsing.MISSING_DRAWING),
    "drawing not a list": (line(drawing="abc"), parsing.INVALID_DRAWING),
    "too shallow": (line(drawing=[[1, 2], [3, 4]]), parsing.INVALID_DRAWING),
    "too deep": (line(drawing=[[[[1]], [[2]]]]), parsing.INVALID_DRAWING),
    "one axis": (line(drawing=[[[1, 2]]]), parsing.INVALID_DRAWING),
    "four axes": (line(drawing=[[[1], [2], [3], [4]]]), parsing.INVALID_DRAWING),
    "string coordinate": (line(drawing=[[["1", 2], [3, 4]]]), parsing.INVALID_DRAWING),
    "bool coordinate": (line(drawing=[[[True, 2], [3, 4]]]), parsing.INVALID_DRAWING),
    "null coordinate": (line(drawing=[[[None, 2], [3, 4]]]), parsing.INVALID_DRAWING),
    "null stroke": (line(drawing=[None]), parsing.INVALID_DRAWING),
    "x/y lengths differ": (line(drawing=[[[1, 2, 3], [4, 5]]]), parsing.MISMATCHED_STROKE_LENGTHS),
    "NaN": (b'{"word":"cat","key_id":"1","drawing":[[[NaN,1],[2,3]]]}', parsing.NON_FINITE_COORDINATE),
    "Infinity": (
        b'{"word":"cat","key_id":"1","drawing":[[[1,2],[Infinity,3]]]}',
        parsing.NON_FINITE_COORDINATE,
    ),
    "beyond float32": (line(drawing=[[[1e39, 2], [3, 4]]]), parsing.NON_FINITE_COORDINATE),
    "beyond float64": (
        b'{"word":"cat","key_id":"1","drawing":[[[1e400,2],[3,4]]]}',
        parsing.NON_FINITE_COORDINATE,
    ),
    "no strokes": (line(drawing=[]), parsing.EMPTY_DRAWING),
    "empty strokes": (line(drawing=[[[], []]]), parsing.EMPTY_DRAWING),
    "one point": (line(drawing=[[[1], [2]]]), parsing.TOO_FEW_POINTS),
    "too many points": (
        line(drawing=[[list(range(configs.MAX_POINTS + 1)), [0] * (configs.MAX_POINTS + 1)]]),
        parsing.TOO_MANY_POINTS,
    ),
}


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
                assert sum(len(s[0]) for s in record["drawing"]) <= configs.MAX_POINTS, name


def test_fast_and_slow_paths_agree_on_real_data(real_dir):
    lines = [text for texts in ndjson_lines(real_dir).values() for text in texts]
    fast = parsing._parse_block_fast(lines, 1, "all", OPTIONS)
    slow = parsing.parse_lines_slow(lines, 1, "all", OPTIONS)
    assert fast is not None, "the real corpus should take the vectorised path"
    for column in ("key_id", "word", "countrycode", "recognized", "line"):
        assert list(getattr(fast.drawings, column)) == list(getattr(slow.drawings, column)), column
    np.testing.assert_array_equal(fast.drawings.ink.values, slow.drawings.ink.values)
    np.testing.assert_array_equal(fast.drawings.ink.row_offsets, slow.drawings.ink.row_offsets)
