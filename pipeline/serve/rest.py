"""TF Serving's REST predict format ↔ tensors, with every way a body can be wrong named in the error.

The request and response bodies are TF Serving's (``tensorflow_serving/g3doc/api_rest.md``),
so a client written for TF Serving works unchanged:

* ``{"signature_name": …, "instances": [...]}`` (row format): one element per example;
  a single-input signature takes the values themselves, a multi-input one objects
  keyed by input name. The answer is ``{"predictions": [...]}``, one element per
  example (the value when the signature has one output, else an object).
* ``{"signature_name": …, "inputs": {...} | value}`` (columnar format): every input
  whole. The answer is ``{"outputs": ...}``.
* Binary strings travel as ``{"b64": "…"}``; string outputs come back as text.

Only what a signature declares is accepted: its input names, dtypes and ranks. A body
that does not fit raises ``RequestError`` with what is wrong, for a 400 or 404.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

DEFAULT_SIGNATURE = "serving_default"
ROW, COLUMNAR = "instances", "inputs"


class RequestError(Exception):
    """A request the server refuses, with the HTTP status to answer and a reason for the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_body(body: bytes) -> tuple[str, str, Any]:
    """A predict body → (signature name, ``ROW`` or ``COLUMNAR``, the payload)."""
    try:
        request = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError("the body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise RequestError("the body is not valid JSON") from None
    if not isinstance(request, dict):
        raise RequestError("the body must be a JSON object")
    unknown = set(request) - {"signature_name", ROW, COLUMNAR}
    if unknown:
        raise RequestError(f"unknown field(s): {', '.join(sorted(unknown))}")
    signature = request.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(signature, str):
        raise RequestError("signature_name must be a string")
    if (ROW in request) == (COLUMNAR in request):
        raise RequestError(
            'the body needs exactly one of "instances" (row format) or "inputs" (columnar format)'
        )
    fmt = ROW if ROW in request else COLUMNAR
    return signature, fmt, request[fmt]


def to_tensors(fmt: str, payload: Any, specs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The payload → one array per input of the signature (``specs``: name → ``tf.TensorSpec``)."""
    if fmt == ROW:
        if not isinstance(payload, list) or not payload:
            raise RequestError('"instances" must be a non-empty list')
        if len(specs) == 1:
            (name,) = specs
            columns = {name: [_unwrap_single(row, name) for row in payload]}
        else:
            columns = {name: [] for name in specs}
            for i, row in enumerate(payload):
                if not isinstance(row, dict):
                    raise RequestError(f"instances[{i}] must be an object keyed by input name")
                _check_names(row, specs, f"instances[{i}]")
                for name in specs:
                    columns[name].append(row[name])
        return {name: _array(name, columns[name], specs[name]) for name in specs}
    if len(specs) == 1 and not isinstance(payload, dict):
        (name,) = specs
        payload = {name: payload}
    if not isinstance(payload, dict):
        raise RequestError('"inputs" must be an object keyed by input name')
    _check_names(payload, specs, '"inputs"')
    return {name: _array(name, payload[name], specs[name]) for name in specs}


def _unwrap_single(row: Any, name: str) -> Any:
    """A single-input row may also be written ``{"<name>": value}``."""
    if isinstance(row, dict) and set(row) == {name}:
        return row[name]
    return row


def names_problem(given: Mapping[str, Any], specs: Mapping[str, Any]) -> str | None:
    """What is wrong with a request's input names (None: they are the signature's); REST and gRPC say it alike."""
    missing = [n for n in specs if n not in given]
    extra = sorted(set(given) - set(specs))
    if not (missing or extra):
        return None
    parts = ([f"missing input(s) {', '.join(missing)}"] if missing else []) + (
        [f"unknown input(s) {', '.join(extra)}"] if extra else []
    )
    return f"{'; '.join(parts)} (the signature takes {', '.join(specs)})"


def _check_names(given: dict, specs: Mapping[str, Any], where: str) -> None:
    problem = names_problem(given, specs)
    if problem:
        raise RequestError(f"{where}: {problem}")


def _array(name: str, value: Any, spec: Any) -> np.ndarray:
    """One input's JSON value → an array of the spec's dtype and rank."""
    dtype = spec.dtype.name
    fast = _flat_numbers(value, spec)
    if fast is not None:
        return fast
    shape = _shape(name, value)
    rank = spec.shape.rank
    if rank is not None and len(shape) != rank:
        raise RequestError(f"input {name}: expected rank {rank}, got a value of rank {len(shape)}")
    for axis, (want, got) in enumerate(zip(spec.shape.as_list() if rank is not None else [], shape)):
        if want is not None and want != got:
            raise RequestError(f"input {name}: dimension {axis} must be {want}, got {got}")
    flat = list(_leaves(value))
    if dtype == "string":
        data = [_bytes(name, v) for v in flat]
        return np.array(data, dtype=object).reshape(shape)
    if dtype.startswith("float"):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
            raise RequestError(f"input {name}: expected numbers ({dtype})")
        return np.array(flat, dtype=dtype).reshape(shape)
    if dtype.startswith("int"):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
            raise RequestError(f"input {name}: expected integers ({dtype})")
        limits = np.iinfo(dtype)
        if flat and (min(flat) < limits.min or max(flat) > limits.max):
            raise RequestError(f"input {name}: a value is out of the range of {dtype}")
        return np.array(flat, dtype=dtype).reshape(shape)
    raise RequestError(f"input {name}: dtype {dtype} is not supported by this server", status=400)


def _flat_numbers(value: Any, spec: Any) -> np.ndarray | None:
    """A flat list of plain numbers for a rank-1 numeric input (a drawing's points: the common request)
    without walking it value by value; None sends it to the checks that name what is wrong."""
    dtype = spec.dtype.name
    if not isinstance(value, list) or spec.shape.rank != 1 or not dtype.startswith(("float", "int")):
        return None
    allowed = {int, float} if dtype.startswith("float") else {int}
    if not {type(v) for v in value} <= allowed:  # bools, strings, lists: the slow path says which
        return None
    want = spec.shape.as_list()[0]
    if want is not None and want != len(value):
        return None
    if dtype.startswith("int") and value:
        limits = np.iinfo(dtype)
        if min(value) < limits.min or max(value) > limits.max:
            return None
    return np.array(value, dtype=dtype)


def _shape(name: str, value: Any) -> tuple[int, ...]:
    """The dimensions of a nested list; a ragged one is refused."""
    if not isinstance(value, list):
        return ()
    if not value:
        return (0,)
    inner = {_shape(name, v) for v in value}
    if len(inner) != 1:
        raise RequestError(f"input {name}: ragged value (its lists differ in length or depth)")
    return (len(value), *inner.pop())


def _leaves(value: Any):
    if isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _bytes(name: str, value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(f"input {name}: invalid base64") from None
    raise RequestError(f'input {name}: expected strings, or {{"b64": "…"}} for binary ones')


def to_response(fmt: str, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The signature's outputs → TF Serving's answer body for the request's format."""
    values = {name: _json_value(name, np.asarray(t)) for name, t in sorted(outputs.items())}
    if fmt == COLUMNAR:
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    batch = {np.asarray(t).shape[0] if np.ndim(t) else None for t in outputs.values()}
    if len(batch) != 1 or None in batch:
        raise RequestError(
            'the outputs of this signature differ in batch size; ask in the columnar format ("inputs")'
        )
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    n = batch.pop()
    return {"predictions": [{name: v[i] for name, v in values.items()} for i in range(n)]}


def _json_value(name: str, array: np.ndarray) -> Any:
    if array.dtype == object or array.dtype.kind == "S":
        if name.endswith("_bytes"):  # TF Serving's convention for binary outputs
            return _map(array, lambda b: {"b64": base64.b64encode(b).decode("ascii")})
        return _map(array, lambda b: b.decode("utf-8", errors="replace") if isinstance(b, bytes) else str(b))
    return array.tolist()


def _map(array: np.ndarray, fn) -> Any:
    def walk(value: Any) -> Any:
        return [walk(v) for v in value] if isinstance(value, list) else fn(value)

    return walk(array.tolist())


def input_specs(signature: Any) -> dict[str, Any]:
    """name → ``tf.TensorSpec`` of a concrete function's keyword inputs."""
    _, kwargs = signature.structured_input_signature
    return dict(kwargs)


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode("utf-8")
