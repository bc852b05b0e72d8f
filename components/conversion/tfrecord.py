"""TFRecord framing without TensorFlow.

Conversion workers never import TensorFlow (seconds of start-up and a GiB of
memory per process); the format is simple: for each record,
``uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)``,
little-endian, CRC32-C (Castagnoli) masked as TensorFlow's ``crc32c::Mask``.
Tests read the output back with ``tf.data.TFRecordDataset``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from typing import BinaryIO

import google_crc32c

_MASK_DELTA = 0xA282EAD8


_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


def masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def write_records(fileobj: BinaryIO, records: Sequence[bytes], chunk: int = 4096) -> str:
    """Write framed records; return the sha256 hex digest of the bytes written."""
    digest = hashlib.sha256()
    length, crc, pack = _LENGTH.pack, _CRC.pack, masked_crc32c
    for start in range(0, len(records), chunk):
        parts = []
        for record in records[start : start + chunk]:
            size = length(len(record))
            parts += (size, crc(pack(size)), record, crc(pack(record)))
        data = b"".join(parts)
        digest.update(data)
        fileobj.write(data)
    return digest.hexdigest()


def read_records(fileobj: BinaryIO) -> Iterable[bytes]:
    """Read framed records back, checking both CRCs (used by tests and tools)."""
    while True:
        header = fileobj.read(12)
        if not header:
            return
        if len(header) < 12:
            raise ValueError("truncated TFRecord header")
        length_bytes, length_crc = header[:8], struct.unpack("<I", header[8:])[0]
        if masked_crc32c(length_bytes) != length_crc:
            raise ValueError("corrupt TFRecord length")
        (length,) = struct.unpack("<Q", length_bytes)
        data = fileobj.read(length)
        footer = fileobj.read(4)
        if len(data) < length or len(footer) < 4:
            raise ValueError("truncated TFRecord")
        if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
            raise ValueError("corrupt TFRecord data")
        yield data
