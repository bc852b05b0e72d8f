"""run-local's metadata store: every artifact and execution of the local runs, as the KFP backend's MLMD.

One JSON file in the workdir, kept across runs, because two things read earlier runs:
the resolver tasks (the latest blessed model is a query over every ``tfx.ModelBlessing``
recorded so far, as Vertex's resolver queries its metadata store) and the cache (a task
whose cache key matches an earlier execution reuses that execution's artifacts, as KFP does
with ``enableCache``). Artifacts are kept in the ``RuntimeArtifact`` JSON form the tasks
read and write, named ``local/artifacts/<n>`` where the backend would give a resource name.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import yaml

from pipeline.kubeflow_local.spec import SpecError

STORE_FILE = "metadata.json"
NAME_PREFIX = "local/artifacts/"
_CLAUSE = re.compile(r'^\s*([A-Za-z_][\w.]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))\s*$')

Artifact = dict[str, Any]  # a RuntimeArtifact as JSON: name, uri, type, metadata


def schema_title(artifact_type: dict) -> str:
    """The type's title: ``schemaTitle``, or the ``title`` of TFX's ``instanceSchema`` YAML."""
    if "schemaTitle" in artifact_type:
        return artifact_type["schemaTitle"]
    return (yaml.safe_load(artifact_type.get("instanceSchema", "")) or {}).get("title", "")


class LocalMetadata:
    def __init__(self, workdir: str) -> None:
        self.path = os.path.join(workdir, STORE_FILE)
        self.artifacts: dict[str, Artifact] = {}  # by name, in the order they were recorded
        self.executions: list[dict[str, Any]] = []
        if os.path.exists(self.path):
            with open(self.path) as f:
                recorded = json.load(f)
            self.artifacts = {a["name"]: a for a in recorded["artifacts"]}
            self.executions = recorded["executions"]
        self._last_id = max((int(name[len(NAME_PREFIX) :]) for name in self.artifacts), default=0)

    def new_name(self) -> str:
        """A name no artifact has had: the task's output artifacts carry it, as on the backend."""
        self._last_id += 1
        return f"{NAME_PREFIX}{self._last_id}"

    def record(
        self, run: str, task: str, task_root: str, cache_key: str | None, outputs: dict[str, list[Artifact]]
    ) -> None:
        """A finished execution and its output artifacts (the store is written at once)."""
        for artifacts in outputs.values():
            for artifact in artifacts:
                self.artifacts[artifact["name"]] = dict(artifact, state="LIVE")
        self.executions.append(
            {
                "run": run,
                "task": task,
                "taskRoot": task_root,
                "cacheKey": cache_key,
                "outputs": {key: [a["name"] for a in artifacts] for key, artifacts in outputs.items()},
            }
        )
        self._save()

    def imported(self, run: str, task: str, key: str, uri: str, artifact_type: dict) -> Artifact:
        """An importer's artifact: the one already recorded for this URI and type (KFP's importer does not
        import a URI twice unless told to), else a new one, recorded."""
        for artifact in self.artifacts.values():
            if artifact.get("uri") == uri and schema_title(artifact.get("type", {})) == schema_title(
                artifact_type
            ):
                return artifact
        artifact = {"name": self.new_name(), "uri": uri, "type": artifact_type, "metadata": {}}
        self.record(run, task, uri, None, {key: [artifact]})
        return self.artifacts[artifact["name"]]

    def cached(self, cache_key: str) -> tuple[str, dict[str, list[Artifact]]] | None:
        """(run, outputs) of the newest execution with this key whose task directory is still on disk
        (a deleted run is not reused; an output may legitimately be empty, e.g. a model not pushed)."""
        for execution in reversed(self.executions):
            if execution["cacheKey"] == cache_key and os.path.isdir(execution["taskRoot"]):
                names = execution["outputs"]
                return execution["run"], {
                    k: [self.artifacts[n] for n in listed] for k, listed in names.items()
                }
        return None

    def latest(self, query: str) -> list[Artifact]:
        """The newest recorded artifact that matches a resolver's filter, or none.

        The filters TFX compiles its resolvers to: clauses joined by ``AND``, each
        ``schema_title="…"``, ``state=LIVE``, ``name="…"`` or ``metadata.KEY.number_value=N``
        (``string_value``/``bool_value`` likewise). Any other clause is refused, not ignored.
        """
        clauses = [_clause(c) for c in re.split(r"\s+AND\s+", query.strip())]
        for artifact in reversed(list(self.artifacts.values())):
            if all(_matches(artifact, field, value) for field, value in clauses):
                return [artifact]
        return []

    def _save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        partial = self.path + ".partial"
        with open(partial, "w") as f:
            json.dump(
                {"artifacts": list(self.artifacts.values()), "executions": self.executions}, f, indent=1
            )
        os.replace(partial, self.path)


def _clause(text: str) -> tuple[str, str]:
    match = _CLAUSE.match(text)
    if not match:
        raise SpecError(f"resolver filter clause {text!r} is not one run-local understands")
    field, quoted, bare = match.groups()
    return field, re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare


def _matches(artifact: Artifact, field: str, value: str) -> bool:
    if field == "schema_title":
        return schema_title(artifact.get("type", {})) == value
    if field == "state":
        return artifact.get("state") == value
    if field == "name":
        return artifact["name"] == value
    parts = field.split(".")
    if (
        len(parts) == 3
        and parts[0] == "metadata"
        and parts[2] in ("number_value", "string_value", "bool_value")
    ):
        recorded = artifact.get("metadata", {}).get(parts[1])
        if recorded is None:
            return False
        if parts[2] == "number_value":
            return isinstance(recorded, (int, float)) and float(recorded) == float(value)
        if parts[2] == "bool_value":
            return recorded is (value.lower() == "true")
        return recorded == value
    raise SpecError(f"resolver filter field {field!r} is not one run-local understands")
