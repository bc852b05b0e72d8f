"""What a pipeline run recorded, read back from MLMD in one place.

The pipeline's node ids (the names ``create_pipeline`` gives its components, and the
keys of every run's ``nodes``), finding runs under a pipeline root (newest first, the
latest, or by id; the newest in which a given component finished), a run's finished
components with their output artifacts, and the DataGate's ``Verdict``. The run summary
(``outcome``), the report, ``schema infer``, ``quickdraw run``'s drift baseline, the
tests and the benchmarks all read runs through here.

Importing this module is cheap: MLMD is loaded only when a store is opened.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from components.data_validation.verdict import Verdict
from components.errors import UserError
from components.training.config import hyperparameter_values

if TYPE_CHECKING:
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

# The pipeline's node ids, in the order the components run.
EXAMPLE_GEN = "QuickDrawExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
DATA_GATE = "DataGate"
TRANSFORM = "Transform"
TUNER = "Tuner"  # only with --tune
HYPERPARAMETERS_IMPORTER = "hyperparameters_importer"  # only with --hyperparameters FILE
TRAINER = "Trainer"
EVALUATOR = "Evaluator"
INFRA_VALIDATOR = "InfraValidator"
PUSHER = "Pusher"
BULK_INFERRER = "BulkInferrer"  # only with --bulk-infer
COMPONENTS = (
    EXAMPLE_GEN,
    STATISTICS_GEN,
    SCHEMA_GEN,
    EXAMPLE_VALIDATOR,
    DATA_GATE,
    TRANSFORM,
    TRAINER,
    EVALUATOR,
    INFRA_VALIDATOR,
    PUSHER,
)
# The components that run only when the DataGate passed the data (its `tfx.dsl.Cond`; on Kubeflow a trigger).
# TUNER and BULK_INFERRER (gated too) and HYPERPARAMETERS_IMPORTER are optional: not in COMPONENTS.
GATED = (TRANSFORM, TRAINER, EVALUATOR, INFRA_VALIDATOR, PUSHER)
BLESSED_MODEL_RESOLVER = "latest_blessed_model_resolver"

METADATA_FILE = "metadata.sqlite"  # MLMD's SQLite database under a local pipeline root


class RunNotFound(UserError, ValueError):
    """No pipeline metadata, no such run, or no run that got as far as asked."""


@dataclasses.dataclass
class NodeRun:
    """One component's latest finished execution in a pipeline run, with its output artifacts by key."""

    execution: metadata_store_pb2.Execution
    outputs: dict[str, list[metadata_store_pb2.Artifact]]

    @property
    def cached(self) -> bool:
        from ml_metadata.proto import metadata_store_pb2

        return self.execution.last_known_state == metadata_store_pb2.Execution.CACHED

    def uri(self, key: str) -> str:
        return self.outputs[key][0].uri

    def custom(self, key: str, name: str):
        """A custom property of the first ``key`` artifact (None when it is not recorded)."""
        return _value(self.outputs[key][0].custom_properties.get(name))

    def parameter(self, name: str):
        """An execution parameter as recorded (None when it is not)."""
        return _value(self.execution.custom_properties.get(name))


@dataclasses.dataclass
class Run:
    """A pipeline run: its id and the components that finished in it (completed or cached)."""

    run_id: str
    nodes: dict[str, NodeRun]

    def verdict(self) -> Verdict | None:
        """The DataGate's verdict; None when the gate did not finish in this run."""
        gate = self.nodes.get(DATA_GATE)
        return Verdict.read(gate.uri("verdict")) if gate is not None else None

    def hyperparameters(self) -> Hyperparameters | None:
        """Where the Trainer's hyperparameters came from (the Tuner or an Importer), and its trials; None
        when it trained on the settings alone."""
        if TUNER in self.nodes:
            tuner = self.nodes[TUNER]
            return Hyperparameters.tuned(tuner.uri("tuner_results"), tuner.uri("best_hyperparameters"))
        if HYPERPARAMETERS_IMPORTER in self.nodes:
            return Hyperparameters.imported(self.nodes[HYPERPARAMETERS_IMPORTER].uri("result"))
        return None

    def bulk_inference(self) -> BulkInference | None:
        """The BulkInferrer's output; None when it did not run (no ``--bulk-infer``)."""
        node = self.nodes.get(BULK_INFERRER)
        return None if node is None else BulkInference.at(node.uri("inference_result"))

    def infra_validation(self) -> InfraValidation | None:
        """The InfraValidator's verdict on the candidate; None when it did not run (runs from before it)."""
        node = self.nodes.get(INFRA_VALIDATOR)
        if node is None:
            return None
        return InfraValidation(
            bool(node.custom("blessing", "blessed")), node.custom("blessing", "reason") or ""
        )


@dataclasses.dataclass(frozen=True)
class BulkInference:
    """Where TFX's BulkInferrer wrote its ``PredictionLog``s, and whether it scored at all (it skips a model
    the Evaluator did not bless)."""

    uri: str
    scored: bool

    @classmethod
    def at(cls, uri: str) -> BulkInference:
        """The InferenceResult folder ``uri``, scored when it holds prediction logs."""
        import tensorflow as tf

        return cls(uri, bool(tf.io.gfile.glob(os.path.join(uri, PREDICTION_LOGS))))

    def summary(self) -> str:
        if self.scored:
            return (
                "BulkInferrer: the blessed model scored the train and eval examples; `quickdraw disputes` lists "
                "the drawings it disputes (and the report shows them)."
            )
        return "BulkInferrer: nothing scored (it skips a model the Evaluator did not bless)."


PREDICTION_LOGS = "prediction_logs-*"  # BulkInferrer's files in its InferenceResult


@dataclasses.dataclass(frozen=True)
class InfraValidation:
    """Whether ``quickdraw serve`` loaded the candidate and answered as the model does, and why not."""

    blessed: bool
    reason: str  # empty when blessed

    def summary(self) -> str:
        if self.blessed:
            return "Served by `quickdraw serve` and answered as in-process (InfraValidator); warm-up requests written."
        return f"InfraValidator refused the model: {self.reason}."


TUNER_RESULTS_FILE = "tuner_results.json"  # TFX's Tuner: its trials, best first ({trial_id, score, values…})


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """The hyperparameters a run's Trainer used over its settings, where from, and the Tuner's trials."""

    source: str  # "the Tuner", or the imported artifact's folder
    values: dict[str, Any]
    trials: list[dict[str, Any]]  # best first: trial_id, score (eval top-1), and the values tried

    @classmethod
    def tuned(cls, tuner_results: str, best_hyperparameters: str) -> Hyperparameters:
        """From the Tuner's two artifacts (their folders)."""
        trials = _read_json(tuner_results, TUNER_RESULTS_FILE)
        return cls("the Tuner", hyperparameter_values(_read_json(best_hyperparameters)), trials)

    @classmethod
    def imported(cls, uri: str) -> Hyperparameters:
        """From an earlier result that an Importer brought in (``--hyperparameters FILE``)."""
        return cls(uri, hyperparameter_values(_read_json(uri)), [])

    def summary(self) -> str:
        chosen = ", ".join(f"{name} {value:g}" for name, value in self.values.items())
        if self.trials:
            best = self.trials[0]["score"]
            return f"Hyperparameters: the Tuner's best of {len(self.trials)} trials (eval top-1 {best:.4f}): {chosen}."
        return f"Hyperparameters: from {self.source}: {chosen}."


def _read_json(folder: str, name: str | None = None) -> Any:
    """A JSON file of an artifact's folder: ``name``, or the folder's only file (as TFX's Trainer reads
    a HyperParameters artifact)."""
    import json

    import tensorflow as tf

    if name is None:
        (name,) = [f for f in tf.io.gfile.listdir(folder) if not f.startswith(".")]
    with tf.io.gfile.GFile(os.path.join(folder, name)) as f:
        return json.load(f)


def metadata_path(pipeline_root: str) -> str:
    return os.path.join(pipeline_root, METADATA_FILE)


def _value(value):
    if value is None:
        return None
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _open(path: str) -> metadata_store.MetadataStore:
    """The store, read-only. A run killed inside a metadata write leaves SQLite's rollback journal beside
    the file, and only a writer can roll it back (a read-only connection fails with "attempt to write a
    readonly database"): then the store is opened read-write, which rolls the killed transaction back, as
    the next run's own connection would."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    try:
        return metadata_store.MetadataStore(config)
    except RuntimeError as error:
        if "readonly database" not in str(error) or not os.path.exists(f"{path}-journal"):
            raise
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    return metadata_store.MetadataStore(config)


class Runs:
    """The runs of one pipeline recorded under a pipeline root, newest first."""

    def __init__(self, pipeline_root: str, pipeline_name: str) -> None:
        self.path = metadata_path(pipeline_root)
        self.pipeline_name = pipeline_name
        if not os.path.exists(self.path):
            raise RunNotFound(f"no pipeline metadata at {self.path}: is {pipeline_root} a pipeline root?")
        self._store = _open(self.path)
        pipeline = self._store.get_context_by_type_and_name("pipeline", pipeline_name)
        contexts = self._store.get_children_contexts_by_context(pipeline.id) if pipeline is not None else []
        self._runs = sorted(
            (c for c in contexts if c.type == "pipeline_run"),
            key=lambda c: (c.create_time_since_epoch, c.id),
            reverse=True,
        )
        prefix = f"{pipeline_name}."
        self._node_contexts = [
            c for c in self._store.get_contexts_by_type("node") if c.name.startswith(prefix)
        ]

    def ids(self) -> list[str]:
        return [c.name for c in self._runs]

    def __iter__(self) -> Iterator[Run]:
        for context in self._runs:
            yield Run(context.name, self._finished_nodes(context))

    def find(self, run_id: str | None = None, with_node: str | None = None) -> Run:
        """``run_id``, or else the newest run; with ``with_node``, the newest of those in which that
        component finished (a run that died before its Evaluator has nothing to report)."""
        if not self._runs:
            raise RunNotFound(f"no run of pipeline {self.pipeline_name!r} recorded in {self.path}")
        if run_id is not None and run_id not in self.ids():
            raise RunNotFound(f"no run {run_id!r} of pipeline {self.pipeline_name!r} in {self.path}")
        for run in self:
            if run_id is not None and run.run_id != run_id:
                continue
            if with_node is None or with_node in run.nodes:
                return run
        raise RunNotFound(f"no run of pipeline {self.pipeline_name!r} has a finished {with_node}")

    def _finished_nodes(self, run) -> dict[str, NodeRun]:
        from ml_metadata.proto import metadata_store_pb2

        done_states = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)
        output_events = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
        store = self._store
        in_run = {e.id for e in store.get_executions_by_context(run.id)}
        nodes: dict[str, NodeRun] = {}
        for node in self._node_contexts:
            done = [
                e
                for e in store.get_executions_by_context(node.id)
                if e.id in in_run and e.last_known_state in done_states
            ]
            if not done:
                continue
            execution = max(done, key=lambda e: e.id)
            events = [e for e in store.get_events_by_execution_ids([execution.id]) if e.type in output_events]
            artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
            outputs: dict[str, list] = {}
            for event in events:
                outputs.setdefault(event.path.steps[0].key, []).append(artifacts[event.artifact_id])
            nodes[node.name[len(self.pipeline_name) + 1 :]] = NodeRun(execution, outputs)
        return nodes


def find_run(
    pipeline_root: str, pipeline_name: str, run_id: str | None = None, with_node: str | None = None
) -> Run:
    """A run of the pipeline under ``pipeline_root``: see ``Runs.find``."""
    return Runs(pipeline_root, pipeline_name).find(run_id, with_node)


def statistics_of_other_examples(
    pipeline_root: str, pipeline_name: str, example_gen_parameters: Mapping[str, Any]
) -> str | None:
    """The drift baseline: the statistics of the newest run whose ExampleGen had other parameters (other
    input files, settings or code: other examples), or None. Unchanged reruns get the same answer, so the
    DataGate stays cached; after a corpus changes, drift is measured against the corpus before it."""
    try:
        runs = Runs(pipeline_root, pipeline_name)
    except RunNotFound:
        return None
    wanted = {k: v for k, v in example_gen_parameters.items() if v is not None}
    for run in runs:
        example_gen, statistics = run.nodes.get(EXAMPLE_GEN), run.nodes.get(STATISTICS_GEN)
        if example_gen is None or statistics is None:
            continue
        if {k: example_gen.parameter(k) for k in wanted} != wanted:
            return statistics.uri("statistics")
    return None
