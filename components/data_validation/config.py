"""``ValidationConfig``: how the data is checked before anything trains on it (light: no TFDV).

The fields are ``quickdraw run`` / ``kubeflow compile`` flags (derived in ``pipeline.cli``);
the thresholds, the drift baseline and the proceed switch travel to the ``DataGate`` as
execution parameters, the schema choice to ``ImportSchemaGen``.
"""

from __future__ import annotations

import dataclasses
import os

from components import settings
from components.errors import ConfigError
from components.settings import between, setting

SCHEMAS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")
BUILT_IN_SCHEMAS = ("quickdraw", "demo")  # schemas/<name>.pbtxt


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    schema: str = setting(
        "quickdraw",
        "the curated schema the data must fit: quickdraw (the 345 official classes), demo (the demo "
        "corpus), or the path of a schema.pbtxt (local or gs://; `quickdraw schema infer` writes one)",
    )
    skew_threshold: float = setting(
        0.1,
        "largest L-infinity distance allowed between the train and eval distributions of word and "
        "countrycode",
        between(0.0, 1.0),
    )
    drift_threshold: float = setting(
        0.1,
        "largest L-infinity distance allowed between this run's train distributions of word and "
        "countrycode and the previous run's",
        between(0.0, 1.0),
    )
    drift_baseline: str | None = setting(
        None,
        "the statistics to check drift against: a StatisticsGen artifact's URI (default for `quickdraw run`: the "
        "latest statistics of other examples in this pipeline root; on Kubeflow: none, drift not checked)",
    )
    proceed_on_anomalies: bool = setting(
        False, "train even when the data has anomalies (they are logged, and the report says so)"
    )

    def __post_init__(self) -> None:
        settings.validate(self)
        if not self.schema:
            raise ConfigError("--schema must name a built-in schema or a file")

    @property
    def built_in(self) -> bool:
        return self.schema in BUILT_IN_SCHEMAS


def built_in_path(name: str, root: str = SCHEMAS_DIR) -> str:
    """A built-in schema's file under ``root`` (this package's, or the pipeline image's copy)."""
    return os.path.join(root, f"{name}.pbtxt")
