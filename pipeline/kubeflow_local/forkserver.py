"""Each task in a process of its own, without each paying for TFX's imports.

A container task's command is ``python -m <TFX's Kubeflow v2 entrypoint> ...``: a fresh
interpreter whose first ~5 s go to importing TFX (TensorFlow, TFMA, Beam, kfp) before the
executor does anything; in a dozen tasks that is most of a small pipeline's run. Python's
``forkserver`` start method removes that cost and keeps the isolation: one server process
imports the entrypoint module once (no task's state, no module of this project), and each
task is a fresh fork of it that runs the module as ``python -m`` would (``runpy``: the same
``__main__``, ``sys.argv``, exit code), with the task's environment and its output (Python's
and native code's, file descriptors 1 and 2) on a pipe to the runner. Before that, as
multiprocessing does in every child, the fork imports this module and the runner's main
module (``pipeline.cli``: argument parsing and the settings' dataclasses). A task's failure,
crash or kill stays in its own process, as in a pod. Commands that are not the entrypoint
run as plain subprocesses.
"""

from __future__ import annotations

import multiprocessing
import os
import runpy
import sys
from collections.abc import Mapping
from multiprocessing.connection import Connection

ENTRYPOINT = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"


def module_of(argv: list[str]) -> str | None:
    """The module a ``python -m MODULE ...`` command of this interpreter runs, when it is the entrypoint."""
    if len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m" and argv[2] == ENTRYPOINT:
        return argv[2]
    return None


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    # Takes effect when the server starts (the first task of this process); a server started earlier by
    # other code only makes the tasks pay their imports again.
    context.set_forkserver_preload([ENTRYPOINT])
    return context


class Forked:
    """A task forked from the server, with the part of ``subprocess.Popen``'s interface the launcher uses:
    ``stdout`` (its output, as text lines), ``wait()`` (the exit code; -N when killed by signal N), ``kill()``."""

    def __init__(self, module: str, args: list[str], environ: Mapping[str, str]) -> None:
        context = _context()
        reader, writer = context.Pipe(duplex=False)
        self._process = context.Process(target=_run_module, args=(module, args, writer, dict(environ)))
        self._process.start()
        writer.close()
        self._reader = reader
        self.stdout = open(reader.fileno(), errors="replace", closefd=False)

    def wait(self) -> int:
        self._process.join()
        self.stdout.close()
        self._reader.close()
        assert self._process.exitcode is not None
        return self._process.exitcode

    def kill(self) -> None:
        self._process.kill()


def _run_module(module: str, args: list[str], output: Connection, environ: dict[str, str]) -> None:
    """In the forked task: its output on the pipe, its environment, then the module as ``__main__``."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    output.close()
    sys.stdout.reconfigure(line_buffering=True)
    # Updated, not replaced: what the entrypoint's imports set in the server (TF_USE_LEGACY_KERAS=1 by
    # tensorflow-transform, TensorFlow's KMP_* and TF2_BEHAVIOR) stays, as in a process that imported them itself.
    os.environ.update(environ)
    sys.argv = [module, *args]  # runpy puts the module's file first, as `python -m` does
    runpy.run_module(module, run_name="__main__", alter_sys=True)
