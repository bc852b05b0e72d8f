"""NDJSON lines → validated, columnar drawings plus rejections with reasons.

Both official formats are read: *simplified* (each stroke ``[[x…], [y…]]``) and
*raw* (``[[x…], [y…], [t…]]``; t is dropped, as the seed does).

Two paths give the same answer:

* fast: ``pyarrow.json`` parses a whole block of lines in C++ against an
  explicit schema, and every check runs on the flattened arrays;
* slow: one line at a time with ``json`` and plain Python. pyarrow fails a
  whole block on one bad line, so a block that fails is decided line by line
  here. It also defines the reasons (the fast path mirrors its order of checks).

Every line ends in exactly one of: a drawing, a rejection (with reason), or
filtered (``recognized_only``).
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

from components.conversion.batch import DrawingBatch, object_array
from components.conversion.ink import InkBatch, batch_ink

# Rejection reasons, in the order they are checked: a line gets the first that applies.
BLANK_LINE = "blank_line"
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_WORD = "missing_word"
INVALID_WORD = "invalid_word"  # not a string, or empty
MISSING_KEY_ID = "missing_key_id"
INVALID_KEY_ID = "invalid_key_id"  # not a string / non-negative integer, or empty
INVALID_COUNTRYCODE = "invalid_countrycode"  # present but not a string
INVALID_RECOGNIZED = "invalid_recognized"  # present but not a boolean
MISSING_DRAWING = "missing_drawing"
INVALID_DRAWING = "invalid_drawing"  # wrong nesting, a stroke without 2 or 3 number lists
MISMATCHED_STROKE_LENGTHS = "mismatched_stroke_lengths"  # len(x) != len(y) in a stroke
NON_FINITE_COORDINATE = "non_finite_coordinate"  # NaN, inf, or beyond float32
EMPTY_DRAWING = "empty_drawing"  # no points at all
TOO_FEW_POINTS = "too_few_points"  # 1 point: no ink left once the first point is dropped
TOO_MANY_POINTS = "too_many_points"  # over max_points
DUPLICATE_KEY_ID = "duplicate_key_id"  # decided later, when shards are written

REASONS = (
    BLANK_LINE,
    INVALID_UTF8,
    INVALID_JSON,
    NOT_AN_OBJECT,
    MISSING_WORD,
    INVALID_WORD,
    MISSING_KEY_ID,
    INVALID_KEY_ID,
    INVALID_COUNTRYCODE,
    INVALID_RECOGNIZED,
    MISSING_DRAWING,
    INVALID_DRAWING,
    MISMATCHED_STROKE_LENGTHS,
    NON_FINITE_COORDINATE,
    EMPTY_DRAWING,
    TOO_FEW_POINTS,
    TOO_MANY_POINTS,
    DUPLICATE_KEY_ID,
)

_SCHEMA = pa.schema(
    [
        ("word", pa.string()),
        ("key_id", pa.string()),
        ("countrycode", pa.string()),
        ("recognized", pa.bool_()),
        ("drawing", pa.list_(pa.list_(pa.list_(pa.float64())))),
    ]
)
_PARSE_OPTIONS = pa_json.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore")


@dataclasses.dataclass(frozen=True)
class ParseOptions:
    max_points: int
    recognized_only: bool = False


class Rejection(NamedTuple):
    source: str
    line: int
    reason: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "reason": self.reason, "text": self.text}


@dataclasses.dataclass
class ParsedLines:
    """What became of a block of lines."""

    drawings: DrawingBatch
    rejections: list[Rejection]
    filtered: int
    lines: int


def decode_for_report(line: bytes) -> str:
    return line.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")


# --------------------------------------------------------------------------- slow path


class _Drawing(NamedTuple):
    key_id: str
    word: str
    countrycode: str
    recognized: bool
    strokes: list  # [[x...], [y...], ...] per stroke, validated


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_drawing(drawing: Any, max_points: int) -> str | None:
    """Why the ``drawing`` field of a line is unusable (one of REASONS), or None when it is fine."""
    if drawing is None:
        return MISSING_DRAWING
    if not isinstance(drawing, list):
        return INVALID_DRAWING
    for stroke in drawing:
        if not isinstance(stroke, list) or len(stroke) not in (2, 3):
            return INVALID_DRAWING
        for axis in stroke:
            if not isinstance(axis, list) or not all(_is_number(v) for v in axis):
                return INVALID_DRAWING
    if any(len(stroke[0]) != len(stroke[1]) for stroke in drawing):
        return MISMATCHED_STROKE_LENGTHS
    with np.errstate(over="ignore", invalid="ignore"):
        for stroke in drawing:
            for axis in stroke[:2]:
                try:
                    finite = np.isfinite(np.asarray(axis, dtype=np.float32)).all()
                except OverflowError:  # an integer beyond float64
                    finite = False
                if not finite:
                    return NON_FINITE_COORDINATE
    points = sum(len(stroke[0]) for stroke in drawing)
    if points == 0:
        return EMPTY_DRAWING
    if points == 1:
        return TOO_FEW_POINTS
    if points > max_points:
        return TOO_MANY_POINTS
    return None


def parse_line(line: bytes, max_points: int) -> _Drawing | str:
    """One NDJSON line → a validated drawing, or the reason it is rejected."""
    if not line.strip():
        return BLANK_LINE
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_UTF8
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return INVALID_JSON
    if not isinstance(obj, dict):
        return NOT_AN_OBJECT
    word = obj.get("word")
    if word is None:
        return MISSING_WORD
    if not isinstance(word, str) or not word:
        return INVALID_WORD
    key_id = obj.get("key_id")
    if key_id is None:
        return MISSING_KEY_ID
    if isinstance(key_id, int) and not isinstance(key_id, bool) and key_id >= 0:
        key_id = str(key_id)
    if not isinstance(key_id, str) or not key_id:
        return INVALID_KEY_ID
    countrycode = obj.get("countrycode")
    if countrycode is None:
        countrycode = ""
    elif not isinstance(countrycode, str):
        return INVALID_COUNTRYCODE
    recognized = obj.get("recognized")
    if recognized is None:
        recognized = False
    elif not isinstance(recognized, bool):
        return INVALID_RECOGNIZED
    drawing = obj.get("drawing")
    reason = check_drawing(drawing, max_points)
    if reason:
        return reason
    return _Drawing(key_id, word, countrycode, recognized, drawing)


def _batch_from_drawings(drawings: list[_Drawing], source: str, lines: list[int]) -> DrawingBatch:
    xs: list[float] = []
    ys: list[float] = []
    ends: list[int] = []
    counts = []
    for d in drawings:
        n = 0
        for stroke in d.strokes:
            k = len(stroke[0])
            if k == 0:
                continue  # an empty stroke adds no point (and changes nothing in the seed)
            xs.extend(stroke[0])
            ys.extend(stroke[1])
            ends.extend([0] * (k - 1))
            ends.append(1)
            n += k
        counts.append(n)
    offsets = np.zeros(len(drawings) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    ink = batch_ink(
        np.asarray(xs, np.float32), np.asarray(ys, np.float32), np.asarray(ends, np.float32), offsets
    )
    return _columns(
        source,
        lines,
        [d.key_id for d in drawings],
        [d.word for d in drawings],
        [d.countrycode for d in drawings],
        [d.recognized for d in drawings],
        ink,
    )


def _columns(source, lines, key_ids, words, countrycodes, recognized, ink: InkBatch) -> DrawingBatch:
    n = len(key_ids)
    return DrawingBatch(
        source=object_array([source] * n),
        line=np.asarray(lines, np.int64).reshape(n),
        key_id=object_array(key_ids),
        word=object_array(words),
        countrycode=object_array(countrycodes),
        recognized=np.asarray(recognized, np.int64).reshape(n),
        ink=ink,
    )


def parse_lines_slow(
    lines: Sequence[bytes], first_line: int, source: str, options: ParseOptions
) -> ParsedLines:
    drawings: list[_Drawing] = []
    numbers: list[int] = []
    rejections: list[Rejection] = []
    filtered = 0
    for i, line in enumerate(lines):
        result = parse_line(line, options.max_points)
        if isinstance(result, str):
            rejections.append(Rejection(source, first_line + i, result, decode_for_report(line)))
        elif options.recognized_only and not result.recognized:
            filtered += 1
        else:
            drawings.append(result)
            numbers.append(first_line + i)
    return ParsedLines(_batch_from_drawings(drawings, source, numbers), rejections, filtered, len(lines))


# --------------------------------------------------------------------------- fast path


def _segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each segment [offsets[i], offsets[i+1]) (empty segments → 0)."""
    cumulative = np.zeros(len(values) + 1, np.int64)
    np.cumsum(values, out=cumulative[1:])
    return cumulative[offsets[1:]] - cumulative[offsets[:-1]]


def _ragged_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of range(starts[i], starts[i] + lengths[i])."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(total, dtype=np.int64)


def _string_column(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    column = table.column(name).combine_chunks()
    return column.is_null().to_numpy(zero_copy_only=False), object_array(column.to_pylist())


def _parse_block_fast(
    lines: Sequence[bytes], first_line: int, source: str, options: ParseOptions
) -> ParsedLines | None:
    """The vectorised path; None when the block must be decided line by line."""
    blank = [not line.strip() for line in lines]
    content = [line for line, b in zip(lines, blank) if not b]
    content_lines = np.asarray([first_line + i for i, b in enumerate(blank) if not b], np.int64)
    rejections = [
        Rejection(source, first_line + i, BLANK_LINE, decode_for_report(lines[i]))
        for i, b in enumerate(blank)
        if b
    ]
    if not content:
        return ParsedLines(_batch_from_drawings([], source, []), rejections, 0, len(lines))
    data = b"\n".join(line.rstrip(b"\r\n") for line in content)
    try:
        data.decode("utf-8")  # pyarrow does not validate UTF-8; one C-speed pass over the block
    except UnicodeDecodeError:
        return None
    try:
        table = pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=max(len(data) + 1, 1 << 20)),
            parse_options=_PARSE_OPTIONS,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(content):
        return None
    drawing = table.column("drawing").combine_chunks()
    strokes = drawing.values
    axes = strokes.values
    if strokes.null_count or axes.null_count or axes.values.null_count or drawing.offset:
        return None  # rare shapes (nulls inside the drawing): let the slow path name them

    n = len(content)
    word_null, words = _string_column(table, "word")
    key_null, key_ids = _string_column(table, "key_id")
    cc_null, countrycodes = _string_column(table, "countrycode")
    countrycodes[cc_null] = ""
    recognized_col = table.column("recognized").combine_chunks().fill_null(False)
    recognized = recognized_col.to_numpy(zero_copy_only=False).astype(np.int64)
    drawing_null = drawing.is_null().to_numpy(zero_copy_only=False)

    d_off = np.asarray(drawing.offsets, np.int64)
    s_off = np.asarray(strokes.offsets, np.int64)
    a_off = np.asarray(axes.offsets, np.int64)
    values = np.asarray(axes.values, np.float64)

    axes_per_stroke = np.diff(s_off)
    bad_stroke = (axes_per_stroke < 2) | (axes_per_stroke > 3)
    x_axis = s_off[:-1]
    y_axis = np.where(bad_stroke, x_axis, x_axis + 1)
    x_len = a_off[x_axis + 1] - a_off[x_axis] if len(x_axis) else np.zeros(0, np.int64)
    y_len = a_off[y_axis + 1] - a_off[y_axis] if len(x_axis) else np.zeros(0, np.int64)
    x_len = np.where(bad_stroke, 0, x_len)
    y_len = np.where(bad_stroke, 0, y_len)
    with np.errstate(over="ignore", invalid="ignore"):
        nonfinite_value = ~np.isfinite(values.astype(np.float32))
    nonfinite_axis = _segment_sums(nonfinite_value, a_off)
    nonfinite_stroke = np.zeros(len(x_axis), np.int64)
    if len(x_axis):
        nonfinite_stroke = np.where(bad_stroke, 0, nonfinite_axis[x_axis] + nonfinite_axis[y_axis])

    bad_per_drawing = _segment_sums(bad_stroke, d_off)
    mismatch_per_drawing = _segment_sums(x_len != y_len, d_off)
    nonfinite_per_drawing = _segment_sums(nonfinite_stroke, d_off)
    points = _segment_sums(x_len, d_off)

    # First failing check wins, in the slow path's order (np.select picks the first true).
    conditions = [
        (word_null, MISSING_WORD),
        (words == "", INVALID_WORD),
        (key_null, MISSING_KEY_ID),
        (key_ids == "", INVALID_KEY_ID),
        (drawing_null, MISSING_DRAWING),
        (bad_per_drawing > 0, INVALID_DRAWING),
        (mismatch_per_drawing > 0, MISMATCHED_STROKE_LENGTHS),
        (nonfinite_per_drawing > 0, NON_FINITE_COORDINATE),
        (points == 0, EMPTY_DRAWING),
        (points == 1, TOO_FEW_POINTS),
        (points > options.max_points, TOO_MANY_POINTS),
    ]
    reason_index = np.select([c for c, _ in conditions], np.arange(1, len(conditions) + 1), 0)
    for row in np.flatnonzero(reason_index):
        reason = conditions[reason_index[row] - 1][1]
        rejections.append(Rejection(source, int(content_lines[row]), reason, decode_for_report(content[row])))
    rejections.sort(key=lambda r: r.line)
    valid = reason_index == 0
    filtered = 0
    if options.recognized_only:
        filtered = int((valid & (recognized == 0)).sum())
        valid &= recognized == 1
    rows = np.flatnonzero(valid)

    # Points of the kept drawings: x and y ranges of their strokes, concatenated in order.
    stroke_owner = np.repeat(np.arange(n), np.diff(d_off))
    kept_strokes = np.flatnonzero(valid[stroke_owner]) if len(stroke_owner) else np.zeros(0, np.int64)
    lengths = x_len[kept_strokes]
    x = values[_ragged_ranges(a_off[x_axis[kept_strokes]], lengths)].astype(np.float32)
    y = values[_ragged_ranges(a_off[y_axis[kept_strokes]], lengths)].astype(np.float32)
    stroke_end = np.zeros(len(x), np.float32)
    ends = np.cumsum(lengths)
    stroke_end[ends[lengths > 0] - 1] = 1
    point_offsets = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(points[rows], out=point_offsets[1:])
    ink = batch_ink(x, y, stroke_end, point_offsets)
    batch = _columns(
        source,
        content_lines[rows],
        key_ids[rows],
        words[rows],
        countrycodes[rows],
        recognized[rows],
        ink,
    )
    return ParsedLines(batch, rejections, filtered, len(lines))


def parse_lines(lines: Sequence[bytes], first_line: int, source: str, options: ParseOptions) -> ParsedLines:
    """Parse consecutive lines of ``source`` starting at 1-based line ``first_line``."""
    fast = _parse_block_fast(lines, first_line, source, options)
    if fast is not None:
        return fast
    return parse_lines_slow(lines, first_line, source, options)
