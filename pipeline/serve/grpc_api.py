"""TF Serving's gRPC API on ``--grpc-port`` (8500): ``PredictionService`` and ``ModelService``.

The services, messages and stubs are TF Serving's own (``tensorflow-serving-api``), so a
client written for TF Serving (``PredictionServiceStub(channel).Predict(request)``)
works unchanged. The servicer runs on the same asyncio loop as the REST server and
shares its model versions, batcher, limits and metrics:

* ``Predict``: ``model_spec`` (name, optional version, signature name; version labels are
  not supported), ``inputs`` as ``TensorProto``s of the signature's dtypes and ranks,
  ``output_filter`` honoured; the client's deadline applies (or ``--request-timeout-s``
  if shorter);
* ``GetModelMetadata``: the ``signature_def`` field (a ``SignatureDefMap``), as TF Serving;
* ``ModelService.GetModelStatus``: the served version and newer ones loading or failed.

Errors carry TF Serving's codes with a reason: ``INVALID_ARGUMENT`` (a malformed request,
an input of the wrong dtype or rank, a drawing the signature refuses), ``NOT_FOUND``
(another model, version or signature), ``UNAVAILABLE`` (no version loaded yet),
``DEADLINE_EXCEEDED``, ``RESOURCE_EXHAUSTED`` (a message above ``--max-body-bytes``, or
more concurrent calls than the server takes), ``UNIMPLEMENTED`` (Classify, Regress,
MultiInference, HandleReloadConfigRequest).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import grpc
import numpy as np
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from components.errors import UserError
from pipeline.serve import rest
from pipeline.serve.predictions import PredictError, signature_of
from pipeline.serve.versions import AVAILABLE, LOADING

if TYPE_CHECKING:
    from pipeline.serve.server import ServingApp

CODES = {
    PredictError.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    PredictError.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    PredictError.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    PredictError.DEADLINE: grpc.StatusCode.DEADLINE_EXCEEDED,
}
STATES = {AVAILABLE: get_model_status_pb2.ModelVersionStatus.AVAILABLE,
          LOADING: get_model_status_pb2.ModelVersionStatus.LOADING}  # fmt: skip
MAX_CONCURRENT_RPCS = 1024


def tensors_from_protos(protos: Any, specs: dict[str, Any]) -> dict[str, np.ndarray]:
    """A request's ``TensorProto`` inputs → arrays, checked against the signature's names, dtypes and ranks."""
    import tensorflow as tf

    problem = rest.names_problem(protos, specs)
    if problem:
        raise PredictError(problem)
    out = {}
    for name, spec in specs.items():
        proto = protos[name]
        if proto.dtype != spec.dtype.as_datatype_enum:
            given = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "no dtype"
            raise PredictError(f"input {name}: expected {spec.dtype.name}, got {given}")
        try:
            value = tf.make_ndarray(proto)
        except Exception as error:  # noqa: BLE001 - a malformed TensorProto has many ways to fail
            raise PredictError(f"input {name}: not a valid tensor ({type(error).__name__})") from None
        if spec.shape.rank is not None and value.ndim != spec.shape.rank:
            raise PredictError(
                f"input {name}: expected rank {spec.shape.rank}, got a value of rank {value.ndim}"
            )
        out[name] = value
    return out


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, app: ServingApp) -> None:
        self.app = app

    async def Predict(self, request: predict_pb2.PredictRequest, context: grpc.aio.ServicerContext):
        import tensorflow as tf

        started, signature_name, code = (
            time.perf_counter(),
            request.model_spec.signature_name,
            grpc.StatusCode.OK,
        )
        signature_name = signature_name or rest.DEFAULT_SIGNATURE
        try:
            loaded = self.app.resolve(request.model_spec.name, _version(request.model_spec))
            signature = signature_of(loaded, signature_name)
            unknown = sorted(set(request.output_filter) - set(signature.structured_outputs))
            if unknown:
                raise PredictError(f"output_filter names unknown output(s) {', '.join(unknown)}")
            inputs = tensors_from_protos(request.inputs, rest.input_specs(signature))
            outputs = await self.app.predictions.predict(
                loaded, signature_name, inputs, context.time_remaining()
            )
            response = predict_pb2.PredictResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = loaded.version
            response.model_spec.signature_name = signature_name
            for name in sorted(request.output_filter or outputs):
                response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
            return response
        except PredictError as error:
            code = CODES[error.kind]
            await context.abort(code, str(error))
        finally:
            self.app.count(signature_name, "grpc", code.name, started)

    async def GetModelMetadata(self, request, context: grpc.aio.ServicerContext):
        fields = list(request.metadata_field)
        if not fields:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "GetModelMetadataRequest must specify metadata_field"
            )
        unsupported = [f for f in fields if f != "signature_def"]
        if unsupported:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"metadata_field {unsupported[0]} is not supported (signature_def is)",
            )
        try:
            loaded = self.app.resolve(request.model_spec.name, _version(request.model_spec))
        except PredictError as error:
            await context.abort(CODES[error.kind], str(error))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = loaded.version
        defs = get_model_metadata_pb2.SignatureDefMap()
        for name, proto in sorted(loaded.signature_def_protos.items()):
            defs.signature_def[name].CopyFrom(proto)
        response.metadata["signature_def"].Pack(defs)
        return response

    async def Classify(self, request, context):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Classify is not served; use Predict")

    async def Regress(self, request, context):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Regress is not served; use Predict")

    async def MultiInference(self, request, context):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "MultiInference is not served; use Predict")


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, app: ServingApp) -> None:
        self.app = app

    async def GetModelStatus(self, request, context: grpc.aio.ServicerContext):
        name = request.model_spec.name
        if name != self.app.settings.model_name:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name})")
        statuses = self.app.versions.statuses()
        try:
            version = _version(request.model_spec)
        except PredictError as error:
            await context.abort(CODES[error.kind], str(error))
        if version is not None:
            statuses = [s for s in statuses if s.version == version]
            if not statuses:
                await context.abort(
                    grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Specific({name}, {version})"
                )
        response = get_model_status_pb2.GetModelStatusResponse()
        for s in statuses:
            entry = response.model_version_status.add(
                version=s.version, state=STATES.get(s.state, get_model_status_pb2.ModelVersionStatus.END)
            )
            if s.error:
                entry.status.error_code = grpc.StatusCode.UNKNOWN.value[0]
                entry.status.error_message = s.error
        return response

    async def HandleReloadConfigRequest(self, request, context):
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED, "the served model follows its directory; no config to reload"
        )


def _version(spec: Any) -> int | None:
    if spec.WhichOneof("version_choice") == "version_label":
        raise PredictError("version labels are not supported; name a version number or none")
    return spec.version.value if spec.HasField("version") else None


async def start(app: ServingApp) -> tuple[grpc.aio.Server, int]:
    """Starts the gRPC server on the app's host and ``grpc_port``; returns it and the bound port."""
    settings = app.settings
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", settings.max_body_bytes),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ],
        maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(app), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(app), server)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    try:
        port = server.add_insecure_port(f"{host}:{settings.grpc_port}")
    except RuntimeError:
        port = 0
    if port == 0:
        raise UserError(
            f"cannot bind the gRPC port {settings.host}:{settings.grpc_port} (in use?): "
            "--grpc-port 0 picks a free one, --grpc-port -1 turns gRPC off"
        )
    await server.start()
    return server, port
