"""The InfraValidator refuses what ``quickdraw serve`` cannot load or answer, and the Pusher then pushes nothing.

Real components' executors on real artifacts of the demo pipeline: a copy of its model whose
``predict_strokes`` is broken on purpose (the Evaluator, which scores ``serving_default`` and
``transform_features``, would bless it), and the good model with a load timeout too short to meet.
"""

from __future__ import annotations

import dataclasses
import os
import threading

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from components.infra_validation import executor as infra
from components.pusher import executor as pusher
from components.training import signatures
from pipeline import predict, runs

pytestmark = pytest.mark.slow  # a server process per case


def _broken_model(pushed: str, directory: str) -> str:
    """The pushed model re-saved with a ``predict_strokes`` that fails on every drawing."""
    loaded = tf.saved_model.load(pushed)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.float32, name="x"),
            tf.TensorSpec([None], tf.float32, name="y"),
            tf.TensorSpec([None], tf.int32, name="stroke_lengths"),
        ]
    )
    def broken(x, y, stroke_lengths):
        with tf.control_dependencies(
            [tf.debugging.assert_equal(tf.size(x), -1, message="broken on purpose")]
        ):
            return {signatures.PROBABILITIES: tf.zeros([1, 1]) + tf.reduce_sum(x)}

    kept = (signatures.SERVING_DEFAULT, signatures.PREDICT_STROKES_BATCH, signatures.TRANSFORM_FEATURES)
    sigs = {name: loaded.signatures[name] for name in kept}
    sigs[signatures.PREDICT_STROKES] = broken.get_concrete_function()
    target = os.path.join(directory, "Format-Serving")
    tf.saved_model.save(loaded, target, signatures=sigs)
    return directory


def _validate(model_uri: str, examples_uri: str, blessing_uri: str, load_timeout_s: float = 180.0):
    model = standard_artifacts.Model()
    model.uri = model_uri
    examples = standard_artifacts.Examples()
    examples.uri = examples_uri
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = blessing_uri
    properties = {infra.DRAWINGS: 4, infra.LOAD_TIMEOUT: load_timeout_s, infra.REQUEST_TIMEOUT: 60.0}
    infra.Executor().Do({infra.MODEL_KEY: [model], infra.EXAMPLES_KEY: [examples]}, {infra.BLESSING_KEY: [blessing]},
                        properties)  # fmt: skip
    return blessing


def _push(blessing, serving: str, tmp_path) -> standard_artifacts.PushedModel:
    from tfx.proto import pusher_pb2
    from tfx.utils import proto_utils

    model_blessing = standard_artifacts.ModelBlessing()
    model_blessing.uri = str(tmp_path / "model_blessing")
    model_blessing.set_int_custom_property("blessed", 1)  # the Evaluator blessed it
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving)
    )
    pusher.Executor().Do(
        {"model_blessing": [model_blessing], "infra_blessing": [blessing]},
        {"pushed_model": [pushed]},
        {"push_destination": proto_utils.proto_to_json(destination)},
    )
    return pushed


def test_a_model_whose_signature_is_broken_is_refused_with_the_reason_and_not_pushed(demo, tmp_path):
    result = demo["first"]
    examples = result.nodes["QuickDrawExampleGen"].uri("examples")
    model = _broken_model(result.pushed_to, str(tmp_path / "model"))
    blessing = _validate(model, examples, str(tmp_path / "blessing"))
    reason = blessing.get_string_custom_property(infra.REASON)
    assert (
        blessing.get_int_custom_property(infra.BLESSED) == 0
        and blessing.get_int_custom_property(infra.HAS_MODEL) == 0
    )
    assert "predict_strokes" in reason and "broken on purpose" in reason, reason
    with open(os.path.join(blessing.uri, infra.NOT_BLESSED_FILE)) as f:
        assert f.read() == reason
    assert not os.path.exists(os.path.join(blessing.uri, "stamped_model")), "a refused copy is not kept"

    serving = str(tmp_path / "serving")
    pushed = _push(blessing, serving, tmp_path)
    assert pushed.get_int_custom_property("pushed") == 0
    assert not os.path.exists(serving) or not os.listdir(serving)
    # What the run summary says when the Evaluator blessed and the InfraValidator refused:
    refused = dataclasses.replace(
        result, infra_validation=runs.InfraValidation(False, reason), pushed_to=None
    )
    summary = refused.summary()
    assert f"InfraValidator refused the model: {reason}." in summary and "not servable; not pushed" in summary


def test_a_server_that_does_not_load_the_model_in_time_is_refused(demo, tmp_path):
    serving = tmp_path / "serving"
    serving.mkdir()
    os.symlink(demo["first"].pushed_to, serving / "1")
    server = infra.CandidateServer(str(serving), str(tmp_path / "server.log"), load_timeout_s=1.0)
    try:
        with pytest.raises(infra.NotServable, match="within 1 s"):
            server.wait_until_available()
    finally:
        server.stop()
    # The whole check: the expected answers are computed beside the wait, and the refusal is the deadline's;
    # the in-process calls have stopped when it returns (none is left running behind the component).
    ink = np.array([[0.1, 0.2, 0.0], [0.3, 0.1, 1.0]], np.float32)
    with pytest.raises(infra.NotServable, match="within 1 s"):
        infra.validate(demo["first"].pushed_to, predict.ink_examples([ink]), 1.0, 60.0)
    assert not [t for t in threading.enumerate() if t.name.startswith(infra.IN_PROCESS_THREADS)]


def test_answers_that_differ_from_the_model_in_process_are_named():
    expected = {
        "top_k_labels": np.array([[b"cat", b"dog"]], dtype=object),
        "probabilities": np.array([[0.7, 0.3]], np.float32),
    }
    assert (
        infra.difference(expected, {"top_k_labels": [["cat", "dog"]], "probabilities": [[0.7, 0.3]]}) is None
    )
    assert "top-k labels" in infra.difference(
        expected, {"top_k_labels": [["dog", "cat"]], "probabilities": [[0.3, 0.7]]}
    )
    assert "differ by up to 0.1" in infra.difference(
        expected, {"top_k_labels": [["cat", "dog"]], "probabilities": [[0.6, 0.4]]}
    )
    assert "shape" in infra.difference(
        expected, {"top_k_labels": [["cat", "dog"]], "probabilities": [0.7, 0.3]}
    )


def test_the_drawings_rebuilt_from_eval_examples_score_as_the_examples_do(demo, served):
    """``predict_strokes`` on the strokes rebuilt from an example's ink answers as ``serving_default`` on the
    example: the InfraValidator's stroke requests are the eval drawings themselves."""
    split = os.path.join(demo["first"].nodes["QuickDrawExampleGen"].uri("examples"), "Split-eval")
    examples = infra.eval_examples(split, 8)
    by_example = served.signatures[signatures.SERVING_DEFAULT](examples=tf.constant(examples))
    for i, example in enumerate(examples):
        strokes = infra.strokes_of(example)
        by_strokes = served.signatures[signatures.PREDICT_STROKES](
            **{k: tf.constant(v) for k, v in strokes.items()}
        )
        np.testing.assert_allclose(
            by_strokes[signatures.PROBABILITIES].numpy()[0],
            by_example[signatures.PROBABILITIES].numpy()[i],
            atol=1e-4,
        )
