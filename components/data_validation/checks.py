"""The data checks beyond ExampleValidator's, and every anomaly as one readable line.

ExampleValidator checks each split against the schema. Two checks compare
distributions instead, with TFDV's comparators on ``word`` and ``countrycode``
(L-infinity distance between the value shares):

- **skew**: the eval split against the train split (a hash split should make them
  alike; a difference means the eval numbers do not measure what training saw);
- **drift**: this run's train split against the previous run's.

On a small split the distance is mostly sampling noise (its standard deviation is up
to 0.5/sqrt(n) per value), so a comparison runs only when both sides hold at least
``(NOISE_SIGMAS × 0.5 / threshold)²`` examples; otherwise it is skipped with a note
that says so, instead of stopping a run on noise.
"""

from __future__ import annotations

import dataclasses
import math

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from components import features as F
from components.data_validation import schema as schema_lib

COMPARED = (F.WORD, F.COUNTRYCODE)
NOISE_SIGMAS = 3.0
TRAINING = "TRAINING"


@dataclasses.dataclass(frozen=True)
class Anomaly:
    """One anomaly: the feature, where it was found, what is wrong and TFDV's details (with examples)."""

    feature: str
    where: str  # "train", "eval", "eval vs train" (skew), "train vs previous run" (drift)
    problem: str
    detail: str

    def line(self) -> str:
        detail = " ".join(self.detail.split())
        return f"{self.feature} [{self.where}]: {self.problem}" + (f" ({detail})" if detail else "")

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def listed(anomalies: anomalies_pb2.Anomalies, where: str) -> list[Anomaly]:
    """Every feature- and dataset-level anomaly of a TFDV ``Anomalies``, sorted by feature."""
    found = []
    for name, info in sorted(anomalies.anomaly_info.items()):
        found.append(Anomaly(name, where, info.short_description or "anomaly", info.description))
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        found.append(Anomaly("(dataset)", where, info.short_description or "anomaly", info.description))
    return found


def feature_statistics(
    stats: statistics_pb2.DatasetFeatureStatistics, name: str
) -> statistics_pb2.FeatureNameStatistics | None:
    """A top-level feature's statistics (by path, or by the older ``name`` field), or None."""
    for feature in stats.features:
        if (feature.path.step and feature.path.step[0] == name) or feature.name == name:
            return feature
    return None


def with_lengths_in_points(
    found: list[Anomaly], stats: statistics_pb2.DatasetFeatureStatistics, schema: schema_pb2.Schema
) -> list[Anomaly]:
    """TFDV says an ``ink`` has "more values than expected"; say it in points, with the longest drawing."""
    ink = feature_statistics(stats, F.INK)
    try:
        bound = schema_lib.feature(schema, F.INK).value_count
    except schema_lib.SchemaError:
        return found
    if ink is None:
        return found
    common = ink.num_stats.common_stats
    shown = []
    for anomaly in found:
        if anomaly.feature == F.INK and common.max_num_values > bound.max > 0:
            anomaly = dataclasses.replace(
                anomaly,
                detail=f"{anomaly.detail} The longest drawing has {schema_lib.points_of(common.max_num_values):,} "
                f"points; the schema allows {schema_lib.points_of(bound.max):,}.",
            )
        shown.append(anomaly)
    return shown


def min_examples(threshold: float) -> int:
    """Examples each side needs before an L-infinity distance above ``threshold`` is not just noise."""
    return math.ceil((NOISE_SIGMAS * 0.5 / threshold) ** 2) if threshold > 0 else 0


def _compared_schema(schema: schema_pb2.Schema, threshold: float, kind: str) -> schema_pb2.Schema:
    copy = schema_pb2.Schema()
    copy.CopyFrom(schema)
    for feature in copy.feature:
        if feature.name in COMPARED:
            comparator = feature.skew_comparator if kind == "skew" else feature.drift_comparator
            comparator.infinity_norm.threshold = threshold
    return copy


def _comparator_only(anomalies: anomalies_pb2.Anomalies) -> anomalies_pb2.Anomalies:
    """Only the comparison anomalies: the schema ones are ExampleValidator's to report."""
    kept = anomalies_pb2.Anomalies()
    kept.CopyFrom(anomalies)
    kept.ClearField("dataset_anomaly_info")
    for name in list(kept.anomaly_info):
        info = kept.anomaly_info[name]
        reasons = [
            r for r in info.reason if anomalies_pb2.AnomalyInfo.Type.Name(r.type).startswith("COMPARATOR_")
        ]
        if not reasons:
            del kept.anomaly_info[name]
            continue
        del info.reason[:]
        info.reason.extend(reasons)
        info.short_description = "; ".join(r.short_description for r in reasons)
        info.description = " ".join(r.description for r in reasons)
    return kept


def _as_list(stats: statistics_pb2.DatasetFeatureStatistics) -> statistics_pb2.DatasetFeatureStatisticsList:
    return statistics_pb2.DatasetFeatureStatisticsList(datasets=[stats])


@dataclasses.dataclass
class Comparison:
    anomalies: anomalies_pb2.Anomalies
    note: str  # what was compared, or why nothing was


def compare(
    kind: str,
    baseline: statistics_pb2.DatasetFeatureStatistics,
    other: statistics_pb2.DatasetFeatureStatistics,
    schema: schema_pb2.Schema,
    threshold: float,
) -> Comparison:
    """``kind`` "skew": ``other`` is eval, ``baseline`` train; "drift": ``other`` is this run's train,
    ``baseline`` the previous run's. Anomalies only above ``threshold`` and only on enough examples."""
    import tensorflow_data_validation as tfdv

    needed = min_examples(threshold)
    smaller = min(baseline.num_examples, other.num_examples)
    label = "train/eval skew" if kind == "skew" else "drift from the previous run"
    if smaller < needed:
        return Comparison(
            anomalies_pb2.Anomalies(),
            f"{label} not checked: {smaller:,} examples on one side, {needed:,} needed for a distance "
            f"above {threshold:g} to stand out from sampling noise",
        )
    compared = _compared_schema(schema, threshold, kind)
    if kind == "skew":
        result = tfdv.validate_statistics(
            _as_list(baseline), compared, environment=TRAINING, serving_statistics=_as_list(other)
        )
    else:
        result = tfdv.validate_statistics(
            _as_list(other), compared, environment=TRAINING, previous_statistics=_as_list(baseline)
        )
    kept = _comparator_only(result)
    measured = []
    for info in result.drift_skew_info:
        values = info.skew_measurements if kind == "skew" else info.drift_measurements
        if values and info.path.step:
            measured.append(f"{info.path.step[0]} {max(m.value for m in values):.3f}")
    return Comparison(
        kept,
        f"{label}: L-infinity distance {', '.join(measured) or 'not measured'} (threshold {threshold:g})",
    )
