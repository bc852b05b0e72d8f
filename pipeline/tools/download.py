"""Fetch the official per-class NDJSON files: parallel, resumable, verified.

Each file is fetched to ``<name>.ndjson.part``; an interrupted transfer resumes
from the bytes already there (HTTP Range), and the file gets its final name only
once its size matches the server's and its CRC32C matches the one the server
reports (``x-goog-hash: crc32c=…``, as Google Cloud Storage sends). A corrupted
transfer is fetched again from scratch.
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import google_crc32c
from tqdm import tqdm

from components.errors import ConfigError
from pipeline.tools.classes import OFFICIAL_CLASSES

FORMATS = ("simplified", "raw")
DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/full"
ALL_CLASSES: tuple[str, ...] = OFFICIAL_CLASSES
CHUNK_BYTES = 1 << 20
TIMEOUT_SECONDS = 60


@dataclasses.dataclass
class Result:
    name: str
    path: str
    size: int = 0
    skipped: bool = False  # already complete
    error: str | None = None


class TransferError(RuntimeError):
    pass


def parse_categories(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--categories is empty")
    unknown = [n for n in names if n not in ALL_CLASSES]
    if unknown:
        hints = []
        for n in unknown:
            close = difflib.get_close_matches(n, ALL_CLASSES, n=3)
            hints.append(f"{n!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
        raise ConfigError(f"unknown categories: {'; '.join(hints)}")
    return list(dict.fromkeys(names))


def file_url(base_url: str, fmt: str, name: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return f"{base_url.rstrip('/')}/{fmt}/{urllib.parse.quote(name)}.ndjson"


def _crc32c_from_header(value: str | None) -> int | None:
    """The object's CRC32C from ``x-goog-hash`` ("crc32c=BASE64,md5=BASE64"), if sent."""
    if not value:
        return None
    match = re.search(r"crc32c=([A-Za-z0-9+/=]+)", value)
    if not match:
        return None
    return int.from_bytes(base64.b64decode(match.group(1)), "big")


def _file_crc32c(path: str) -> int:
    checksum = google_crc32c.Checksum()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK_BYTES), b""):
            checksum.update(block)
    return int.from_bytes(checksum.digest(), "big")


def _total_size(response, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range")
    if content_range:
        match = re.match(r"bytes (\d+)-(\d+)/(\d+)", content_range)
        if match:
            return int(match.group(3))
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def _remote_size_and_crc(url: str) -> tuple[int | None, int | None]:
    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        length = response.headers.get("Content-Length")
        return (int(length) if length is not None else None), _crc32c_from_header(
            response.headers.get("x-goog-hash")
        )


def _fetch_once(url: str, part: str, on_bytes: Callable[[int], None]) -> tuple[int, int | None]:
    """Continue ``part`` from its current size; return (expected total size, server crc32c)."""
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left to fetch: the part is (at least) complete
            size, crc = _remote_size_and_crc(url)
            return size or offset, crc
        raise
    with response:
        if offset and response.status != 206:  # the server ignored Range: start over
            offset = 0
        total = _total_size(response, offset)
        crc = _crc32c_from_header(response.headers.get("x-goog-hash"))
        with open(part, "r+b" if offset else "wb") as f:
            f.seek(offset)
            f.truncate()
            while True:
                try:
                    block = response.read(CHUNK_BYTES)
                except (OSError, urllib.error.URLError) as error:
                    raise TransferError(f"connection lost after {f.tell():,} bytes: {error}") from error
                if not block:
                    break
                f.write(block)
                on_bytes(len(block))
    return (total if total is not None else os.path.getsize(part)), crc


def download_file(
    name: str,
    output_dir: str,
    fmt: str = "simplified",
    base_url: str = DEFAULT_BASE_URL,
    retries: int = 3,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> Result:
    url = file_url(base_url, fmt, name)
    final = os.path.join(output_dir, f"{name}.ndjson")
    part = final + ".part"
    result = Result(name, final)
    try:
        if os.path.exists(final):
            size, crc = _remote_size_and_crc(url)
            if size == os.path.getsize(final) and (crc is None or crc == _file_crc32c(final)):
                result.size, result.skipped = size, True
                return result
            os.remove(final)  # differs from the server's copy: fetch it again
        last_error = "no attempt made"
        for attempt in range(retries + 1):
            try:
                total, crc = _fetch_once(url, part, on_bytes)
            except urllib.error.HTTPError as error:
                if 400 <= error.code < 500 and error.code not in (408, 429):
                    result.error = f"HTTP {error.code} for {url}"  # permanent: no retry
                    return result
                last_error = str(error)
                time.sleep(min(0.2 * 2**attempt, 5.0))
                continue
            except (TransferError, urllib.error.URLError, OSError) as error:
                last_error = str(error)
                time.sleep(min(0.2 * 2**attempt, 5.0))
                continue
            size = os.path.getsize(part)
            if size < total:
                last_error = f"incomplete: {size:,} of {total:,} bytes"
                continue  # resume
            if size > total:
                last_error = f"{size:,} bytes, more than the server's {total:,}"
                os.remove(part)
                continue
            if crc is not None and _file_crc32c(part) != crc:
                last_error = "CRC32C mismatch (corrupted transfer)"
                os.remove(part)
                continue
            os.replace(part, final)
            result.size = size
            return result
        result.error = f"failed after {retries + 1} attempts: {last_error}"
    except (urllib.error.URLError, OSError) as error:
        result.error = str(error)
    return result


def download_all(
    names: Sequence[str],
    output_dir: str,
    fmt: str = "simplified",
    base_url: str = DEFAULT_BASE_URL,
    parallel: int = 8,
    retries: int = 3,
    progress: bool = True,
) -> list[Result]:
    """Download ``names`` in parallel with one progress bar (bytes); results in input order."""
    os.makedirs(output_dir, exist_ok=True)
    lock = threading.Lock()
    bar = tqdm(
        total=None, unit="B", unit_scale=True, desc=f"{len(names)} files", disable=not progress, leave=True
    )

    def count(n: int) -> None:
        with lock:
            bar.update(n)

    def one(name: str) -> Result:
        result = download_file(name, output_dir, fmt, base_url, retries, count)
        with lock:
            bar.set_postfix_str(f"last: {name}" + (" (error)" if result.error else ""))
        return result

    try:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            return list(pool.map(one, names))
    finally:
        bar.close()
