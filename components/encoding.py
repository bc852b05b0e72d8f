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

from typing import Mapping

import numpy as np

from components import features as F
from components.batch import DrawingBatch
from components.ink import INK_DIM

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


def float_feature(packed_le_float32: bytes) -> bytes:
    return _delimited(b"\x12", _delimited(_LEN, packed_le_float32))  # Feature.float_list = 2


def int64_feature(values: tuple[int, ...]) -> bytes:
    packed = b"".join(varint(v) for v in values)  # non-negative values only
    return _delimited(b"\x1a", _delimited(_LEN, packed))  # Feature.int64_list = 3


def _map_entry_prefix(key: str) -> bytes:
    return _delimited(_LEN, key.encode())  # the entry's key field


# Map entries in key order: the canonical (deterministic) serialization.
_KEYS = sorted(F.ALL_FEATURES)
_PREFIX = {key: _map_entry_prefix(key) for key in _KEYS}


def encode_example(feature_bytes: Mapping[str, bytes]) -> bytes:
    """Example bytes from each feature's serialized ``Feature`` message."""
    entries = []
    for key in _KEYS:
        body = _PREFIX[key] + b"\x12" + varint(len(feature_bytes[key])) + feature_bytes[key]
        entries.append(_delimited(_LEN, body))
    return _delimited(_LEN, b"".join(entries))


def encode_examples(batch: DrawingBatch, class_index: Mapping[str, int]) -> list[bytes]:
    """One serialized Example per drawing of ``batch``, in batch order."""
    ink = np.ascontiguousarray(batch.ink.values, dtype="<f4").tobytes()
    row_bytes = 4 * INK_DIM
    offsets = batch.ink.row_offsets.tolist()
    per_word: dict[str, tuple[bytes, bytes]] = {}  # class_index and word features, built once per class
    out = []
    for i, (word, key_id, country, recognized) in enumerate(
        zip(batch.word, batch.key_id, batch.countrycode, batch.recognized.tolist())
    ):
        cached = per_word.get(word)
        if cached is None:
            cached = per_word[word] = (int64_feature((class_index[word],)), bytes_feature(word.encode()))
        rows = offsets[i + 1] - offsets[i]
        out.append(
            encode_example(
                {
                    F.CLASS_INDEX: cached[0],
                    F.COUNTRYCODE: bytes_feature(country.encode()),
                    F.INK: float_feature(ink[offsets[i] * row_bytes : offsets[i + 1] * row_bytes]),
                    F.KEY_ID: bytes_feature(key_id.encode()),
                    F.RECOGNIZED: int64_feature((recognized,)),
                    F.SHAPE: int64_feature((rows, INK_DIM)),
                    F.WORD: cached[1],
                }
            )
        )
    return out
