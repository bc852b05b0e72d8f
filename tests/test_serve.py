"""`quickdraw serve` as a user runs it: a real server process on 127.0.0.1, real drawings, a real browser.

One server (on a copy of the demo pipeline's serving directory) answers the API,
bad-request, concurrency and page tests; the hot-swap test pushes versions into it
while it runs, so every test asks the server which version it serves.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from pipeline import predict
from tests import browser
from tests.support import MAX_POINTS, REAL_DIR, REPO, require

pytestmark = pytest.mark.slow  # a server process and a browser: `make test` only

BODY_LIMIT = 1_000_000
BATCH_WINDOW_US = 20_000


class Server:
    def __init__(self, serving: str, log: str, *flags: str) -> None:
        self.serving = serving
        self.log = open(log, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "serve", "--model", serving, "--port", "0", "--grpc-port", "0",
             *flags],
            stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=REPO,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        )  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.process.stdout], daemon=True).start()
        try:
            first = lines.get(timeout=180)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"the server printed nothing: {open(log).read()[-2000:]}") from None
        assert " on http://127.0.0.1:" in first, first
        self.port = int(first.rsplit(":", 1)[1].strip("/\n"))
        self.grpc_port = None
        if "-1" not in [value for flag, value in zip(flags, flags[1:]) if flag == "--grpc-port"]:
            second = lines.get(timeout=30)
            assert second.startswith("gRPC "), second
            self.grpc_port = int(second.rsplit(":", 1)[1])

    def request(self, method: str, path: str, body: bytes | str | None = None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = body.encode() if isinstance(body, str) else body
            connection.request(method, path, body=data, headers=headers or {})
            response = connection.getresponse()
            raw = response.read()
            kind = response.getheader("Content-Type", "")
            return response.status, json.loads(raw) if kind.startswith("application/json") else raw
        finally:
            connection.close()

    def predict(self, body: dict | str | bytes, path: str = "/v1/models/quickdraw:predict"):
        return self.request("POST", path, body if isinstance(body, (str, bytes)) else json.dumps(body))

    def served_version(self) -> int:
        _, status = self.request("GET", "/v1/models/quickdraw")
        (available,) = [s for s in status["model_version_status"] if s["state"] == "AVAILABLE"]
        return int(available["version"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def server(demo, tmp_path_factory):
    serving = str(tmp_path_factory.mktemp("serve") / "serving")
    pushed = demo["first"].pushed_to  # the version `served` is: another test may push a newer one
    shutil.copytree(pushed, os.path.join(serving, os.path.basename(pushed)))
    s = Server(
        serving, os.path.join(os.path.dirname(serving), "server.log"),
        "--max-body-bytes", str(BODY_LIMIT), "--body-timeout-s", "2", "--poll-seconds", "0.2",
        # every test below goes through the batcher (a window long enough that a burst is merged) and gRPC
        "--enable-batching", "--batch-timeout-micros", str(BATCH_WINDOW_US),
    )  # fmt: skip
    yield s
    s.stop()


@pytest.fixture(scope="module")
def real_drawings() -> list[dict]:
    """Two drawings of each of 20 classes of ../shared's real drawings."""
    directory = require(REAL_DIR, "the real Quick, Draw! drawings")
    out = []
    for name in sorted(os.listdir(directory))[:: max(1, len(os.listdir(directory)) // 20)][:20]:
        if name.endswith(".ndjson"):
            with open(os.path.join(directory, name)) as f:
                out += [json.loads(next(f)) for _ in range(2)]
    assert len(out) >= 30
    return out


def test_predict_strokes_answers_what_the_saved_model_gives(server, served, real_drawings):
    import tensorflow as tf

    signature = served.signatures["predict_strokes"]
    for d in real_drawings:
        inputs = predict.strokes_inputs(d["drawing"])
        status, answer = server.predict({"signature_name": "predict_strokes", "inputs": inputs})
        assert status == 200, answer
        direct = signature(
            x=tf.constant(inputs["x"]), y=tf.constant(inputs["y"]),
            stroke_lengths=tf.constant(inputs["stroke_lengths"], tf.int32),
        )  # fmt: skip
        outputs = answer["outputs"]
        assert outputs["top_k_labels"] == [[v.decode() for v in direct["top_k_labels"].numpy()[0]]]
        np.testing.assert_allclose(
            outputs["probabilities"], direct["probabilities"].numpy(), rtol=0, atol=1e-6
        )
        np.testing.assert_allclose(outputs["top_k_scores"], direct["top_k_scores"].numpy(), rtol=0, atol=1e-6)


def test_serving_default_takes_base64_examples_in_both_formats(server, served, real_drawings):
    import tensorflow as tf

    drawings = [
        predict.Drawing("real", i, None, None, d["drawing"]) for i, d in enumerate(real_drawings[:16])
    ]
    examples = predict.serialized_examples(drawings)
    direct = served.signatures["serving_default"](examples=tf.constant(examples))
    b64 = [{"b64": base64.b64encode(e).decode()} for e in examples]

    status, rows = server.predict({"instances": b64})  # signature_name defaults to serving_default
    assert status == 200, rows
    assert len(rows["predictions"]) == 16 and set(rows["predictions"][0]) == set(direct)
    np.testing.assert_allclose(
        [p["probabilities"] for p in rows["predictions"]], direct["probabilities"].numpy(), rtol=0, atol=1e-6
    )
    status, columns = server.predict({"signature_name": "serving_default", "inputs": {"examples": b64}})
    assert status == 200, columns
    assert columns["outputs"]["top_k_labels"] == [
        [v.decode() for v in r] for r in direct["top_k_labels"].numpy()
    ]


def test_status_metadata_and_a_named_version(server, real_drawings):
    version = server.served_version()
    status, metadata = server.request("GET", "/v1/models/quickdraw/metadata")
    assert status == 200 and metadata["model_spec"] == {
        "name": "quickdraw",
        "signature_name": "",
        "version": str(version),
    }
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert set(signatures["predict_strokes"]["inputs"]) == {"x", "y", "stroke_lengths"}
    assert signatures["serving_default"]["inputs"]["examples"]["dtype"] == "DT_STRING"
    assert signatures["predict_strokes"]["method_name"] == "tensorflow/serving/predict"
    body = {
        "signature_name": "predict_strokes",
        "inputs": predict.strokes_inputs(real_drawings[0]["drawing"]),
    }
    status, answer = server.predict(body, f"/v1/models/quickdraw/versions/{version}:predict")
    assert status == 200 and "top_k_labels" in answer["outputs"]
    status, one = server.request("GET", f"/v1/models/quickdraw/versions/{version}")
    assert status == 200 and one["model_version_status"][0]["state"] == "AVAILABLE"


GOOD = {"signature_name": "predict_strokes", "inputs": {"x": [10, 60, 110, 110, 10], "y": [10, 10, 10, 90, 90],
                                                      "stroke_lengths": [3, 2]}}  # fmt: skip


def _with(**inputs) -> dict:
    return {**GOOD, "inputs": {**GOOD["inputs"], **inputs}}


BAD_REQUESTS = {
    "not JSON": ("{\"inputs\": [1, 2", 400, "not valid JSON"),
    "not UTF-8": (b"\xff\xfe{}", 400, "not UTF-8"),
    "a JSON list": ("[1, 2]", 400, "must be a JSON object"),
    "both formats": ({**GOOD, "instances": [1]}, 400, "exactly one of"),
    "neither format": ({"signature_name": "predict_strokes"}, 400, "exactly one of"),
    "an unknown field": ({**GOOD, "extra": 1}, 400, "unknown field(s): extra"),
    "signature_name not a string": ({**GOOD, "signature_name": 3}, 400, "signature_name must be a string"),
    "x as strings": (_with(x=["a", "b", "c", "d", "e"]), 400, "input x: expected numbers"),
    "x nested": (_with(x=[[10, 60], [110, 110]]), 400, "input x: expected rank 1"),
    "x ragged": (_with(x=[[10], [60, 1]]), 400, "ragged"),
    "stroke_lengths as floats": (_with(stroke_lengths=[3.5, 1.5]), 400, "expected integers"),
    "stroke_lengths out of int32": (_with(stroke_lengths=[2**40, 2]), 400, "out of the range of int32"),
    "a missing input": ({**GOOD, "inputs": {"x": [1, 2], "y": [1, 2]}}, 400, "missing input(s) stroke_lengths"),
    "an unknown input": (_with(z=[1]), 400, "unknown input(s) z"),
    "lengths that do not add up": (_with(stroke_lengths=[3, 3]), 400, "must add up to the number of points"),
    "x and y of different lengths": (_with(y=[1, 2]), 400, "x and y differ in length"),
    "one point": (_with(x=[1], y=[1], stroke_lengths=[1]), 400, "needs >= 2 points"),
    "too many points": (
        _with(x=[1.0] * (MAX_POINTS + 1), y=[2.0] * (MAX_POINTS + 1), stroke_lengths=[MAX_POINTS + 1]),
        400, f"at most {MAX_POINTS} points",
    ),
    "bad base64": ({"instances": [{"b64": "***"}]}, 400, "invalid base64"),
    "an unknown signature": ({**GOOD, "signature_name": "nope"}, 404, 'unknown signature "nope"'),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_a_bad_request_gets_a_4xx_naming_the_problem(server, case):
    body, expected_status, reason = BAD_REQUESTS[case]
    status, answer = server.predict(body)
    assert status == expected_status, answer
    assert isinstance(answer, dict) and reason in answer["error"], answer


def test_unknown_versions_models_paths_and_methods_get_a_json_404_or_405(server):
    for method, path, expected in [
        ("POST", "/v1/models/quickdraw/versions/1:predict", 404),
        ("POST", "/v1/models/other:predict", 404),
        ("GET", "/v1/models/other", 404),
        ("GET", "/v1/models/quickdraw/versions/1/metadata", 404),
        ("GET", "/no/such/path", 404),
        ("DELETE", "/v1/models/quickdraw", 405),
    ]:
        status, answer = server.request(method, path, "{}" if method == "POST" else None)
        assert status == expected and answer["error"], (method, path, answer)


def test_a_body_above_the_limit_is_refused_before_it_is_read(server):
    # declared too large: answered from the head alone, before a byte of the body is sent
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(f"POST /v1/models/quickdraw:predict HTTP/1.1\r\nHost: x\r\n"
                  f"Content-Length: {BODY_LIMIT + 1}\r\n\r\n".encode())  # fmt: skip
        response = http.client.HTTPResponse(s)
        response.begin()
        assert response.status == 400 and "limit" in json.loads(response.read())["error"]
    # chunked (no Content-Length): refused once the limit is passed
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunks = (b"[" + b"1," * 1000 for _ in range(BODY_LIMIT // 2000 + 10))
    connection.request("POST", "/v1/models/quickdraw:predict", body=chunks, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 400 and "limit" in json.loads(response.read())["error"]
    connection.close()
    assert server.predict(GOOD)[0] == 200


def test_slow_and_stalled_clients_do_not_hold_up_others(server):
    stalled = []
    for _ in range(20):  # more than the workers: a connection costs a socket, not a worker
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /v1/models/quickdraw:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        stalled.append(s)
    started = time.monotonic()
    assert server.predict(GOOD)[0] == 200
    assert time.monotonic() - started < 30
    stalled[0].settimeout(10)
    assert stalled[0].recv(100) == b""  # the body timeout (2 s here) closed it
    for s in stalled:
        s.close()


def test_concurrent_requests_are_all_answered(server, real_drawings):
    bodies = [
        {"signature_name": "predict_strokes", "inputs": predict.strokes_inputs(d["drawing"])}
        for d in real_drawings
    ]
    sequential = [server.predict(b)[1]["outputs"]["top_k_labels"] for b in bodies]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(server.predict, bodies))
    assert all(status == 200 for status, _ in answers)
    assert [a["outputs"]["top_k_labels"] for _, a in answers] == sequential


def _push_copy(serving: str, source_version: int, version: int) -> None:
    """What the Pusher does: a complete copy in a hidden staging directory, renamed into place."""
    staging = os.path.join(serving, f".pushing-{version}")
    shutil.copytree(os.path.join(serving, str(source_version)), staging)
    os.rename(staging, os.path.join(serving, str(version)))


def _wait(condition, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_pushed_version_is_served_without_a_restart_and_a_broken_one_never(server):
    old = server.served_version()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # requests keep flowing during the swap
        traffic = [pool.submit(server.predict, GOOD) for _ in range(40)]
        _push_copy(server.serving, old, old + 1)
        pushed = time.monotonic()
        _wait(lambda: server.served_version() == old + 1)
        assert time.monotonic() - pushed < 30, "picked up within seconds"
        assert all(t.result()[0] == 200 for t in traffic)
    status, answer = server.predict(GOOD, f"/v1/models/quickdraw/versions/{old}:predict")
    assert status == 404 and f"version {old + 1} is served" in answer["error"]

    broken = os.path.join(server.serving, str(old + 2))
    os.makedirs(os.path.join(broken, "variables"))
    with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
        f.write(b"not a SavedModel")

    def failed():
        _, status = server.request("GET", "/v1/models/quickdraw")
        return [
            s
            for s in status["model_version_status"]
            if s["version"] == str(old + 2) and s["status"]["error_message"]
        ]

    (report,) = _wait(failed)
    assert report["state"] == "END" and report["status"]["error_code"] != "OK"
    assert server.served_version() == old + 1  # the previous version stays
    assert server.predict(GOOD)[0] == 200


def test_the_page_draws_guesses_and_treats_answers_as_text(server, served, real_drawings, tmp_path):
    names = {n.decode() for n in served.class_names().numpy()}
    drawing = real_drawings[0]["drawing"]
    with browser.open_page(f"http://127.0.0.1:{server.port}/", str(tmp_path / "profile")) as page:
        page.wait_for("document.getElementById('version').textContent.match(/^[0-9]+$/)")
        box = page.evaluate("(() => { const b = document.getElementById('pad').getBoundingClientRect();"
                            " return [b.left, b.top, b.width]; })()")  # fmt: skip
        left, top, width = box
        scale = (width - 40) / 256

        def stroke(xs, ys):
            points = [(left + 20 + x * scale, top + 20 + y * scale) for x, y in zip(xs, ys)]
            kinds = ["mousePressed"] + ["mouseMoved"] * (len(points) - 2) + ["mouseReleased"]
            for kind, (x, y) in zip(kinds, points):
                page.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                          buttons=0 if kind == "mouseReleased" else 1, clickCount=1)  # fmt: skip

        for xs, ys in drawing:
            if len(xs) >= 2:
                stroke(xs, ys)
        page.wait_for("document.querySelectorAll('#guesses li').length === 5")
        shown = page.evaluate(
            "[...document.querySelectorAll('#guesses li')].map(li => li.firstChild.textContent)"
        )
        assert set(shown) <= names and len(shown) == 5
        shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
        assert not page.errors(), page.errors()

        # An answer holding markup is shown as text: nothing in it runs or becomes an element.
        hostile = '<img src=x onerror="window.pwned=1">'
        page.call("Fetch.enable", patterns=[{"urlPattern": "*:predict*"}])
        page.handlers["Fetch.requestPaused"] = lambda p: page.socket.send(json.dumps({
            "id": 10_000, "method": "Fetch.fulfillRequest", "params": {
                "requestId": p["requestId"], "responseCode": 200,
                "responseHeaders": [{"name": "Content-Type", "value": "application/json"}],
                "body": base64.b64encode(json.dumps({"outputs": {
                    "top_k_labels": [[hostile, "<b>bold</b>", "a", "b", "c"]],
                    "top_k_scores": [[0.5, 0.2, 0.1, 0.1, 0.1]]}}).encode()).decode()}}))  # fmt: skip
        page.evaluate("guess()")
        page.wait_for(
            f"document.querySelector('#guesses li').firstChild.textContent === {json.dumps(hostile)}"
        )
        assert page.evaluate("document.querySelectorAll('#guesses img, #guesses b').length") == 0
        assert page.evaluate("window.pwned === undefined")
    from PIL import Image, ImageStat

    path = tmp_path / "page.png"
    path.write_bytes(shot)
    image = Image.open(path).convert("L")
    assert ImageStat.Stat(image).stddev[0] > 10, "the screenshot is blank"
    dark = sum(1 for v in image.getdata() if v < 80)
    assert dark > 500, "no ink on the canvas"


# --------------------------------------------------------------------------- batching, gRPC, metrics


def test_a_burst_is_batched_and_each_request_gets_its_own_rows_even_beside_a_bad_one(
    server, served, real_drawings
):
    import tensorflow as tf

    bodies = [
        {"signature_name": "predict_strokes", "inputs": predict.strokes_inputs(d["drawing"])}
        for d in real_drawings
    ]
    bad = 5
    bodies[bad] = _with(stroke_lengths=[3, 3])
    before = _samples(server)
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(server.predict, bodies))
    for i, (d, (status, answer)) in enumerate(zip(real_drawings, answers)):
        if i == bad:
            assert status == 400 and "must add up to the number of points" in answer["error"], answer
            continue
        assert status == 200, answer
        inputs = predict.strokes_inputs(d["drawing"])
        direct = served.signatures["predict_strokes"](
            x=tf.constant(inputs["x"]), y=tf.constant(inputs["y"]),
            stroke_lengths=tf.constant(inputs["stroke_lengths"], tf.int32),
        )  # fmt: skip
        assert answer["outputs"]["top_k_labels"] == [[v.decode() for v in direct["top_k_labels"].numpy()[0]]]
        np.testing.assert_allclose(
            answer["outputs"]["probabilities"], direct["probabilities"].numpy(), atol=1e-5
        )
    after = _samples(server)
    calls = after[("quickdraw_serve_batch_size_count", "predict_strokes")] - before.get(
        ("quickdraw_serve_batch_size_count", "predict_strokes"), 0
    )
    assert calls < len(bodies) - 1, "concurrent requests were merged into fewer model calls"


def _samples(server) -> dict:
    """(sample name, signature label) → value, from the server's Prometheus page parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families

    status, text = server.request("GET", "/monitoring/prometheus/metrics")
    assert status == 200
    return {
        (sample.name, sample.labels.get("signature")): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if not sample.labels.get("le")
    }


def test_the_metrics_page_is_prometheus_text_with_requests_latency_batches_version_and_warmup(server):
    from prometheus_client.parser import text_string_to_metric_families

    assert server.predict(GOOD)[0] == 200
    assert server.predict(_with(stroke_lengths=[9]))[0] == 400
    status, text = server.request("GET", "/monitoring/prometheus/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    requests = {
        (s.labels["signature"], s.labels["api"], s.labels["code"]): s.value
        for s in families["quickdraw_serve_requests"].samples
        if s.name.endswith("_total")
    }
    assert (
        requests[("predict_strokes", "rest", "200")] >= 1
        and requests[("predict_strokes", "rest", "400")] >= 1
    )
    assert families["quickdraw_serve_request_latency_seconds"].type == "histogram"
    assert families["quickdraw_serve_batch_size"].type == "histogram"
    (version,) = families["quickdraw_serve_model_version"].samples
    assert int(version.value) == server.served_version()
    # the pushed model carries the InfraValidator's warm-up file, replayed before the version was served
    (warmed,) = [s for s in families["quickdraw_serve_warmup_requests"].samples if s.name.endswith("_total")]
    assert warmed.value > 0
    assert "quickdraw_serve_load_failures" in families


def _grpc_request(signature_name: str, inputs: dict, name: str = "quickdraw"):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature_name
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def _strokes_arrays(drawing) -> dict:
    inputs = predict.strokes_inputs(drawing)
    return {
        "x": np.array(inputs["x"], np.float32),
        "y": np.array(inputs["y"], np.float32),
        "stroke_lengths": np.array(inputs["stroke_lengths"], np.int32),
    }


def test_grpc_answers_as_rest_with_tf_servings_own_stubs(server, real_drawings):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        prediction_service_pb2_grpc,
    )

    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        for d in real_drawings[:12]:
            arrays = _strokes_arrays(d["drawing"])
            response = stub.Predict(_grpc_request("predict_strokes", arrays), timeout=60)
            status, rest_answer = server.predict(
                {"signature_name": "predict_strokes", "inputs": {k: v.tolist() for k, v in arrays.items()}}
            )
            assert status == 200
            labels = [[v.decode() for v in row] for row in tf.make_ndarray(response.outputs["top_k_labels"])]
            assert labels == rest_answer["outputs"]["top_k_labels"]
            np.testing.assert_allclose(
                tf.make_ndarray(response.outputs["probabilities"]),
                rest_answer["outputs"]["probabilities"],
                atol=1e-5,
            )
            assert response.model_spec.version.value == server.served_version()
        examples = predict.serialized_examples(
            [predict.Drawing("real", i, None, None, d["drawing"]) for i, d in enumerate(real_drawings[:4])]
        )
        request = _grpc_request("", {"examples": np.array(examples, dtype=object)})  # "": serving_default
        request.output_filter.append("top_k_labels")
        response = stub.Predict(request, timeout=60)
        assert (
            set(response.outputs) == {"top_k_labels"}
            and response.model_spec.signature_name == "serving_default"
        )

        metadata_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        metadata_request.model_spec.name = "quickdraw"
        metadata = stub.GetModelMetadata(metadata_request, timeout=30)
        defs = get_model_metadata_pb2.SignatureDefMap()
        metadata.metadata["signature_def"].Unpack(defs)
        assert {"serving_default", "predict_strokes", "predict_strokes_batch"} <= set(defs.signature_def)

        status_request = get_model_status_pb2.GetModelStatusRequest()
        status_request.model_spec.name = "quickdraw"
        statuses = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request, timeout=30)
        available = [s for s in statuses.model_version_status if s.state == s.AVAILABLE]
        assert [s.version for s in available] == [server.served_version()]


def test_bad_grpc_requests_get_tf_servings_status_codes_with_a_reason(server):
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    good = {
        k: np.array(v, np.int32 if k == "stroke_lengths" else np.float32) for k, v in GOOD["inputs"].items()
    }
    unknown_version = _grpc_request("predict_strokes", good)
    unknown_version.model_spec.version.value = 1
    labelled = _grpc_request("predict_strokes", good)
    labelled.model_spec.version_label = "stable"
    too_big = _grpc_request("predict_strokes", {**good, "x": np.zeros(BODY_LIMIT, np.float32)})
    filtered = _grpc_request("predict_strokes", good)
    filtered.output_filter.append("nope")
    cases = {
        "x as int32": (_grpc_request("predict_strokes", {**good, "x": good["x"].astype(np.int32)}),
                       grpc.StatusCode.INVALID_ARGUMENT, "input x: expected float32"),
        "x of rank 2": (_grpc_request("predict_strokes", {**good, "x": good["x"].reshape(1, -1)}),
                        grpc.StatusCode.INVALID_ARGUMENT, "expected rank 1"),
        "a missing input": (_grpc_request("predict_strokes", {"x": good["x"], "y": good["y"]}),
                            grpc.StatusCode.INVALID_ARGUMENT, "missing input(s) stroke_lengths"),
        "lengths that do not add up": (
            _grpc_request("predict_strokes", {**good, "stroke_lengths": np.array([3, 3], np.int32)}),
            grpc.StatusCode.INVALID_ARGUMENT, "must add up to the number of points"),
        "an unknown output_filter": (filtered, grpc.StatusCode.INVALID_ARGUMENT, "unknown output(s) nope"),
        "an unknown signature": (_grpc_request("nope", good), grpc.StatusCode.NOT_FOUND, 'unknown signature "nope"'),
        "an unknown model": (_grpc_request("predict_strokes", good, "other"), grpc.StatusCode.NOT_FOUND, "other"),
        "a version not served": (unknown_version, grpc.StatusCode.NOT_FOUND, "is served"),
        "a version label": (labelled, grpc.StatusCode.INVALID_ARGUMENT, "version labels are not supported"),
        "a message above the limit": (too_big, grpc.StatusCode.RESOURCE_EXHAUSTED, ""),
    }  # fmt: skip
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        for case, (request, code, reason) in cases.items():
            with pytest.raises(grpc.RpcError) as refused:
                stub.Predict(request, timeout=60)
            assert refused.value.code() == code, (case, refused.value.details())
            assert reason in (refused.value.details() or ""), (case, refused.value.details())
        with pytest.raises(grpc.RpcError) as refused:
            stub.Classify(_classify_request(), timeout=30)
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert stub.Predict(_grpc_request("predict_strokes", good), timeout=60).outputs["top_k_labels"]


def _classify_request():
    from tensorflow_serving.apis import classification_pb2

    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "quickdraw"
    return request
