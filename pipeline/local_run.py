"""``quickdraw run``: the pipeline on this machine (LocalDagRunner + Beam DirectRunner).

MLMD lives in SQLite under the pipeline root, so a rerun reuses the cached
outputs of unchanged components. One run at a time per pipeline root: a second
``quickdraw run`` on the same root fails at once with a clear message rather
than interleaving its executions with the first one's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from pipeline import configs

if TYPE_CHECKING:  # TFX, TFMA and MLMD load in seconds: only when a run starts
    from pipeline.outcome import Outcome
    from pipeline.pipeline import PipelineSettings

LOCK_FILE = ".quickdraw-run.lock"


class PipelineRootBusy(RuntimeError):
    pass


@contextlib.contextmanager
def exclusive(pipeline_root: str) -> Iterator[None]:
    """Hold the pipeline root's lock (released by the OS if the process dies)."""
    os.makedirs(pipeline_root, exist_ok=True)
    path = os.path.join(pipeline_root, LOCK_FILE)
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise PipelineRootBusy(
                f"another `quickdraw run` (pid {holder}) is using the pipeline root {pipeline_root}; "
                "wait for it to finish or use another --pipeline-root"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()


def default_beam_args(beam_args: Sequence[str]) -> list[str]:
    """Local Beam defaults: in-process, unless the user's flags say otherwise."""
    args = list(beam_args)
    given = " ".join(args)
    if "--runner" not in given and "--direct_running_mode" not in given:
        args += ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    return args


def run(
    input_pattern: str,
    pipeline_root: str,
    serving_dir: str,
    settings: PipelineSettings | None = None,
    beam_args: Sequence[str] = (),
    pipeline_name: str = configs.PIPELINE_NAME,
) -> tuple[Outcome, float]:
    """Runs (or resumes) the pipeline; returns its outcome and the seconds it took."""
    from tfx import v1 as tfx

    from pipeline.outcome import outcome
    from pipeline.pipeline import PipelineSettings, create_pipeline, input_fingerprint, local_metadata_config

    settings = settings or PipelineSettings()
    if "://" not in pipeline_root:
        pipeline_root = os.path.abspath(pipeline_root)
    if "://" not in serving_dir:
        serving_dir = os.path.abspath(serving_dir)
    if "://" not in input_pattern:
        input_pattern = os.path.abspath(input_pattern)
    started = time.monotonic()
    with exclusive(pipeline_root):
        pipeline = create_pipeline(
            pipeline_name,
            pipeline_root,
            input_pattern,
            serving_dir,
            settings,
            metadata_connection_config=local_metadata_config(pipeline_root),
            beam_pipeline_args=default_beam_args(beam_args),
            input_fingerprint=input_fingerprint(input_pattern),
        )
        tfx.orchestration.LocalDagRunner().run(pipeline)
        result = outcome(pipeline_root, pipeline_name)
    return result, time.monotonic() - started
