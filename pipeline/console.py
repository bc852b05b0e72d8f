"""What the ``quickdraw`` CLI shows on the terminal: progress lines, not library chatter.

A pipeline run logs through absl, TFX, Beam, TensorFlow and google-api-core, most of
it noise to a user. ``configure(verbose)`` keeps the lines that say how a run
progresses (components starting and finishing, cache hits, the Trainer's progress)
and every warning that is not known to be harmless; ``--verbose`` shows everything.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

from components.training.config import PROGRESS_PREFIX


class _ProgressFilter(logging.Filter):
    """Of absl's INFO lines, only those that say how a run progresses."""

    SHOWN = ("Component ", "A cached execution", PROGRESS_PREFIX)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return record.levelno >= logging.WARNING or (
            message.startswith(self.SHOWN) and not message.startswith("Component launcher")
        )


class _NoiseFilter(logging.Filter):
    """Warnings that are known to be harmless here and only bury the output."""

    NOISE = (
        "ArtifactQuery.property_predicate is not supported",  # TFX resolver internals
        "Tables initialized inside a tf.function",  # the transform layer's vocabulary table
        "SavedModel saved prior to TF 2.5",  # TFMA probing our SavedModel as a Keras model
        "is deprecated and will be removed",  # API deprecations inside TFX/TFMA/TF
        "Fail to find plots for model name",  # TFMA loading a candidate-vs-baseline evaluation
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(noise in record.getMessage() for noise in self.NOISE)


def _show_progress_only() -> None:
    from absl import logging as absl_logging

    # Through absl's verbosity flag, not Logger.setLevel: absl re-applies the flag's value to
    # its logger whenever flags are parsed again, which happens during a pipeline run.
    absl_logging.set_verbosity(absl_logging.INFO)
    logging.getLogger("absl").addFilter(_ProgressFilter())
    for handler in logging.getLogger().handlers:
        handler.addFilter(_NoiseFilter())


def configure(verbose: bool) -> None:
    """Logging and warnings for a CLI process (and the Beam worker processes it starts)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # The local runner re-logs every worker warning as one long proto dump.
        logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
        _show_progress_only()
    # TensorFlow's C++ start-up chatter (CUDA plugins, CPU features) is noise to a CLI user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if verbose else "3")
    # google-api-core warns on import that Python 3.10 is past its support window (TFX 1.16 needs
    # 3.10), in this process and in every Beam worker process, which inherit the environment.
    quiet = "ignore:You are using a non-supported Python version:FutureWarning"
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), quiet]))
    warnings.filterwarnings("ignore", message=".*non-supported Python version", category=FutureWarning)
