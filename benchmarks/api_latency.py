"""Request latency of the busiest routes against the framework's floor, in the same run.

Against one real server (SQLite, local files) holding a folder of many small files and
many jobs, each route is timed one request at a time, then with a few requests in flight
(httpx.AsyncClient): `GET /files/<folder>/`, `GET /jobs` (the default page of 100 and one
page of all jobs), `PUT /_job_status` (the worker-facing API's updates, with `x-api-key`),
and the baseline `GET /health/live`, a route that touches neither database nor disk.
A stand-in for the worker-facing API (`benchmarks/stub_server.py`) accepts the jobs.
Creating the files and jobs is timed too and printed as a by-product.

Run: `.venv/bin/python -m benchmarks.api_latency [--quick]`.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import median, p90, parse_args, print_header, scratch_folder
from benchmarks.live_server import Server, running_server
from benchmarks.stub_server import StubServer

API_KEY = "benchmark-internal-key"
CONCURRENCY = 8
REGISTRY = {
    "bench": {
        "v1": {
            "run": {
                "app": {"cmd": ["true"], "env": []},
                "handler": {"image_url": "", "files_down": {"data_ids": "data"}},
            }
        }
    }
}


@dataclass(frozen=True)
class Plan:
    files: int
    jobs: int
    sequential: int
    concurrent: int


FULL = Plan(files=1000, jobs=500, sequential=300, concurrent=400)
QUICK = Plan(files=200, jobs=150, sequential=60, concurrent=96)
WARM_UP = 10

Call = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
"""Sends the i-th request of a measurement."""


@contextmanager
def worker_api() -> Iterator[str]:
    """The worker-facing API's `POST /_jobs`, answering 200 to every job."""
    stub = StubServer().start()
    try:
        yield stub.url
    finally:
        stub.stop()


def _registry_env(folder: Path, worker_url: str) -> Mapping[str, str]:
    registry = folder / "application_config.yaml"
    registry.write_text(json.dumps(REGISTRY))  # JSON is YAML
    return {
        "APPLICATION_CONFIG_FILE": str(registry),
        "INTERNAL_API_KEY_SECRET": API_KEY,
        "WORKERFACING_API_URL": worker_url,
    }


def _job_body(index: int) -> dict[str, Any]:
    return {
        "job_name": f"bench-{index:05d}",
        "environment": "cloud",
        "priority": index % 6,
        "application": {"application": "bench", "version": "v1", "entrypoint": "run"},
        "attributes": {
            "files_down": {"config_id": None, "data_ids": None, "artifact_ids": None},
            "env_vars": None,
        },
        "hardware": None,
    }


@dataclass(frozen=True)
class Timing:
    latencies: list[float]
    """Seconds per request."""
    wall: float
    failures: int

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.wall


async def _timed(client: httpx.AsyncClient, call: Call, index: int, expect: int) -> float:
    started = time.perf_counter()
    response = await call(client, index)
    seconds = time.perf_counter() - started
    if response.status_code != expect:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return seconds


async def sequential(client: httpx.AsyncClient, call: Call, count: int, expect: int) -> Timing:
    started = time.perf_counter()
    latencies = [await _timed(client, call, index, expect) for index in range(count)]
    return Timing(latencies, time.perf_counter() - started, 0)


async def concurrent(client: httpx.AsyncClient, call: Call, count: int, expect: int) -> Timing:
    """`count` requests, `CONCURRENCY` in flight at any time."""
    indices = iter(range(count))
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for index in indices:
            try:
                latencies.append(await _timed(client, call, index, expect))
            except RuntimeError:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return Timing(latencies, time.perf_counter() - started, failures)


async def _create_files(client: httpx.AsyncClient, count: int) -> Timing:
    async def upload(c: httpx.AsyncClient, index: int) -> httpx.Response:
        content = f"file {index}\n".encode()
        return await c.post(
            "/files/data/many/upload", files={"file": (f"f-{index:05d}.txt", content)}
        )

    return await sequential(client, upload, count, 201)


async def _create_jobs(client: httpx.AsyncClient, count: int) -> tuple[Timing, list[int]]:
    ids: list[int] = []

    async def start(c: httpx.AsyncClient, index: int) -> httpx.Response:
        response = await c.post("/jobs", json=_job_body(index))
        if response.status_code == 201:
            ids.append(response.json()["id"])
        return response

    return await sequential(client, start, count, 201), ids


def _print_row(name: str, mode: str, timing: Timing, floor: Timing | None) -> None:
    med, high = median(timing.latencies) * 1000, p90(timing.latencies) * 1000
    ratio = f"{med / (median(floor.latencies) * 1000):>8.1f}" if floor else f"{'':>8}"
    failed = f"  {timing.failures} failed" if timing.failures else ""
    print(
        f"{name:<34}{mode:<12}{len(timing.latencies):>6}{med:>10.2f}{high:>10.2f}"
        f"{ratio}{timing.per_second:>9.0f}{failed}"
    )


async def measure(server: Server, plan: Plan) -> None:
    key = {"x-api-key": API_KEY}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=server.url, headers=server.headers, timeout=60.0, limits=limits
    ) as client:
        files = await _create_files(client, plan.files)
        jobs, ids = await _create_jobs(client, plan.jobs)

        async def health(c: httpx.AsyncClient, _: int) -> httpx.Response:
            return await c.get("/health/live")

        async def listing(c: httpx.AsyncClient, _: int) -> httpx.Response:
            return await c.get("/files/data/many/")

        async def jobs_page(c: httpx.AsyncClient, _: int) -> httpx.Response:
            return await c.get("/jobs")

        async def jobs_all(c: httpx.AsyncClient, _: int) -> httpx.Response:
            return await c.get("/jobs", params={"limit": plan.jobs})

        def status(state: str) -> Call:
            async def update(c: httpx.AsyncClient, index: int) -> httpx.Response:
                body = {"job_id": ids[index % len(ids)], "status": state, "runtime_details": None}
                return await c.put("/_job_status", json=body, headers=key)

            return update

        routes: list[tuple[str, Call, Call]] = [
            ("GET /health/live (baseline)", health, health),
            (f"GET /files/ ({plan.files} files)", listing, listing),
            (f"GET /jobs (page of 100 of {plan.jobs})", jobs_page, jobs_page),
            (f"GET /jobs?limit={plan.jobs} (all)", jobs_all, jobs_all),
            ("PUT /_job_status", status("pulled"), status("running")),
        ]
        print(
            f"{'route':<34}{'mode':<12}{'n':>6}{'med ms':>10}{'p90 ms':>10}"
            f"{'x base':>8}{'req/s':>9}"
        )
        floors: dict[str, Timing] = {}
        for name, one_by_one, in_flight in routes:
            # Warm-up on the sequential call; PUTs of "pulled" repeat harmlessly later.
            await sequential(client, one_by_one, WARM_UP, 200)
            for mode, timing in (
                ("sequential", await sequential(client, one_by_one, plan.sequential, 200)),
                (
                    f"{CONCURRENCY} in flight",
                    await concurrent(client, in_flight, plan.concurrent, 200),
                ),
            ):
                floor = floors.setdefault(mode, timing)
                _print_row(name, mode, timing, None if floor is timing else floor)
        print("by-products of the set-up (sequential):")
        _print_row("POST /files/.../upload (11 B)", "sequential", files, floors["sequential"])
        _print_row("POST /jobs", "sequential", jobs, floors["sequential"])


def main() -> None:
    args = parse_args(__doc__ or "")
    plan = QUICK if args.quick else FULL
    print_header("API latency against GET /health/live", args.quick)
    started = time.monotonic()
    with (
        worker_api() as worker_url,
        scratch_folder() as folder,
        running_server(folder, **_registry_env(folder, worker_url)) as server,
    ):
        asyncio.run(measure(server, plan))
    print(
        f"x base = median / median of GET /health/live in the same mode; total "
        f"{time.monotonic() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
