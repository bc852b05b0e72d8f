"""Drawing → ink: the one place where the seed tutorial's ink semantics live.

The seed (`create_dataset.py::parse_line`) turns one drawing into a float32 array
of shape [n - 1, 3]:

1. the points of all strokes are concatenated; column 2 (`stroke_end`) is 1 on
   the last point of each stroke;
2. x and y are scaled to the drawing's bounding box, ``(v - min) / (max - min)``,
   where a zero extent scales by 1;
3. consecutive points are replaced by their deltas and the first point dropped.

The seed does this one drawing at a time in Python. Here the same float32
arithmetic runs over a whole batch of drawings at once, on the concatenated
points, so the per-drawing Python cost disappears. A golden test compares the
result with the seed's own function on every real drawing in ``../shared``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

INK_DIM = 3


class InkBatch(NamedTuple):
    """Ink of many drawings, concatenated.

    ``values`` has shape [sum(n_i - 1), 3]; drawing ``i`` owns the rows
    ``values[row_offsets[i]:row_offsets[i + 1]]``.
    """

    values: np.ndarray
    row_offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.row_offsets) - 1

    def drawing(self, i: int) -> np.ndarray:
        return self.values[self.row_offsets[i] : self.row_offsets[i + 1]]


def batch_ink(x: np.ndarray, y: np.ndarray, stroke_end: np.ndarray, point_offsets: np.ndarray) -> InkBatch:
    """The seed's ink for every drawing of a batch.

    Args:
      x, y: float32 coordinates of all points of all drawings, concatenated.
      stroke_end: 1 on the last point of each stroke, else 0 (same length).
      point_offsets: int64, len = drawings + 1; drawing ``i`` owns points
        ``[point_offsets[i], point_offsets[i + 1])``. Every drawing must have
        at least 2 points (the parser rejects the others).
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    point_offsets = np.asarray(point_offsets, dtype=np.int64)
    counts = np.diff(point_offsets)
    if len(counts) == 0:
        return InkBatch(np.zeros((0, INK_DIM), np.float32), np.zeros(1, np.int64))
    if counts.min() < 2:
        raise ValueError("every drawing needs at least 2 points")
    starts = point_offsets[:-1]
    owner = np.repeat(np.arange(len(counts)), counts)

    def normalized_deltas(v: np.ndarray) -> np.ndarray:
        lower = np.minimum.reduceat(v, starts)
        scale = np.maximum.reduceat(v, starts) - lower
        scale[scale == 0] = 1
        scaled = (v - lower[owner]) / scale[owner]
        deltas = np.empty_like(scaled)
        deltas[1:] = scaled[1:] - scaled[:-1]
        return deltas

    values = np.empty((len(x), INK_DIM), np.float32)
    values[:, 0] = normalized_deltas(x)
    values[:, 1] = normalized_deltas(y)
    values[:, 2] = stroke_end
    keep = np.ones(len(x), bool)
    keep[starts] = False  # each drawing's first point has no delta
    row_offsets = point_offsets - np.arange(len(point_offsets), dtype=np.int64)
    return InkBatch(values[keep], row_offsets)


def points_of_ink(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One drawing's ink [n - 1, 3] → its points (x, y) and each stroke's point count: ``batch_ink`` undone,
    up to where the drawing lay (the first point becomes the origin) and the bounding-box scale."""
    x = np.concatenate([[0.0], np.cumsum(ink[:, 0], dtype=np.float32)]).astype(np.float32)
    y = np.concatenate([[0.0], np.cumsum(ink[:, 1], dtype=np.float32)]).astype(np.float32)
    last_points = [int(i) + 1 for i in np.flatnonzero(ink[:, 2] > 0.5)]
    if not last_points or last_points[-1] != len(x) - 1:
        last_points.append(len(x) - 1)
    return x, y, np.diff([-1, *last_points]).astype(np.int32)
