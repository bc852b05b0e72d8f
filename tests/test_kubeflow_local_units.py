"""run-local's parts without a pipeline: the spec checks, trigger conditions, resolver queries, the cache,
and one tiny pipeline of plain Python containers run for real (subprocesses, artifacts wired between them)."""

from __future__ import annotations

import json
import os

import pytest

from pipeline.kubeflow_local import conditions
from pipeline.kubeflow_local.metadata import LocalMetadata
from pipeline.kubeflow_local.runner import CACHED, SKIPPED, SUCCEEDED, TaskFailed, run_local
from pipeline.kubeflow_local.spec import SpecError, load

TYPE = {"instanceSchema": "title: tfx.ModelBlessing\ntype: object\n"}
MODEL = {"instanceSchema": "title: tfx.Model\ntype: object\n"}

# A container that writes its output artifact's file and, as TFX's entrypoint does, the executor output with
# the artifact's metadata; `{{$}}` is the executor input as JSON.
WRITE = """
import json, os, sys
given = json.loads(sys.argv[1])
out = given["outputs"]["artifacts"]["out"]["artifacts"][0]
os.makedirs(out["uri"], exist_ok=True)
upstream = given["inputs"].get("artifacts", {}).get("inp", {}).get("artifacts", [])
with open(os.path.join(out["uri"], "value"), "w") as f:
    f.write(given["inputs"]["parameters"]["word"]["stringValue"] + "<-" + ",".join(a["uri"] for a in upstream))
out["metadata"] = {"passed": float(given["inputs"]["parameters"]["passed"]["intValue"])}
with open(given["outputs"]["outputFile"], "w") as f:
    json.dump({"artifacts": {"out": {"artifacts": [out]}}}, f)
"""


def _component(inputs: dict | None = None, parameters: tuple = ()) -> dict:
    definitions = {"parameters": {p: {"type": "STRING" if p == "word" else "INT"} for p in parameters}}
    if inputs:
        definitions["artifacts"] = {k: {"artifactType": TYPE} for k in inputs}
    return {
        "inputDefinitions": definitions,
        "outputDefinitions": {"artifacts": {"out": {"artifactType": TYPE}}},
    }


def tiny_spec(root: str, passed: int = 1, fail: str = "", runner: str = "") -> dict:
    """A → B (gated on A's `passed`), and C after B: three Python containers."""
    args = ["-c", WRITE, "{{$}}"] + ([runner] if runner else [])
    tasks, components, executors = {}, {}, {}
    for name, upstream, condition in (("A", None, ""), ("B", "A", "passed"), ("C", "B", "")):
        component = _component({"inp": 1} if upstream else None, ("word", "passed"))
        component["executorLabel"] = f"{name}_executor"
        components[name] = component
        code = ["-c", "import sys; print('about to fail'); sys.exit(3)"] if name == fail else args
        executors[f"{name}_executor"] = {"container": {"image": "img", "command": ["python"], "args": code}}
        task: dict = {
            "componentRef": {"name": name},
            "taskInfo": {"name": name},
            "cachingOptions": {"enableCache": True},
            "inputs": {
                "parameters": {
                    "word": {"runtimeValue": {"constantValue": {"stringValue": name.lower()}}},
                    "passed": {"runtimeValue": {"constantValue": {"intValue": str(passed)}}},
                }
            },
        }
        if upstream:
            task["inputs"]["artifacts"] = {
                "inp": {"taskOutputArtifact": {"producerTask": upstream, "outputArtifactKey": "out"}}
            }
            task["dependentTasks"] = [upstream]
        if condition:
            task["triggerPolicy"] = {
                "condition": f"(inputs.artifacts['inp'].artifacts[0].metadata['{condition}'] == 1.0)"
            }
        tasks[name] = task
    return {
        "pipelineSpec": {
            "pipelineInfo": {"name": "tiny"},
            "root": {"dag": {"tasks": tasks}},
            "components": components,
            "deploymentSpec": {"executors": executors},
            "schemaVersion": "2.0.0",
        },
        "runtimeConfig": {"gcsOutputDirectory": root},
    }


def _write(tmp_path, spec: dict, name: str = "spec.json") -> str:
    path = str(tmp_path / name)
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def test_a_tiny_pipeline_runs_its_containers_wires_artifacts_and_caches(tmp_path):
    path = _write(tmp_path, tiny_spec(str(tmp_path / "root")))
    lines: list[str] = []
    first = run_local(path, say=lines.append)
    assert [t.state for t in first.tasks.values()] == [SUCCEEDED] * 3
    with open(os.path.join(first.uri("C", "out"), "value")) as f:
        assert f.read() == "c<-" + first.uri("B", "out")  # C read B's artifact, as the launcher wired it
    names = {first.tasks[t].outputs["out"][0]["name"] for t in "ABC"}
    assert len(names) == 3 and all(n.startswith("local/artifacts/") for n in names)
    assert any("[ 2/3] B" in line and "succeeded" in line for line in lines)
    second = run_local(path, say=lines.append)
    assert [t.state for t in second.tasks.values()] == [CACHED] * 3
    assert second.uri("C", "out") == first.uri("C", "out")
    third = run_local(path, cache=False, say=lines.append)
    assert [t.state for t in third.tasks.values()] == [SUCCEEDED] * 3


def test_a_false_condition_skips_the_task_and_everything_after_it(tmp_path):
    result = run_local(_write(tmp_path, tiny_spec(str(tmp_path / "root"), passed=0)), say=lambda _: None)
    assert result.tasks["A"].state == SUCCEEDED
    assert result.tasks["B"].state == SKIPPED and "is false" in result.tasks["B"].detail
    assert result.tasks["C"].state == SKIPPED and "upstream B skipped" in result.tasks["C"].detail


def test_the_first_failing_task_stops_the_run_with_its_exit_code_and_output(tmp_path):
    lines: list[str] = []
    with pytest.raises(TaskFailed) as failed:
        run_local(_write(tmp_path, tiny_spec(str(tmp_path / "root"), fail="B")), say=lines.append)
    message = str(failed.value)
    assert "task B failed with exit code 3" in message and "about to fail" in message
    assert not any(line.startswith("[ 3/3] C") for line in lines)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s["runtimeConfig"].update(gcsOutputDirectory="gs://bucket/root"), "local --pipeline-root"),
        (lambda s: s.pop("pipelineSpec"), "no pipelineSpec"),
        (lambda s: s["pipelineSpec"]["root"]["dag"]["tasks"]["A"].update(dependentTasks=["C"]), "cycle"),
    ],
)
def test_a_spec_run_local_cannot_run_is_refused_before_any_task(tmp_path, change, message):
    spec = tiny_spec(str(tmp_path / "root"))
    change(spec)
    with pytest.raises(SpecError, match=message):
        load(_write(tmp_path, spec))
    assert not os.path.exists(tmp_path / "root")


def test_beam_on_dataflow_is_refused(tmp_path):
    spec = tiny_spec(str(tmp_path / "root"), runner="--runner=DataflowRunner")
    with pytest.raises(SpecError, match="--beam-runner DirectRunner"):
        load(_write(tmp_path, spec))


def test_not_json_and_a_missing_file_are_clear_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SpecError, match="is not JSON"):
        load(str(tmp_path / "bad.json"))
    with pytest.raises(SpecError, match="no such file"):
        load(str(tmp_path / "none.json"))


def test_the_cli_refuses_beam_options_for_run_local(tmp_path, capsys):
    from pipeline import cli

    assert cli.main(["kubeflow", "run-local", str(tmp_path / "p.json"), "--runner=DirectRunner"]) == 2
    assert "Beam options belong to `kubeflow compile`" in capsys.readouterr().err


VERDICT = "(inputs.artifacts['_DataGate.verdict'].artifacts[0].metadata['passed'] == 1.0)"


@pytest.mark.parametrize(
    "condition, metadata, expected",
    [
        (VERDICT, {"passed": 1.0}, True),
        (VERDICT, {"passed": 0.0}, False),
        (VERDICT, {}, False),  # no such metadata: not equal
        (f"!{VERDICT}", {"passed": 0.0}, True),
        (f"{VERDICT} && inputs.parameter_values['n'] > 2", {"passed": 1.0}, True),
        (f"{VERDICT} || inputs.parameter_values['n'] < 2", {"passed": 0.0}, False),
        ("inputs.parameter_values['name'] != 'x'", {}, True),
    ],
)
def test_trigger_conditions_as_tfx_compiles_them(condition, metadata, expected):
    inputs = {
        "artifacts": {"_DataGate.verdict": {"artifacts": [{"metadata": metadata}]}},
        "parameterValues": {"n": 3, "name": "y"},
    }
    assert conditions.holds(condition, inputs) is expected


@pytest.mark.parametrize("condition", ["__import__('os').system('true')", "inputs.artifacts.keys()", "1 +"])
def test_anything_else_in_a_condition_is_refused_not_evaluated(condition):
    with pytest.raises(SpecError, match="condition"):
        conditions.holds(condition, {})


def test_resolver_queries_find_the_newest_match_by_type_metadata_and_name(tmp_path):
    store = LocalMetadata(str(tmp_path))
    model = {"name": store.new_name(), "uri": str(tmp_path / "m1"), "type": MODEL, "metadata": {}}
    blessed = {"name": store.new_name(), "uri": "b1", "type": TYPE, "metadata": {"blessed": 1.0}}
    blessed["metadata"]["current_model_id"] = model["name"]
    not_blessed = {"name": store.new_name(), "uri": "b2", "type": TYPE, "metadata": {"blessed": 0.0}}
    store.record("r1", "Trainer", str(tmp_path), None, {"model": [model]})
    store.record("r1", "Evaluator", str(tmp_path), None, {"blessing": [blessed]})
    store.record("r2", "Evaluator", str(tmp_path), None, {"blessing": [not_blessed]})
    query = 'schema_title="tfx.ModelBlessing" AND state=LIVE AND metadata.blessed.number_value=1'
    assert [a["uri"] for a in LocalMetadata(str(tmp_path)).latest(query)] == ["b1"]  # read back from disk
    by_name = f'schema_title="tfx.Model" AND state=LIVE AND name="{model["name"]}"'
    assert store.latest(by_name)[0]["uri"] == model["uri"]
    assert store.latest('schema_title="tfx.Model" AND name="local/artifacts/99"') == []
    with pytest.raises(SpecError, match="not one run-local understands"):
        store.latest("create_time > 5")


def test_a_cached_execution_is_not_reused_once_its_task_directory_is_gone(tmp_path):
    store = LocalMetadata(str(tmp_path))
    task_root = tmp_path / "run1" / "A"
    task_root.mkdir(parents=True)
    out = {"name": store.new_name(), "uri": str(task_root / "out"), "type": TYPE, "metadata": {}}
    store.record("run1", "A", str(task_root), "key", {"out": [out]})
    assert store.cached("key") == ("run1", {"out": [dict(out, state="LIVE")]})
    assert store.cached("other") is None
    os.rmdir(task_root)
    assert store.cached("key") is None


def test_an_importer_records_its_uri_once_and_reuses_it(tmp_path):
    """An importer task (`--hyperparameters FILE`): the URI becomes an artifact of the importer's type, and
    importing the same URI again gives the same artifact (so the consumers' cache keys stay the same)."""
    hyperparameters = {"instanceSchema": "title: tfx.HyperParameters\ntype: object\n"}
    store = LocalMetadata(str(tmp_path))
    first = store.imported("r1", "hyperparameters_importer", "result", "/best", hyperparameters)
    again = LocalMetadata(str(tmp_path)).imported(
        "r2", "hyperparameters_importer", "result", "/best", hyperparameters
    )
    assert first["uri"] == "/best" and again["name"] == first["name"]
    other = store.imported("r2", "hyperparameters_importer", "result", "/other", hyperparameters)
    assert other["name"] != first["name"]
    assert store.latest('schema_title="tfx.HyperParameters" AND state=LIVE')[0]["uri"] == "/other"


def test_the_image_checkout_path_is_read_from_this_checkout():
    from kfp.pipeline_spec import pipeline_spec_pb2

    from pipeline.kubeflow_local.launcher import checkout_dir, on_this_machine
    from pipeline.kubeflow_v2 import IMAGE_SCHEMAS_DIR

    image_path = pipeline_spec_pb2.Value(string_value=IMAGE_SCHEMAS_DIR + "/demo.pbtxt")
    local = on_this_machine(image_path).string_value
    assert local == os.path.join(checkout_dir(), "components", "data_validation", "schemas", "demo.pbtxt")
    assert os.path.exists(local)
    other = pipeline_spec_pb2.Value(string_value="/elsewhere/x")
    assert on_this_machine(other) == other
