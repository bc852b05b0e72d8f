"""Executor of InfraValidator: the candidate model, served by ``quickdraw serve`` in its own process, must
load, answer real eval drawings on every serving signature, and answer what the model answers in-process.

TFX's own InfraValidator starts TF Serving's binary (a docker image or a local
``tensorflow_model_server``), which this pipeline does not ship: the server a pushed model
meets here is ``quickdraw serve``, so that is the server the candidate must pass. The
steps, each bounded:

1. the candidate is copied to ``<blessing>/stamped_model`` with TF Serving's warm-up file
   (``warmup``): the first ``infra_drawings`` eval drawings, for each serving signature, then
   ``predict_strokes`` on every length from 2 to ``infra_warmup_points`` points (``shape_warmup``);
2. ``python -m pipeline.cli serve`` serves that copy as version 1 on a free loopback port
   (gRPC off), and must report it ``AVAILABLE`` within ``infra_load_timeout_s`` (it replays
   the warm-up file while loading, so a warm-up request that fails fails the load);
3. the same drawings go over HTTP to ``serving_default``, ``predict_strokes`` (one
   request per drawing) and ``predict_strokes_batch``; every answer must be a 200 within
   ``infra_request_timeout_s`` whose top-k labels equal, and whose probabilities are within
   1e-4 of, the signature called in this process.

A candidate that fails any step is not blessed: ``INFRA_NOT_BLESSED`` holds the reason
(also the ``reason`` property), the stamped copy is removed, and the Pusher, which
requires an ``InfraBlessing``, does not push. A passed one is ``INFRA_BLESSED`` with
``has_model`` set: the Pusher pushes the stamped copy, warm-up file included, as TFX's
Pusher does after ``make_warmup``. Drawings for ``predict_strokes`` are rebuilt from the
examples' ink (points as the cumulative sum of the deltas, strokes from the end flags):
the signature computes the same ink from them.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import http.client
import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import features as F
from components.conversion import manifest
from components.conversion.ink import points_of_ink
from components.errors import refusal_reason
from components.infra_validation import warmup

MODEL_KEY = "model"
EXAMPLES_KEY = "examples"
BLESSING_KEY = "blessing"
DRAWINGS = "infra_drawings"
WARMUP_POINTS = "infra_warmup_points"
SCANNED_FOR_WARMUP = 1000  # eval drawings whose points give the shape warm-up's prefixes
LOAD_TIMEOUT = "infra_load_timeout_s"
REQUEST_TIMEOUT = "infra_request_timeout_s"
CODE_FINGERPRINT = "code_fingerprint"
BLESSED_FILE, NOT_BLESSED_FILE = "INFRA_BLESSED", "INFRA_NOT_BLESSED"  # TFX's InfraValidator's names
BLESSED, HAS_MODEL, REASON = "blessed", "has_model", "reason"  # custom properties (TFX's, and the why)
SERVING_SIGNATURES = ("serving_default", "predict_strokes", "predict_strokes_batch")
MODEL_NAME = "quickdraw"
TOLERANCE = 1e-4
SERVER_MODULE = "pipeline.cli"  # the serving binary a pushed model meets: `quickdraw serve`
IN_PROCESS_THREADS = "infra-validation-in-process"


class NotServable(Exception):
    """Why a candidate is refused (one line, for the run summary and the report)."""


def eval_examples(split_uri: str, count: int) -> list[bytes]:
    """The first ``count`` serialized examples of a split's shards, in shard order (deterministic)."""
    import tensorflow as tf

    files = sorted(fileio.glob(os.path.join(split_uri, "*")))  # local or gs://
    if not files:
        raise NotServable(f"no examples under {split_uri}")
    compression = "GZIP" if files[0].endswith(".gz") else ""
    records = tf.data.TFRecordDataset(files, compression_type=compression).take(count)
    return [bytes(r) for r in records.as_numpy_iterator()]


def strokes_of(serialized: bytes) -> dict[str, np.ndarray]:
    """``predict_strokes``'s inputs for an example: points from the ink's deltas, strokes from its end flags."""
    import tensorflow as tf

    example = tf.train.Example.FromString(serialized)
    ink = np.asarray(example.features.feature[F.INK].float_list.value, np.float32).reshape(-1, 3)
    x, y, stroke_lengths = points_of_ink(ink)
    return {"x": x, "y": y, "stroke_lengths": stroke_lengths}


def requests_for(examples: list[bytes], signature_names: set[str]) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The (signature, inputs) requests a candidate must answer, in order: all drawings in one
    ``serving_default`` call, one ``predict_strokes`` call per drawing, all of them in one
    ``predict_strokes_batch`` call (the signatures the model has)."""
    strokes = [strokes_of(e) for e in examples]
    out: list[tuple[str, dict[str, np.ndarray]]] = []
    if "serving_default" in signature_names:
        out.append(("serving_default", {"examples": np.array(examples, dtype=object)}))
    if "predict_strokes" in signature_names:
        out += [("predict_strokes", s) for s in strokes]
    if "predict_strokes_batch" in signature_names:
        out.append((
            "predict_strokes_batch",
            {
                "x": np.concatenate([s["x"] for s in strokes]),
                "y": np.concatenate([s["y"] for s in strokes]),
                "stroke_lengths": np.concatenate([s["stroke_lengths"] for s in strokes]),
                "drawing_strokes": np.array([len(s["stroke_lengths"]) for s in strokes], np.int32),
            },
        ))  # fmt: skip
    return out


def shape_warmup(
    drawings: list[dict[str, np.ndarray]], most_points: int, max_points: int
) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``predict_strokes`` requests of 2, 3, … ``most_points`` points (never above ``max_points``, the
    largest drawing the model accepts), shortest first: prefixes of ``drawings`` (``strokes_of`` eval
    examples) laid end to end, the longest first.

    Why: TensorFlow's oneDNN kernels are set up once per input shape, per process; a drawing of a length
    the server has not run yet costs ~1.3 ms more (BENCHMARKS.md, serving). The first requests after a
    load would otherwise pay it for most lengths; a warm-up file that runs every length pays it before
    the version serves. Batched calls (several drawings padded to the longest) have too many shapes to
    cover this way."""
    longest_first = sorted(drawings, key=lambda s: -len(s["x"]))
    x, y, lengths = (
        np.concatenate([d[key] for d in longest_first]) if longest_first else np.zeros(0)
        for key in ("x", "y", "stroke_lengths")
    )
    ends = np.cumsum(lengths)
    out = []
    for points in range(2, min(most_points, max_points, len(x)) + 1):
        strokes = int(np.searchsorted(ends, points))  # the stroke that holds the prefix's last point
        prefix = np.append(lengths[:strokes], points - (ends[strokes - 1] if strokes else 0)).astype(np.int32)
        out.append(("predict_strokes", {"x": x[:points], "y": y[:points], "stroke_lengths": prefix}))
    return out


def rest_body(signature_name: str, inputs: dict[str, np.ndarray]) -> str:
    """A columnar-format ``:predict`` body (TF Serving's REST API)."""

    def value(array: np.ndarray) -> Any:
        if array.dtype == object:
            return [{"b64": base64.b64encode(v).decode("ascii")} for v in array.tolist()]
        return array.tolist()

    return json.dumps({"signature_name": signature_name, "inputs": {k: value(v) for k, v in inputs.items()}})


def difference(expected: dict[str, np.ndarray], answered: dict[str, Any]) -> str | None:
    """What differs between the in-process outputs and a server's ``outputs`` (None: they agree)."""
    labels = [[b.decode() for b in row] for row in np.asarray(expected["top_k_labels"]).tolist()]
    if answered.get("top_k_labels") != labels:
        return f"top-k labels {answered.get('top_k_labels')} instead of {labels}"
    got = np.asarray(answered.get("probabilities"), dtype=np.float64)
    want = np.asarray(expected["probabilities"], dtype=np.float64)
    if got.shape != want.shape:
        return f"probabilities of shape {got.shape} instead of {want.shape}"
    worst = float(np.max(np.abs(got - want)))
    return (
        f"probabilities differ by up to {worst:.2g} (tolerance {TOLERANCE:g})" if worst > TOLERANCE else None
    )


class CandidateServer:
    """``quickdraw serve`` on a serving directory, in its own process, on a free loopback port: started at
    construction, so that the caller can work while it loads."""

    def __init__(self, serving_dir: str, log_path: str, load_timeout_s: float) -> None:
        self.log_path = log_path
        self.log = open(log_path, "w")
        command = [
            sys.executable, "-m", SERVER_MODULE, "serve", "--model", serving_dir, "--model-name", MODEL_NAME,
            "--host", "127.0.0.1", "--port", "0", "--grpc-port", "-1", "--poll-seconds", "0.2",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self.log, text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(x) for x in self.process.stdout], daemon=True).start()
        self.load_timeout_s = load_timeout_s
        self.deadline = time.monotonic() + load_timeout_s
        self.port = 0

    def wait_until_available(self) -> None:
        """Until the server reports the version ``AVAILABLE``; ``NotServable`` if it fails, exits or times out."""
        try:
            first = self.lines.get(timeout=max(0.0, self.deadline - time.monotonic()))
        except queue.Empty:
            raise NotServable(
                f"the server did not start within {self.load_timeout_s:g} s{self.tail()}"
            ) from None
        if " on http://127.0.0.1:" not in first:
            raise NotServable(f"the server did not start: {first.strip()}{self.tail()}")
        self.port = int(first.rsplit(":", 1)[1].strip("/\n"))
        self._wait_until_available(self.deadline, self.load_timeout_s)

    def _wait_until_available(self, deadline: float, load_timeout_s: float) -> None:
        while True:
            if self.process.poll() is not None:
                raise NotServable(f"the server exited with {self.process.returncode}{self.tail()}")
            status, body = self.request("GET", f"/v1/models/{MODEL_NAME}", None, 10)
            states = body.get("model_version_status", []) if status == 200 else []
            for s in states:
                if s["state"] == "AVAILABLE":
                    return
                if s["state"] == "END":
                    raise NotServable(f"the server could not load the model: {s['status']['error_message']}")
            if time.monotonic() > deadline:
                raise NotServable(
                    f"the server did not load the model within {load_timeout_s:g} s{self.tail()}"
                )
            time.sleep(0.2)

    def request(self, method: str, path: str, body: str | None, timeout_s: float) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise NotServable(f"{method} {path}: {type(error).__name__}: {error}") from None
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, {"error": raw[:200].decode("utf-8", "replace")}

    def tail(self) -> str:
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            lines = [line.strip() for line in f.read().splitlines() if line.strip()]
        return f" (server log: {lines[-1][:300]})" if lines else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def validate(model_dir: str, examples: list[bytes], load_timeout_s: float, request_timeout_s: float) -> int:
    """Serves ``model_dir`` (warm-up file included) and checks every request; returns how many were
    checked, or raises ``NotServable`` with the reason. A model on a remote filesystem (``gs://``) is
    served from a local copy, as TF Serving serves one."""
    with tempfile.TemporaryDirectory(prefix="infra-validation-") as scratch:
        if "://" in model_dir:  # a gs:// pipeline root (Vertex): the server reads a local copy, as TF Serving
            local = os.path.join(scratch, "model")
            io_utils.copy_dir(model_dir, local)
            model_dir = local
        serving = os.path.join(scratch, "serving")
        os.makedirs(serving)
        os.symlink(os.path.abspath(model_dir), os.path.join(serving, "1"))
        server = CandidateServer(serving, os.path.join(scratch, "server.log"), load_timeout_s)
        # The expected answers are computed while the server loads, beside the wait: a server that misses
        # its load deadline is refused at the deadline, not after the in-process calls, which stop at their
        # next call. The refusal waits for that: no TensorFlow call is left running behind the component (a
        # thread abandoned in a model call crashed the process that went on, in garbage collection).
        stop = threading.Event()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=IN_PROCESS_THREADS)
        try:
            in_process = pool.submit(_in_process, model_dir, examples, stop)
            server.wait_until_available()
            requests, expected = in_process.result()
            for (signature_name, inputs), wanted in zip(requests, expected):
                status, answer = server.request(
                    "POST",
                    f"/v1/models/{MODEL_NAME}:predict",
                    rest_body(signature_name, inputs),
                    request_timeout_s,
                )
                if status != 200:
                    raise NotServable(f"{signature_name} answered {status}: {answer.get('error', answer)}")
                differs = difference(wanted, answer.get("outputs", {}))
                if differs:
                    raise NotServable(
                        f"{signature_name} answered differently over HTTP than in-process: {differs}"
                    )
        finally:
            stop.set()
            server.stop()
            pool.shutdown(wait=True)
    return len(requests)


def _in_process(
    model_dir: str, examples: list[bytes], stop: threading.Event
) -> tuple[list, list[dict[str, np.ndarray]]]:
    """The requests for the model's signatures, and each one's outputs from the model loaded here (until
    ``stop`` is set: the validation has failed, and the caller waits for this to return)."""
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(model_dir)
    except Exception as error:  # noqa: BLE001 - the candidate itself is unloadable: refused, with why
        raise NotServable(f"the model does not load in-process: {type(error).__name__}: {error}") from None
    requests = requests_for(examples, set(loaded.signatures.keys()))
    if not any(name == "serving_default" for name, _ in requests):
        raise NotServable("the model has no serving_default signature")
    expected = []
    for signature_name, inputs in requests:
        if stop.is_set():
            break
        try:
            outputs = loaded.signatures[signature_name](**{k: tf.constant(v) for k, v in inputs.items()})
        except Exception as error:  # noqa: BLE001 - the signature fails on a real drawing
            raise NotServable(
                f"{signature_name} fails on an eval drawing in-process: {type(error).__name__}: "
                f"{refusal_reason(str(getattr(error, 'message', error)))}"
            ) from None
        expected.append({k: v.numpy() for k, v in outputs.items()})
    return requests, expected


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[BLESSING_KEY])
        candidate = path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model))
        stamped = path_utils.stamped_model_path(blessing.uri)
        try:
            count = int(exec_properties[DRAWINGS])
            warmup_points = int(exec_properties.get(WARMUP_POINTS) or 0)
            scanned = eval_examples(
                artifact_utils.get_split_uri([examples], "eval"),
                max(count, SCANNED_FOR_WARMUP if warmup_points else 0),
            )
            drawings = scanned[:count]
            io_utils.copy_dir(candidate, stamped)
            names = _signature_names(candidate)
            requests = [r for r in requests_for(drawings, names) if r[0] in SERVING_SIGNATURES]
            if "predict_strokes" in names and warmup_points:
                points = [strokes_of(e) for e in scanned]
                requests += shape_warmup(points, warmup_points, _max_points(examples.uri, points))
            warmup.write(stamped, requests)
            checked = validate(
                stamped,
                drawings,
                float(exec_properties[LOAD_TIMEOUT]),
                float(exec_properties[REQUEST_TIMEOUT]),
            )
        except NotServable as refused:
            if fileio.exists(stamped):
                fileio.rmtree(stamped)
            _mark(blessing, blessed=False, reason=str(refused))
            logging.warning("InfraValidator: the model is not servable: %s", refused)
            return
        _mark(blessing, blessed=True, reason="")
        logging.info("InfraValidator: %d requests answered as in-process; warm-up written", checked)


def _max_points(examples_uri: str, drawings: list[dict[str, np.ndarray]]) -> int:
    """The largest drawing the model accepts: the conversion's limit, from its manifest beside the splits (as
    the Trainer reads it); without one (Examples from elsewhere), the longest of the scanned drawings."""
    written = manifest.read_manifest(examples_uri)
    if written is not None:
        return int(written["config"]["max_points"])
    return max((len(d["x"]) for d in drawings), default=0)


def _signature_names(model_dir: str) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with fileio.open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return set(proto.meta_graphs[0].signature_def.keys())


def _mark(blessing: types.Artifact, blessed: bool, reason: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        for name in (BLESSED_FILE, NOT_BLESSED_FILE):
            if fileio.exists(os.path.join(blessing.uri, name)):
                fileio.remove(os.path.join(blessing.uri, name))
    fileio.makedirs(blessing.uri)
    io_utils.write_string_file(
        os.path.join(blessing.uri, BLESSED_FILE if blessed else NOT_BLESSED_FILE), reason
    )
    blessing.set_int_custom_property(BLESSED, int(blessed))
    blessing.set_int_custom_property(HAS_MODEL, int(blessed))
    blessing.set_string_custom_property(REASON, reason)
