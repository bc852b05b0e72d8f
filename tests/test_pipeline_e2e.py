"""The whole TFX pipeline end to end (LocalDagRunner, SQLite MLMD, real Beam, real TFMA).

One small pipeline root is built once per module on the demo corpus and then
driven through the situations a user meets: the first run blesses and pushes, an
unchanged rerun reuses every cached component, a stricter threshold rejects the
model without pushing it, and the pushed model serves through both signatures and
``quickdraw predict``. (The pipeline on real drawings: ``test_pipeline_real_drawings.py``.)
The model is shrunk (one 16-unit BiLSTM) so that the module stays within minutes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components.conversion import parsing
from components.conversion.manifest import read_manifest
from components.pusher.executor import versions
from components.training import signatures
from pipeline import fingerprints, local_run, predict, runs
from pipeline.configs import PipelineConfig
from pipeline.tools import demo_data
from tests.support import BAD_LINES, DEMO_CLASSES, REPO, SETTINGS, SETTINGS_FLAGS, copy_sources

pytestmark = pytest.mark.slow  # a TFX pipeline, a compile or a subprocess per test: `make test` only


def test_first_run_blesses_and_pushes_a_servable_model(demo):
    result = demo["first"]
    assert result.blessed and not result.reasons
    assert set(result.nodes) >= {"QuickDrawExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"}
    (version,) = versions(demo["serving"])
    assert result.pushed_to == os.path.join(demo["serving"], str(version))
    assert os.path.exists(os.path.join(result.pushed_to, "saved_model.pb"))
    assert not [n for n in os.listdir(demo["serving"]) if not n.isdigit()], "staging left behind"
    # The Evaluator scored every eval drawing the ExampleGen wrote.
    manifest = read_manifest(result.nodes["QuickDrawExampleGen"].uri("examples"))
    assert result.metrics["example_count"] == manifest["splits"]["eval"]["records"]
    assert result.metrics["sparse_categorical_accuracy"] >= SETTINGS.accuracy_threshold
    assert result.metrics["top_3_accuracy"] >= result.metrics["sparse_categorical_accuracy"]
    assert result.metrics["top_5_accuracy"] >= result.metrics["top_3_accuracy"]
    # TensorBoard logs in the Trainer's run directory.
    run_dir = result.nodes["Trainer"].uri("model_run")
    assert any("tfevents" in f for _, _, files in os.walk(run_dir) for f in files)
    # Trained on a CPU without tracing the LSTMs' cuDNN kernel, yet the SavedModel holds it, for Grappler to
    # swap in on a server with a GPU, without the gradient functions nothing serving computes (`lstm_variants`).
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(result.pushed_to, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    functions = saved.meta_graphs[0].graph_def.library.function
    preferred = [f.attr["api_preferred_device"].s for f in functions]
    assert b"GPU" in preferred and b"CPU" in preferred
    assert not [f.signature.name for f in functions if "__backward_" in f.signature.name]


def test_the_evaluation_has_every_slice(demo):
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(demo["first"].evaluation_uri)
    slices = {s for s, _ in result.slicing_metrics}
    assert () in slices
    assert {dict(s)["word"] for s in slices if s and s[0][0] == "word"} == set(
        list(demo_data.SHAPES)[:DEMO_CLASSES]
    )
    assert any(s and s[0][0] == "countrycode" for s in slices)
    assert {dict(s)["recognized"] for s in slices if s and s[0][0] == "recognized"} <= {0, 1}


# Everything up to the model: what an unchanged rerun, or an edit of a later stage, takes from the cache.
BEFORE_THE_EVALUATOR = {
    "QuickDrawExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "DataGate",
    "Transform",
    "Trainer",
}


def test_an_unchanged_rerun_reuses_the_cache_and_pushes_no_new_version(demo):
    before = versions(demo["serving"])
    result, _ = local_run.run(
        input_pattern=demo["corpus"],
        pipeline_root=demo["root"],
        serving_dir=demo["serving"],
        settings=SETTINGS,
    )
    cached = {name for name, node in result.nodes.items() if node.cached}
    assert cached >= BEFORE_THE_EVALUATOR
    assert result.blessed  # against itself as the baseline: no drop
    assert versions(demo["serving"]) == before


def test_the_bulk_inferrer_scores_every_example_is_cached_and_feeds_the_report_and_disputes(
    demo, served, tmp_path
):
    """--bulk-infer: TFX's BulkInferrer runs after the Pusher on the blessed model (the rest is cached), its
    PredictionLogs hold every train and eval example with the served model's probabilities, a rerun reuses
    it, and the report's data-quality section and `quickdraw disputes` read it."""
    from tensorflow_serving.apis import prediction_log_pb2

    from pipeline import cli, disputes
    from pipeline.report import collect, render

    settings = dataclasses.replace(SETTINGS, bulk_infer=True)

    def run():
        return local_run.run(
            input_pattern=demo["corpus"],
            pipeline_root=demo["root"],
            serving_dir=demo["serving"],
            settings=settings,
        )[0]

    result = run()
    assert not result.nodes[runs.BULK_INFERRER].cached and result.nodes[runs.TRAINER].cached
    assert result.bulk_inference.scored and result.bulk_inference.summary() in result.summary()
    files = sorted(tf.io.gfile.glob(os.path.join(result.bulk_inference.uri, runs.PREDICTION_LOGS)))
    logs = [
        prediction_log_pb2.PredictionLog.FromString(r).predict_log
        for r in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator()
    ]
    examples = result.nodes[runs.EXAMPLE_GEN]
    assert len(logs) == examples.custom("examples", "written")
    serve = served.signatures["serving_default"]
    inputs = [tf.make_ndarray(log.request.inputs["examples"]).reshape(-1)[0] for log in logs[:64]]
    expected = serve(examples=tf.constant(inputs))["probabilities"].numpy()
    logged = np.concatenate([tf.make_ndarray(log.response.outputs["probabilities"]) for log in logs[:64]])
    np.testing.assert_allclose(logged, expected, atol=1e-5)

    assert run().nodes[runs.BULK_INFERRER].cached

    built = collect.build(demo["root"], result.run_id)
    found = built.disputes
    assert found is not None and sum(found.scored.values()) == len(logs)
    assert set(found.scored) == {"train", "eval"} and found.scored["eval"] == result.metrics["example_count"]
    assert sum(found.per_class.values()) == sum(found.disputed.values()) > 0  # a small model disputes many
    assert sum(n for n, _ in found.by_recognized.values()) == len(logs)
    for word, count, shown in found.most_disputed():
        assert 0 < len(shown) <= min(count, disputes.SHOWN_PER_CLASS)
        assert [d.word_score for d in shown] == sorted(d.word_score for d in shown)
        assert all(
            d.word == word and d.predicted != word and d.predicted_score >= disputes.CONFIDENT for d in shown
        )
    page = render.render(built)
    assert "Drawings the model disputes" in page and "Most confused in the training data" in page

    output = tmp_path / "disputed.ndjson"
    assert cli.main(["disputes", "--pipeline-root", demo["root"], "--output", str(output)]) == 0
    with open(output, encoding="utf-8") as f:
        listed = [json.loads(line) for line in f]
    assert len(listed) == sum(found.disputed.values())
    assert [(d["word"], d["word_score"]) for d in listed] == sorted(
        (d["word"], d["word_score"]) for d in listed
    )
    for d in listed:
        assert d["top_k"][0]["label"] != d["word"] and d["top_k"][0]["score"] >= disputes.CONFIDENT
        assert {"word", "countrycode", "recognized", "key_id", "drawing", "split"} <= d.keys()
        assert all(len(xs) == len(ys) > 0 and 0 <= min(xs) and max(xs + ys) <= 255 for xs, ys in d["drawing"])
    # The listed drawings parse as corpus lines: a user can review them, or drop their key_ids and rerun.
    assert all(isinstance(parsing.parse_line(json.dumps(d).encode(), 20_000), tuple) for d in listed)


def test_after_an_edit_of_the_pusher_only_the_pusher_runs_again(demo, tmp_path):
    """The code keys are per stage: a Pusher edit must not re-run the conversion, Transform or training."""
    copy_sources(str(tmp_path))
    with open(tmp_path / "components" / "pusher" / "executor.py", "a", encoding="utf-8") as f:
        f.write("\n# an edit of the Pusher\n")
    edited = fingerprints.stage_fingerprints(str(tmp_path))
    assert edited[fingerprints.PUSHER] != fingerprints.stage_fingerprints()[fingerprints.PUSHER]
    before = versions(demo["serving"])
    result, _ = local_run.run(
        input_pattern=demo["corpus"],
        pipeline_root=demo["root"],
        serving_dir=demo["serving"],
        settings=SETTINGS,
        code_fingerprints=edited,
    )
    cached = {name for name, node in result.nodes.items() if node.cached}
    assert cached >= BEFORE_THE_EVALUATOR
    assert "Pusher" not in cached and result.blessed
    assert versions(demo["serving"]) == before  # the same model: recorded, not copied again


def test_a_model_below_the_threshold_is_not_pushed(demo):
    """... and the BulkInferrer (--bulk-infer) skips it, as TFX's does for an unblessed model, saying so."""
    from pipeline import disputes

    before = versions(demo["serving"])
    strict = PipelineConfig(**{**SETTINGS.__dict__, "accuracy_threshold": 1.0, "bulk_infer": True})
    result, _ = local_run.run(
        input_pattern=demo["corpus"], pipeline_root=demo["root"], serving_dir=demo["serving"], settings=strict
    )
    assert not result.bulk_inference.scored and "BulkInferrer: nothing scored" in result.summary()
    with pytest.raises(disputes.NoBulkPredictions, match="did not bless"):
        disputes.write_disputed(demo["root"], io.StringIO(), run_id=result.run_id)
    assert not result.blessed and result.pushed_to is None
    assert result.nodes["Trainer"].cached, "only the Evaluator and Pusher should run again"
    assert any("accuracy" in r and "< threshold 1.0000" in r for r in result.reasons)
    assert "Model not blessed: accuracy" in result.summary() and "not pushed" in result.summary()
    assert result.nodes["Pusher"].custom("pushed_model", "pushed") in (0, None)
    assert versions(demo["serving"]) == before


def test_the_cli_prints_the_outcome_and_a_busy_root_is_refused(demo):
    command = [sys.executable, "-m", "pipeline.cli", "run", "--input", demo["corpus"]]
    command += [
        "--pipeline-root",
        demo["root"],
        "--serving-dir",
        demo["serving"],
        "--accuracy-threshold",
        "1.0",
    ]
    command += SETTINGS_FLAGS
    with local_run.exclusive(demo["root"]):
        busy = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert busy.returncode == 2 and "another `quickdraw run`" in busy.stderr
    # -v after the command, where users type it (TFX's Beam executors once read `-v` from sys.argv as
    # absl's --verbosity and failed): everything on the terminal, and in the run's log file.
    done = subprocess.run([*command, "-v"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Model not blessed: accuracy" in done.stdout and "< threshold 1.0000; not pushed." in done.stdout
    assert "reused from cache" in done.stdout and "Trainer" in done.stdout
    assert f"Report: quickdraw report --pipeline-root {demo['root']} --run " in done.stdout
    # Library lines are on the terminal only with -v (test_console), and in the log file always.
    assert "MetadataStore with DB connection initialized" in done.stderr
    (log,) = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("Log: ")]
    with open(log, encoding="utf-8") as f:
        assert "MetadataStore with DB connection initialized" in f.read()


def _strokes(line: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    drawing = json.loads(line)["drawing"]
    x = np.concatenate([s[0] for s in drawing]).astype(np.float32)
    y = np.concatenate([s[1] for s in drawing]).astype(np.float32)
    return x, y, np.array([len(s[0]) for s in drawing], np.int32)


def test_every_serving_signature_gives_the_same_scores(demo, served, real_dir):
    """Serialized Examples (as the conversion wrote them) vs raw strokes of the same drawings, one per call
    and all in one ``predict_strokes_batch`` call."""
    model = served
    lines = []
    for name in sorted(os.listdir(demo["corpus"]))[:2]:
        with open(os.path.join(demo["corpus"], name), "rb") as f:
            lines += f.read().splitlines()[:10]
    with open(os.path.join(real_dir, "cat.ndjson"), "rb") as f:
        lines += f.read().splitlines()[:10]  # real drawings too: other lengths, several strokes
    drawings = [
        predict.Drawing("x", i, None, None, json.loads(line)["drawing"]) for i, line in enumerate(lines)
    ]
    by_example = model.signatures[signatures.SERVING_DEFAULT](
        examples=tf.constant(predict.serialized_examples(drawings))
    )
    for i, line in enumerate(lines):
        x, y, lengths = _strokes(line)
        by_strokes = model.signatures[signatures.PREDICT_STROKES](
            x=tf.constant(x), y=tf.constant(y), stroke_lengths=tf.constant(lengths)
        )
        np.testing.assert_allclose(
            by_strokes[signatures.PROBABILITIES].numpy()[0],
            by_example[signatures.PROBABILITIES].numpy()[i],
            atol=1e-5,
        )
        assert (
            by_strokes[signatures.TOP_K_LABELS].numpy()[0][0]
            == by_example[signatures.TOP_K_LABELS].numpy()[i][0]
        )
    strokes = [_strokes(line) for line in lines]
    batched = model.signatures[signatures.PREDICT_STROKES_BATCH](
        x=tf.constant(np.concatenate([x for x, _, _ in strokes])),
        y=tf.constant(np.concatenate([y for _, y, _ in strokes])),
        stroke_lengths=tf.constant(np.concatenate([lengths for _, _, lengths in strokes])),
        drawing_strokes=tf.constant([len(lengths) for _, _, lengths in strokes], tf.int32),
    )
    np.testing.assert_allclose(
        batched[signatures.PROBABILITIES].numpy(), by_example[signatures.PROBABILITIES].numpy(), atol=1e-5
    )
    assert (batched[signatures.TOP_K_LABELS].numpy() == by_example[signatures.TOP_K_LABELS].numpy()).all()
    # A malformed drawing in a batch fails the call with the reason, as predict_strokes does.
    with pytest.raises(tf.errors.InvalidArgumentError, match="every drawing needs >= 2 points"):
        model.signatures[signatures.PREDICT_STROKES_BATCH](
            x=tf.constant([1.0, 2.0, 3.0]), y=tf.constant([1.0, 2.0, 3.0]),
            stroke_lengths=tf.constant([2, 1]), drawing_strokes=tf.constant([1, 1]),
        )  # fmt: skip
    with pytest.raises(tf.errors.InvalidArgumentError, match="drawing_strokes must add up"):
        model.signatures[signatures.PREDICT_STROKES_BATCH](
            x=tf.constant([1.0, 2.0]), y=tf.constant([1.0, 2.0]),
            stroke_lengths=tf.constant([2]), drawing_strokes=tf.constant([2]),
        )  # fmt: skip


def test_the_infra_validator_served_the_model_and_the_push_carries_tf_serving_warmup_requests(demo, served):
    """The pushed version is the InfraValidator's stamped copy: the Trainer's model plus TF Serving's warm-up
    file of real eval drawings for every serving signature, which the model answers."""
    from tensorflow_serving.apis import prediction_log_pb2

    result = demo["first"]
    assert result.infra_validation == runs.InfraValidation(True, "")
    assert "answered as in-process (InfraValidator)" in result.summary()
    blessing = result.nodes[runs.INFRA_VALIDATOR]
    assert blessing.custom("blessing", "blessed") == 1 and blessing.custom("blessing", "has_model") == 1
    path = os.path.join(result.pushed_to, "assets.extra", "tf_serving_warmup_requests")
    logs = [
        prediction_log_pb2.PredictionLog.FromString(r)
        for r in tf.data.TFRecordDataset(path).as_numpy_iterator()
    ]
    requests = [log.predict_log.request for log in logs]
    assert {r.model_spec.signature_name for r in requests} == {
        signatures.SERVING_DEFAULT, signatures.PREDICT_STROKES, signatures.PREDICT_STROKES_BATCH
    }  # fmt: skip
    for request in requests:
        outputs = served.signatures[request.model_spec.signature_name](
            **{name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
        )
        assert outputs[signatures.TOP_K_LABELS].shape[0] >= 1
    # then predict_strokes on every length up to the setting: kernels are set up once per input shape
    wanted = SETTINGS.infra_validation.infra_warmup_points
    lengths = [len(tf.make_ndarray(r.inputs["x"])) for r in requests[-(wanted - 1) :]]
    assert lengths == list(range(2, wanted + 1))
    trained = os.path.join(result.nodes["Trainer"].uri("model"), "Format-Serving", "saved_model.pb")
    with open(trained, "rb") as a, open(os.path.join(result.pushed_to, "saved_model.pb"), "rb") as b:
        assert a.read() == b.read()


@pytest.mark.parametrize(
    "x, y, lengths, message",
    [
        ([], [], [], "needs >= 2 points"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], [3], "x and y differ"),
        ([1.0, float("nan")], [1.0, 2.0], [2], "non-finite"),
        ([1.0, 2.0], [1.0, float("inf")], [2], "non-finite"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [2], "add up"),
        ([1.0, 2.0], [1.0, 2.0], [3, -1], ">= 0"),
        (list(range(25_000)), list(range(25_000)), [25_000], "at most 20000 points"),
    ],
)
def test_the_strokes_signature_rejects_bad_drawings_clearly(served, x, y, lengths, message):
    serve = served.signatures[signatures.PREDICT_STROKES]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(
            x=tf.constant(x, tf.float32),
            y=tf.constant(y, tf.float32),
            stroke_lengths=tf.constant(lengths, tf.int32),
        )


def test_predict_reports_bad_lines_and_predicts_the_rest(demo, tmp_path, capsys):
    source = os.path.join(demo["corpus"], sorted(os.listdir(demo["corpus"]))[0])
    with open(source, "rb") as f:
        good = f.read().splitlines()[:30]
    path = tmp_path / "mixed.ndjson"
    unlabeled = json.dumps({"drawing": json.loads(good[0])["drawing"]}).encode()
    path.write_bytes(b"\n".join([good[0], b"{not json", unlabeled, b'{"drawing": []}', *good[1:]]) + b"\n")
    out, err = _Buffer(), _Buffer()
    counts = predict.predict_files(demo["serving"], [str(path)], top_k=3, out=out, errors=err)
    assert counts["predicted"] == len(good) + 1 and counts["skipped"] == 2 and counts["labelled"] == len(good)
    assert f"{path}:2: skipped: invalid_json" in err.text and f"{path}:4: skipped: empty_drawing" in err.text
    records = [json.loads(line) for line in out.text.splitlines()]
    assert (
        records[0]["key_id"] == json.loads(good[0])["key_id"]
        and records[0]["word"] == json.loads(good[0])["word"]
    )
    assert "word" not in records[1] and records[1]["key_id"] is None
    assert all(len(r["top_k"]) == 3 for r in records)
    assert all(r["top_k"][0]["score"] >= r["top_k"][1]["score"] for r in records)
    # The same drawing, with and without a word, gets the same scores.
    assert records[0]["top_k"] == records[1]["top_k"]
    assert counts["top1"] / counts["labelled"] > 0.5


class _Buffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


# Reasons about the labels and metadata: `predict` does not need them, so it still predicts those lines.
METADATA_REASONS = {
    parsing.MISSING_WORD,
    parsing.INVALID_WORD,
    parsing.MISSING_KEY_ID,
    parsing.INVALID_KEY_ID,
    parsing.INVALID_COUNTRYCODE,
    parsing.INVALID_RECOGNIZED,
}


def test_predict_accounts_for_every_line_of_the_hostile_corpus(demo, tmp_path):
    """The conversion's hostile lines through `predict`: each is predicted or skipped with the conversion's reason."""
    path = tmp_path / "hostile.ndjson"
    lines = [text for text, _ in BAD_LINES.values()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    out, err = _Buffer(), _Buffer()
    counts = predict.predict_files(demo["serving"], [str(path)], out=out, errors=err)
    expected_skips = {
        f"{path}:{number}: skipped: {reason}"
        for number, (_, reason) in enumerate(BAD_LINES.values(), start=1)
        if reason not in METADATA_REASONS
    }
    assert set(err.text.splitlines()) == expected_skips
    assert counts["skipped"] == len(expected_skips)
    assert counts["predicted"] + counts["skipped"] == len(lines)


def test_the_trainer_augments_its_training_stream_and_nothing_else(demo):
    """Augmentation runs in the training stream only (seeded), with lengths that match the ink; evaluation
    reads the ink exactly as the transform layer (and so serving) computes it. The summary says what ran."""
    import tensorflow_transform as tft

    from components import features as F
    from components.training import trainer
    from components.training.config import Augmentation, TrainingConfig

    nodes = demo["first"].nodes
    examples = nodes["QuickDrawExampleGen"].uri("examples")
    files = [os.path.join(examples, "Split-train", "*")]
    tto = tft.TFTransformOutput(nodes["Transform"].uri("transform_graph"))
    layer = tto.transform_features_layer()

    def first_batches(augmentation, seed=0, bucket_window=4):
        ds = trainer.make_dataset(
            files, tto, layer, 16, 100, seed, bucket_window=bucket_window, augmentation=augmentation
        )
        return [(inputs[F.INK].numpy(), inputs[F.LENGTH].numpy()) for inputs, _ in ds.take(3)]

    plain = first_batches(None)
    strong = Augmentation(rotation=20, scale=0.2, shear=0.2, drop_points=0.3, drop_strokes=0.2)
    augmented, again = first_batches(strong), first_batches(strong)
    for (ink, length), (ink_again, _), (_, plain_length) in zip(augmented, again, plain):
        np.testing.assert_array_equal(ink, ink_again)  # the same seed, the same drawings
        assert (
            ink.shape[1] == length.max() and (length <= plain_length).all() and (length < plain_length).any()
        )
        assert not np.abs(ink).sum(axis=2)[np.arange(ink.shape[1]) >= length[:, None]].any(), (
            "padding is zero"
        )
    # The transform layer's own ink when nothing is augmented (what the Evaluator and serving read).
    assert all(np.isfinite(ink).all() for ink, _ in plain)
    with open(os.path.join(nodes["Trainer"].uri("model_run"), "training_summary.json")) as f:
        summary = json.load(f)
    assert summary["augmentation"] == dataclasses.asdict(SETTINGS.training.augmentation())
    assert summary["learning_rate"]["schedule"] == SETTINGS.training.model.lr_schedule
    assert TrainingConfig().augmentation().active and SETTINGS.training.augmentation().active


def test_the_tuner_feeds_a_warm_started_trainer_is_cached_and_its_result_can_be_reused(demo):
    """--tune: TFX's Tuner runs a random search (2 trials), the Trainer trains with its best values (and says
    so), the report lists the trials, an unchanged rerun reuses the Tuner, and --hyperparameters FILE trains
    with that result without tuning (TFX's Importer). --warm-start in the same run (one Trainer run for both
    guarantees): the Trainer gets the resolver's latest blessed model and loads its weights."""
    from components.tuning.config import TuningConfig
    from pipeline.report import collect, render

    # Threshold 1.0: nothing is pushed, so the shared root's latest blessed model stays the first run's.
    # The space keeps the first run's LSTM (16 units, 1 layer), so that every weight of it loads.
    tuned = dataclasses.replace(
        SETTINGS,
        accuracy_threshold=1.0,
        training=dataclasses.replace(SETTINGS.training, tflite="none", warm_start=True),
        tuning=TuningConfig(
            tune=True, tune_trials=2, tune_steps=3, tune_lstm_units=(16,), tune_lstm_layers=(1,)
        ),
    )

    def run(settings):
        return local_run.run(
            input_pattern=demo["corpus"],
            pipeline_root=demo["root"],
            serving_dir=demo["serving"],
            settings=settings,
        )[0]

    result = run(tuned)
    assert not result.nodes["Tuner"].cached and not result.nodes["Trainer"].cached
    chosen = result.hyperparameters
    assert chosen.source == "the Tuner" and len(chosen.trials) == 2
    best = chosen.trials[0]
    assert chosen.values == {k: v for k, v in best.items() if k not in ("trial_id", "score")}
    assert best["score"] >= chosen.trials[1]["score"]
    with open(os.path.join(result.nodes["Trainer"].uri("model_run"), "training_summary.json")) as f:
        summary = json.load(f)
    assert summary["hyperparameters"] == chosen.values
    assert summary["warm_start"]["loaded"] is True, summary
    assert summary["warm_start"]["from"].startswith(os.path.join(demo["root"], "Trainer", "model"))
    assert not result.blessed and result.pushed_to is None
    assert chosen.summary() in result.summary()
    page = render.render(collect.build(demo["root"], result.run_id))
    assert "The Tuner&#39;s trials, best first (2)" in page or "The Tuner's trials, best first (2)" in page

    again = run(tuned)
    assert again.nodes["Tuner"].cached and again.nodes["Trainer"].cached

    best_file = os.path.join(result.nodes["Tuner"].uri("best_hyperparameters"), "best_hyperparameters.txt")
    reused = run(dataclasses.replace(tuned, tuning=TuningConfig(hyperparameters=best_file)))
    assert "Tuner" not in reused.nodes and "hyperparameters_importer" in reused.nodes
    assert reused.hyperparameters.values == chosen.values
    assert reused.hyperparameters.source == os.path.dirname(best_file)
