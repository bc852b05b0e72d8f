"""What ``quickdraw serve`` counts, in Prometheus's text format at TF Serving's path.

TF Serving exposes its metrics at ``/monitoring/prometheus/metrics`` when given a
monitoring config; this server always does, with its own registry (never the
process-wide default one, so two servers in one process, as in tests, do not share
counts). The names say what they count rather than copy TF Serving's
``:tensorflow:serving:…`` ones, whose label sets differ from server version to version:

* ``quickdraw_serve_requests_total{model, signature, api, code}``: every predict call,
  REST and gRPC, by its outcome (the HTTP status or the gRPC code's name);
* ``quickdraw_serve_request_latency_seconds{model, signature, api}``: from the request
  being read to its answer being ready;
* ``quickdraw_serve_batch_size{model, signature}``: rows per model call (1 without batching);
* ``quickdraw_serve_model_version{model}``: the version served (0 before one loads);
* ``quickdraw_serve_load_failures_total{model}``: versions that failed to load (or to warm up);
* ``quickdraw_serve_warmup_requests_total{model}``: warm-up requests replayed before a version was served.
"""

from __future__ import annotations

import prometheus_client

PATH = "/monitoring/prometheus/metrics"
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ServingMetrics:
    """The server's counters, histograms and gauges, in a registry of their own."""

    def __init__(self, model_name: str) -> None:
        self.model = model_name
        self.registry = prometheus_client.CollectorRegistry()
        r = self.registry
        self.requests = prometheus_client.Counter(
            "quickdraw_serve_requests",
            "predict calls by outcome",
            ["model", "signature", "api", "code"],
            registry=r,
        )
        self.latency = prometheus_client.Histogram(
            "quickdraw_serve_request_latency_seconds", "predict latency", ["model", "signature", "api"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_size = prometheus_client.Histogram(
            "quickdraw_serve_batch_size", "rows per model call", ["model", "signature"],
            buckets=BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.version = prometheus_client.Gauge(
            "quickdraw_serve_model_version", "the version served (0: none yet)", ["model"], registry=r
        )
        self.load_failures = prometheus_client.Counter(
            "quickdraw_serve_load_failures",
            "versions that failed to load or to warm up",
            ["model"],
            registry=r,
        )
        self.warmup_requests = prometheus_client.Counter(
            "quickdraw_serve_warmup_requests", "warm-up requests replayed before serving a version", ["model"],
            registry=r,
        )  # fmt: skip
        self.version.labels(self.model).set(0)
        self.load_failures.labels(self.model)
        self.warmup_requests.labels(self.model)

    def request(self, signature: str, api: str, code: str, seconds: float) -> None:
        self.requests.labels(self.model, signature, api, code).inc()
        self.latency.labels(self.model, signature, api).observe(seconds)

    def model_call(self, signature: str, rows: int) -> None:
        self.batch_size.labels(self.model, signature).observe(rows)

    def exposition(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)
