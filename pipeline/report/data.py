"""The report's data section: what the run trained on (or refused to), from StatisticsGen and the DataGate.

Counts per class and split come from the statistics' rank histograms of ``word`` and
``countrycode`` (every value, not TFDV's top 20); the ink lengths from the quantiles
of ``ink``'s values per example (3 per point); the anomalies from the DataGate's
verdict. Nothing is recomputed from the examples.
"""

from __future__ import annotations

import dataclasses
import os

from components import features as F
from components.data_validation.checks import feature_statistics
from components.data_validation.verdict import Verdict
from pipeline import runs
from pipeline.runs import Run

SPLITS = ("train", "eval")
VALUES_PER_POINT = 3


@dataclasses.dataclass
class Lengths:
    """Points per drawing in one split."""

    split: str
    drawings: int
    mean: float
    quantiles: list[float]  # min, p10, ..., p90, max (TFDV's 10 equal-count buckets)

    def at(self, q: float) -> float:
        return self.quantiles[round(q * 10)]


@dataclasses.dataclass
class DataSection:
    counts_by_class: dict[str, dict[str, int]]  # class → split → drawings
    counts_by_country: dict[str, dict[str, int]]
    lengths: list[Lengths]
    verdict: Verdict | None  # None: a run from before the DataGate
    statistics_uri: str


def split_statistics(uri: str, split: str):
    import tensorflow_data_validation as tfdv

    return tfdv.load_stats_binary(os.path.join(uri, f"Split-{split}", "FeatureStats.pb")).datasets[0]


def value_counts(stats, name: str) -> dict[str, int]:
    feature = feature_statistics(stats, name)
    if feature is None:
        return {}
    ranked = feature.string_stats.rank_histogram.buckets
    if ranked:
        return {b.label: int(b.sample_count) for b in ranked}
    return {v.value: int(v.frequency) for v in feature.string_stats.top_values}


def _lengths(stats, split: str) -> Lengths | None:
    feature = feature_statistics(stats, F.INK)
    if feature is None:
        return None
    common = feature.num_stats.common_stats
    buckets = common.num_values_histogram.buckets
    if not buckets:
        return None
    edges = [buckets[0].low_value] + [b.high_value for b in buckets]
    return Lengths(
        split,
        int(stats.num_examples),
        common.avg_num_values / VALUES_PER_POINT,
        [e / VALUES_PER_POINT for e in edges],
    )


def _by_split(per_split: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = {}
    for split, counts in per_split.items():
        for value, count in counts.items():
            merged.setdefault(value, {s: 0 for s in SPLITS})[split] = count
    return dict(sorted(merged.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])))


def collect(run: Run) -> DataSection | None:
    """The data section of a run, or None when its statistics are not recorded."""
    statistics = run.nodes.get(runs.STATISTICS_GEN)
    if statistics is None:
        return None
    uri = statistics.uri("statistics")
    per_split = {split: split_statistics(uri, split) for split in SPLITS}
    lengths = [found for split, stats in per_split.items() if (found := _lengths(stats, split))]
    return DataSection(
        counts_by_class=_by_split({s: value_counts(stats, F.WORD) for s, stats in per_split.items()}),
        counts_by_country=_by_split(
            {s: value_counts(stats, F.COUNTRYCODE) for s, stats in per_split.items()}
        ),
        lengths=lengths,
        verdict=run.verdict(),
        statistics_uri=uri,
    )
