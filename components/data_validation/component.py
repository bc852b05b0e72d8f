"""DataGate and the fingerprinted ImportSchemaGen: the pipeline's data validation stage.

``ImportCuratedSchema`` is TFX's ImportSchemaGen with one more parameter: the
fingerprint of the schema file's bytes, so an edited schema re-runs it (TFX caches it
on the file's path alone). ``DataGate`` turns ExampleValidator's anomalies plus the
skew and drift checks into one decision (see ``executor``).
"""

from __future__ import annotations

from tfx import types
from tfx.components.schema_gen.import_schema_gen import component as import_schema_gen
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.data_validation import executor
from components.data_validation.config import ValidationConfig

SCHEMA_FINGERPRINT = "schema_fingerprint"


class ImportCuratedSchemaSpec(standard_component_specs.ImportSchemaGenSpec):
    PARAMETERS = {
        **standard_component_specs.ImportSchemaGenSpec.PARAMETERS,
        SCHEMA_FINGERPRINT: ExecutionParameter(type=str, optional=True),  # cache key only
    }


class ImportCuratedSchema(import_schema_gen.ImportSchemaGen):
    """ImportSchemaGen whose cache key includes the schema file's content."""

    SPEC_CLASS = ImportCuratedSchemaSpec

    def __init__(self, schema_file: str, schema_fingerprint: str | None = None) -> None:
        spec = ImportCuratedSchemaSpec(
            schema_file=schema_file,
            schema_fingerprint=schema_fingerprint,
            schema=types.Channel(type=standard_artifacts.Schema),
        )
        base_component.BaseComponent.__init__(self, spec=spec)


class DataGateSpec(types.ComponentSpec):
    PARAMETERS = {
        executor.SKEW_THRESHOLD: ExecutionParameter(type=float),
        executor.DRIFT_THRESHOLD: ExecutionParameter(type=float),
        executor.PROCEED: ExecutionParameter(type=int),
        executor.PREVIOUS_STATISTICS: ExecutionParameter(type=str, optional=True),
        executor.CODE_FINGERPRINT: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        executor.STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        executor.SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        executor.ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
    }
    OUTPUTS = {executor.VERDICT_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies)}


class DataGate(base_component.BaseComponent):
    """Stops the run before Transform when the data has anomalies (unless told to proceed)."""

    SPEC_CLASS = DataGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        statistics: types.BaseChannel,
        schema: types.BaseChannel,
        anomalies: types.BaseChannel,
        config: ValidationConfig = ValidationConfig(),
        previous_statistics: str | None = None,
        code_fingerprint: str | None = None,
    ) -> None:
        """``previous_statistics``: the URI of the statistics to check drift against (None: no check).
        A parameter, not a resolved input: an unchanged rerun must give the DataGate the same inputs, or
        its new verdict (which the ``Cond`` reads) would re-run Transform and the Trainer."""
        spec = DataGateSpec(
            statistics=statistics,
            schema=schema,
            anomalies=anomalies,
            previous_statistics=previous_statistics,
            skew_threshold=config.skew_threshold,
            drift_threshold=config.drift_threshold,
            proceed_on_anomalies=int(config.proceed_on_anomalies),
            code_fingerprint=code_fingerprint,
            verdict=types.Channel(type=standard_artifacts.ExampleAnomalies),
        )
        super().__init__(spec=spec)
