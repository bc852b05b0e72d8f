"""DrawingBatch → serialized tf.Examples, byte-stable across processes.

A ``tf.train.Example`` holds its features in a protobuf map, and map order in
ordinary serialization follows a per-process hash seed: the same Example gives
different bytes in different workers (so does ``tfx_bsl``'s
``RecordBatchToExamplesEncoder``, measured here). Deterministic shards need the
canonical form, entries sorted by key, which is what protobuf's
``SerializeToString(deterministic=True)`` writes; a test checks that these bytes
are identical to it.

Writing the wire format directly is also the fast path: the ink's packed floats
are sliced from one numpy buffer, and everything else is a handful of short
byte strings per drawing, with no message objects at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from components import features as F
from components.conversion.batch import DrawingBatch, object_array
from components.conversion.ink import INK_DIM

_LEN = b"\n"  # field 1, length-delimited: Example.features, Features.feature entries, map key, list values


def _varint_slow(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL_VARINTS = [_varint_slow(i) for i in range(1 << 14)]


def varint(n: int) -> bytes:
    return _SMALL_VARINTS[n] if n < 16384 else _varint_slow(n)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def bytes_feature(value: bytes) -> bytes:
    return _delimited(b"\n", _delimited(_LEN, value))  # Feature.bytes_list = 1


def int64_feature(values: tuple[int, ...]) -> bytes:
    packed = b"".join(varint(v) for v in values)  # non-negative values only
    return _delimited(b"\x1a", _delimited(_LEN, packed))  # Feature.int64_list = 3


def _map_entry_prefix(key: str) -> bytes:
    return _delimited(_LEN, key.encode())  # the entry's key field


def map_entry(key: str, feature: bytes) -> bytes:
    """One ``Features.feature`` map entry: key and serialized ``Feature``."""
    return _delimited(_LEN, _map_entry_prefix(key) + _delimited(b"\x12", feature))


class _Cache(dict):
    """dict that builds missing values with ``make(key)``."""

    def __init__(self, make) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key):
        value = self[key] = self._make(key)
        return value


def float_feature(packed_le_float32: bytes) -> bytes:
    return _delimited(b"\x12", _delimited(_LEN, packed_le_float32))  # Feature.float_list = 2


def _header(key: str, feature, payload_length: int) -> bytes:
    """Everything of a map entry before its variable payload, which depends only on the payload's
    length: the entry for a placeholder payload, with the placeholder cut off."""
    return map_entry(key, feature(b"\0" * payload_length))[:-payload_length]


def _ink_header(rows: int) -> bytes:
    return _header(F.INK, float_feature, 4 * INK_DIM * rows)


def _key_id_header(length: int) -> bytes:
    return _header(F.KEY_ID, bytes_feature, length)


# Map entries are written in key order: the canonical (deterministic) serialization.
# class_index sorts first, so each Example is ``class_index entry + tail``: the tail is
# built where the drawing is parsed, in parallel, before the class list is known.
assert sorted(F.ALL_FEATURES)[0] == F.CLASS_INDEX
_INK_HEADERS = _Cache(_ink_header)
_KEY_ID_HEADERS = _Cache(_key_id_header)
_SHAPES = _Cache(lambda rows: map_entry(F.SHAPE, int64_feature((rows, INK_DIM))))
_COUNTRYCODES = _Cache(lambda code: map_entry(F.COUNTRYCODE, bytes_feature(code.encode())))
_WORDS = _Cache(lambda word: map_entry(F.WORD, bytes_feature(word.encode())))
_RECOGNIZED = (map_entry(F.RECOGNIZED, int64_feature((0,))), map_entry(F.RECOGNIZED, int64_feature((1,))))
_CLASS_INDEXES = _Cache(lambda index: map_entry(F.CLASS_INDEX, int64_feature((index,))))


def encode_tails(batch: DrawingBatch) -> np.ndarray:
    """Per drawing: its Example's map entries after class_index (countrycode … word), as bytes."""
    ink = np.ascontiguousarray(batch.ink.values, dtype="<f4").tobytes()
    row_bytes = 4 * INK_DIM
    offsets = batch.ink.row_offsets.tolist()
    tails = []
    for i, (key_id, country, recognized, word) in enumerate(
        zip(batch.key_id, batch.countrycode, batch.recognized.tolist(), batch.word)
    ):
        start, end = offsets[i], offsets[i + 1]
        key = key_id.encode()
        tails.append(
            b"".join(
                (
                    _COUNTRYCODES[country],
                    _INK_HEADERS[end - start],
                    ink[start * row_bytes : end * row_bytes],
                    _KEY_ID_HEADERS[len(key)],
                    key,
                    _RECOGNIZED[recognized],
                    _SHAPES[end - start],
                    _WORDS[word],
                )
            )
        )
    return object_array(tails)


def finish_examples(class_indexes: Sequence[int], tails: Sequence[bytes]) -> list[bytes]:
    """Whole serialized Examples: the class_index entry, then the tail, inside ``Example.features``."""
    out = []
    for index, tail in zip(class_indexes, tails):
        entry = _CLASS_INDEXES[index]
        out.append(_LEN + varint(len(entry) + len(tail)) + entry + tail)
    return out


def encode_examples(batch: DrawingBatch, class_index: Mapping[str, int]) -> list[bytes]:
    """One serialized Example per drawing of ``batch``, in batch order."""
    return finish_examples([class_index[w] for w in batch.word], encode_tails(batch))
