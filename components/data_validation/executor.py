"""Executor of DataGate: gathers every anomaly, decides whether training may start, says why.

Reads ExampleValidator's per-split anomalies, adds the train/eval skew and the drift
from the previous run's statistics (``checks``), and writes an ``ExampleAnomalies``
artifact in TFDV's layout (``Split-eval/SchemaDiff.pb``: skew, ``Split-train/SchemaDiff.pb``:
drift) plus the ``Verdict`` (``verdict.py``): every anomaly as one line, the notes, the decision. Its
custom property ``passed`` (1/0) is what the pipeline's ``Cond`` around Transform,
Trainer, Evaluator and Pusher reads; a stopped run is a normal outcome, not an error.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from tfx import types
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.data_validation import checks
from components.data_validation import schema as schema_lib
from components.data_validation.verdict import Verdict
from components.errors import UserError

STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
ANOMALIES_KEY = "anomalies"  # ExampleValidator's
VERDICT_KEY = "verdict"
SKEW_THRESHOLD = "skew_threshold"
DRIFT_THRESHOLD = "drift_threshold"
PROCEED = "proceed_on_anomalies"
PREVIOUS_STATISTICS = "previous_statistics"  # URI of a StatisticsGen artifact (drift baseline)
CODE_FINGERPRINT = "code_fingerprint"
ANOMALIES_FILE = "SchemaDiff.pb"  # TFDV's and ExampleValidator's name
PASSED = "passed"  # custom properties of the verdict
PROCEEDED = "proceeded_despite_anomalies"
ANOMALY_COUNT = "anomaly_count"
TRAIN, EVAL = "train", "eval"


def _split_file(uri: str, split: str) -> str:
    return os.path.join(uri, f"Split-{split}", ANOMALIES_FILE)


def _read_anomalies(path: str):
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    anomalies = anomalies_pb2.Anomalies()
    with fileio.open(path, "rb") as f:
        anomalies.ParseFromString(f.read())
    return anomalies


def _write_anomalies(uri: str, split: str, anomalies) -> None:
    fileio.makedirs(os.path.dirname(_split_file(uri, split)))
    with fileio.open(_split_file(uri, split), "wb") as f:
        f.write(anomalies.SerializeToString(deterministic=True))


def _statistics(artifact: types.Artifact, split: str):
    return stats_artifact_utils.load_statistics(artifact, split).get_default_slice().proto()


def _previous_train(uri: str):
    """The train split of the drift baseline (a StatisticsGen artifact's directory)."""
    import tensorflow_data_validation as tfdv

    path = os.path.join(uri, f"Split-{TRAIN}", "FeatureStats.pb")
    if not fileio.exists(path):
        raise UserError(f"--drift-baseline {uri} holds no train statistics ({path} is missing)")
    return tfdv.load_stats_binary(path).datasets[0]


def _read_schema(artifact: types.Artifact):
    path = os.path.join(artifact.uri, "schema.pbtxt")
    with fileio.open(path, "r") as f:
        return schema_lib.from_text(f.read(), path)


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict[str, Any]) -> None:
        statistics = artifact_utils.get_single_instance(input_dict[STATISTICS_KEY])
        validator = artifact_utils.get_single_instance(input_dict[ANOMALIES_KEY])
        schema = _read_schema(artifact_utils.get_single_instance(input_dict[SCHEMA_KEY]))
        verdict = artifact_utils.get_single_instance(output_dict[VERDICT_KEY])
        proceed = bool(exec_properties.get(PROCEED) or 0)

        found: list[checks.Anomaly] = []
        per_split = {split: _statistics(statistics, split) for split in (TRAIN, EVAL)}
        for split in artifact_utils.decode_split_names(validator.split_names):
            listed = checks.listed(_read_anomalies(_split_file(validator.uri, split)), split)
            found += checks.with_lengths_in_points(listed, per_split[split], schema)

        train = per_split[TRAIN]
        skew = checks.compare("skew", train, per_split[EVAL], schema, exec_properties[SKEW_THRESHOLD])
        found += checks.listed(skew.anomalies, "eval vs train")
        notes = [skew.note]
        _write_anomalies(verdict.uri, EVAL, skew.anomalies)

        previous = exec_properties.get(PREVIOUS_STATISTICS)
        if previous and previous.rstrip("/") != statistics.uri.rstrip("/"):
            drift = checks.compare(
                "drift", _previous_train(previous), train, schema, exec_properties[DRIFT_THRESHOLD]
            )
            found += checks.listed(drift.anomalies, "train vs previous run")
            notes.append(drift.note)
            _write_anomalies(verdict.uri, TRAIN, drift.anomalies)
        else:
            from tensorflow_metadata.proto.v0 import anomalies_pb2

            notes.append("drift not checked: no statistics of earlier examples to compare with")
            _write_anomalies(verdict.uri, TRAIN, anomalies_pb2.Anomalies())

        passed = not found or proceed
        verdict.split_names = artifact_utils.encode_split_names([TRAIN, EVAL])
        verdict.set_int_custom_property(PASSED, int(passed))
        verdict.set_int_custom_property(ANOMALY_COUNT, len(found))
        verdict.set_int_custom_property(PROCEEDED, int(bool(found) and proceed))
        Verdict(
            passed=passed,
            proceeded_despite_anomalies=bool(found) and proceed,
            lines=[a.line() for a in found],
            notes=notes,
            anomalies_uri=verdict.uri,
            example_validator_anomalies=validator.uri,
            anomalies=[a.to_json() for a in found],
        ).write(fileio.open)
        for note in notes:
            logging.info("DataGate: %s", note)
        for anomaly in found:
            logging.warning("DataGate: anomaly: %s", anomaly.line())
        if found and not proceed:
            logging.warning(
                "DataGate: %d anomalies: Transform and training will not run (details: %s; to train anyway: "
                "--proceed-on-anomalies)",
                len(found),
                verdict.uri,
            )
