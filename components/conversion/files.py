"""Filesystem helpers of the conversion, on any Beam filesystem (local, ``gs://``, …).

Input resolution (a directory, a glob or a file → sorted paths), line-aligned chunks
of big files (so one large class file still uses every worker, with exact line
numbers), atomic writes (a partial file is never visible under its final name) and
deletion of a temporary tree.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from apache_beam.io.filesystems import FileSystems

from components.conversion.config import READ_BLOCK_BYTES
from components.errors import UserError

INPUT_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".json")


class ConversionError(UserError):
    """A problem the user can fix (bad input path, occupied output): a message, no traceback."""


def resolve_inputs(spec: str) -> list[str]:
    """A directory, a glob or a file (local or any Beam filesystem) → sorted file paths."""
    if any(ch in spec for ch in "*?["):
        pattern = spec
    elif spec.endswith(INPUT_SUFFIXES):
        pattern = spec
    else:
        pattern = FileSystems.join(spec, "*.ndjson")
    try:
        results = FileSystems.match([pattern])[0].metadata_list
    except Exception as error:  # Beam raises BeamIOError for missing paths on some filesystems
        raise ConversionError(f"input {spec!r}: {error}") from error
    files = sorted(m.path for m in results if not os.path.basename(m.path).startswith("."))
    if not files:
        if "://" not in spec and not os.path.exists(spec) and pattern != spec:
            raise ConversionError(f"input {spec!r} does not exist")
        raise ConversionError(f"no input files match {pattern!r}")
    return files


def write_atomically(path: str, write: Callable[[Any], Any]) -> Any:
    """Write ``path`` through a temporary name, so a partial file is never visible."""
    directory, name = posixpath.split(path) if "://" in path else os.path.split(path)
    temporary = FileSystems.join(directory, f".tmp-{name}-{uuid.uuid4().hex}")
    try:
        with FileSystems.create(temporary) as fileobj:
            result = write(fileobj)
        FileSystems.rename([temporary], [path])
    except BaseException:
        if FileSystems.exists(temporary):
            FileSystems.delete([temporary])
        raise
    return result


def delete_tree(directory: str) -> None:
    """Delete a directory of temporary files (local, or a prefix on an object store)."""
    if not FileSystems.exists(directory):
        return
    files = [m.path for m in FileSystems.match([FileSystems.join(directory, "*")])[0].metadata_list]
    if files:
        FileSystems.delete(files)
    if FileSystems.exists(directory):
        FileSystems.delete([directory])


class FileChunk(NamedTuple):
    """Bytes [start, end) of an input file, starting at 1-based line ``first_line``."""

    path: str
    start: int
    end: int | None  # None: to the end of the file
    first_line: int


def _is_compressed(path: str) -> bool:
    return path.endswith((".gz", ".bz2", ".zst", ".deflate", ".zip", ".lzma"))


def split_file(path: str, chunk_bytes: int) -> Iterator[FileChunk]:
    """Line-aligned chunks of about ``chunk_bytes``, so one big class file uses every worker.

    Counting newlines (a fast scan) gives each chunk its first line number, so
    rejections keep exact file:line positions. Compressed files are one chunk.
    """
    size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    if size <= chunk_bytes or _is_compressed(path):
        yield FileChunk(path, 0, None, 1)
        return
    start, first_line = 0, 1  # the chunk being built
    base, newlines = 0, 0  # file offset of the current block; newlines counted before block[pos]
    with FileSystems.open(path, compression_type="uncompressed") as f:
        while True:
            block = f.read(READ_BLOCK_BYTES)
            if not block:
                break
            pos = 0
            while True:
                # the chunk ends at the first newline at or after start + chunk_bytes - 1
                target = max(start + chunk_bytes - 1 - base, pos)
                cut = block.find(b"\n", target) if target < len(block) else -1
                if cut < 0:
                    break
                newlines += block.count(b"\n", pos, cut + 1)
                pos = cut + 1
                yield FileChunk(path, start, base + pos, first_line)
                start, first_line = base + pos, newlines + 1
            newlines += block.count(b"\n", pos)
            base += len(block)
    if start < size:
        yield FileChunk(path, start, None, first_line)


def read_line_blocks(chunk: FileChunk, lines_per_block: int) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, lines) blocks of a chunk; the file's last line may lack its newline."""
    block: list[bytes] = []
    first = chunk.first_line
    rest = b""
    remaining = None if chunk.end is None else chunk.end - chunk.start
    with FileSystems.open(chunk.path) as fileobj:
        if chunk.start:
            fileobj.seek(chunk.start)
        while remaining is None or remaining > 0:
            data = fileobj.read(READ_BLOCK_BYTES if remaining is None else min(READ_BLOCK_BYTES, remaining))
            if not data:
                break
            if remaining is not None:
                remaining -= len(data)
            parts = (rest + data).split(b"\n")
            rest = parts.pop()
            block.extend(parts)
            while len(block) >= lines_per_block:
                yield first, block[:lines_per_block]
                first += lines_per_block
                block = block[lines_per_block:]
    if rest:
        block.append(rest)
    if block:
        yield first, block
