"""`quickdraw kubeflow run-local`: the compiled pipeline JSON, every task through TFX's Kubeflow v2 entrypoint.

One compile of the demo pipeline (small model, local root, in-process Beam), run task by task as
subprocesses; then a compile at a 0.999 threshold, run against the same metadata store (the
resolver finds the first run's blessed model; the unchanged tasks are cache hits); then one with the
official 345-class schema (the DataGate stops the run); then one whose ExampleGen names an executor
class that does not exist.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import sys

import numpy as np
import pytest

from components.tuning.config import TuningConfig
from pipeline import kubeflow_v2, runs
from pipeline.kubeflow_local.runner import CACHED, RESOLVED, SKIPPED, SUCCEEDED, run_local
from tests.support import (
    DEMO_CLASSES,
    GATED_COMPONENTS,
    IN_MEMORY,
    PIPELINE_COMPONENTS,
    REAL_DIR,
    SETTINGS,
    require,
)

pytestmark = pytest.mark.slow

# TFX's Tuner in its own task, as small as a search gets (one trial of 2 steps). The Trainer trains with what it
# chooses, so every choice is one that learns in the test's 80 steps (the tests' own model, its learning rate and
# dropout; augmentation off, unlike the settings, so the values the Trainer used are the Tuner's). With the
# default space the seed chose 1e-3, dropout 0.5 and augmentation 1.5, and one run's model scored 0.397 against
# the 0.4 threshold: blessed or not by chance.
TUNING = TuningConfig(
    tune=True,
    tune_trials=1,
    tune_steps=2,
    tune_learning_rate=(SETTINGS.training.model.learning_rate,),
    tune_dropout=(SETTINGS.training.model.dropout,),
    tune_lstm_units=(SETTINGS.training.model.lstm_units,),
    tune_lstm_layers=(SETTINGS.training.model.lstm_layers,),
    tune_augmentation=(0.0,),
)
RESOLVERS = (
    "latest_blessed_model_resolver-model-blessing-resolver",
    "latest_blessed_model_resolver-model-resolver",
)


def compile_demo(
    base, name: str, accuracy_threshold: float, schema: str = "demo", bulk_infer: bool = False
) -> str:
    spec = str(base / name)
    # No TFLite conversion (~25 s): this is about the tasks' plumbing; the TFLite export has its own tests.
    training = dataclasses.replace(SETTINGS.training, tflite="none")
    validation = dataclasses.replace(SETTINGS.validation, schema=schema)
    settings = dataclasses.replace(
        SETTINGS,
        accuracy_threshold=accuracy_threshold,
        training=training,
        validation=validation,
        bulk_infer=bulk_infer,
        tuning=TUNING,
    )
    kubeflow_v2.compile_pipeline(
        spec,
        input_pattern=str(base / "ndjson"),
        pipeline_root=str(base / "root"),
        serving_dir=str(base / "serving"),
        image="local",
        settings=settings,
        beam_args=IN_MEMORY,
    )
    return spec


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    from pipeline.tools import demo_data

    base = tmp_path_factory.mktemp("run_local")
    demo_data.write_corpus(str(base / "ndjson"), per_class=120, classes=DEMO_CLASSES, seed=0)
    lines: list[str] = []
    result = run_local(
        compile_demo(base, "pipeline.json", SETTINGS.accuracy_threshold, bulk_infer=True), say=lines.append
    )
    return base, result, lines


def test_every_task_ran_and_a_blessed_model_was_pushed(first):
    base, result, lines = first
    assert {name: t.state for name, t in result.tasks.items()} == {
        **{name: SUCCEEDED for name in (*PIPELINE_COMPONENTS, runs.TUNER, runs.BULK_INFERRER)},
        **{name: RESOLVED for name in RESOLVERS},
    }
    nothing_blessed_yet = not any(any(result.tasks[name].outputs.values()) for name in RESOLVERS)
    assert nothing_blessed_yet
    assert result.outcome is not None and result.outcome.blessed, result.outcome
    pushed = result.outcome.pushed_to
    assert pushed and os.path.dirname(pushed) == str(base / "serving")
    assert os.listdir(base / "serving") == [os.path.basename(pushed)] and os.path.basename(pushed).isdigit()
    assert os.path.exists(os.path.join(pushed, "saved_model.pb"))
    # The InfraValidator served the candidate inside the task (on loopback) and its warm-up file was pushed.
    assert result.outcome.infra_validation is not None and result.outcome.infra_validation.blessed
    assert os.path.exists(os.path.join(pushed, "assets.extra", "tf_serving_warmup_requests"))
    # TFX's BulkInferrer ran in its own task after the Pusher, on the blessed model: PredictionLogs written.
    (inference,) = result.tasks[runs.BULK_INFERRER].outputs["inference_result"]
    assert glob.glob(os.path.join(inference["uri"], runs.PREDICTION_LOGS))
    assert result.outcome.bulk_inference is not None and result.outcome.bulk_inference.scored
    # Each task started and ended on the terminal, and its full output is in its log.
    for name in PIPELINE_COMPONENTS:
        assert any(name in line and "running" in line for line in lines), name
        assert os.path.exists(os.path.join(result.workdir, "logs", result.run_id, f"{name}.log"))
    assert any("Training: step 80/80" in line for line in lines)  # the Trainer's progress came through
    # The Tuner's best_hyperparameters reached the Trainer's task, which trained with them and said so.
    chosen = result.outcome.hyperparameters
    assert chosen is not None and chosen.source == "the Tuner" and len(chosen.trials) == 1
    assert (
        chosen.values["learning_rate"] in TUNING.tune_learning_rate
        and chosen.summary() in result.outcome.summary()
    )
    (model_run,) = result.tasks[runs.TRAINER].outputs["model_run"]
    with open(os.path.join(model_run["uri"], "training_summary.json")) as f:
        assert json.load(f)["hyperparameters"] == chosen.values


def test_the_pushed_model_answers_predict_strokes_on_real_drawings(first):
    import tensorflow as tf

    from pipeline import predict

    directory = require(REAL_DIR, "the real Quick, Draw! drawings")
    _, result, _ = first
    signature = tf.saved_model.load(result.outcome.pushed_to).signatures["predict_strokes"]
    first_class = sorted(n for n in os.listdir(directory) if n.endswith(".ndjson"))[0]
    with open(os.path.join(directory, first_class)) as f:
        drawings = [json.loads(next(f))["drawing"] for _ in range(5)]
    for strokes in drawings:
        inputs = predict.strokes_inputs(strokes)
        answer = signature(
            x=tf.constant(inputs["x"]), y=tf.constant(inputs["y"]),
            stroke_lengths=tf.constant(inputs["stroke_lengths"], tf.int32),
        )  # fmt: skip
        probabilities = answer["probabilities"].numpy()
        # The demo classes, plus the output for "class not in training data".
        assert probabilities.shape == (1, DEMO_CLASSES + 1) and np.isclose(probabilities.sum(), 1, atol=1e-4)
        assert len(answer["top_k_labels"].numpy()[0]) >= 1


def test_a_stricter_threshold_reruns_the_evaluation_only_and_pushes_nothing_saying_why(first):
    base, before, _ = first
    lines: list[str] = []
    result = run_local(compile_demo(base, "strict.json", 0.999), say=lines.append)
    states = {name: t.state for name, t in result.tasks.items()}
    assert states["Evaluator"] == SUCCEEDED and states["Pusher"] == SUCCEEDED
    assert all(states[n] == CACHED for n in PIPELINE_COMPONENTS if n not in ("Evaluator", "Pusher")), states
    assert states[runs.TUNER] == CACHED
    # The resolver found the first run's blessing and, by the name the blessing recorded, its model.
    model = result.tasks[RESOLVERS[1]].outputs["model"][0]
    assert model["name"] == before.tasks["Trainer"].outputs["model"][0]["name"]
    outcome = result.outcome
    assert not outcome.blessed and outcome.pushed_to is None
    assert any("threshold 0.9990" in reason for reason in outcome.reasons), outcome.reasons
    assert "Model not blessed: accuracy" in outcome.summary() and "not pushed" in outcome.summary()
    assert len(os.listdir(base / "serving")) == 1  # still only the first run's version


def test_data_with_anomalies_skips_the_gated_tasks_and_says_why(first):
    """The official 345-class schema does not know the demo's shapes: the DataGate's verdict (`passed` 0 in
    its executor output's metadata) makes the trigger condition false, as on the backend."""
    base, _, _ = first
    result = run_local(
        compile_demo(base, "official_schema.json", 0.4, schema="quickdraw"), say=lambda _: None
    )
    states = {name: t.state for name, t in result.tasks.items()}
    assert states["DataGate"] == SUCCEEDED and states["QuickDrawExampleGen"] == CACHED
    assert all(states[name] == SKIPPED for name in (*GATED_COMPONENTS, runs.TUNER)), states
    assert "is false" in result.tasks["Transform"].detail
    outcome = result.outcome
    assert not outcome.trained and not outcome.data.passed
    assert any(line.startswith("word") for line in outcome.data.lines), outcome.data.lines
    assert "not trained" in outcome.summary()


def test_a_wrong_executor_class_stops_the_run_at_that_task_with_its_exit_code_and_output(first, capfd):
    """`quickdraw kubeflow run-local` (its `main`, in this process) on a spec whose ExampleGen names an executor
    class that does not exist: exit code 1, the failing task named with its exit code, its output and log."""
    from pipeline import cli

    base, _, _ = first
    with open(compile_demo(base, "pipeline.json", SETTINGS.accuracy_threshold)) as f:
        spec = json.load(f)
    executor = spec["pipelineSpec"]["deploymentSpec"]["executors"]["QuickDrawExampleGen_executor"]
    args = executor["container"]["args"]
    args[args.index("--executor_class_path") + 1] = "components.example_gen.executor.NoSuchExecutor"
    broken = base / "broken.json"
    broken.write_text(json.dumps(spec))
    assert cli.main(["kubeflow", "run-local", str(broken)]) == 1
    done = capfd.readouterr()
    assert "task QuickDrawExampleGen failed with exit code 1" in done.err
    assert "NoSuchExecutor" in done.err and "full log:" in done.err
    assert "StatisticsGen" not in done.out  # nothing after the failing task ran


def test_a_forked_task_is_its_own_process_with_its_output_exit_code_and_environment(first, monkeypatch):
    """What `launcher.run` relies on when it forks a task from the server (which imported TFX's entrypoint once,
    for the run above) instead of starting `python -m`: each task a process of its own, its argv, the runner's
    environment as it is now, its output from Python and from file descriptor 2, its exit code, and a kill."""
    from pipeline.kubeflow_local.forkserver import ENTRYPOINT, Forked, module_of

    # The entrypoint's command lines are forked (the launcher gives them this interpreter); any other is a subprocess.
    assert module_of([sys.executable, "-m", ENTRYPOINT, "--executor_class_path", "x.Y"]) == ENTRYPOINT
    assert module_of([sys.executable, "-m", "json.tool"]) is None and module_of(["sh", "-c", "true"]) is None
    monkeypatch.setenv("FORKED_TASK_SAYS", "set after the server started")
    pids = set()
    for code in (0, 3):
        task = Forked("tests.forked_task", [str(code)], os.environ)
        lines = list(task.stdout)
        assert task.wait() == code
        assert f"argv ['{code}'] env set after the server started preloaded True\n" in lines[0], lines
        assert "written to file descriptor 2\n" in lines
        pids.add(int(lines[0].split()[1]))
    assert len(pids) == 2 and os.getpid() not in pids
    sleeping = Forked("tests.forked_task", ["sleep"], os.environ)
    assert sleeping.stdout.readline().startswith("pid ")
    sleeping.kill()
    assert sleeping.wait() == -9
