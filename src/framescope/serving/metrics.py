"""Prometheus metrics of the service (``GET /metrics``), in a registry of the app's own.

Each app gets its own :class:`prometheus_client.CollectorRegistry`, so several apps in one
process (tests) never collide. With several uvicorn workers, ``framescope serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start; each worker then
writes its values there and ``/metrics`` (answered by any one worker) sums them over all
live workers (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE_LATEST", "ServeMetrics"]

#: Request latency buckets, in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Passages-per-batch buckets.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServeMetrics:
    """The service's counters, histograms and gauges.

    Attributes:
        requests: ``framescope_requests_total{endpoint, status}``.
        latency: ``framescope_request_seconds{endpoint}``.
        batch_size: ``framescope_batch_passages`` (passages per micro-batch).
        queue_depth: ``framescope_queue_passages`` (passages waiting for a batch).
        errors: ``framescope_errors_total{endpoint, kind}`` (every 4xx/5xx answer).
        passages: ``framescope_passages_scored_total``.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("framescope_requests", "HTTP requests answered, by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("framescope_request_seconds", "Time to answer a request, by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("framescope_batch_passages", "Passages per micro-batch run by the model",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.queue_depth = Gauge("framescope_queue_passages", "Passages waiting for a micro-batch",
                                 registry=r, multiprocess_mode="livesum")
        self.errors = Counter("framescope_errors", "Requests answered with an error, by endpoint and kind",
                              ["endpoint", "kind"], registry=r)
        self.passages = Counter("framescope_passages_scored", "Passages scored", registry=r)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request (and its error kind for 4xx/5xx)."""
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        if status >= 400:
            kind = "server" if status >= 500 else "client"
            self.errors.labels(endpoint, f"{kind}_{status}").inc()

    def render(self) -> bytes:
        """The metrics in the Prometheus text format (summed over workers in multiprocess mode)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
