"""``quickdraw serve``: TF Serving's REST API and a drawing page over the newest pushed model version.

Tornado (already in the pinned dependency set, through TFX's notebook dependencies)
does the HTTP: one event loop holds every connection, so slow or idle clients cost a
socket, not a worker; it enforces header size, body time and idle time limits itself.
The model runs in a bounded thread pool (TensorFlow releases the GIL while it computes),
so requests are served in parallel and a burst queues instead of spawning threads.
With ``--enable-batching``, concurrent predict calls of a signature are merged into one
model call (``predictions``). The same loop serves TF Serving's gRPC API
(``grpc_api``) and the Prometheus metrics at ``/monitoring/prometheus/metrics``
(``metrics``); all three share the versions, the pool and the limits.

Every request is treated as hostile: bodies above ``max_body_bytes`` are refused from
their Content-Length before they are read (or as soon as a chunked body passes the
limit), every refusal is a 4xx with ``{"error": …}`` naming the problem, and a
drawing the model's signature refuses (too many points, lengths that do not add up)
is a 400 with the signature's own message. The page is a static file; it never
receives data as markup, and its Content-Security-Policy allows only its own inline
script and style (by hash) and requests to this server.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import logging
import os
import re
import signal
import time
from typing import Any

import tornado.httpserver
import tornado.log
import tornado.netutil
import tornado.web

from pipeline.serve import metrics, rest
from pipeline.serve.config import ServeConfig
from pipeline.serve.predictions import PredictError, Predictions, signature_of
from pipeline.serve.versions import LoadedVersion, ModelVersions, load_saved_model

logger = logging.getLogger(__name__)

PAGE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "page.html")


class _Handler(tornado.web.RequestHandler):
    """JSON errors, TF Serving style, for every failure, including tornado's own (404, 405)."""

    def initialize(self, app: ServingApp) -> None:
        self.app = app

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, tornado.web.HTTPError) and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        elif status_code == 405:
            message = f"{self.request.method} is not allowed on {self.request.path}"
        else:
            message = self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(rest.error_body(message))

    def fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.finish(rest.error_body(message))

    def served(self, name: str, version: str | None) -> LoadedVersion:
        """The loaded version a request asks for, or a ``RequestError`` naming what is missing."""
        try:
            return self.app.resolve(name, int(version) if version is not None else None)
        except PredictError as error:
            raise rest.RequestError(str(error), error.http_status) from None


class StatusHandler(_Handler):
    def get(self, name: str, version: str | None = None) -> None:
        if name != self.app.settings.model_name:
            return self.fail(404, f"Servable not found for request: Latest({name})")
        statuses = self.app.versions.statuses()
        if version is not None:
            statuses = [s for s in statuses if s.version == int(version)]
            if not statuses:
                return self.fail(404, f"Servable not found for request: Specific({name}, {version})")
        self.finish({
            "model_version_status": [
                {
                    "version": str(s.version),
                    "state": s.state,
                    "status": {"error_code": "UNKNOWN" if s.error else "OK", "error_message": s.error},
                }
                for s in statuses
            ]
        })  # fmt: skip


class MetadataHandler(_Handler):
    def get(self, name: str, version: str | None = None) -> None:
        try:
            loaded = self.served(name, version)
        except rest.RequestError as error:
            return self.fail(error.status, str(error))
        self.finish({
            "model_spec": {"name": name, "signature_name": "", "version": str(loaded.version)},
            "metadata": {"signature_def": {"signature_def": loaded.signature_defs}},
        })  # fmt: skip


@tornado.web.stream_request_body
class PredictHandler(_Handler):
    """``:predict``. The body is streamed in so that its size is checked before it is held."""

    def prepare(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.too_large = False
        declared = self.request.headers.get("Content-Length")
        limit = self.app.settings.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            self.set_header("Connection", "close")
            self.fail(400, f"the body has {int(declared):,} bytes; the limit is {limit:,} (--max-body-bytes)")
        elif declared is None:  # chunked: counted in data_received; Tornado cuts it off at twice the limit
            self.request.connection.set_max_body_size(2 * limit)

    def data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.app.settings.max_body_bytes:
            self.too_large = True
            self.chunks = []
        elif not self.too_large:
            self.chunks.append(chunk)

    async def post(self, name: str, version: str | None = None) -> None:
        started, signature_name = time.perf_counter(), ""
        if self.too_large:
            limit = self.app.settings.max_body_bytes
            self.fail(400, f"the body is above the limit of {limit:,} bytes (--max-body-bytes)")
            return self.app.count(signature_name, "rest", "400", started)
        try:
            loaded = self.served(name, version)
            signature_name, fmt, payload = rest.parse_body(b"".join(self.chunks))
            signature = signature_of(loaded, signature_name)
            inputs = rest.to_tensors(fmt, payload, rest.input_specs(signature))
            outputs = await self.app.predictions.predict(loaded, signature_name, inputs, None)
            self.finish(json.dumps(rest.to_response(fmt, outputs)))
        except rest.RequestError as error:
            self.fail(error.status, str(error))
        except PredictError as error:
            self.fail(error.http_status, str(error))
        self.app.count(signature_name, "rest", str(self.get_status()), started)


class MetricsHandler(_Handler):
    """TF Serving's Prometheus path: every counter of this server in the text exposition format."""

    def get(self) -> None:
        self.set_header("Content-Type", metrics.CONTENT_TYPE)
        self.finish(self.app.metrics.exposition())


class PageHandler(_Handler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", self.app.page_policy)
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(self.app.page)


class PageConfigHandler(_Handler):
    """What the page needs to know (the model's name), as data: the page is never rewritten."""

    def get(self) -> None:
        self.finish({"model_name": self.app.settings.model_name})


class NotFoundHandler(_Handler):
    def prepare(self) -> None:
        self.fail(404, f"no such path: {self.request.path}")


class ServingApp:
    """The versions, the thread pool and the Tornado application, wired together."""

    def __init__(self, serving_dir: str, settings: ServeConfig, versions: ModelVersions | None = None):
        self.settings = settings
        self.metrics = metrics.ServingMetrics(settings.model_name)
        self.predictions = Predictions(settings, self.metrics)
        loader = functools.partial(load_saved_model, replay=self.predictions.replay)
        self.versions = versions or ModelVersions(serving_dir, loader, settings.poll_seconds)
        self.versions.listen(self._loaded, self._failed)
        with open(PAGE_FILE, "rb") as f:
            self.page = f.read()
        self.page_policy = _content_security_policy(self.page)
        version = r"(?:/versions/(\d+))?"
        args = {"app": self}
        self.application = tornado.web.Application(
            [
                (r"/", PageHandler, args),
                (r"/page-config\.json", PageConfigHandler, args),
                (metrics.PATH, MetricsHandler, args),
                (rf"/v1/models/([^/:]+){version}", StatusHandler, args),
                (rf"/v1/models/([^/:]+){version}/metadata", MetadataHandler, args),
                (rf"/v1/models/([^/:]+){version}:predict", PredictHandler, args),
            ],
            default_handler_class=NotFoundHandler,
            default_handler_args=args,
            log_function=_log_request,
        )

    def resolve(self, name: str, version: int | None) -> LoadedVersion:
        """The loaded version a request names (None: the served one), or a ``PredictError``: NOT_FOUND for
        another model or version, UNAVAILABLE before any version has loaded."""
        if name != self.settings.model_name:
            raise PredictError(f"Servable not found for request: Latest({name})", PredictError.NOT_FOUND)
        loaded = self.versions.get(version)
        if loaded is None:
            current = self.versions.current()
            if current is None:
                raise PredictError(f"no version of {name} is loaded yet", PredictError.UNAVAILABLE)
            raise PredictError(
                f"Servable not found for request: Specific({name}, {version}); version {current.version} is served",
                PredictError.NOT_FOUND,
            )
        return loaded

    def count(self, signature_name: str, api: str, code: str, started: float) -> None:
        """One predict call in the metrics; a signature the model lacks counts as "" (no unbounded labels)."""
        current = self.versions.current()
        known = signature_name if current is not None and signature_name in current.signatures else ""
        self.metrics.request(known, api, code, time.perf_counter() - started)

    def _loaded(self, loaded: LoadedVersion) -> None:
        self.metrics.version.labels(self.settings.model_name).set(loaded.version)
        self.metrics.warmup_requests.labels(self.settings.model_name).inc(loaded.warmup_requests)

    def _failed(self, version: int, why: str) -> None:
        self.metrics.load_failures.labels(self.settings.model_name).inc()

    def listen(self) -> list:
        """Binds (port 0 picks a free one) and starts the HTTP server; returns the sockets."""
        s = self.settings
        server = tornado.httpserver.HTTPServer(
            self.application,
            max_header_size=s.max_header_bytes,
            body_timeout=s.body_timeout_s,
            idle_connection_timeout=s.idle_timeout_s,
            max_body_size=s.max_body_bytes,
        )
        sockets = tornado.netutil.bind_sockets(s.port, s.host)
        server.add_sockets(sockets)
        self.http = server
        return sockets


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Tornado's access log, less its line per answered request: those are DEBUG (TF Serving logs none), so
    a busy server does not format and filter a record for each; refusals stay warnings, failures errors."""
    status = handler.get_status()
    level = logging.DEBUG if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    if tornado.log.access_log.isEnabledFor(level):
        summary = f"{handler.request.method} {handler.request.uri} ({handler.request.remote_ip})"
        tornado.log.access_log.log(
            level, "%d %s %.2fms", status, summary, 1000 * handler.request.request_time()
        )


def _content_security_policy(page: bytes) -> str:
    """Only the page's own inline script and style run (by hash); requests go to this server only."""
    text = page.decode("utf-8")

    def hashes(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.S)
        return " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'" for body in found
        )

    return (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def set_intra_op_parallelism(threads: int) -> None:
    """TensorFlow's threads per model call, before anything runs (0 leaves TensorFlow's default). Small
    calls gain nothing from splitting a matrix product over cores; on a small machine serving many clients
    one thread per call leaves the other cores to the other calls and to the event loop."""
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)


def serve(serving_dir: str, settings: ServeConfig) -> int:
    """Loads the newest version, serves until SIGINT/SIGTERM. Prints the address when ready."""
    if not os.path.isdir(serving_dir):
        from pipeline.predict import ModelNotFound

        raise ModelNotFound(f"no serving directory at {serving_dir}")
    set_intra_op_parallelism(settings.intra_op_parallelism)
    app = ServingApp(serving_dir, settings)
    app.versions.poll_once()
    current = app.versions.current()
    if current is None:
        logger.warning("no loadable version in %s yet; waiting for one", serving_dir)
    app.versions.start()

    async def main() -> None:
        sockets = app.listen()
        host, port = sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        grpc_server = None
        if settings.grpc_port >= 0:
            from pipeline.serve import grpc_api

            grpc_server, grpc_port = await grpc_api.start(app)
        print(
            f"serving {settings.model_name} (version {current.version if current else 'none yet'}) "
            f"from {serving_dir} on http://{shown}:{port}/",
            flush=True,
        )
        if grpc_server is not None:
            print(
                f"gRPC (TF Serving's PredictionService and ModelService) on {shown}:{grpc_port}", flush=True
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        app.http.stop()
        if grpc_server is not None:
            await grpc_server.stop(grace=1.0)

    try:
        asyncio.run(main())
    finally:
        app.versions.stop()
        app.predictions.shutdown()
    return 0
