"""``quickdraw schema infer``: a starting schema from a run's statistics, for a corpus of your own.

TFDV infers the types, shapes and presence from the run's train statistics; the
pipeline's constraints (``components.data_validation.schema.constrain``) are then
added exactly as in the checked-in schemas: the classes seen (train and eval) as the
``word`` domain, every ISO country code plus those seen, the run's ``--max-points`` as
the ink bound, the TRAINING/SERVING environments. Review it, keep it under version
control, and pass it with ``--schema``: from then on a new class or a broken column
stops the run instead of training on it.
"""

from __future__ import annotations

import dataclasses
import os

from components.conversion.config import DEFAULT_MAX_POINTS
from components.data_validation import schema as schema_lib
from pipeline import runs
from pipeline.report.data import SPLITS, split_statistics, value_counts


@dataclasses.dataclass
class Inferred:
    schema: schema_lib.schema_pb2.Schema
    run_id: str
    statistics_uri: str
    classes: list[str]
    unlisted_countries: list[str]  # seen, but not ISO 3166 codes: in the domain now, worth a look
    max_points: int

    def text(self) -> str:
        header = (
            f"# Inferred by `quickdraw schema infer` from run {self.run_id}\n"
            f"# (statistics {self.statistics_uri}). Review it before relying on it.\n"
        )
        return header + schema_lib.to_text(self.schema)


def infer(pipeline_root: str, pipeline_name: str, run_id: str | None = None) -> Inferred:
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import statistics_pb2

    from pipeline.tools.schemas import ISO_COUNTRIES, UNKNOWN_COUNTRY

    run = runs.find_run(pipeline_root, pipeline_name, run_id, with_node=runs.STATISTICS_GEN)
    uri = run.nodes[runs.STATISTICS_GEN].uri("statistics")
    per_split = {split: split_statistics(uri, split) for split in SPLITS}
    schema = tfdv.infer_schema(
        statistics_pb2.DatasetFeatureStatisticsList(datasets=[per_split["train"]]), infer_feature_shape=True
    )
    classes = sorted({w for stats in per_split.values() for w in value_counts(stats, "word")})
    seen = {c for stats in per_split.values() for c in value_counts(stats, "countrycode")}
    known = set(ISO_COUNTRIES) | {UNKNOWN_COUNTRY}
    max_points = DEFAULT_MAX_POINTS
    if runs.EXAMPLE_GEN in run.nodes:
        max_points = run.nodes[runs.EXAMPLE_GEN].parameter("max_points") or max_points
    schema_lib.constrain(schema, classes, known | seen, max_points)
    return Inferred(
        schema=schema,
        run_id=run.run_id,
        statistics_uri=uri,
        classes=classes,
        unlisted_countries=sorted(seen - known),
        max_points=max_points,
    )


def write(inferred: Inferred, output: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write(inferred.text())
