"""The Evaluator's TFMA configuration: metrics, slices and the blessing thresholds.

The model is evaluated through ``serving_default`` (its ``probabilities``) with
the label from the ``transform_features`` signature, so the Evaluator scores
exactly what serving returns. A model is blessed when its accuracy is at least
``accuracy_threshold`` and, once a blessed baseline exists (the pipeline's
``LatestBlessedModelStrategy`` resolver), at most ``max_accuracy_drop`` below it.
TFMA skips the change threshold when there is no baseline (the first run).
"""

from __future__ import annotations

import json

import tensorflow_model_analysis as tfma

from components import features as F
from components.training import signatures

ACCURACY = "sparse_categorical_accuracy"
TOP_3 = "top_3_accuracy"
TOP_5 = "top_5_accuracy"
LOSS = "loss"
EXAMPLE_COUNT = "example_count"
SLICE_FEATURES = (F.COUNTRYCODE, F.RECOGNIZED, F.WORD)


def eval_config(accuracy_threshold: float, max_accuracy_drop: float = 0.0) -> tfma.EvalConfig:
    """Metrics: accuracy, top-3/top-5 accuracy, loss, example count, confusion matrix; slices: overall
    + SLICE_FEATURES."""
    if not 0.0 <= accuracy_threshold <= 1.0:
        raise ValueError(f"accuracy_threshold must be in [0, 1], got {accuracy_threshold}")
    if max_accuracy_drop < 0.0:
        raise ValueError(f"max_accuracy_drop must be >= 0, got {max_accuracy_drop}")
    blessing = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_threshold}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            # -1e-10 rather than 0: an identical model must not fail on float noise.
            absolute={"value": -max_accuracy_drop - 1e-10},
        ),
    )

    def top_k(k: int, name: str) -> tfma.MetricConfig:
        return tfma.MetricConfig(
            class_name="SparseTopKCategoricalAccuracy", config=json.dumps({"k": k, "name": name})
        )

    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=signatures.SERVING_DEFAULT,
                prediction_key=signatures.PROBABILITIES,
                label_key=F.LABEL,
                preprocessing_function_names=[signatures.TRANSFORM_FEATURES],
            )
        ],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[f]) for f in SLICE_FEATURES],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(
                        class_name="SparseCategoricalAccuracy",
                        # Judged on the overall slice only: a small country or class may
                        # legitimately score below the bar.
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(
                                slicing_specs=[tfma.SlicingSpec()], threshold=blessing
                            )
                        ],
                    ),
                    top_k(3, TOP_3),
                    top_k(5, TOP_5),
                    tfma.MetricConfig(
                        class_name="SparseCategoricalCrossentropy", config=json.dumps({"name": LOSS})
                    ),
                    tfma.MetricConfig(class_name="ExampleCount"),
                    # The whole eval split's confusion counts: `quickdraw report` lists the most confused pairs.
                    tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
                ]
            )
        ],
    )
