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
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from components.errors import UserError
from pipeline.configs import PIPELINE_NAME

if TYPE_CHECKING:  # TFX, TFMA and MLMD load in seconds: only when a run starts
    from pipeline.configs import PipelineConfig
    from pipeline.outcome import Outcome

LOCK_FILE = ".quickdraw-run.lock"


class PipelineRootBusy(UserError):
    """Another process holds the directory: a `quickdraw run` its pipeline root, a `run-local` its workdir."""


@contextlib.contextmanager
def exclusive(
    directory: str, command: str = "quickdraw run", flag: str = "--pipeline-root"
) -> Iterator[None]:
    """Hold the directory's lock (released by the OS if the process dies); ``command`` and ``flag``
    name, in the message to a second process, who holds it and what to change."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, LOCK_FILE)
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise PipelineRootBusy(
                f"another `{command}` (pid {holder}) is using {directory}; "
                f"wait for it to finish or use another {flag}"
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


# TFX's Beam executors stage a copy of TFX for remote Beam workers unless the Beam args say how the workers get
# their packages (TFX's `dependency_utils` looks for these flags): an sdist of the installed TFX, built in a
# temporary folder that is never removed, ~1.3 s and 57 MB for each run of ExampleGen, StatisticsGen, Transform,
# Evaluator and BulkInferrer.
WORKER_PACKAGE_FLAGS = (
    "--extra_package",
    "--setup_file",
    "--requirements_file",
    "--worker_harness_container_image",
    "--sdk_container_image",
)
LOCAL_ENVIRONMENT = "local-environment"


def default_beam_args(beam_args: Sequence[str], image: str = LOCAL_ENVIRONMENT) -> list[str]:
    """Local Beam defaults: in-process, unless the user's flags say otherwise. On the DirectRunner, the workers
    run where the pipeline runs (this environment, or ``image`` in a pod): ``--sdk_container_image`` says so,
    the DirectRunner reads it no further, and TFX builds no copy of itself for them."""
    args = list(beam_args)
    given = " ".join(args)
    if "--runner" not in given and "--direct_running_mode" not in given:
        args += ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    direct = "--runner" not in given or "DirectRunner" in given
    if direct and not any(flag in given for flag in WORKER_PACKAGE_FLAGS):
        args.append(f"--sdk_container_image={image}")
    return args


def run(
    *,
    input_pattern: str,
    pipeline_root: str,
    serving_dir: str,
    settings: PipelineConfig | None = None,
    beam_args: Sequence[str] = (),
    pipeline_name: str = PIPELINE_NAME,
    code_fingerprints: Mapping[str, str] | None = None,
) -> tuple[Outcome, float]:
    """Runs (or resumes) the pipeline; returns its outcome and the seconds it took.
    ``code_fingerprints``: see ``create_pipeline`` (default: the installed code's)."""
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # not tfx.v1: see pipeline.pipeline

    from components.example_gen import QuickDrawExampleGen
    from pipeline import fingerprints
    from pipeline.configs import PipelineConfig
    from pipeline.outcome import outcome
    from pipeline.pipeline import create_pipeline, local_metadata_config
    from pipeline.runs import statistics_of_other_examples

    settings = settings or PipelineConfig()
    if "://" not in pipeline_root:
        pipeline_root = os.path.abspath(pipeline_root)
    if "://" not in serving_dir:
        serving_dir = os.path.abspath(serving_dir)
    if "://" not in input_pattern:
        input_pattern = os.path.abspath(input_pattern)
    started = time.monotonic()
    with exclusive(pipeline_root):
        code = dict(code_fingerprints or fingerprints.stage_fingerprints())
        corpus_fingerprint = fingerprints.input_fingerprint(input_pattern)
        # What this run's ExampleGen will be given: another set in an earlier run means other examples.
        example_gen = QuickDrawExampleGen(
            input_pattern, settings.conversion, code[fingerprints.EXAMPLE_GEN], corpus_fingerprint
        )
        baseline = statistics_of_other_examples(pipeline_root, pipeline_name, example_gen.exec_properties)
        pipeline = create_pipeline(
            pipeline_name=pipeline_name,
            input_pattern=input_pattern,
            pipeline_root=pipeline_root,
            serving_dir=serving_dir,
            settings=settings,
            metadata_connection_config=local_metadata_config(pipeline_root),
            beam_pipeline_args=default_beam_args(beam_args),
            input_fingerprint=corpus_fingerprint,
            code_fingerprints=code,
            drift_baseline=baseline,
        )
        LocalDagRunner().run(pipeline)
        result = outcome(pipeline_root, pipeline_name)
    return result, time.monotonic() - started
