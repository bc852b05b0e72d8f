"""`quickdraw serve`'s parts without a server: TF Serving's JSON formats, and the version watcher's rules."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import tensorflow as tf

from pipeline.serve import rest
from pipeline.serve.config import ServeConfig
from pipeline.serve.versions import AVAILABLE, END, LoadedVersion, ModelVersions

STROKES = {
    "x": tf.TensorSpec([None], tf.float32),
    "y": tf.TensorSpec([None], tf.float32),
    "stroke_lengths": tf.TensorSpec([None], tf.int32),
}
EXAMPLES = {"examples": tf.TensorSpec([None], tf.string)}


def test_columnar_and_row_bodies_become_the_signatures_arrays():
    name, fmt, payload = rest.parse_body(
        b'{"signature_name": "s", "inputs": {"x": [1, 2.5], "y": [3, 4], "stroke_lengths": [2]}}'
    )
    assert (name, fmt) == ("s", rest.COLUMNAR)
    arrays = rest.to_tensors(fmt, payload, STROKES)
    assert arrays["x"].dtype == np.float32 and arrays["x"].tolist() == [1.0, 2.5]
    assert arrays["stroke_lengths"].dtype == np.int32
    name, fmt, payload = rest.parse_body(b'{"instances": [{"b64": "YWJj"}, "d\xc3\xa9"]}')
    assert name == rest.DEFAULT_SIGNATURE
    assert rest.to_tensors(fmt, payload, EXAMPLES)["examples"].tolist() == [b"abc", "dé".encode()]
    # a single-input signature also takes its columnar value bare, and its rows keyed by name
    assert rest.to_tensors(rest.COLUMNAR, [{"b64": "YQ=="}], EXAMPLES)["examples"].tolist() == [b"a"]
    assert rest.to_tensors(rest.ROW, [{"examples": "a"}], EXAMPLES)["examples"].tolist() == [b"a"]
    rows = rest.to_tensors(rest.ROW, [{"x": 1, "y": 2, "stroke_lengths": 1}] * 2, STROKES)
    assert rows["x"].tolist() == [1.0, 1.0]


def test_responses_follow_tf_servings_two_formats():
    outputs = {"top_k_labels": np.array([[b"cat", b"dog"]], dtype=object), "scores": np.array([[0.75, 0.25]], np.float32),
               "key_bytes": np.array([b"\x00\x01"], dtype=object)}  # fmt: skip
    assert rest.to_response(rest.COLUMNAR, outputs) == {
        "outputs": {
            "top_k_labels": [["cat", "dog"]],
            "scores": [[0.75, 0.25]],
            "key_bytes": [{"b64": "AAE="}],
        }
    }
    assert rest.to_response(rest.ROW, outputs) == {
        "predictions": [
            {"top_k_labels": ["cat", "dog"], "scores": [0.75, 0.25], "key_bytes": {"b64": "AAE="}}
        ]
    }
    assert rest.to_response(rest.ROW, {"p": np.array([1.5, 2.5], np.float32)}) == {"predictions": [1.5, 2.5]}
    assert rest.to_response(rest.COLUMNAR, {"p": np.array([1.5], np.float32)}) == {"outputs": [1.5]}
    # float32 values survive JSON exactly
    value = np.float32(0.1234567)
    assert np.float32(float(rest.to_response(rest.COLUMNAR, {"p": np.array([value])})["outputs"][0])) == value


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "not valid JSON"),
        (b'{"inputs": {}, "instances": []}', "exactly one of"),
        (b'{"instances": []}', "non-empty list"),
        (b'{"instances": [1, 2]}', "must be an object keyed by input name"),
        (b'{"inputs": 3}', "keyed by input name"),
        (b'{"inputs": {"x": [1], "y": [true], "stroke_lengths": [1]}}', "input y: expected numbers"),
        (b'{"inputs": {"x": [1], "y": [1], "stroke_lengths": 1}}', "expected rank 1"),
        (b'{"inputs": {"x": [1], "y": [1], "stroke_lengths": [1.0]}}', "expected integers"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_a_body_that_does_not_fit_the_signature_says_why(body, reason):
    with pytest.raises(rest.RequestError, match=None) as caught:
        signature, fmt, payload = rest.parse_body(body)
        rest.to_tensors(fmt, payload, STROKES)
    assert reason in str(caught.value) and caught.value.status == 400


def test_serve_settings_refuse_a_model_name_that_does_not_fit_a_path():
    from components.errors import ConfigError

    with pytest.raises(ConfigError):
        ServeConfig(model_name="a/b")
    with pytest.raises(ConfigError):
        ServeConfig(port=70000)
    with pytest.raises(ConfigError):
        ServeConfig(intra_op_parallelism=-1)


def test_the_intra_op_setting_reaches_tensorflow_and_zero_leaves_its_default():
    """In a fresh process, as `quickdraw serve` sets it before it loads a model (TensorFlow refuses the change
    once it has run anything)."""
    import subprocess
    import sys

    probe = (
        "import sys; from pipeline.serve.server import set_intra_op_parallelism as s; s(int(sys.argv[1])); "
        "import tensorflow as tf; print(tf.config.threading.get_intra_op_parallelism_threads())"
    )
    for threads, expected in (("1", "1"), ("0", "0")):
        run = subprocess.run(
            [sys.executable, "-c", probe, threads],
            capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.split()[-1] == expected


def test_answered_requests_are_not_logged_and_refused_or_failed_ones_are(caplog):
    """A busy server formats no log record per answer (TF Serving logs none); a 4xx is a warning, a 5xx an
    error, as in Tornado's own access log."""
    import types

    from pipeline.serve.server import _log_request

    def handler(status: int):
        request = types.SimpleNamespace(
            method="POST",
            uri="/v1/models/quickdraw:predict",
            remote_ip="127.0.0.1",
            request_time=lambda: 0.01,
        )
        return types.SimpleNamespace(get_status=lambda: status, request=request)

    with caplog.at_level("INFO", logger="tornado.access"):
        for status in (200, 400, 503):
            _log_request(handler(status))
    assert [(r.levelname, r.getMessage().split()[0]) for r in caplog.records] == [
        ("WARNING", "400"),
        ("ERROR", "503"),
    ]
    assert "POST /v1/models/quickdraw:predict (127.0.0.1)" in caplog.records[0].getMessage()


class FakeLoader:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, version: int, path: str) -> LoadedVersion:
        self.calls.append(version)
        with open(os.path.join(path, "saved_model.pb")) as f:
            if f.read() == "broken":
                raise ValueError("not a SavedModel\nsecond line")
        return LoadedVersion(version, path, {}, {})


def _version(base, number: int, content: str = "ok", age: float = 10.0) -> None:
    directory = base / str(number)
    directory.mkdir(exist_ok=True)
    (directory / "saved_model.pb").write_text(content)
    past = time.time() - age
    os.utime(directory / "saved_model.pb", (past, past))


def test_the_newest_settled_version_is_served_and_a_broken_one_never(tmp_path):
    loader = FakeLoader()
    versions = ModelVersions(str(tmp_path), loader, settle_seconds=1.0)
    versions.poll_once()
    assert versions.current() is None  # an empty directory: nothing yet
    _version(tmp_path, 1)
    _version(tmp_path, 2, age=0.0)  # still being written
    (tmp_path / "not-a-version").mkdir()
    versions.poll_once()
    first = versions.current()
    assert first.version == 1 and loader.calls == [1]
    os.utime(tmp_path / "2" / "saved_model.pb", (time.time() - 5, time.time() - 5))
    versions.poll_once()
    assert versions.current().version == 2
    assert first.version == 1  # a request holding the old version keeps it whole

    _version(tmp_path, 3, "broken")
    versions.poll_once()
    versions.poll_once()  # a known broken version is not retried while unchanged
    assert versions.current().version == 2 and loader.calls == [1, 2, 3]
    assert [(s.version, s.state) for s in versions.statuses()] == [(3, END), (2, AVAILABLE)]
    assert versions.statuses()[0].error == "ValueError: not a SavedModel"
    assert versions.get(3) is None and versions.get(2).version == 2 and versions.get(None).version == 2

    _version(tmp_path, 3, "fixed!", age=5)  # its files changed: tried again
    versions.poll_once()
    assert versions.current().version == 3 and [s.state for s in versions.statuses()] == [AVAILABLE]


def test_a_version_without_saved_model_pb_is_reported_not_loaded(tmp_path):
    loader = FakeLoader()
    versions = ModelVersions(str(tmp_path), loader, settle_seconds=0.0)
    (tmp_path / "7" / "variables").mkdir(parents=True)
    versions.poll_once()
    assert versions.current() is None and loader.calls == []
    (status,) = versions.statuses()
    assert status.version == 7 and "no saved_model.pb" in status.error


# --------------------------------------------------------------------------- the batcher


class _Calls:
    """Fake signatures that record every model call: ``serving_default`` (examples → their lengths) and
    ``predict_strokes`` / ``predict_strokes_batch`` (points → per-drawing sums), refusing a negative x."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def examples(examples):
            return {"length": tf.strings.length(examples)}

        @tf.function(
            input_signature=[tf.TensorSpec([None], tf.float32)] * 2 + [tf.TensorSpec([None], tf.int32)]
        )
        def strokes(x, y, stroke_lengths):
            tf.debugging.assert_non_negative(x, message="x must be >= 0")
            return {"total": tf.reshape(tf.reduce_sum(x + y), [1])}

        @tf.function(
            input_signature=[tf.TensorSpec([None], tf.float32)] * 2 + [tf.TensorSpec([None], tf.int32)] * 2
        )
        def strokes_batch(x, y, stroke_lengths, drawing_strokes):
            tf.debugging.assert_non_negative(x, message="x must be >= 0")
            points = tf.math.segment_sum(
                stroke_lengths, tf.repeat(tf.range(tf.size(drawing_strokes)), drawing_strokes)
            )
            return {"total": tf.reduce_sum(tf.RaggedTensor.from_row_lengths(x + y, points), axis=1)}

        def recorded(name, fn, rows):
            def call(**inputs):
                self.calls.append((name, rows(inputs)))
                return fn(**inputs)

            call.structured_outputs = {}
            return call

        self.signatures = {
            "serving_default": recorded("serving_default", examples, lambda i: int(i["examples"].shape[0])),
            "predict_strokes": recorded("predict_strokes", strokes, lambda i: 1),
            "predict_strokes_batch": recorded(
                "predict_strokes_batch", strokes_batch, lambda i: int(i["drawing_strokes"].shape[0])
            ),
        }


def _drawing(value: float) -> dict:
    return {
        "x": np.array([value, 1.0, 2.0], np.float32),
        "y": np.array([0.0, 0.0, 1.0], np.float32),
        "stroke_lengths": np.array([2, 1], np.int32),
    }


def _predictions(**settings):
    from pipeline.serve.metrics import ServingMetrics
    from pipeline.serve.predictions import Predictions

    config = ServeConfig(
        **{"enable_batching": True, "max_batch_size": 8, "batch_timeout_micros": 50_000, **settings}
    )
    return Predictions(config, ServingMetrics(config.model_name))


def test_concurrent_requests_are_merged_into_one_call_and_each_gets_its_own_rows():
    import asyncio

    from pipeline.serve.predictions import PredictError

    fake = _Calls()
    loaded = LoadedVersion(1, "p", fake.signatures, {})
    predictions = _predictions()

    async def burst():
        strokes = [predictions.predict(loaded, "predict_strokes", _drawing(float(v)), None) for v in range(5)]
        refused = predictions.predict(loaded, "predict_strokes", _drawing(-1.0), None)
        examples = [
            predictions.predict(
                loaded, "serving_default", {"examples": np.array([b"ab", b"abc"][: n + 1], object)}, None
            )
            for n in range(2)
        ]
        return await asyncio.gather(*strokes, refused, *examples, return_exceptions=True)

    *strokes, refused, one, two = asyncio.run(burst())
    assert [float(s["total"][0]) for s in strokes] == [v + 4.0 for v in range(5)]
    assert isinstance(refused, PredictError) and "x must be >= 0" in str(refused)
    assert one["length"].tolist() == [2] and two["length"].tolist() == [2, 3]
    # The first request found the server idle and went at once, alone. The next strokes requests were merged
    # into one call, which the bad drawing made the model refuse, so each of them ran alone; the examples
    # requests were merged into one call.
    assert fake.calls.count(("predict_strokes", 1)) == 6 and ("predict_strokes_batch", 5) in fake.calls
    assert ("serving_default", 3) in fake.calls and ("serving_default", 1) not in fake.calls
    predictions.shutdown()


def test_a_full_batch_goes_at_once_a_large_request_alone_and_without_batching_every_call_alone():
    import asyncio

    fake = _Calls()
    loaded = LoadedVersion(1, "p", fake.signatures, {})
    predictions = _predictions(max_batch_size=2)

    async def run():
        return await asyncio.gather(
            *[predictions.predict(loaded, "predict_strokes", _drawing(float(v)), None) for v in range(4)],
            predictions.predict(loaded, "serving_default", {"examples": np.array([b"a"] * 3, object)}, None),
        )

    asyncio.run(run())
    # the first alone (an idle server), then a full batch of 2 at once, the last one after its window
    expected = [
        ("predict_strokes", 1),
        ("predict_strokes_batch", 2),
        ("predict_strokes", 1),
        ("serving_default", 3),
    ]
    assert sorted(fake.calls) == sorted(expected)
    predictions.shutdown()
    fake.calls.clear()
    unbatched = _predictions(enable_batching=False)

    async def plain():
        return await asyncio.gather(
            *[unbatched.predict(loaded, "predict_strokes", _drawing(float(v)), None) for v in range(3)]
        )

    asyncio.run(plain())
    assert fake.calls == [("predict_strokes", 1)] * 3
    unbatched.shutdown()


def test_after_a_merged_call_an_idle_server_waits_its_window_and_after_a_lone_one_it_does_not():
    """Closed-loop clients come back in waves: after a merged call, the first request of the next wave finds
    the server idle. Sent alone at once, it would cost a whole model call for one drawing and split every
    wave (at 32 clients, 2 of 3 calls held one drawing); so once requests have been merged, an idle server
    waits the window for the rest of the wave, and once a call held one request (light traffic, however many
    rows it had), it goes at once."""
    import asyncio

    fake = _Calls()
    loaded = LoadedVersion(1, "p", fake.signatures, {})
    # a window 50 times the 10 ms after which the second of a wave comes: a stalled loop (two
    # test workers on two cores) cannot close it first
    predictions = _predictions(max_batch_size=2, batch_timeout_micros=500_000)

    async def run():
        def send(v: float):
            return asyncio.ensure_future(predictions.predict(loaded, "predict_strokes", _drawing(v), None))

        await asyncio.gather(*[send(v) for v in range(3)])  # the first alone, then a full batch of 2
        # the two calls run on two model threads at once: either may reach the model first
        assert sorted(fake.calls) == [("predict_strokes", 1), ("predict_strokes_batch", 2)]
        waits = send(10.0)  # the server is idle, but requests were just merged: it waits its window
        await asyncio.sleep(0)
        assert predictions._open, "a request after a merged call went alone at once"
        await asyncio.sleep(0.01)
        await asyncio.gather(waits, send(11.0))  # the second joined the first within its window
        assert fake.calls[-1] == ("predict_strokes_batch", 2)
        await send(12.0)  # alone after its window: traffic is light again
        assert fake.calls[-1] == ("predict_strokes", 1)
        goes = send(13.0)
        await asyncio.sleep(0)
        assert not predictions._open, "after a lone call, an idle server held a request back"
        await goes
        # One client whose requests hold several rows each is light traffic too: what counts is requests.
        for rows in (3, 2):
            examples = {"examples": np.array([b"ab"] * rows, object)}
            call = asyncio.ensure_future(predictions.predict(loaded, "serving_default", examples, None))
            await asyncio.sleep(0)
            assert not predictions._open, f"a lone request of {rows} rows was held back"
            await call

    asyncio.run(run())
    predictions.shutdown()


def test_a_call_that_outlives_its_deadline_fails_and_an_unknown_signature_is_not_found():
    import asyncio
    import threading

    from pipeline.serve.predictions import PredictError

    release = threading.Event()

    def stuck(**inputs):
        release.wait(10)
        return {"out": tf.constant([1])}

    loaded = LoadedVersion(1, "p", {"slow": stuck}, {})
    predictions = _predictions()
    with pytest.raises(PredictError) as late:
        asyncio.run(predictions.predict(loaded, "slow", {"a": np.array([1])}, 0.2))
    assert late.value.kind == PredictError.DEADLINE and "0.2 s" in str(late.value)
    release.set()
    with pytest.raises(PredictError) as missing:
        asyncio.run(predictions.predict(loaded, "nope", {}, None))
    assert missing.value.kind == PredictError.NOT_FOUND and "slow" in str(missing.value)
    predictions.shutdown()


# --------------------------------------------------------------------------- warm-up file


def test_the_warmup_file_is_tf_servings_format_and_reads_back(tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2

    from components.infra_validation import warmup

    requests = [
        ("serving_default", {"examples": np.array([b"a", b"b"], object)}),
        ("predict_strokes", _drawing(1.0)),
    ]
    path = warmup.write(str(tmp_path), requests)
    assert path == str(tmp_path / "assets.extra" / "tf_serving_warmup_requests")
    logs = [
        prediction_log_pb2.PredictionLog.FromString(r)
        for r in tf.data.TFRecordDataset(path).as_numpy_iterator()
    ]
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == [
        "serving_default",
        "predict_strokes",
    ]
    back = warmup.read(str(tmp_path))
    assert back[0][1]["examples"].tolist() == [b"a", b"b"]
    np.testing.assert_array_equal(back[1][1]["x"], requests[1][1]["x"])
    first = open(path, "rb").read()
    warmup.write(str(tmp_path), requests)
    assert open(path, "rb").read() == first  # canonical bytes
    assert warmup.read(str(tmp_path / "none")) == []


def test_the_shape_warmup_runs_every_length_as_prefixes_of_eval_drawings():
    """TensorFlow sets its CPU kernels up once per input shape: the warm-up file runs `predict_strokes` on
    every length from 2 points up to the setting (eval drawings end to end, the longest first), never
    above what the model accepts."""
    from components.infra_validation import executor
    from pipeline import predict

    strokes = [
        [[[0, 9, 20], [0, 5, 0]]],  # 3 points
        [[[0, 10, 20, 30], [0, 5, 0, 5]], [[3, 4], [9, 9]], [[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]]],  # 12
        [[[5, 6, 7, 8, 9], [1, 1, 2, 2, 3]]],  # 5
    ]
    examples = predict.serialized_examples(
        [predict.Drawing("t", i, None, None, s) for i, s in enumerate(strokes)]
    )
    drawings = [executor.strokes_of(e) for e in examples]
    longest = drawings[1]
    requests = executor.shape_warmup(drawings, 10, 1000)
    assert [len(inputs["x"]) for _, inputs in requests] == list(range(2, 11))
    for signature_name, inputs in requests:
        points = len(inputs["x"])
        assert signature_name == "predict_strokes" and inputs["stroke_lengths"].dtype == np.int32
        assert inputs["stroke_lengths"].sum() == points and (inputs["stroke_lengths"] > 0).all()
        np.testing.assert_array_equal(inputs["x"], longest["x"][:points])
        np.testing.assert_array_equal(inputs["y"], longest["y"][:points])
    assert requests[4][1]["stroke_lengths"].tolist() == [4, 2]  # 6 points: the first stroke, 2 of the second
    end_to_end = executor.shape_warmup(drawings, 50, 1000)
    assert [len(inputs["x"]) for _, inputs in end_to_end] == list(range(2, 21))  # 12 + 5 + 3 points
    last = end_to_end[-1][1]
    assert last["stroke_lengths"].tolist() == [
        4,
        2,
        6,
        5,
        3,
    ]  # the longest drawing's strokes, then the others
    np.testing.assert_array_equal(last["x"][12:17], drawings[2]["x"])
    assert len(executor.shape_warmup(drawings, 50, 8)) == 7  # 2..8: never above the model's limit
    assert executor.shape_warmup(drawings, 0, 1000) == [] and executor.shape_warmup([], 10, 1000) == []


def test_the_warmup_runs_whole_in_the_loading_thread_and_each_signatures_first_request_on_every_model_thread():
    """Per-shape set-up is shared by the threads; a signature's first call on a thread is not."""
    import threading

    from pipeline.serve.metrics import ServingMetrics
    from pipeline.serve.predictions import Predictions

    calls: list[tuple[str, str, float]] = []

    def signature(name):
        def call(**inputs):
            calls.append((threading.current_thread().name, name, float(inputs["x"].numpy()[0])))
            return {}

        return call

    predictions = Predictions(ServeConfig(workers=2), ServingMetrics("quickdraw"))
    requests = [("a", {"x": np.array([float(i)])}) for i in range(5)] + [("b", {"x": np.array([9.0])})]
    predictions.replay({"a": signature("a"), "b": signature("b")}, requests)
    here = [(name, x) for thread, name, x in calls if thread == threading.current_thread().name]
    assert here == [("a", 0.0), ("a", 1.0), ("a", 2.0), ("a", 3.0), ("a", 4.0), ("b", 9.0)]
    model_threads = {thread for thread, _, _ in calls if thread.startswith("predict")}
    assert len(model_threads) == 2
    for thread in model_threads:
        assert sorted((name, x) for t, name, x in calls if t == thread) == [("a", 0.0), ("b", 9.0)]
    predictions.shutdown()
