"""A columnar batch of parsed drawings: the element that flows through Beam.

One Beam element per drawing costs tens of microseconds of SDK overhead, more than
all the math. So the conversion moves batches of a few thousand drawings
(numpy columns plus ragged ink), and every per-drawing step is array work.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from components.ink import INK_DIM, InkBatch


def ragged_take(row_offsets: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and new offsets that gather the ragged rows ``indices``."""
    indices = np.asarray(indices, dtype=np.int64)
    lengths = (row_offsets[1:] - row_offsets[:-1])[indices]
    new_offsets = np.zeros(len(indices) + 1, np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    rows = np.repeat(row_offsets[:-1][indices] - new_offsets[:-1], lengths) + np.arange(
        new_offsets[-1], dtype=np.int64
    )
    return rows, new_offsets


@dataclasses.dataclass
class DrawingBatch:
    """Valid drawings, one entry per drawing in every column.

    ``hash`` is the drawing's stable 64-bit hash of (key_id, salt); it decides
    split, shard, per-class sampling and the order inside a shard.
    """

    source: np.ndarray  # object: input file path
    line: np.ndarray  # int64: 1-based line number in that file
    key_id: np.ndarray  # object: str
    word: np.ndarray  # object: str
    countrycode: np.ndarray  # object: str
    recognized: np.ndarray  # int64: 0 / 1
    ink: InkBatch
    hash: np.ndarray  # uint64

    def __len__(self) -> int:
        return len(self.key_id)

    def take(self, indices: np.ndarray | Sequence[int]) -> "DrawingBatch":
        indices = np.asarray(indices, dtype=np.int64)
        rows, offsets = ragged_take(self.ink.row_offsets, indices)
        return DrawingBatch(
            source=self.source[indices],
            line=self.line[indices],
            key_id=self.key_id[indices],
            word=self.word[indices],
            countrycode=self.countrycode[indices],
            recognized=self.recognized[indices],
            ink=InkBatch(self.ink.values[rows], offsets),
            hash=self.hash[indices],
        )

    def sort_order(self) -> np.ndarray:
        """Indices in the canonical order: (hash, key_id, source, line).

        A total order on the drawings' identity, so anything that picks "the
        first" drawing (bottom-k sampling, duplicate key_ids) picks the same one
        whatever order the runner delivered the data in. Hashes almost never tie
        (only a repeated key_id does), so numpy sorts and Python breaks ties.
        """
        order = np.argsort(self.hash, kind="stable")
        sorted_hash = self.hash[order]
        if not np.any(sorted_hash[1:] == sorted_hash[:-1]):
            return order
        return np.asarray(
            sorted(
                range(len(self)),
                key=lambda i: (int(self.hash[i]), self.key_id[i], self.source[i], int(self.line[i])),
            ),
            dtype=np.int64,
        )

    def smallest(self, k: int) -> "DrawingBatch":
        """The first ``k`` drawings in canonical order (all of them if fewer)."""
        if len(self) <= k:
            return self
        threshold = np.partition(self.hash, k - 1)[k - 1]
        candidates = self.take(np.flatnonzero(self.hash <= threshold))
        return candidates.take(candidates.sort_order()[:k])

    def duplicate_mask(self) -> np.ndarray:
        """For a batch in canonical order: True on each repeat of the previous key_id."""
        mask = np.zeros(len(self), bool)
        if len(self) > 1:
            mask[1:] = (self.hash[1:] == self.hash[:-1]) & (self.key_id[1:] == self.key_id[:-1])
        return mask

    @staticmethod
    def empty() -> "DrawingBatch":
        obj = np.zeros(0, dtype=object)
        return DrawingBatch(
            source=obj,
            line=np.zeros(0, np.int64),
            key_id=obj,
            word=obj,
            countrycode=obj,
            recognized=np.zeros(0, np.int64),
            ink=InkBatch(np.zeros((0, INK_DIM), np.float32), np.zeros(1, np.int64)),
            hash=np.zeros(0, np.uint64),
        )

    @staticmethod
    def concat(batches: Sequence["DrawingBatch"]) -> "DrawingBatch":
        batches = [b for b in batches if len(b)]
        if not batches:
            return DrawingBatch.empty()
        if len(batches) == 1:
            return batches[0]
        offsets = [np.zeros(1, np.int64)]
        base = 0
        for b in batches:
            offsets.append(b.ink.row_offsets[1:] + base)
            base += b.ink.row_offsets[-1]
        return DrawingBatch(
            source=np.concatenate([b.source for b in batches]),
            line=np.concatenate([b.line for b in batches]),
            key_id=np.concatenate([b.key_id for b in batches]),
            word=np.concatenate([b.word for b in batches]),
            countrycode=np.concatenate([b.countrycode for b in batches]),
            recognized=np.concatenate([b.recognized for b in batches]),
            ink=InkBatch(np.concatenate([b.ink.values for b in batches]), np.concatenate(offsets)),
            hash=np.concatenate([b.hash for b in batches]),
        )
