"""TF Serving's warm-up file: ``assets.extra/tf_serving_warmup_requests``, written and replayed.

TF Serving replays the requests in this file when it loads a version, before the
version serves, so that the first real request does not pay for graph tracing and
kernel set-up. The format is TF Serving's own: a TFRecord file of ``PredictionLog``
protos (``tensorflow-serving-api``), each holding a ``PredictRequest`` whose
``model_spec.signature_name`` names the signature (TF Serving reads at most 1,000).
The InfraValidator writes it with real eval drawings for every serving signature;
``quickdraw serve`` replays it (``pipeline/serve/versions.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_RECORDS = 1000  # TF Serving's limit


def path(model_dir: str) -> str:
    return os.path.join(model_dir, WARMUP_FILE)


def write(model_dir: str, requests: Sequence[tuple[str, Mapping[str, np.ndarray]]]) -> str:
    """Writes (signature name, inputs) pairs as ``PredictionLog`` records into ``model_dir``; returns the
    file's path. Bytes are canonical (deterministic serialization): the same requests give the same file,
    so the model directory's fingerprint and the Pusher's "already pushed" check stay stable."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    if not requests:
        raise ValueError("a warm-up file needs at least one request")
    if len(requests) > MAX_RECORDS:
        raise ValueError(f"TF Serving replays at most {MAX_RECORDS} warm-up requests; got {len(requests)}")
    target = path(model_dir)
    tf.io.gfile.makedirs(os.path.dirname(target))
    with tf.io.TFRecordWriter(target) as writer:
        for signature_name, inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(signature_name=signature_name)
            )
            for name in sorted(inputs):
                request.inputs[name].CopyFrom(tf.make_tensor_proto(inputs[name]))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString(deterministic=True))
    return target


def read(model_dir: str) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The (signature name, inputs) pairs of a model's warm-up file; [] when it has none. A record that is
    not a ``PredictionLog`` with a predict request raises ``ValueError`` (TF Serving refuses to load such a
    version too)."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    target = path(model_dir)
    if not tf.io.gfile.exists(target):
        return []
    out = []
    for i, record in enumerate(tf.data.TFRecordDataset(target).as_numpy_iterator()):
        if i >= MAX_RECORDS:
            break
        log = prediction_log_pb2.PredictionLog()
        try:
            log.ParseFromString(record)
        except Exception as error:  # noqa: BLE001 - protobuf's DecodeError has no public base to name
            raise ValueError(f"warm-up record {i} is not a PredictionLog: {error}") from None
        if log.WhichOneof("log_type") != "predict_log":
            raise ValueError(f"warm-up record {i} is not a predict request (only those are replayed)")
        request = log.predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        out.append((request.model_spec.signature_name or "serving_default", inputs))
    return out
