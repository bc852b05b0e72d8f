"""Columnar batches of drawings: what flows between the conversion's stages.

One Beam element per drawing costs tens of microseconds of SDK overhead, more
than all the math, so the conversion moves batches of thousands of drawings.

* ``DrawingBatch``: what the parser produces: identity columns and ragged ink.
* ``EncodedDrawings``: what Beam shuffles: per drawing, the sort/identity keys
  and its Example already serialized except for ``class_index`` (see
  `encoding`). Flat columns, cheap to pickle, take and concatenate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from components.conversion.ink import InkBatch


@dataclasses.dataclass
class DrawingBatch:
    """Valid drawings from one block of one file, one entry per drawing in every column."""

    source: np.ndarray  # object: input file path
    line: np.ndarray  # int64: 1-based line number in that file
    key_id: np.ndarray  # object: str
    word: np.ndarray  # object: str
    countrycode: np.ndarray  # object: str
    recognized: np.ndarray  # int64: 0 / 1
    ink: InkBatch

    def __len__(self) -> int:
        return len(self.key_id)


def object_array(values: Sequence) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _pack(items: list[bytes]) -> tuple[bytes, np.ndarray]:
    ends = np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=len(items)))
    return b"".join(items), ends


def _unpack(blob: bytes, ends: np.ndarray) -> list[bytes]:
    starts = [0, *ends[:-1].tolist()] if len(ends) else []
    return [blob[a:b] for a, b in zip(starts, ends.tolist())]


def _codes(values: np.ndarray) -> tuple[list, np.ndarray]:
    """Dictionary coding in first-seen order (hashing, O(n); sorting object arrays is slow)."""
    index: dict = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32, count=len(values))
    return list(index), codes


def _decode(uniques: list, codes: np.ndarray) -> np.ndarray:
    return object_array(uniques)[codes] if len(codes) else np.zeros(0, dtype=object)


@dataclasses.dataclass
class EncodedDrawings:
    """Drawings ready to write, keyed by their stable hash of (key_id, salt).

    ``hash`` decides split, shard, per-class sampling and the order inside a shard.
    """

    hash: np.ndarray  # uint64
    key_id: np.ndarray  # object: str
    source: np.ndarray  # object: str
    line: np.ndarray  # int64
    word: np.ndarray  # object: str
    tail: np.ndarray  # object: bytes, the Example's feature entries after class_index

    def __len__(self) -> int:
        return len(self.hash)

    # Compact pickling: Beam and the run files pickle these batches. Pickling object
    # arrays stores each string separately; one blob plus offsets per column is several
    # times faster to write and read, and low-cardinality columns become codes.
    def __getstate__(self) -> dict:
        return {
            "hash": self.hash,
            "line": self.line,
            "key_id": _pack([k.encode("utf-8") for k in self.key_id]),
            "tail": _pack(list(self.tail)),
            "source": _codes(self.source),
            "word": _codes(self.word),
        }

    def __setstate__(self, state: dict) -> None:
        self.hash = state["hash"]
        self.line = state["line"]
        self.key_id = object_array([k.decode("utf-8") for k in _unpack(*state["key_id"])])
        self.tail = object_array(_unpack(*state["tail"]))
        self.source = _decode(*state["source"])
        self.word = _decode(*state["word"])

    def take(self, indices: np.ndarray | Sequence[int]) -> EncodedDrawings:
        indices = np.asarray(indices, dtype=np.int64)
        return EncodedDrawings(*(getattr(self, f.name)[indices] for f in dataclasses.fields(self)))

    @staticmethod
    def empty() -> EncodedDrawings:
        obj = np.zeros(0, dtype=object)
        return EncodedDrawings(np.zeros(0, np.uint64), obj, obj, np.zeros(0, np.int64), obj, obj)

    @staticmethod
    def concat(batches: Sequence[EncodedDrawings]) -> EncodedDrawings:
        batches = [b for b in batches if len(b)]
        if not batches:
            return EncodedDrawings.empty()
        if len(batches) == 1:
            return batches[0]
        return EncodedDrawings(
            *(
                np.concatenate([getattr(b, f.name) for b in batches])
                for f in dataclasses.fields(EncodedDrawings)
            )
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

    def smallest(self, k: int) -> EncodedDrawings:
        """The first ``k`` drawings in canonical order (all of them if fewer)."""
        if len(self) <= k:
            return self
        if k == 0:
            return EncodedDrawings.empty()
        threshold = np.partition(self.hash, k - 1)[k - 1]
        candidates = self.take(np.flatnonzero(self.hash <= threshold))
        return candidates.take(candidates.sort_order()[:k])

    def duplicate_mask(self) -> np.ndarray:
        """For a batch in canonical order: True on each repeat of the previous key_id."""
        mask = np.zeros(len(self), bool)
        if len(self) > 1:
            mask[1:] = (self.hash[1:] == self.hash[:-1]) & (self.key_id[1:] == self.key_id[:-1])
        return mask
