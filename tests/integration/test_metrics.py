"""`/metrics` in the Prometheus text format: requests by route template and status, file
bytes, refused sign-ins, jobs by state; summed over worker processes."""

import socket
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from benchmarks import live_server
from benchmarks.live_server import running_server
from decode_userapi.domain.jobs import JobState
from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """`{sorted labels: value}` of the samples called `name`."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def value(text: str, name: str, **labels: str) -> float:
    found = samples(text, name)
    return found.get(tuple(sorted(labels.items())), 0.0)


async def test_requests_bytes_sign_in_failures_and_jobs(
    embedded_only: None, client: Client, headers_for: HeadersFor
) -> None:
    alice = await headers_for("alice")
    before = (await client.get("/metrics")).text
    content = b"x" * 5000
    uploaded = await client.post(
        "/files/data/upload", headers=alice, files={"file": ("a.bin", content)}
    )
    assert uploaded.status_code == 201
    assert (await client.get("/files/data/a.bin/download", headers=alice)).content == content
    await client.get("/jobs/12345", headers=alice)
    await client.post("/token", data={"username": "alice@example.org", "password": "wrong"})

    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"method": "GET", "route": "/jobs/{job_id}", "status": "404"}
    assert grew("decode_http_requests_total", **route) == 1
    assert grew("decode_http_request_duration_seconds_count", **route) == 1
    assert grew("decode_file_bytes_total", direction="upload") > len(content)
    assert grew("decode_file_bytes_total", direction="download") == len(content)
    assert grew("decode_sign_in_failures_total") == 1
    jobs = samples(after, "decode_jobs")
    assert {dict(labels)["state"] for labels in jobs} == {state.value for state in JobState}
    assert set(jobs.values()) == {0}


async def test_metrics_can_be_turned_off(embedded_only: None, settings: Settings) -> None:
    for changed in ({"metrics": False}, {"metrics_port": 9999}):
        app = create_app(build_container(msgspec.structs.replace(settings, **changed)))
        async with AsyncTestClient(app) as off:
            assert (await off.get("/metrics")).status_code == 404


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_workers_add_up_and_a_separate_port_serves_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`WEB_CONCURRENCY=2`: two uvicorn workers, whose counts the metrics port sums.
    Each worker imports the whole app: on a busy machine that takes a while."""
    monkeypatch.setattr(live_server, "START_TIMEOUT_SECONDS", 120.0)
    metrics_port = _free_port()
    with running_server(tmp_path, WEB_CONCURRENCY="2", METRICS_PORT=str(metrics_port)) as server:
        with httpx.Client() as http:  # new connections, so both workers get some
            for _ in range(40):
                http.get(f"{server.url}/health/live", headers={"Connection": "close"})
            assert http.get(f"{server.url}/metrics").status_code == 404
            scraped = http.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        pids = {child.pid for child in server.process.children(recursive=True)}
    assert len(pids) >= 2
    live = {"method": "GET", "route": "/health/live", "status": "200"}
    assert value(scraped, "decode_http_requests_total", **live) >= 40
