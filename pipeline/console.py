"""What the ``quickdraw`` CLI shows on the terminal: progress lines, outcomes and real warnings, not library chatter.

A pipeline run logs through absl, TFX, Beam, TensorFlow and google-api-core, most of
it noise to a user. ``configure(verbose)`` keeps on the terminal the lines that say how
a run progresses (components starting and finishing, cache hits, the Trainer's
progress) and every warning that is not known to be harmless; ``-v`` shows everything.
``log_to(path)`` writes everything, at INFO, to a log file as well (``quickdraw run``:
``<pipeline-root>/logs/``), so what the terminal leaves out is still there to read.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

from components.training.config import PROGRESS_PREFIX

FORMAT = "%(asctime)s %(levelname)s %(message)s"


# ``logger.info(..., extra=SHOW_ON_TERMINAL)``: an INFO line of this project's own that a user follows (a
# server that starts serving a new version), shown on the terminal as the pipeline's progress lines are, not
# dressed as a warning.
_SHOWN_ATTRIBUTE = "quickdraw_shown"
SHOW_ON_TERMINAL = {_SHOWN_ATTRIBUTE: True}


class _ProgressFilter(logging.Filter):
    """Of the INFO lines, only those that say how a run progresses (and those logged with ``SHOW_ON_TERMINAL``);
    every warning and error."""

    SHOWN = ("Component ", "A cached execution", PROGRESS_PREFIX)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or getattr(record, _SHOWN_ATTRIBUTE, False):
            return True
        message = record.getMessage()
        return (
            record.name == "absl"
            and message.startswith(self.SHOWN)
            and not message.startswith("Component launcher")
        )


class _NoiseFilter(logging.Filter):
    """Warnings that are known to be harmless here and only bury the output (they stay in the log file)."""

    NOISE = (
        "ArtifactQuery.property_predicate is not supported",  # TFX resolver internals
        "Tables initialized inside a tf.function",  # the transform layer's vocabulary table
        "SavedModel saved prior to TF 2.5",  # TFMA probing a SavedModel as a Keras model
        "is deprecated and will be removed",  # API deprecations inside TFX/TFMA/TF
        "Fail to find plots for model name",  # TFMA loading a candidate-vs-baseline evaluation
        "Not using the in-place Transform",  # tf.Transform: the vocabulary needs its analysis pass, by design
        "is slow compared to the batch time",  # Keras: the progress and checkpoint callbacks on tiny steps
        "memory usage cannot be fetched",  # Beam's RunInference (the BulkInferrer) on a platform without it
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(noise in record.getMessage() for noise in self.NOISE)


# Python warnings that libraries raise on import, in this process and in every Beam worker process (which
# inherit the environment): a user can act on none of them.
_QUIET_WARNINGS = (
    # google-api-core: Python 3.10 is past its support window (TFX 1.16 needs 3.10).
    ("You are using a non-supported Python version", FutureWarning),
    # google-cloud-aiplatform, imported by TFX: the pinned google-cloud-storage is older than its next major.
    ("Support for google-cloud-storage < 3.0.0", FutureWarning),
)


def configure(verbose: bool) -> None:
    """Logging and warnings for a CLI process (and the Beam worker processes it starts)."""
    root = logging.getLogger()
    for handler in root.handlers[:]:  # configured again in one process (the CLI's tests): replace, not add
        if getattr(handler, "quickdraw_console", False):
            root.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.quickdraw_console = True
    console.setFormatter(logging.Formatter(FORMAT))
    if not verbose:
        console.addFilter(_ProgressFilter())
        console.addFilter(_NoiseFilter())
        # The local runner re-logs every worker warning as one long proto dump.
        logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    root.addHandler(console)
    root.setLevel(logging.INFO)
    from absl import logging as absl_logging

    # Through absl's verbosity flag, not Logger.setLevel: absl re-applies the flag's value to
    # its logger whenever flags are parsed again, which happens during a pipeline run.
    absl_logging.set_verbosity(absl_logging.INFO)
    # TensorFlow's C++ start-up chatter (CUDA plugins, CPU features) is noise to a CLI user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if verbose else "3")
    quiet_library_warnings()
    logging.captureWarnings(True)  # the other warnings: through logging, so the log file has them too


def quiet_library_warnings() -> None:
    """Silences the import-time warnings no user can act on, here and in the processes this one starts (the
    CLI's Beam workers, a benchmark's servers)."""
    quiet = [f"ignore:{message}:{category.__name__}" for message, category in _QUIET_WARNINGS]
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), *quiet]))
    for message, category in _QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=f".*{message}", category=category)


def log_to(path: str) -> str:
    """Everything logged from now on, at INFO and unfiltered, also goes to ``path``; returns it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    return path
