"""`quickdraw download` against a local HTTP server (127.0.0.1): resume, verify, retry."""

from __future__ import annotations

import base64
import http.server
import os
import shutil
import subprocess
import sys
import threading

import google_crc32c
import pytest

from pipeline.tools import download


class FakeBucket(http.server.ThreadingHTTPServer):
    """Serves files like GCS: Range requests, Content-Length, x-goog-hash crc32c.

    ``faults`` maps a URL path to a list of faults applied to successive GETs:
    "cut" sends half the body and closes, "corrupt" flips a byte, "missing" 404s.
    """

    def __init__(self, root: str):
        super().__init__(("127.0.0.1", 0), Handler)
        self.root = root
        self.faults: dict[str, list[str]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    server: FakeBucket

    def log_message(self, *args):
        pass

    def _file(self) -> bytes | None:
        from urllib.parse import unquote

        path = os.path.join(self.server.root, unquote(self.path.lstrip("/")))
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def _headers(self, status: int, data: bytes, length: int, content_range: str | None = None):
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        crc = base64.b64encode(google_crc32c.Checksum(data).digest()).decode()
        self.send_header("x-goog-hash", f"crc32c={crc},md5=AAAA")
        if content_range:
            self.send_header("Content-Range", content_range)
        self.end_headers()

    def do_HEAD(self):
        data = self._file()
        if data is None:
            self.send_error(404)
            return
        self._headers(200, data, len(data))

    def do_GET(self):
        with self.server.lock:
            self.server.requests.append(("GET", self.path, self.headers.get("Range")))
            faults = self.server.faults.get(self.path, [])
            fault = faults.pop(0) if faults else None
        data = self._file()
        if data is None or fault == "missing":
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_error(416)
                return
            self._headers(206, data, len(data) - start, f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self._headers(200, data, len(data))
        body = data[start:]
        if fault == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault == "corrupt":
            body = bytearray(body)
            body[len(body) // 3] ^= 0x55
            body = bytes(body)
        self.wfile.write(body)


NAMES = ["cat", "hot air balloon", "The Mona Lisa", "zigzag"]


@pytest.fixture
def bucket(real_dir, tmp_path):
    root = tmp_path / "bucket" / "simplified"
    root.mkdir(parents=True)
    for name in NAMES:
        shutil.copy(os.path.join(real_dir, f"{name}.ndjson"), root / f"{name}.ndjson")
    server = FakeBucket(str(tmp_path / "bucket"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _same(out, real_dir, name) -> bool:
    with open(os.path.join(real_dir, f"{name}.ndjson"), "rb") as f:
        return (out / f"{name}.ndjson").read_bytes() == f.read()


def test_parallel_download_of_files_with_spaces_in_their_names(bucket, real_dir, tmp_path):
    out = tmp_path / "out"
    results = download.download_all(NAMES, str(out), base_url=bucket.url, parallel=4, progress=False)
    assert [r.error for r in results] == [None] * len(NAMES)
    assert all(_same(out, real_dir, n) for n in NAMES)
    assert ("GET", "/simplified/hot%20air%20balloon.ndjson", None) in bucket.requests
    assert not list(out.glob("*.part"))


def test_interrupted_transfer_resumes_with_a_range_request(bucket, real_dir, tmp_path):
    bucket.faults["/simplified/cat.ndjson"] = ["cut"]
    out = tmp_path / "out"
    (result,) = download.download_all(["cat"], str(out), base_url=bucket.url, progress=False)
    assert result.error is None and _same(out, real_dir, "cat")
    gets = [r for r in bucket.requests if r[1] == "/simplified/cat.ndjson"]
    assert len(gets) == 2 and gets[0][2] is None and gets[1][2].startswith("bytes=")
    assert int(gets[1][2][len("bytes=") : -1]) > 0


def test_a_partial_file_from_an_earlier_run_is_resumed(bucket, real_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    data = open(os.path.join(real_dir, "zigzag.ndjson"), "rb").read()
    (out / "zigzag.ndjson.part").write_bytes(data[:1000])
    (result,) = download.download_all(["zigzag"], str(out), base_url=bucket.url, progress=False)
    assert result.error is None and _same(out, real_dir, "zigzag")
    assert bucket.requests == [("GET", "/simplified/zigzag.ndjson", "bytes=1000-")]


def test_a_corrupted_transfer_is_detected_and_fetched_again(bucket, real_dir, tmp_path):
    bucket.faults["/simplified/cat.ndjson"] = ["corrupt"]
    out = tmp_path / "out"
    (result,) = download.download_all(["cat"], str(out), base_url=bucket.url, progress=False)
    assert result.error is None and _same(out, real_dir, "cat")
    assert len([r for r in bucket.requests if r[1] == "/simplified/cat.ndjson"]) == 2


def test_persistent_corruption_fails_without_leaving_a_final_file(bucket, tmp_path):
    bucket.faults["/simplified/cat.ndjson"] = ["corrupt"] * 3
    out = tmp_path / "out"
    (result,) = download.download_all(["cat"], str(out), base_url=bucket.url, retries=2, progress=False)
    assert "CRC32C mismatch" in result.error
    assert not (out / "cat.ndjson").exists()


def test_complete_files_are_skipped(bucket, real_dir, tmp_path):
    out = tmp_path / "out"
    download.download_all(["cat"], str(out), base_url=bucket.url, progress=False)
    bucket.requests.clear()
    (result,) = download.download_all(["cat"], str(out), base_url=bucket.url, progress=False)
    assert result.skipped and not bucket.requests  # a HEAD only


def test_unknown_categories_are_refused_with_suggestions():
    with pytest.raises(ValueError, match="did you mean 'hot air balloon'"):
        download.parse_categories("cat, hot air baloon")
    assert download.parse_categories(" cat,dog ,cat") == ["cat", "dog"]
    assert len(download.ALL_CLASSES) == 345


def test_cli_reports_failures_with_exit_code_1(bucket, tmp_path):
    bucket.faults["/simplified/cat.ndjson"] = ["missing"] * 5
    command = [sys.executable, "-m", "pipeline.cli", "download", "--categories", "cat,zigzag"]
    command += ["--output", str(tmp_path / "out"), "--base-url", bucket.url, "--retries", "1"]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 1
    assert "error: cat: HTTP 404" in run.stderr and "downloaded 1/2 files" in run.stdout
    assert len([r for r in bucket.requests if r[1] == "/simplified/cat.ndjson"]) == 1, "a 404 is not retried"
    assert (tmp_path / "out" / "zigzag.ndjson").exists()
