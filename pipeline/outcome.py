"""What a pipeline run produced, read back from MLMD: blessing (and why), metrics, push.

``quickdraw run`` prints this as its summary; tests assert on it. A model that is
not blessed is a normal outcome, reported with the thresholds it missed.
"""

from __future__ import annotations

import dataclasses
import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.errors import UserError
from components.training import evaluation

_DONE = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)
_OUTPUTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
METRIC_LABELS = {
    evaluation.ACCURACY: "accuracy",
    evaluation.TOP_3: "top-3 accuracy",
    evaluation.TOP_5: "top-5 accuracy",
    evaluation.LOSS: "loss",
    evaluation.EXAMPLE_COUNT: "eval examples",
}


class RunNotFound(UserError, ValueError):
    """No pipeline metadata, no such run, or no run that got as far as asked."""


@dataclasses.dataclass
class NodeRun:
    """One component's latest finished execution in a pipeline run."""

    execution: metadata_store_pb2.Execution
    outputs: dict[str, list[metadata_store_pb2.Artifact]]

    @property
    def cached(self) -> bool:
        return self.execution.last_known_state == metadata_store_pb2.Execution.CACHED

    def uri(self, key: str) -> str:
        return self.outputs[key][0].uri

    def custom(self, key: str, name: str):
        value = self.outputs[key][0].custom_properties.get(name)
        if value is None:
            return None
        return value.string_value or value.int_value or value.double_value


@dataclasses.dataclass
class Outcome:
    run_id: str
    nodes: dict[str, NodeRun]
    blessed: bool
    reasons: list[str]  # why not blessed (empty when blessed)
    metrics: dict[str, float]  # overall slice
    pushed_to: str | None
    evaluation_uri: str

    def summary(self) -> str:
        shown = ", ".join(
            f"{label} {self.metrics[key]:.4g}" for key, label in METRIC_LABELS.items() if key in self.metrics
        )
        lines = [f"run {self.run_id}: {shown}"]
        if self.blessed:
            lines.append(
                f"Model blessed; pushed to {self.pushed_to}." if self.pushed_to else "Model blessed."
            )
        else:
            lines.append(f"Model not blessed: {'; '.join(self.reasons) or 'see the evaluation'}; not pushed.")
        lines.append(f"Evaluation (TFMA): {self.evaluation_uri}")
        return "\n".join(lines)


def _store(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def latest_run(
    metadata_path: str, pipeline_name: str, run_id: str | None = None, with_node: str | None = None
) -> tuple[str, dict[str, NodeRun]]:
    """A pipeline run's id and its finished components (by node id).

    ``run_id``, or else the newest run; with ``with_node``, the newest run in which that
    component finished (a run that died before its Evaluator has nothing to report).
    """
    store = _store(metadata_path)
    pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
    runs = store.get_children_contexts_by_context(pipeline.id) if pipeline is not None else []
    runs = [c for c in runs if c.type == "pipeline_run"]
    if not runs:
        raise RunNotFound(f"no run of pipeline {pipeline_name!r} recorded in {metadata_path}")
    if run_id is not None:
        runs = [c for c in runs if c.name == run_id]
        if not runs:
            raise RunNotFound(f"no run {run_id!r} of pipeline {pipeline_name!r} in {metadata_path}")
    node_contexts = [c for c in store.get_contexts_by_type("node") if c.name.startswith(f"{pipeline_name}.")]
    for run in sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id), reverse=True):
        nodes = _finished_nodes(store, run, node_contexts, len(pipeline_name) + 1)
        if with_node is None or with_node in nodes:
            return run.name, nodes
    raise RunNotFound(f"no run of pipeline {pipeline_name!r} has a finished {with_node}")


def _finished_nodes(store, run, node_contexts, prefix_length: int) -> dict[str, NodeRun]:
    in_run = {e.id for e in store.get_executions_by_context(run.id)}
    nodes: dict[str, NodeRun] = {}
    for node in node_contexts:
        done = [
            e
            for e in store.get_executions_by_context(node.id)
            if e.id in in_run and e.last_known_state in _DONE
        ]
        if not done:
            continue
        execution = max(done, key=lambda e: e.id)
        events = [e for e in store.get_events_by_execution_ids([execution.id]) if e.type in _OUTPUTS]
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        outputs: dict[str, list] = {}
        for event in events:
            outputs.setdefault(event.path.steps[0].key, []).append(artifacts[event.artifact_id])
        nodes[node.name[prefix_length:]] = NodeRun(execution, outputs)
    return nodes


def _threshold_reason(failure, labels: dict[str, str]) -> str:
    name = labels.get(failure.metric_key.name, failure.metric_key.name)
    value = failure.metric_value.double_value.value
    threshold = failure.metric_threshold
    if failure.metric_key.is_diff:
        allowed = -threshold.change_threshold.absolute.value
        return f"{name} changed by {value:+.4f} against the latest blessed model (allowed drop {max(allowed, 0):.4f})"
    if threshold.value_threshold.HasField("lower_bound"):
        return f"{name} {value:.4f} < threshold {threshold.value_threshold.lower_bound.value:.4f}"
    return f"{name} {value:.4f} fails {failure.message or 'its threshold'}"


def outcome(pipeline_root: str, pipeline_name: str, run_id: str | None = None) -> Outcome:
    """A run's outcome (default: the latest run), from the MLMD database under ``pipeline_root``."""
    import tensorflow_model_analysis as tfma

    from pipeline.pipeline import METADATA_FILE

    metadata_path = os.path.join(pipeline_root, METADATA_FILE)
    if not os.path.exists(metadata_path):
        raise RunNotFound(f"no pipeline metadata at {metadata_path}: is {pipeline_root} a pipeline root?")
    run_id, nodes = latest_run(metadata_path, pipeline_name, run_id, with_node="Evaluator")
    evaluator = nodes.get("Evaluator")
    if evaluator is None:
        raise RunNotFound(f"run {run_id} has no finished Evaluator")
    evaluation_uri = evaluator.uri("evaluation")
    validation = tfma.load_validation_result(evaluation_uri)
    reasons = [
        _threshold_reason(f, METRIC_LABELS)
        for per_slice in validation.metric_validations_per_slice
        for f in per_slice.failures
    ]
    result = tfma.load_eval_result(evaluation_uri)
    overall = result.get_metrics_for_slice() or {}
    metrics = {k: v["doubleValue"] for k, v in overall.items() if "doubleValue" in v}
    pusher = nodes.get("Pusher")
    pushed_to = None
    if pusher is not None and pusher.custom("pushed_model", "pushed"):
        pushed_to = pusher.custom("pushed_model", "pushed_destination")
    return Outcome(run_id, nodes, validation.validation_ok, reasons, metrics, pushed_to, evaluation_uri)
