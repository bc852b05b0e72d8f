"""The pipeline JSON that ``quickdraw kubeflow compile`` wrote, read as the KFP backend reads it.

Its tasks in the DAG's order, each with its component (inputs, outputs) and executor
(a container, a resolver query, or an importer). What ``run-local`` cannot run the way a pod would is
refused here, before any task starts: a ``gs://`` pipeline root, Beam on Dataflow, an
executor kind or a pipeline input this pipeline never compiles to.
"""

from __future__ import annotations

import dataclasses
import json
import os

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from components.errors import UserError

DATAFLOW_RUNNER = "--runner=DataflowRunner"


class SpecError(UserError, ValueError):
    """A pipeline JSON that run-local cannot run on this machine, and why."""


@dataclasses.dataclass(frozen=True)
class Task:
    """One task of the root DAG: what it consumes, what it runs, when it runs."""

    name: str
    spec: pipeline_spec_pb2.PipelineTaskSpec
    component: pipeline_spec_pb2.ComponentSpec
    executor: pipeline_spec_pb2.PipelineDeploymentConfig.ExecutorSpec

    @property
    def container(self) -> pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec | None:
        return self.executor.container if self.executor.HasField("container") else None

    @property
    def queries(self) -> dict[str, str]:
        """A resolver task's artifact queries: {output key: MLMD-style filter}."""
        return {k: q.filter for k, q in self.executor.resolver.output_artifact_queries.items()}

    @property
    def imported(self) -> tuple[str, dict] | None:
        """An importer task's (artifact URI, artifact type as JSON); None for other tasks."""
        if not self.executor.HasField("importer"):
            return None
        importer = self.executor.importer
        return importer.artifact_uri.constant_value.string_value, json_format.MessageToDict(
            importer.type_schema
        )

    @property
    def condition(self) -> str:
        """The trigger policy's condition (a ``tfx.dsl.Cond``), or "" when the task always runs."""
        return self.spec.trigger_policy.condition

    @property
    def caching(self) -> bool:
        return self.spec.caching_options.enable_cache

    def input_artifacts(self) -> dict[str, tuple[str, str]]:
        """{input key: (producer task, its output key)}."""
        return {
            key: (a.task_output_artifact.producer_task, a.task_output_artifact.output_artifact_key)
            for key, a in self.spec.inputs.artifacts.items()
        }

    def parameters(self) -> dict[str, pipeline_spec_pb2.Value]:
        """{input key: constant value}, as compiled (TFX writes the IR's ``Value`` form)."""
        return {key: p.runtime_value.constant_value for key, p in self.spec.inputs.parameters.items()}

    def upstream(self) -> set[str]:
        return set(self.spec.dependent_tasks) | {producer for producer, _ in self.input_artifacts().values()}


@dataclasses.dataclass(frozen=True)
class CompiledPipeline:
    name: str
    root: str  # runtimeConfig.gcsOutputDirectory: where the tasks write their artifacts
    tasks: tuple[Task, ...]  # in an order that runs every producer before its consumers


def load(path: str) -> CompiledPipeline:
    """Reads and checks a pipeline JSON; raises ``SpecError`` saying what to compile instead."""
    try:
        with open(path) as f:
            job = json.load(f)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file (write one with `quickdraw kubeflow compile`)") from None
    except json.JSONDecodeError as e:
        raise SpecError(f"{path} is not JSON: {e}") from None
    if not isinstance(job, dict) or "pipelineSpec" not in job:
        raise SpecError(
            f"{path} is not a pipeline job JSON of `quickdraw kubeflow compile` (no pipelineSpec)"
        )
    pipeline = pipeline_spec_pb2.PipelineSpec()
    try:
        json_format.ParseDict(job["pipelineSpec"], pipeline)
    except json_format.ParseError as e:
        raise SpecError(f"{path}: not a KFP v2 pipeline spec: {e}") from None
    root = job.get("runtimeConfig", {}).get("gcsOutputDirectory", "")
    if not root or "://" in root:
        raise SpecError(
            f"{path} was compiled for the pipeline root {root!r}; run-local writes artifacts on this machine: "
            "compile again with a local --pipeline-root (and --beam-runner DirectRunner)"
        )
    deployment = pipeline_spec_pb2.PipelineDeploymentConfig()
    json_format.ParseDict(json_format.MessageToDict(pipeline.deployment_spec), deployment)
    if pipeline.root.input_definitions.parameters or pipeline.root.input_definitions.artifacts:
        raise SpecError(f"{path}: pipeline inputs (runtime parameters) are not supported by run-local")
    tasks = {
        name: _task(path, name, spec, pipeline.components, deployment)
        for name, spec in pipeline.root.dag.tasks.items()
    }
    return CompiledPipeline(pipeline.pipeline_info.name, os.path.abspath(root), _in_dag_order(tasks))


def _task(path, name, spec, components, deployment) -> Task:
    component = components[spec.component_ref.name]
    if component.WhichOneof("implementation") != "executor_label":
        raise SpecError(f"{path}: task {name} is a sub-DAG; run-local runs flat pipelines only")
    executor = deployment.executors[component.executor_label]
    kind = executor.WhichOneof("spec")
    if kind not in ("container", "resolver", "importer"):
        raise SpecError(f"{path}: task {name} has a {kind} executor, which run-local does not run")
    if kind == "container" and DATAFLOW_RUNNER in executor.container.args:
        raise SpecError(
            f"{path}: task {name} runs Beam on Dataflow; run-local runs the tasks on this machine: "
            "compile again with --beam-runner DirectRunner"
        )
    for key, parameter in spec.inputs.parameters.items():
        if not parameter.runtime_value.HasField("constant_value"):
            raise SpecError(f"{path}: task {name}'s input {key} is not a constant; run-local needs constants")
    return Task(name, spec, component, executor)


def _in_dag_order(tasks: dict[str, Task]) -> tuple[Task, ...]:
    """Kahn's order, ties by name: the same order on every run of the same JSON."""
    waiting = {name: task.upstream() for name, task in tasks.items()}
    for name, needs in waiting.items():
        unknown = needs - tasks.keys()
        if unknown:
            raise SpecError(f"task {name} depends on tasks the pipeline does not have: {sorted(unknown)}")
    ordered: list[Task] = []
    while waiting:
        ready = sorted(name for name, needs in waiting.items() if not needs)
        if not ready:
            raise SpecError(f"the tasks {sorted(waiting)} depend on each other in a cycle")
        for name in ready:
            ordered.append(tasks[name])
            del waiting[name]
        for needs in waiting.values():
            needs.difference_update(ready)
    return tuple(ordered)
