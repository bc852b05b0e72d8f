"""One way to run a signature for both APIs (REST and gRPC): in the thread pool, batched or not, timed out.

Batching is TF Serving's ``--enable_batching`` in spirit: requests for the same version
and signature that arrive while a batch is open (up to ``batch_timeout_micros`` after its
first request, or until it holds ``max_batch_size`` rows) are merged into one model call,
and each request gets exactly its own rows back. What is merged:

* ``serving_default`` and ``predict_strokes_batch``: the inputs are concatenated along
  their first axis (``predict_strokes_batch``'s rows are its ``drawing_strokes``);
* ``predict_strokes`` (one drawing per request, unchanged for clients): its requests
  become one call of ``predict_strokes_batch``, when the model has it (models pushed
  before it existed are served one drawing per call).

A request that finds the server idle goes at once if the last call held one request (light
traffic: one client pays no window), and waits its window if the last call merged several (the
first of the next wave of busy clients would otherwise cost a whole model call on its own).

Other signatures are called as they come. A merged call that the model refuses (one
request's drawing is malformed) is retried request by request, so a bad request gets
its own error and never fails the requests it was batched with. A request larger than
``max_batch_size`` runs alone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from typing import Any

import numpy as np

from components.errors import refusal_reason
from pipeline.serve.config import ServeConfig
from pipeline.serve.metrics import ServingMetrics
from pipeline.serve.versions import LoadedVersion, replay_here

SERVING_DEFAULT = "serving_default"  # names of components.training.signatures, without importing TF here
PREDICT_STROKES = "predict_strokes"
PREDICT_STROKES_BATCH = "predict_strokes_batch"
ROWS_INPUT = {SERVING_DEFAULT: "examples", PREDICT_STROKES_BATCH: "drawing_strokes"}


class PredictError(Exception):
    """A call the server refuses or the model rejects: the reason, and a kind both APIs map to a status."""

    INVALID = "INVALID_ARGUMENT"  # HTTP 400
    NOT_FOUND = "NOT_FOUND"  # HTTP 404
    UNAVAILABLE = "UNAVAILABLE"  # HTTP 503
    DEADLINE = "DEADLINE_EXCEEDED"  # HTTP 504

    HTTP = {INVALID: 400, NOT_FOUND: 404, UNAVAILABLE: 503, DEADLINE: 504}

    def __init__(self, message: str, kind: str = INVALID) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def http_status(self) -> int:
        return self.HTTP[self.kind]


def signature_of(loaded: LoadedVersion, signature_name: str) -> Any:
    """A loaded version's signature by name, or ``PredictError`` (NOT_FOUND) naming the ones it has; REST,
    gRPC and the batcher refuse an unknown signature alike."""
    signature = loaded.signatures.get(signature_name)
    if signature is None:
        raise PredictError(
            f'unknown signature "{signature_name}"; this model has {", ".join(sorted(loaded.signatures))}',
            PredictError.NOT_FOUND,
        )
    return signature


def call_signature(signature: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs a signature; the model's own refusals (INVALID_ARGUMENT) become a ``PredictError`` with their
    message."""
    import tensorflow as tf

    try:
        tensors = {name: tf.constant(value) for name, value in inputs.items()}
        return {name: t.numpy() for name, t in signature(**tensors).items()}
    except tf.errors.InvalidArgumentError as error:
        raise PredictError(refusal_reason(error.message)) from None
    except (ValueError, TypeError) as error:
        raise PredictError(refusal_reason(str(error))) from None


@dataclasses.dataclass
class _Pending:
    inputs: dict[str, np.ndarray]
    rows: int
    future: asyncio.Future


@dataclasses.dataclass
class _Batch:
    loaded: LoadedVersion
    signature_name: str
    items: list[_Pending] = dataclasses.field(default_factory=list)
    rows: int = 0
    due: bool = False  # its window has passed (or it opened on an idle server): it goes when a thread is free


def rows_of(signature_name: str, inputs: dict[str, np.ndarray]) -> int | None:
    """How many rows a request holds for batching, or None when its signature is not batched."""
    if signature_name == PREDICT_STROKES:
        return 1
    name = ROWS_INPUT.get(signature_name)
    if name is None or name not in inputs or np.ndim(inputs[name]) < 1:
        return None
    return int(np.shape(inputs[name])[0])


def merge(signature_name: str, requests: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several requests' inputs → one call's (of ``predict_strokes_batch`` for ``predict_strokes``)."""
    if signature_name == PREDICT_STROKES:
        merged = {name: np.concatenate([r[name] for r in requests]) for name in ("x", "y", "stroke_lengths")}
        merged["drawing_strokes"] = np.array([len(r["stroke_lengths"]) for r in requests], np.int32)
        return merged
    return {name: np.concatenate([r[name] for r in requests]) for name in requests[0]}


def split(outputs: dict[str, np.ndarray], rows: list[int]) -> list[dict[str, np.ndarray]]:
    """One merged call's outputs → each request's own rows, in order."""
    bounds = np.cumsum([0, *rows])
    return [{name: value[a:b] for name, value in outputs.items()} for a, b in zip(bounds[:-1], bounds[1:])]


class Predictions:
    """Runs predict calls for the REST handler and the gRPC servicer, with batching, limits and metrics."""

    def __init__(self, settings: ServeConfig, metrics: ServingMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.pool = concurrent.futures.ThreadPoolExecutor(settings.workers, thread_name_prefix="predict")
        self._open: dict[tuple[int, str], _Batch] = {}  # (version, signature) → the batch filling up
        self._in_flight = 0  # model calls running or queued in the pool
        self._last_merged = 1  # requests in the last call dispatched: more than one means they contend

    async def predict(
        self,
        loaded: LoadedVersion,
        signature_name: str,
        inputs: dict[str, np.ndarray],
        timeout_s: float | None,
    ) -> dict[str, np.ndarray]:
        """The signature's outputs for ``inputs``; ``PredictError`` for an unknown signature, a refused input
        or a call that outlives ``timeout_s`` (the server's limit when None or longer)."""
        signature_of(loaded, signature_name)
        limit = min(self.settings.request_timeout_s, timeout_s or self.settings.request_timeout_s)
        rows = rows_of(signature_name, inputs) if self.settings.enable_batching else None
        batch_signature = PREDICT_STROKES_BATCH if signature_name == PREDICT_STROKES else signature_name
        if rows is None or rows > self.settings.max_batch_size or batch_signature not in loaded.signatures:
            self._started()
            call = asyncio.get_running_loop().run_in_executor(
                self.pool, self._alone, loaded, signature_name, inputs
            )
            call.add_done_callback(lambda _: self._finished())
        else:
            call = self._batched(loaded, signature_name, inputs, rows)
        try:
            return await asyncio.wait_for(call, limit)
        except asyncio.TimeoutError:
            raise PredictError(
                f"the model did not answer within {limit:g} s (--request-timeout-s or the client's deadline)",
                PredictError.DEADLINE,
            ) from None

    def _alone(self, loaded: LoadedVersion, signature_name: str, inputs: dict) -> dict:
        outputs = call_signature(loaded.signatures[signature_name], inputs)
        self.metrics.model_call(signature_name, rows_of(signature_name, inputs) or 1)
        return outputs

    def _batched(self, loaded: LoadedVersion, signature_name: str, inputs: dict, rows: int) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        key = (loaded.version, signature_name)
        pending = _Pending(inputs, rows, loop.create_future())
        batch = self._open.get(key)
        if batch is not None and batch.rows + rows > self.settings.max_batch_size:
            self._dispatch(key)  # full: it goes now, this request opens the next one
            batch = None
        if batch is None:
            batch = self._open[key] = _Batch(loaded, signature_name)
            if self._in_flight == 0 and self._last_merged == 1:
                batch.due = True  # an idle server with light traffic holds no request back
            else:
                loop.call_later(self.settings.batch_timeout_micros / 1e6, self._window_passed, key, batch)
        batch.items.append(pending)
        batch.rows += rows
        if batch.rows >= self.settings.max_batch_size or (batch.due and self._free()):
            self._dispatch(key)
        return pending.future

    def _free(self) -> bool:
        return self._in_flight < self.settings.workers

    def _window_passed(self, key: tuple, batch: _Batch) -> None:
        if self._open.get(key) is batch:
            batch.due = True
            if self._free():
                self._dispatch(key)

    def _dispatch(self, key: tuple) -> None:
        batch = self._open.pop(key)
        self._last_merged = len(batch.items)
        self._started()
        work = asyncio.get_running_loop().run_in_executor(
            self.pool, self._run_batch, batch.loaded, batch.signature_name, batch.items
        )

        def deliver(done: asyncio.Future) -> None:
            self._finished()
            if done.cancelled():  # the pool shut down
                error = PredictError("the server is shutting down", PredictError.UNAVAILABLE)
                results: list = [error] * len(batch.items)
            elif done.exception() is not None:  # a bug, not a refusal: every request hears of it
                results = [done.exception()] * len(batch.items)
            else:
                results = done.result()
            for pending, result in zip(batch.items, results):
                if pending.future.done():  # timed out meanwhile
                    continue
                if isinstance(result, BaseException):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)

        work.add_done_callback(deliver)

    def _started(self) -> None:
        self._in_flight += 1

    def _finished(self) -> None:
        """A model thread is free: the batches whose window has passed go, oldest first."""
        self._in_flight -= 1
        for key, batch in list(self._open.items()):
            if batch.due and self._free():
                self._dispatch(key)

    def _run_batch(self, loaded: LoadedVersion, signature_name: str, batch: list[_Pending]) -> list:
        """One model call for the batch; if the model refuses it, one call per request (each its own answer)."""
        if len(batch) > 1:
            target = PREDICT_STROKES_BATCH if signature_name == PREDICT_STROKES else signature_name
            try:
                outputs = call_signature(
                    loaded.signatures[target], merge(signature_name, [p.inputs for p in batch])
                )
                self.metrics.model_call(signature_name, sum(p.rows for p in batch))
                return split(outputs, [p.rows for p in batch])
            except PredictError:
                pass  # one request's input is refused: each request runs alone and gets its own answer
        results: list = []
        for pending in batch:
            try:
                results.append(self._alone(loaded, signature_name, pending.inputs))
            except PredictError as error:
                results.append(error)
        return results

    def replay(self, signatures: Any, requests: list) -> None:
        """Warm-up requests in the loading thread (the expensive first calls, while the model threads go on
        serving the previous version), then the first request of each signature once more on every model
        thread, where a signature's first call still costs more than the next (a few milliseconds each).
        What is set up per input shape (the warm-up file's many lengths) is shared by the threads, so it
        runs once. The first failure is raised."""
        replay_here(signatures, requests)
        firsts: dict[str, dict] = {}
        for name, inputs in requests:
            firsts.setdefault(name, inputs)
        per_thread = list(firsts.items())
        barrier = threading.Barrier(self.settings.workers)

        def replay_on_this_thread() -> None:
            barrier.wait(60)  # one run per thread: no thread takes two while another takes none
            replay_here(signatures, per_thread)

        for done in [self.pool.submit(replay_on_this_thread) for _ in range(self.settings.workers)]:
            done.result()

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
