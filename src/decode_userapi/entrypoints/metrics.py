"""Prometheus metrics: requests by route template and status, file bytes, sign-in failures,
and jobs by state (counted in the database at each scrape).

With several worker processes (`serve --workers N`) every worker writes its samples to
files in `PROMETHEUS_MULTIPROC_DIR` (the CLI creates one when it is not set) and a scrape
of any worker, or of the separate `METRICS_PORT` listener, adds them all up.
"""

import asyncio
import os
from collections.abc import Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from decode_userapi.adapters.persistence.job_counts import count_jobs_by_state
from decode_userapi.domain.jobs import JobState

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series next to every counter

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUESTS = Counter(
    "decode_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "decode_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
FILE_BYTES = Counter(
    "decode_file_bytes_total",
    "Bytes of upload requests received and of downloads sent.",
    ["direction"],
)
SIGN_IN_FAILURES = Counter(
    "decode_sign_in_failures_total", "Refused sign-ins (POST /token and /login)."
)


class JobsByState(Collector):
    """`decode_jobs{state}`: every state, zero included, read when scraped."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url

    def collect(self) -> Iterator[Metric]:
        counts = asyncio.run(count_jobs_by_state(self._database_url))
        family = GaugeMetricFamily("decode_jobs", "Jobs of all users by state.", labels=["state"])
        for state in JobState:
            family.add_metric([state.value], counts.get(state.value, 0))
        yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


def exposition_registry(database_url: str) -> CollectorRegistry:
    """What a scrape reads: this process's metrics, or every worker's, plus the jobs."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)
    registry.register(JobsByState(database_url))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text format; blocking (it queries the database): run it off the event loop."""
    return generate_latest(registry)
