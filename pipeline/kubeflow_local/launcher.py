"""What the KFP launcher does for one container task, with a subprocess where the pod would be.

The executor input is built by KFP's own code (``kfp.local.executor_input_utils``: the
parameters, the output artifacts under the task root, the output file), then given what
``kfp.local`` does not do yet and the backend does: the input artifacts the producers wrote,
the deprecated ``parameters`` field TFX's entrypoint reads (TFX compiles IR ``Value``s,
and its entrypoint takes them from there when no inputs spec is passed), and a resource name
per artifact (the Evaluator records the model it blessed by that name, and the next run's
resolver finds the model by it). The container's command and arguments are resolved with
KFP's ``placeholder_utils`` (``{{$}}`` is the executor input as JSON) and run as a
subprocess of this environment. The outputs are then read back from the executor output
file as KFP does (``executor_output_utils``).

One stand-in for the image: the image copies this checkout to ``/pipeline``
(``kubeflow/Dockerfile``), so a parameter naming a file there (the built-in schemas) is
read from the directory this ``components`` package was installed from.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable

from google.protobuf import json_format
from kfp.local import executor_input_utils, executor_output_utils, placeholder_utils
from kfp.pipeline_spec import pipeline_spec_pb2

import components
from pipeline.kubeflow_local import forkserver
from pipeline.kubeflow_local.metadata import Artifact
from pipeline.kubeflow_local.spec import Task
from pipeline.kubeflow_v2 import IMAGE_PROJECT_DIR

TAIL_LINES = 40
_PYTHON = ("python", "python3")


@dataclasses.dataclass
class Finished:
    returncode: int
    seconds: float
    log: str
    tail: list[str]


def checkout_dir() -> str:
    """Where the image's ``/pipeline`` lies on this machine: the directory holding ``components``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(components.__file__)))


def on_this_machine(value: pipeline_spec_pb2.Value) -> pipeline_spec_pb2.Value:
    """A parameter naming a file in the image's copy of the checkout, pointed at this checkout's."""
    prefix = IMAGE_PROJECT_DIR + "/"
    if value.WhichOneof("value") == "string_value" and value.string_value.startswith(prefix):
        local = os.path.join(checkout_dir(), value.string_value[len(prefix) :])
        if not os.path.exists(value.string_value) and os.path.exists(local):
            return pipeline_spec_pb2.Value(string_value=local)
    return value


def executor_input(
    task: Task,
    parameters: dict[str, pipeline_spec_pb2.Value],
    inputs: dict[str, list[Artifact]],
    task_root: str,
    new_name: Callable[[], str],
) -> pipeline_spec_pb2.ExecutorInput:
    """The executor input of a container task, as the launcher hands it to the container."""
    without_artifacts = pipeline_spec_pb2.ComponentSpec()
    without_artifacts.CopyFrom(task.component)
    without_artifacts.input_definitions.ClearField("artifacts")  # kfp.local refuses them; added below
    arguments = {key: getattr(value, value.WhichOneof("value")) for key, value in parameters.items()}
    built = executor_input_utils.construct_executor_input(without_artifacts, arguments, task_root)
    for key, value in parameters.items():
        built.inputs.parameters[key].CopyFrom(value)
    for key, artifacts in inputs.items():
        listed = built.inputs.artifacts[key]
        for artifact in artifacts:
            json_format.ParseDict(_runtime_fields(artifact), listed.artifacts.add())
    for artifacts in built.outputs.artifacts.values():
        for artifact in artifacts.artifacts:
            artifact.name = new_name()
    return built


def _runtime_fields(artifact: Artifact) -> Artifact:
    return {k: v for k, v in artifact.items() if k in ("name", "type", "uri", "metadata")}


def command(
    task: Task, built: pipeline_spec_pb2.ExecutorInput, pipeline_resource: str, pipeline_root: str
) -> list[str]:
    """The container's command line with every placeholder resolved (KFP's placeholder code)."""
    container = task.container
    assert container is not None, f"{task.name} is not a container task"
    as_dict = executor_input_utils.executor_input_to_dict(built, task.component)
    resolved = placeholder_utils.replace_placeholders(
        list(container.command) + list(container.args),
        as_dict,
        pipeline_resource,
        task.name,
        pipeline_root,
    )
    if resolved and resolved[0] in _PYTHON:
        resolved[0] = sys.executable  # the image's python: this environment's
    return resolved


def run(argv: list[str], log: str, echo: Callable[[str], None] | None) -> Finished:
    """Runs the task's command, its output to ``log``; ``echo`` sees each line as it comes."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    started = time.monotonic()
    with open(log, "w") as out:
        module = forkserver.module_of(argv)
        process: subprocess.Popen | forkserver.Forked = (
            forkserver.Forked(module, argv[3:], env)
            if module
            else subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, errors="replace"
            )
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                tail.append(line.rstrip("\n"))
                if echo is not None:
                    echo(line.rstrip("\n"))
            returncode = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
    return Finished(returncode, time.monotonic() - started, log, list(tail))


def outputs(task: Task, built: pipeline_spec_pb2.ExecutorInput) -> dict[str, list[Artifact]]:
    """The task's output artifacts: as its executor output file lists them (with their metadata),
    else as the executor input declared them (what the launcher records for a silent executor)."""
    written = executor_output_utils.load_executor_output(built.outputs.output_file)
    written = executor_output_utils.add_type_to_executor_output(built, written)
    result = {}
    for key, declared in built.outputs.artifacts.items():
        listed = written.artifacts[key].artifacts if key in written.artifacts else declared.artifacts
        artifacts = []
        for produced, expected in zip(listed, declared.artifacts):
            artifact = pipeline_spec_pb2.RuntimeArtifact()
            artifact.CopyFrom(produced)
            artifact.name = artifact.name or expected.name
            artifact.type.CopyFrom(expected.type)
            artifacts.append(json_format.MessageToDict(artifact))
        result[key] = artifacts
    return result
