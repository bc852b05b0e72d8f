"""What a run's report shows, gathered into a ``Report`` (rendered by ``render``).

Built from the Evaluator's artifacts (``tfma.load_eval_result``,
``tfma.load_validation_result``) and MLMD: the blessing verdict with every
threshold and, when a baseline existed, candidate vs baseline; overall metrics;
per-class accuracy worst first (table + bar chart); slices by country and by
``recognized``; the most confused class pairs (TFMA's multi-class confusion
matrix over the whole eval split); a grid of misclassified eval drawings drawn as
SVG from their ink; with ``--bulk-infer``, the drawings the model disputes
(``pipeline.disputes``); the data it trained on (``data``: counts, ink lengths, countries,
anomalies); the run's provenance. A run the data validation stopped gets the data
section and the provenance only.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
from typing import Any

import numpy as np

from components import features as F
from components.training import evaluation
from pipeline import disputes, runs
from pipeline.configs import PIPELINE_NAME
from pipeline.disputes import Disputes
from pipeline.outcome import METRIC_LABELS, Outcome, outcome
from pipeline.report import data

MAX_MISCLASSIFIED = 36  # drawings shown in the grid
SCAN_LIMIT = 20_000  # eval drawings scanned for that grid (the metrics cover the whole split)


@dataclasses.dataclass
class Threshold:
    description: str
    value: float | None
    passed: bool | None  # None: not applied (no baseline yet)


@dataclasses.dataclass
class SliceRow:
    name: str
    accuracy: float
    count: int


@dataclasses.dataclass
class Misclassified:
    key_id: str
    true: str
    predicted: str
    score: float
    ink: np.ndarray  # [n, 3] as converted: drawn by render.ink_svg


@dataclasses.dataclass
class Report:
    """Everything the page shows. A run the data validation stopped has only the outcome, the data section
    and the provenance: the evaluation's fields keep their empty defaults."""

    outcome: Outcome
    provenance: dict[str, Any]
    data: data.DataSection | None = None
    thresholds: list[Threshold] = dataclasses.field(default_factory=list)
    has_baseline: bool = False
    baseline: dict[str, float] = dataclasses.field(default_factory=dict)
    per_class: list[SliceRow] = dataclasses.field(default_factory=list)
    by_country: list[SliceRow] = dataclasses.field(default_factory=list)
    by_recognized: list[SliceRow] = dataclasses.field(default_factory=list)
    confused: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    misclassified: list[Misclassified] = dataclasses.field(default_factory=list)
    scanned: int = 0
    disputes: Disputes | None = None  # only for a run with --bulk-infer

    def text_summary(self) -> str:
        if not self.outcome.trained:
            return self.outcome.summary()
        summary = self.outcome.summary().splitlines()
        lines = [
            summary[0],
            *(line for line in summary[1:] if line.startswith(("Model ", "InfraValidator "))),
        ]
        verdict = self.data.verdict if self.data else None
        if verdict and verdict.proceeded_despite_anomalies:
            lines.append(f"Data anomalies: {len(verdict.lines)}, trained anyway (--proceed-on-anomalies)")
        for t in self.thresholds:
            state = "not applied" if t.passed is None else ("passed" if t.passed else "FAILED")
            lines.append(f"  {t.description}: {state}")
        if self.per_class:
            worst = ", ".join(f"{r.name} {r.accuracy:.2f}" for r in self.per_class[:5])
            lines.append(f"Worst classes: {worst}")
        if self.confused:
            pairs = ", ".join(f"{a} → {b} ({n})" for a, b, n in self.confused[:3])
            lines.append(f"Most confused: {pairs}")
        return "\n".join(lines)


def _double(metrics: dict, key: str) -> float | None:
    value = metrics.get(key, {})
    return value.get("doubleValue") if isinstance(value, dict) else None


def _slices(result, feature: str) -> list[SliceRow]:
    rows = []
    for slice_key, metrics in result.slicing_metrics:
        if len(slice_key) == 1 and slice_key[0][0] == feature:
            m = metrics[""][""]
            value = slice_key[0][1]
            name = value.decode() if isinstance(value, bytes) else str(value)
            rows.append(
                SliceRow(
                    name or "(none)",
                    _double(m, evaluation.ACCURACY) or 0.0,
                    int(_double(m, "example_count") or 0),
                )
            )
    return rows


def _thresholds(eval_config, overall: dict, has_baseline: bool) -> list[Threshold]:
    out = []
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            for per_slice in metric.per_slice_thresholds:
                label = METRIC_LABELS.get(evaluation.ACCURACY, metric.class_name)
                t = per_slice.threshold
                value = _double(overall, evaluation.ACCURACY)
                if t.value_threshold.HasField("lower_bound"):
                    bound = t.value_threshold.lower_bound.value
                    out.append(
                        Threshold(
                            f"overall {label} ≥ {bound:.4f}", value, value is not None and value >= bound
                        )
                    )
                if t.HasField("change_threshold"):
                    drop = -t.change_threshold.absolute.value
                    diff = _double(overall, evaluation.ACCURACY + "_diff")
                    text = f"overall {label} at most {max(drop, 0):.4f} below the latest blessed model"
                    passed = None if not has_baseline or diff is None else diff >= -drop
                    out.append(Threshold(text, diff, passed))
    if not has_baseline and not any("latest blessed" in t.description for t in out):
        # TFX drops the change threshold from the config when no blessed baseline exists yet.
        out.append(Threshold("overall accuracy against the latest blessed model", None, None))
    return out


def _confused(result, names: list[str], top: int = 15) -> list[tuple[str, str, int]]:
    for slice_key, plots in result.plots or []:
        if slice_key != ():
            continue
        matrices = (plots or {}).get("", {}).get("", {}).get("multiClassConfusionMatrixAtThresholds", {})
        for matrix in matrices.get("matrices", []):
            pairs = []
            for entry in matrix.get("entries", []):
                actual, predicted = int(entry.get("actualClassId", 0)), int(entry.get("predictedClassId", 0))
                count = int(round(entry.get("numWeightedExamples", 0)))
                if actual != predicted and count and 0 <= actual < len(names) and 0 <= predicted < len(names):
                    pairs.append((names[actual], names[predicted], count))
            return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))[:top]
    return []


def _misclassified(examples_uri: str, model, limit: int) -> tuple[list[Misclassified], int]:
    """Runs the model over eval drawings (up to SCAN_LIMIT) and keeps the first ``limit`` it gets wrong."""
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(examples_uri, "Split-eval", "*")))
    if not files:
        return [], 0
    serve = model.signatures["serving_default"]
    spec = {
        F.INK: tf.io.VarLenFeature(tf.float32),
        F.WORD: tf.io.FixedLenFeature([], tf.string),
        F.KEY_ID: tf.io.FixedLenFeature([], tf.string),
    }
    found: list[Misclassified] = []
    scanned = 0
    for batch in tf.data.TFRecordDataset(files).take(SCAN_LIMIT).batch(256):
        out = serve(examples=batch)
        parsed = tf.io.parse_example(batch, spec)
        labels = out["top_k_labels"].numpy()[:, 0]
        scores = out["top_k_scores"].numpy()[:, 0]
        inks = tf.sparse.to_dense(parsed[F.INK]).numpy()
        lengths = tf.sparse.to_dense(tf.sparse.map_values(tf.ones_like, parsed[F.INK])).numpy().sum(axis=1)
        for i, word in enumerate(parsed[F.WORD].numpy()):
            if labels[i] != word and len(found) < limit:
                ink = inks[i, : int(lengths[i])].reshape(-1, 3)
                found.append(
                    Misclassified(
                        parsed[F.KEY_ID].numpy()[i].decode(),
                        word.decode(),
                        labels[i].decode(),
                        float(scores[i]),
                        ink,
                    )
                )
        scanned += len(labels)
        if len(found) >= limit:
            break
    return found, scanned


def build(pipeline_root: str, run_id: str | None = None, pipeline_name: str = PIPELINE_NAME) -> Report:
    import tensorflow as tf
    import tensorflow_model_analysis as tfma

    result_outcome = outcome(pipeline_root, pipeline_name, run_id)
    nodes = result_outcome.nodes
    data_section = data.collect(runs.Run(result_outcome.run_id, nodes))
    examples = nodes[runs.EXAMPLE_GEN]
    corpus = {
        k: examples.custom("examples", k)
        for k in ("lines_read", "written", "rejected", "filtered", "over_cap")
    }
    if not result_outcome.trained:
        provenance = {
            "pipeline": pipeline_name,
            "pipeline root": pipeline_root,
            "run id": result_outcome.run_id,
            "examples": examples.uri("examples"),
            "statistics": data_section.statistics_uri if data_section else "not computed",
            "corpus": corpus,
            "classes": examples.custom("examples", "classes"),
        }
        return Report(outcome=result_outcome, provenance=provenance, data=data_section)
    result = tfma.load_eval_result(result_outcome.evaluation_uri)
    overall = (result.get_metrics_for_slice() or {}) if result else {}
    has_baseline = any(k.endswith("_diff") for k in overall)
    baseline = {
        k: overall[k]["doubleValue"] - overall[k + "_diff"]["doubleValue"]
        for k in METRIC_LABELS
        if has_baseline
        and "doubleValue" in overall.get(k, {})
        and "doubleValue" in overall.get(k + "_diff", {})
    }
    trainer = nodes[runs.TRAINER]
    model_dir = os.path.join(trainer.uri("model"), "Format-Serving")
    model = tf.saved_model.load(model_dir)  # loaded once: class names here, predictions in _misclassified
    names = [n.decode() for n in model.class_names().numpy()]
    per_class = sorted(_slices(result, F.WORD), key=lambda r: (r.accuracy, -r.count, r.name))
    by_country = sorted(_slices(result, F.COUNTRYCODE), key=lambda r: (-r.count, r.name))
    by_recognized = sorted(_slices(result, F.RECOGNIZED), key=lambda r: r.name)
    misclassified, scanned = _misclassified(examples.uri("examples"), model, MAX_MISCLASSIFIED)
    provenance = {
        "pipeline": pipeline_name,
        "pipeline root": pipeline_root,
        "run id": result_outcome.run_id,
        "model": trainer.uri("model"),
        "examples": examples.uri("examples"),
        "evaluation": result_outcome.evaluation_uri,
        "pushed to": result_outcome.pushed_to or "not pushed",
        "training steps": _json_field(trainer, "train_args").get("num_steps"),
        "training settings": _json_field(trainer, "custom_config"),
        "corpus": corpus,
        "classes": examples.custom("examples", "classes"),
    }
    return Report(
        outcome=result_outcome,
        provenance=provenance,
        data=data_section,
        thresholds=_thresholds(result.config, overall, has_baseline),
        has_baseline=has_baseline,
        baseline=baseline,
        per_class=per_class,
        by_country=by_country,
        by_recognized=by_recognized,
        confused=_confused(result, names),
        misclassified=misclassified,
        scanned=scanned,
        disputes=disputes.collect(runs.Run(result_outcome.run_id, nodes), names),
    )


def _json_field(node: runs.NodeRun, name: str) -> dict:
    """An execution parameter that TFX records as JSON text (train_args, custom_config); {} if absent."""
    value = node.parameter(name)
    try:
        return json.loads(value) if isinstance(value, str) and value else {}
    except ValueError:
        return {}
