"""`pipeline/runs.py`: the node ids, runs found in MLMD, their artifacts, and the DataGate's verdict."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys

import pytest

from components.data_validation.verdict import VERDICT_FILE, Verdict
from components.errors import UserError
from pipeline import runs
from pipeline.configs import PIPELINE_NAME


def _verdict(uri: str, **changes) -> Verdict:
    fields = dict(
        passed=False,
        proceeded_despite_anomalies=False,
        lines=["word [train]: Unexpected string values (<b>unicorn</b>)"],
        notes=["drift not checked: no statistics of earlier examples to compare with"],
        anomalies_uri=uri,
        example_validator_anomalies="/elsewhere",
    )
    return Verdict(**{**fields, **changes})


def test_a_verdict_reads_back_what_the_gate_wrote(tmp_path):
    written = _verdict(str(tmp_path), anomalies=[{"feature": "word", "split": "train"}])
    written.write()
    assert Verdict.read(str(tmp_path)) == written
    assert written.summary()[0] == "Stopped before Transform and training: the data has 1 anomalies:"
    assert dataclasses.replace(written, passed=True, lines=[]).summary() == []
    proceeded = dataclasses.replace(written, passed=True, proceeded_despite_anomalies=True)
    assert "trained anyway (--proceed-on-anomalies)" in proceeded.summary()[0]


@pytest.mark.parametrize("content", [None, "not json", json.dumps({"passed": True})])
def test_a_missing_or_broken_verdict_is_a_clear_error(tmp_path, content):
    if content is not None:
        (tmp_path / VERDICT_FILE).write_text(content)
    with pytest.raises(UserError, match="cannot read the data validation verdict"):
        Verdict.read(str(tmp_path))


def test_a_directory_without_metadata_is_not_a_pipeline_root(tmp_path):
    with pytest.raises(runs.RunNotFound, match="is .* a pipeline root"):
        runs.find_run(str(tmp_path), PIPELINE_NAME)
    assert runs.statistics_of_other_examples(str(tmp_path), PIPELINE_NAME, {"a": 1}) is None


# A process that dies inside a metadata write, as a SIGKILLed `quickdraw run` can: its rollback journal stays.
KILLED_INSIDE_A_WRITE = """
import os, signal, sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("PRAGMA cache_size = 1")  # the changed pages reach the file before the commit
connection.execute("BEGIN IMMEDIATE")
for i in range(2000):
    connection.execute("INSERT INTO Type (name, type_kind) VALUES (?, 2)", (f"half-written {i}",))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_runs_are_read_after_a_run_was_killed_inside_a_metadata_write(tmp_path):
    """Reading the runs (the outcome, the report, the next run's drift baseline) rolls back what a killed run
    left half-written, as the next run's own connection would, instead of failing on the read-only store."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = runs.metadata_path(str(tmp_path))
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = metadata_store.MetadataStore(config)
    pipeline_type = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline"))
    store.put_contexts([metadata_store_pb2.Context(type_id=pipeline_type, name=PIPELINE_NAME)])
    del store
    killed = subprocess.run([sys.executable, "-c", KILLED_INSIDE_A_WRITE, config.sqlite.filename_uri])
    assert killed.returncode == -signal.SIGKILL
    assert os.path.getsize(config.sqlite.filename_uri + "-journal") > 0, "no journal left: nothing tested"

    assert runs.Runs(str(tmp_path), PIPELINE_NAME).ids() == []
    assert runs.statistics_of_other_examples(str(tmp_path), PIPELINE_NAME, {"a": 1}) is None
    kept = runs._open(config.sqlite.filename_uri).get_context_types()
    assert [t.name for t in kept] == ["pipeline"], "the killed transaction is rolled back"


@pytest.mark.slow
def test_runs_of_a_real_pipeline_root_are_found_by_id_latest_and_finished_node(demo):
    recorded = runs.Runs(demo["root"], PIPELINE_NAME)
    first = demo["first"].run_id
    assert first in recorded.ids()
    run = recorded.find(first)
    assert run.run_id == first and set(runs.COMPONENTS) <= set(run.nodes)  # and the resolver
    assert recorded.ids()[-1] == first  # newest first: other tests may have rerun the demo pipeline since
    assert run.nodes[runs.PUSHER].custom("pushed_model", "pushed") == 1
    assert recorded.find(with_node=runs.EVALUATOR).nodes[runs.EVALUATOR].uri("evaluation")
    assert run.nodes[runs.EXAMPLE_GEN].parameter("shards") == 2  # an execution parameter as recorded
    verdict = run.verdict()
    assert (
        verdict is not None
        and verdict.passed
        and verdict.anomalies_uri == run.nodes[runs.DATA_GATE].uri("verdict")
    )
    with pytest.raises(runs.RunNotFound, match="no run 'nope'"):
        recorded.find("nope")
    with pytest.raises(runs.RunNotFound, match="has a finished NoSuchComponent"):
        recorded.find(with_node="NoSuchComponent")
    with pytest.raises(runs.RunNotFound, match="no run of pipeline 'other'"):
        runs.find_run(demo["root"], "other")
