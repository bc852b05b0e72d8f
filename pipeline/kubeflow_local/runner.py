"""``quickdraw kubeflow run-local``: a compiled pipeline JSON, task by task, on this machine.

The loop the KFP backend runs: for each task in the DAG's order, skip it when an
upstream task was skipped or its trigger condition is false; answer a resolver task from
the metadata store (the artifacts of every earlier local run); reuse an earlier execution
when the task's cache key matches (KFP's ``enableCache``: the same container, parameters,
input artifacts and output types); otherwise run the container's own command
(``launcher``) and record its outputs. The first failing task stops the run with its
exit code and the tail of its output. The run's outcome (data verdict, blessing and why,
push) is read from the artifacts, as ``quickdraw run`` reads its own.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Callable

from google.protobuf import json_format
from kfp.local import executor_input_utils, placeholder_utils

from components.data_validation import executor as data_gate
from components.data_validation.verdict import Verdict
from components.errors import UserError
from components.infra_validation import executor as infra_validation
from components.training.config import PROGRESS_PREFIX
from pipeline.kubeflow_local import conditions, launcher
from pipeline.kubeflow_local.metadata import Artifact, LocalMetadata
from pipeline.kubeflow_local.spec import CompiledPipeline, Task, load
from pipeline.local_run import exclusive
from pipeline.outcome import Outcome
from pipeline.runs import (
    BULK_INFERRER,
    DATA_GATE,
    EVALUATOR,
    HYPERPARAMETERS_IMPORTER,
    INFRA_VALIDATOR,
    PUSHER,
    TUNER,
    BulkInference,
    Hyperparameters,
    InfraValidation,
)

WORKDIR = "run-local"  # default: under the compiled pipeline root
LOGS = "logs"
SUCCEEDED, CACHED, SKIPPED, RESOLVED, FAILED = "succeeded", "cached", "skipped", "resolved", "failed"
IMPORTED = "imported"


class TaskFailed(UserError):
    """A task exited non-zero: the run stops there, as it does on the backend."""


@dataclasses.dataclass
class TaskRun:
    task: str
    state: str
    detail: str = ""
    outputs: dict[str, list[Artifact]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class LocalRun:
    run_id: str
    pipeline_root: str
    workdir: str
    tasks: dict[str, TaskRun]
    outcome: Outcome | None  # None: the pipeline has no Evaluator/DataGate to read an outcome from

    def uri(self, task: str, key: str) -> str:
        return self.tasks[task].outputs[key][0]["uri"]


def run_local(
    spec_path: str,
    workdir: str | None = None,
    cache: bool = True,
    say: Callable[[str], None] = functools.partial(print, flush=True),
    verbose: bool = False,
) -> LocalRun:
    """Runs every task of the compiled pipeline; raises ``TaskFailed`` at the first that fails."""
    pipeline = load(spec_path)
    workdir = os.path.abspath(workdir or os.path.join(pipeline.root, WORKDIR))
    with exclusive(workdir, "quickdraw kubeflow run-local", "--workdir"):
        return _Run(pipeline, workdir, cache, say, verbose).all_tasks()


class _Run:
    """One run of the pipeline: the tasks done so far and what each left."""

    def __init__(self, pipeline: CompiledPipeline, workdir: str, cache: bool, say, verbose: bool) -> None:
        self.pipeline, self.workdir, self.cache, self.say, self.verbose = (
            pipeline,
            workdir,
            cache,
            say,
            verbose,
        )
        self.store = LocalMetadata(workdir)
        self.run_id = executor_input_utils.get_local_pipeline_resource_name(pipeline.name)
        self.done: dict[str, TaskRun] = {}

    def all_tasks(self) -> LocalRun:
        tasks = self.pipeline.tasks
        self.say(
            f"run {self.run_id}: {len(tasks)} tasks; artifacts under {self.pipeline.root}, logs under {self.workdir}"
        )
        width = max(len(t.name) for t in tasks)
        for number, task in enumerate(tasks, 1):
            label = f"[{number:>2}/{len(tasks)}] {task.name:<{width}}"
            result = self.one(task, label)
            self.done[task.name] = result
            self.say(f"{label}  {result.state}" + (f": {result.detail}" if result.detail else ""))
            if result.state == FAILED:
                raise TaskFailed(f"task {task.name} {result.detail}")
        return LocalRun(
            self.run_id, self.pipeline.root, self.workdir, self.done, _outcome(self.run_id, self.done)
        )

    def one(self, task: Task, label: str) -> TaskRun:
        skipped = sorted(t for t in task.upstream() if self.done[t].state == SKIPPED)
        if skipped:
            return TaskRun(task.name, SKIPPED, f"upstream {', '.join(skipped)} skipped")
        inputs = {
            key: self.done[producer].outputs.get(out, [])
            for key, (producer, out) in task.input_artifacts().items()
        }
        if task.condition and not conditions.holds(task.condition, {"artifacts": _listed(inputs)}):
            return TaskRun(task.name, SKIPPED, f"condition {task.condition} is false")
        if task.imported is not None:
            uri, artifact_type = task.imported
            (key,) = task.component.output_definitions.artifacts
            artifact = self.store.imported(self.run_id, task.name, key, uri, artifact_type)
            return TaskRun(task.name, IMPORTED, uri, {key: [artifact]})
        if task.container is None:
            return _resolve(task, inputs, self.store)
        key = _cache_key(task, inputs) if self.cache and task.caching else None
        hit = self.store.cached(key) if key else None
        if hit is not None:
            return TaskRun(task.name, CACHED, f"outputs of run {hit[0]}", hit[1])
        return self.execute(task, inputs, key, label)

    def execute(self, task: Task, inputs: dict[str, list[Artifact]], key: str | None, label: str) -> TaskRun:
        """The container task's own command, as a subprocess; its outputs recorded."""
        root = self.pipeline.root
        parameters = {k: launcher.on_this_machine(v) for k, v in task.parameters().items()}
        task_root = executor_input_utils.construct_local_task_root(root, self.run_id, task.name)
        built = launcher.executor_input(task, parameters, inputs, task_root, self.store.new_name)
        argv = launcher.command(task, built, self.run_id, root)
        self.say(f"{label}  running")
        echo = (lambda line: self.say(f"    {line}")) if self.verbose else _progress(self.say)
        log = os.path.join(self.workdir, LOGS, self.run_id, f"{task.name}.log")
        finished = launcher.run(argv, log, echo)
        if finished.returncode != 0:
            tail = "\n".join(f"    {line}" for line in finished.tail)
            return TaskRun(
                task.name,
                FAILED,
                f"failed with exit code {finished.returncode} after {finished.seconds:.0f} s; the last "
                f"{len(finished.tail)} lines of its output:\n{tail}\nfull log: {finished.log}",
            )
        outputs = launcher.outputs(task, built)
        self.store.record(self.run_id, task.name, task_root, key, outputs)
        return TaskRun(task.name, SUCCEEDED, f"in {finished.seconds:.0f} s", outputs)


def _progress(say: Callable[[str], None]) -> Callable[[str], None]:
    """Without --verbose, only the lines that say how a long task progresses (the Trainer's)."""

    def echo(line: str) -> None:
        if PROGRESS_PREFIX in line:
            say("    " + line[line.index(PROGRESS_PREFIX) :])

    return echo


def _listed(inputs: dict[str, list[Artifact]]) -> dict[str, dict[str, list[Artifact]]]:
    return {key: {"artifacts": artifacts} for key, artifacts in inputs.items()}


def _resolve(task: Task, inputs: dict[str, list[Artifact]], store: LocalMetadata) -> TaskRun:
    """A resolver task: each output is the newest recorded artifact its query matches (after the
    query's placeholders are filled from the task's inputs, as the backend's driver does)."""
    outputs = {}
    for key, query in task.queries.items():
        if "{{$.inputs" in query and not all(inputs.values()):
            outputs[key] = []  # the query needs an input an upstream resolver did not find
            continue
        resolved = placeholder_utils.resolve_io_placeholders(
            {"inputs": {"artifacts": _listed(inputs)}}, query
        )
        outputs[key] = store.latest(resolved)
    found = ", ".join(f"{key} {a[0]['name']}" if a else f"no {key}" for key, a in outputs.items())
    return TaskRun(task.name, RESOLVED, found, outputs)


def _cache_key(task: Task, inputs: dict[str, list[Artifact]]) -> str:
    """KFP's cache key, in substance: the container, the parameters, the input artifacts' names and the
    output artifacts' types. A changed parameter or a re-run producer gives another key."""
    assert task.container is not None
    key = {
        "container": json_format.MessageToDict(task.container),
        "parameters": {k: json_format.MessageToDict(v) for k, v in task.parameters().items()},
        "inputs": {k: [a["name"] for a in artifacts] for k, artifacts in inputs.items()},
        "outputs": {
            k: json_format.MessageToDict(v.artifact_type)
            for k, v in task.component.output_definitions.artifacts.items()
        },
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _outcome(run_id: str, done: dict[str, TaskRun]) -> Outcome | None:
    """The run's outcome from its artifacts: the data verdict, the blessing and why, the push."""
    gate = done.get(DATA_GATE)
    verdict = Verdict.read(gate.outputs[data_gate.VERDICT_KEY][0]["uri"]) if gate and gate.outputs else None
    evaluator = done.get(EVALUATOR)
    if evaluator is None or not evaluator.outputs:
        if verdict is None:
            return None
        return Outcome.not_trained(run_id, {}, verdict)
    pushed_to = None
    pusher = done.get(PUSHER)
    if pusher is not None and pusher.outputs:
        pushed = pusher.outputs["pushed_model"][0].get("metadata", {})
        if pushed.get("pushed"):
            pushed_to = pushed.get("pushed_destination")
    result = Outcome.evaluated(run_id, {}, evaluator.outputs["evaluation"][0]["uri"], pushed_to, verdict)
    infra = done.get(INFRA_VALIDATOR)
    if infra is not None and infra.outputs:
        blessing = infra.outputs[infra_validation.BLESSING_KEY][0].get("metadata", {})
        result.infra_validation = InfraValidation(
            bool(blessing.get(infra_validation.BLESSED)), blessing.get(infra_validation.REASON, "")
        )
    bulk_inferrer = done.get(BULK_INFERRER)
    if bulk_inferrer is not None and bulk_inferrer.outputs:
        result.bulk_inference = BulkInference.at(bulk_inferrer.outputs["inference_result"][0]["uri"])
    tuner, importer = done.get(TUNER), done.get(HYPERPARAMETERS_IMPORTER)
    if tuner is not None and tuner.outputs:
        uri = {key: artifacts[0]["uri"] for key, artifacts in tuner.outputs.items()}
        result.hyperparameters = Hyperparameters.tuned(uri["tuner_results"], uri["best_hyperparameters"])
    elif importer is not None and importer.outputs:
        result.hyperparameters = Hyperparameters.imported(importer.outputs["result"][0]["uri"])
    return result
