"""What a pipeline run produced, read back from MLMD: the data verdict, blessing (and why), metrics, push.

``quickdraw run`` prints this as its summary; tests assert on it. Two normal outcomes
besides a pushed model: data with anomalies stops the run before training (reported
one line per anomaly, with the artifact holding them), and a model that is not
blessed is reported with the thresholds it missed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.data_validation import executor as data_gate
from components.errors import UserError
from components.training import evaluation
from pipeline.fingerprints import DATA_GATE, EXAMPLE_GEN

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
class DataVerdict:
    """The DataGate's decision: every anomaly as one line, the notes on skew and drift."""

    passed: bool
    proceeded: bool  # trained despite anomalies (--proceed-on-anomalies)
    lines: list[str]
    notes: list[str]
    uri: str  # the DataGate's anomalies artifact
    validator_uri: str  # ExampleValidator's

    @classmethod
    def of(cls, node: NodeRun) -> DataVerdict:
        return cls.at(node.uri(data_gate.VERDICT_KEY))

    @classmethod
    def at(cls, uri: str) -> DataVerdict:
        """The verdict in a DataGate ``verdict`` artifact's directory."""
        record = data_gate.read_verdict(uri)
        return cls(
            bool(record["passed"]),
            bool(record["proceeded_despite_anomalies"]),
            list(record["lines"]),
            list(record["notes"]),
            uri,
            record["example_validator_anomalies"],
        )

    def summary(self) -> list[str]:
        where = f"Anomalies: {self.uri} (ExampleValidator's per split: {self.validator_uri})"
        if self.passed and not self.lines:
            return []
        head = (
            f"Data anomalies ({len(self.lines)}), trained anyway (--proceed-on-anomalies):"
            if self.proceeded
            else f"Stopped before Transform and training: the data has {len(self.lines)} anomalies:"
        )
        return [head, *(f"  {line}" for line in self.lines), where]


@dataclasses.dataclass
class Outcome:
    run_id: str
    nodes: dict[str, NodeRun]
    blessed: bool
    reasons: list[str]  # why not blessed (empty when blessed)
    metrics: dict[str, float]  # overall slice
    pushed_to: str | None
    evaluation_uri: str | None  # None: not trained (stopped by the data validation)
    data: DataVerdict | None = None  # None: a run from before the DataGate existed

    @property
    def trained(self) -> bool:
        return self.evaluation_uri is not None

    def summary(self) -> str:
        if not self.trained:
            lines = [f"run {self.run_id}: not trained", *(self.data.summary() if self.data else [])]
            lines.append("Nothing pushed. To train anyway: --proceed-on-anomalies.")
            return "\n".join(lines)
        shown = ", ".join(
            f"{label} {self.metrics[key]:.4g}" for key, label in METRIC_LABELS.items() if key in self.metrics
        )
        lines = [f"run {self.run_id}: {shown}", *(self.data.summary() if self.data else [])]
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


def _recorded(value: metadata_store_pb2.Value | None):
    if value is None:
        return None
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def statistics_of_other_examples(
    metadata_path: str, pipeline_name: str, example_gen_parameters: Mapping[str, Any]
) -> str | None:
    """The drift baseline: the statistics of the newest run whose ExampleGen had other parameters (other
    input files, settings or code: other examples), or None. Unchanged reruns get the same answer, so the
    DataGate stays cached; after a corpus changes, drift is measured against the corpus before it."""
    if not os.path.exists(metadata_path):
        return None
    store = _store(metadata_path)
    pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline is None:
        return None
    runs = [c for c in store.get_children_contexts_by_context(pipeline.id) if c.type == "pipeline_run"]
    node_contexts = [c for c in store.get_contexts_by_type("node") if c.name.startswith(f"{pipeline_name}.")]
    wanted = {k: v for k, v in example_gen_parameters.items() if v is not None}
    for run in sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id), reverse=True):
        nodes = _finished_nodes(store, run, node_contexts, len(pipeline_name) + 1)
        example_gen, statistics = nodes.get(EXAMPLE_GEN), nodes.get("StatisticsGen")
        if example_gen is None or statistics is None:
            continue
        recorded = {k: _recorded(example_gen.execution.custom_properties.get(k)) for k in wanted}
        if recorded != wanted:
            return statistics.uri("statistics")
    return None


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
    from pipeline.pipeline import METADATA_FILE

    metadata_path = os.path.join(pipeline_root, METADATA_FILE)
    if not os.path.exists(metadata_path):
        raise RunNotFound(f"no pipeline metadata at {metadata_path}: is {pipeline_root} a pipeline root?")
    newest_id, newest = latest_run(metadata_path, pipeline_name, run_id)
    if DATA_GATE in newest:
        verdict = DataVerdict.of(newest[DATA_GATE])
        if not verdict.passed:
            return Outcome(newest_id, newest, False, [], {}, None, None, verdict)
    run_id, nodes = latest_run(metadata_path, pipeline_name, run_id, with_node="Evaluator")
    evaluator = nodes.get("Evaluator")
    if evaluator is None:
        raise RunNotFound(f"run {run_id} has no finished Evaluator")
    evaluation_uri = evaluator.uri("evaluation")
    blessed, reasons, metrics = evaluation_of(evaluation_uri)
    pusher = nodes.get("Pusher")
    pushed_to = None
    if pusher is not None and pusher.custom("pushed_model", "pushed"):
        pushed_to = pusher.custom("pushed_model", "pushed_destination")
    data = DataVerdict.of(nodes[DATA_GATE]) if DATA_GATE in nodes else None
    return Outcome(run_id, nodes, blessed, reasons, metrics, pushed_to, evaluation_uri, data)


def evaluation_of(evaluation_uri: str) -> tuple[bool, list[str], dict[str, float]]:
    """From an Evaluator's ``evaluation`` artifact: blessed, why not (one line per failed threshold),
    and the overall slice's metrics."""
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(evaluation_uri)
    reasons = [
        _threshold_reason(f, METRIC_LABELS)
        for per_slice in validation.metric_validations_per_slice
        for f in per_slice.failures
    ]
    overall = tfma.load_eval_result(evaluation_uri).get_metrics_for_slice() or {}
    metrics = {k: v["doubleValue"] for k, v in overall.items() if "doubleValue" in v}
    return validation.validation_ok, reasons, metrics
