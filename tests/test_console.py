"""What the terminal shows: progress and real warnings; the rest goes to the run's log file (or the terminal with -v)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from components.training import tflite_export
from pipeline import console


@pytest.fixture
def clean_logging():
    """configure() adds handlers to the root logger: take them off again after the test."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def test_the_terminal_shows_progress_and_warnings_and_the_log_file_everything(
    clean_logging, capsys, tmp_path
):
    before = list(logging.getLogger().handlers)
    console.configure(verbose=False)
    log = console.log_to(str(tmp_path / "logs" / "run.log"))
    added = [h for h in logging.getLogger().handlers if h not in before]
    absl = logging.getLogger("absl")
    absl.info("Component Trainer is running.")
    absl.info("Training: step 10/80: loss 1.0")
    absl.info("Running launcher for node_info: nothing a user acts on")
    logging.getLogger("tensorflow").info("graph details nobody reads")
    absl.warning("Not using the in-place Transform because the following features require analyzing")
    logging.getLogger("tensorflow").warning("a real warning")
    logging.getLogger("pipeline.serve.versions").info("serving version 3", extra=console.SHOW_ON_TERMINAL)
    for handler in added:
        handler.flush()
    shown = capsys.readouterr().err
    assert "Component Trainer is running." in shown and "Training: step 10/80" in shown
    assert "a real warning" in shown
    assert "INFO serving version 3" in shown  # an outcome the user follows, not dressed as a warning
    for noise in ("Running launcher", "graph details", "in-place Transform"):
        assert noise not in shown, noise
    with open(log, encoding="utf-8") as f:
        written = f.read()
    for line in ("Component Trainer is running.", "Running launcher", "graph details", "in-place Transform"):
        assert line in written, line


def test_with_verbose_the_terminal_shows_everything(clean_logging, capsys):
    console.configure(verbose=True)
    logging.getLogger("tensorflow").info("graph details")
    logging.getLogger("absl").info("Component launcher for Trainer")
    shown = capsys.readouterr().err
    assert "graph details" in shown and "Component launcher" in shown


def test_what_tflite_writes_to_stderr_goes_to_the_log(capfd, caplog):
    with caplog.at_level(logging.INFO):
        with tflite_export.native_output_to_log("the TFLite interpreter"):
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert "XNNPACK" not in capfd.readouterr().err
    assert (
        "the TFLite interpreter wrote:\nINFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        in caplog.text
    )


def test_import_time_warnings_a_user_cannot_act_on_are_not_shown():
    """google-cloud-aiplatform (imported by TFX) warns about the pinned google-cloud-storage on import."""
    code = (
        "import warnings; from pipeline import console; console.configure(False); "
        "warnings.warn('Support for google-cloud-storage < 3.0.0 will be removed', FutureWarning); "
        "warnings.warn('a warning worth reading', UserWarning)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="")
    )
    assert done.returncode == 0, done.stderr
    assert "google-cloud-storage" not in done.stderr and "a warning worth reading" in done.stderr
