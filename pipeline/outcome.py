"""What a pipeline run produced, read back from MLMD: the data verdict, blessing (and why), metrics, push.

``quickdraw run`` prints this as its summary; tests assert on it. Two normal outcomes
besides a pushed model: data with anomalies stops the run before training (reported
one line per anomaly, with the artifact holding them), and a model that is not
blessed is reported with the thresholds it missed.
"""

from __future__ import annotations

import dataclasses

from components.data_validation.verdict import Verdict
from components.training import evaluation
from pipeline import runs
from pipeline.runs import NodeRun

METRIC_LABELS = {
    evaluation.ACCURACY: "accuracy",
    evaluation.TOP_3: "top-3 accuracy",
    evaluation.TOP_5: "top-5 accuracy",
    evaluation.LOSS: "loss",
    evaluation.EXAMPLE_COUNT: "eval examples",
}


@dataclasses.dataclass
class Outcome:
    run_id: str
    nodes: dict[str, NodeRun]
    blessed: bool
    reasons: list[str]  # why not blessed (empty when blessed)
    metrics: dict[str, float]  # overall slice
    pushed_to: str | None
    evaluation_uri: str | None  # None: not trained (stopped by the data validation)
    data: Verdict | None = None  # None: a run from before the DataGate existed
    hyperparameters: runs.Hyperparameters | None = None  # None: trained on the settings alone
    infra_validation: runs.InfraValidation | None = None  # None: a run from before the InfraValidator
    bulk_inference: runs.BulkInference | None = None  # None: a run without --bulk-infer

    @classmethod
    def not_trained(cls, run_id: str, nodes: dict[str, NodeRun], data: Verdict) -> Outcome:
        """A run the data validation stopped before Transform."""
        return cls(
            run_id=run_id,
            nodes=nodes,
            blessed=False,
            reasons=[],
            metrics={},
            pushed_to=None,
            evaluation_uri=None,
            data=data,
        )

    @classmethod
    def evaluated(
        cls,
        run_id: str,
        nodes: dict[str, NodeRun],
        evaluation_uri: str,
        pushed_to: str | None,
        data: Verdict | None,
    ) -> Outcome:
        """A run that got as far as its Evaluator: the blessing, why not, and the metrics, from its artifact."""
        blessed, reasons, metrics = evaluation_of(evaluation_uri)
        return cls(
            run_id=run_id,
            nodes=nodes,
            blessed=blessed,
            reasons=reasons,
            metrics=metrics,
            pushed_to=pushed_to,
            evaluation_uri=evaluation_uri,
            data=data,
        )

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
        if self.hyperparameters:
            lines.append(self.hyperparameters.summary())
        if self.infra_validation is not None:
            lines.append(self.infra_validation.summary())
        if self.blessed and self.infra_validation is not None and not self.infra_validation.blessed:
            lines.append("Model blessed by the Evaluator, but not servable; not pushed.")
        elif self.blessed:
            lines.append(
                f"Model blessed; pushed to {self.pushed_to}." if self.pushed_to else "Model blessed."
            )
        else:
            lines.append(f"Model not blessed: {'; '.join(self.reasons) or 'see the evaluation'}; not pushed.")
        if self.bulk_inference is not None:
            lines.append(self.bulk_inference.summary())
        lines.append(f"Evaluation (TFMA): {self.evaluation_uri}")
        return "\n".join(lines)


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
    recorded = runs.Runs(pipeline_root, pipeline_name)
    newest = recorded.find(run_id)
    verdict = newest.verdict()
    if verdict is not None and not verdict.passed:
        return Outcome.not_trained(newest.run_id, newest.nodes, verdict)
    # The newest run, when it got as far as its Evaluator (no second read of it); else the newest that did.
    run = newest if runs.EVALUATOR in newest.nodes else recorded.find(run_id, with_node=runs.EVALUATOR)
    pusher = run.nodes.get(runs.PUSHER)
    pushed_to = None
    if pusher is not None and pusher.custom("pushed_model", "pushed"):
        pushed_to = pusher.custom("pushed_model", "pushed_destination")
    evaluation_uri = run.nodes[runs.EVALUATOR].uri("evaluation")
    data = verdict if run is newest else run.verdict()
    result = Outcome.evaluated(run.run_id, run.nodes, evaluation_uri, pushed_to, data)
    result.hyperparameters = run.hyperparameters()
    result.infra_validation = run.infra_validation()
    result.bulk_inference = run.bulk_inference()
    return result


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
