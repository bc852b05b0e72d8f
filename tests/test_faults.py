"""Fault tests: `quickdraw convert` killed (SIGKILL, whole process group) at several points, then rerun."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ndjson_lines


@pytest.fixture(scope="module")
def corpus(real_dir, tmp_path_factory):
    """~60k drawings: long enough (several seconds) to be killed in every phase."""
    directory = tmp_path_factory.mktemp("corpus")
    for name, lines in list(ndjson_lines(real_dir).items())[:120]:
        with open(directory / name, "wb") as f:
            for copy in range(20):
                prefix = f"{copy:03d}".encode()
                f.write(
                    b"\n".join(line.replace(b'"key_id":"', b'"key_id":"' + prefix, 1) for line in lines)
                    + b"\n"
                )
    return directory


def _convert(corpus, out) -> subprocess.Popen:
    command = [sys.executable, "-m", "pipeline.cli", "convert", "--input", str(corpus), "--output", str(out)]
    command += ["--direct_running_mode=multi_processing", "--direct_num_workers=2", "--shards", "4"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _digests(out) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir()) if p.is_file()}


def test_killed_at_any_point_a_rerun_gives_the_uninterrupted_bytes(corpus, tmp_path):
    reference = tmp_path / "reference"
    assert _convert(corpus, reference).wait(timeout=300) == 0
    expected = _digests(reference)
    started = time.monotonic()
    assert _convert(corpus, tmp_path / "timing").wait(timeout=300) == 0
    duration = time.monotonic() - started
    killed = 0
    for fraction in (0.15, 0.35, 0.55, 0.75):  # start-up, parsing, writing; margin before the end
        out = tmp_path / f"killed-{fraction}"
        process = _convert(corpus, out)
        time.sleep(duration * fraction)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        killed += process.wait(timeout=60) == -signal.SIGKILL  # a fast machine may finish first
        if out.exists():
            # Whatever is under a final name is complete: a shard is renamed only once written.
            for name, digest in _digests(out).items():
                if not name.startswith(".") and name != "manifest.json":
                    assert digest == expected[name], f"partial {name} under its final name ({fraction})"
            assert "manifest.json" not in _digests(out) or _digests(out) == expected
        rerun = _convert(corpus, out)
        assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()[-2000:]
        assert _digests(out) == expected, f"killed at {fraction:.0%} of the run"
        assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert killed >= 3, f"only {killed} of 4 runs were killed before they finished"
