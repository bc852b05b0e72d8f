"""Fault tests: `quickdraw convert` killed (SIGKILL, whole process group) at several points, then rerun."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.support import ndjson_lines

pytestmark = pytest.mark.slow  # a TFX pipeline, a compile or a subprocess per test: `make test` only


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


# The pipeline fault tests prove what kills and reruns do, not what the model learns: 3 classes of 60
# drawings make each run as short as a pipeline run gets, and still give every component work to be killed in.
TINY_CORPUS = {"per_class": 60, "classes": 3, "seed": 0}


def _convert(corpus, out) -> subprocess.Popen:
    command = [sys.executable, "-m", "pipeline.cli", "convert", "--input", str(corpus), "--output", str(out)]
    command += ["--direct_running_mode=multi_processing", "--direct_num_workers=2", "--shards", "4"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _digests(out) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir()) if p.is_file()}


def test_killed_at_any_point_a_rerun_gives_the_uninterrupted_bytes(corpus, tmp_path):
    reference = tmp_path / "reference"
    started = time.monotonic()
    assert _convert(corpus, reference).wait(timeout=300) == 0
    duration = time.monotonic() - started  # the kills below land at fractions of it
    expected = _digests(reference)
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


def _run_pipeline(corpus, root, serving, *flags: str) -> subprocess.Popen:
    from tests.support import SETTINGS_FLAGS

    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "run",
        "--input",
        str(corpus),
        "--pipeline-root",
        str(root),
    ]
    command += [
        "--serving-dir",
        str(serving),
        *SETTINGS_FLAGS,
        "--accuracy-threshold",
        "0",  # any model is blessed and pushed: these tests are about kills and reruns, not the model
        "--tflite",
        "none",
        *flags,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _kill_when(process: subprocess.Popen, marker: bytes, delay: float = 0.0, timeout: float = 300) -> bytes:
    """SIGKILL the process group ``delay`` s after stderr shows ``marker``; return what stderr said."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        seen += line
        if marker in line:
            time.sleep(delay)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
            return seen
    raise AssertionError(f"{marker!r} never appeared:\n{seen.decode()[-3000:]}")


def test_a_pipeline_killed_in_example_gen_transform_and_after_a_training_checkpoint_completes_on_rerun(
    tmp_path,
):
    """Killed three times (ExampleGen, Transform, the Trainer once it has written a checkpoint), each rerun
    goes further; the last one completes: it reuses every component that had finished, resumes training
    from the checkpoint (the steps before and after the kill add up to the setting), pushes only the model
    it trained itself, one version, and removes the checkpoints. That a run with another setting starts at
    step 0 and leaves these checkpoints alone is held, through the Trainer's own start, by
    `test_a_trainer_with_another_setting_starts_at_step_0_and_leaves_the_interrupted_runs_checkpoints`."""
    from pipeline.runs import find_run
    from pipeline.tools import demo_data

    corpus, root, serving = tmp_path / "ndjson", tmp_path / "root", tmp_path / "serving"
    demo_data.write_corpus(str(corpus), **TINY_CORPUS)
    # Later flags win over SETTINGS_FLAGS; any model above the threshold is pushed, whatever the baseline.
    flags = ("--train-steps", "100", "--checkpoint-steps", "20", "--max-accuracy-drop", "1")
    started = _run_pipeline(corpus, root, serving, *flags)
    _kill_when(started, b"Component QuickDrawExampleGen is running", delay=1.0)
    said = _kill_when(
        _run_pipeline(corpus, root, serving, *flags), b"Component Transform is running", delay=3.0
    )
    assert b"Component DataGate is finished" in said
    said = _kill_when(_run_pipeline(corpus, root, serving, *flags), b"Training: checkpoint at step")
    assert b"Component Transform is finished" in said
    assert not serving.exists() or not os.listdir(serving), "nothing may be pushed by a killed run"
    killed_models = {str(p) for p in (root / "Trainer" / "model").iterdir()}
    (checkpoint_dir,) = (root / "checkpoints").iterdir()

    rerun = _run_pipeline(corpus, root, serving, *flags)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err.decode()[-3000:]
    assert b"Model blessed; pushed to" in out
    nodes = find_run(str(root), "quickdraw").nodes
    for finished_before in (
        "QuickDrawExampleGen",
        "StatisticsGen",
        "ImportSchemaGen",
        "DataGate",
        "Transform",
    ):
        assert nodes[finished_before].cached, f"{finished_before} should come from the cache"
    assert not nodes["Trainer"].cached
    match = re.search(rb"resuming from step (\d+)", err)
    assert match and int(match.group(1)) >= 20, err.decode()[-3000:]
    summary = _summary(nodes)
    assert summary["resumed_from_step"] == int(match.group(1))
    assert summary["optimizer_iterations"] == 100, "the steps before and after the kill add up to the setting"
    assert not checkpoint_dir.exists(), "checkpoints are removed once the model is saved"
    model_uri = nodes["Trainer"].uri("model")
    assert model_uri not in killed_models, "the killed Trainer's half-written output was reused"
    (version,) = os.listdir(serving)
    with open(os.path.join(model_uri, "Format-Serving", "saved_model.pb"), "rb") as a:
        with open(serving / version / "saved_model.pb", "rb") as b:
            assert a.read() == b.read(), "the pushed model is not the one the rerun trained"


def _summary(nodes) -> dict:
    with open(os.path.join(nodes["Trainer"].uri("model_run"), "training_summary.json")) as f:
        return json.load(f)
