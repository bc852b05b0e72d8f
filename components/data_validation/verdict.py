"""The DataGate's verdict: one dataclass that the gate writes and every reader reads.

Written as ``verdict.json`` into the gate's ``ExampleAnomalies`` artifact beside
TFDV's ``SchemaDiff.pb`` files. The run summary, the report and ``kubeflow run-local``
read it back through ``Verdict.read``, so the file's keys are named in one place
(the dataclass's fields) instead of being written here and read as strings elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from components.errors import UserError

VERDICT_FILE = "verdict.json"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether training may start, and why: every anomaly as one line, the notes on skew and drift."""

    passed: bool
    proceeded_despite_anomalies: bool  # trained despite anomalies (--proceed-on-anomalies)
    lines: list[str]  # one per anomaly, as the terminal and the report show it
    notes: list[str]  # what was compared, skipped or not checked
    anomalies_uri: str  # the DataGate's own anomalies artifact (this file's directory)
    example_validator_anomalies: str  # ExampleValidator's per-split anomalies artifact
    anomalies: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # structured, for tools

    def summary(self) -> list[str]:
        """The lines ``quickdraw run`` prints: nothing when the data passed cleanly."""
        if self.passed and not self.lines:
            return []
        head = (
            f"Data anomalies ({len(self.lines)}), trained anyway (--proceed-on-anomalies):"
            if self.proceeded_despite_anomalies
            else f"Stopped before Transform and training: the data has {len(self.lines)} anomalies:"
        )
        where = f"Anomalies: {self.anomalies_uri} (ExampleValidator's per split: {self.example_validator_anomalies})"
        return [head, *(f"  {line}" for line in self.lines), where]

    def write(self, open_file=open) -> None:
        """Into ``anomalies_uri``; ``open_file``: the file system's open (TFX's ``fileio.open`` for gs://)."""
        with open_file(os.path.join(self.anomalies_uri, VERDICT_FILE), "w") as f:
            f.write(json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True))

    @classmethod
    def read(cls, uri: str) -> Verdict:
        """The verdict in a DataGate ``verdict`` artifact's directory; a clear error when it is unreadable."""
        from tfx.dsl.io import fileio

        path = os.path.join(uri, VERDICT_FILE)
        if not fileio.exists(path):  # a verdict that is not there is a broken artifact
            raise UserError(f"cannot read the data validation verdict {path}: no such file")
        try:
            with fileio.open(path, "r") as f:
                record = json.loads(f.read())
            fields = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in record.items() if k in fields})
        except (OSError, ValueError, TypeError) as e:  # missing, not JSON, or a field missing
            raise UserError(f"cannot read the data validation verdict {path}: {e}") from None
