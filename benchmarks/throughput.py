"""Requests per second of the hot routes under concurrent load, as a share of the bare route.

One real server (`python -m decode_userapi serve`, optionally `--workers N`) holding jobs
and a folder of 2,000 entries is loaded with a few keep-alive connections for a bounded
time per route, route after route, for several rounds: `GET /` (the bare route: no
database, no disk, no token), `GET /jobs/{id}`, `GET /jobs?limit=100`, `PUT /_job_status`
twice (cycling over the jobs, with `x-api-key`: first reporting `pulled` again and again,
as a worker repeats itself, which after one turn changes nothing; then every update a
change, re-queued and pulled in turn, each written with its event) and
`GET /files/?recursive=true`. Each round divides a route's req/s by the bare route's req/s
of the same round; the table shows the medians over the rounds. The load comes from `wrk`
when it is installed (`apt-get install wrk`), else from a small asyncio client in this
process (slower: its own CPU use lowers every number, the bare route's most).

`--stack production` runs the server on PostgreSQL, S3 and Cognito (moto's server),
started on 127.0.0.1 by the test suite's helpers (`tests/servers`).

Run: `.venv/bin/python -m benchmarks.throughput [--quick] [--workers N] [--stack S]`.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from benchmarks.api_latency import API_KEY, _job_body, _registry_env, worker_api
from benchmarks.harness import scratch_folder
from benchmarks.live_server import Server, running_server

JOBS = 120
FOLDERS, FILES_PER_FOLDER = 20, 99
"""The listed tree: 20 folders of 99 files each, 2,000 entries."""
SEED_CONCURRENCY = 8
BARE = "GET / (bare route)"
LISTING = "GET /files/?recursive=true"
CHANGES = "PUT /_job_status, changes"


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    headers: dict[str, str]
    bodies: tuple[bytes, ...] = ()
    """Request bodies sent in turn (empty: no body)."""


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    failures: int
    """Answers other than 2xx, and socket errors."""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 s per route, 2 rounds")
    parser.add_argument("--seconds", type=float, default=5.0, help="load time per route")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all routes")
    parser.add_argument("--connections", type=int, default=2, help="keep-alive connections")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--stack", choices=("embedded", "production"), default="embedded")
    parser.add_argument(
        "--only",
        action="append",
        help="measure only the routes whose name holds this text (repeatable; the bare"
        " route is always measured)",
    )
    parser.add_argument(
        "--client", choices=("auto", "wrk", "python"), default="auto", help="load generator"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 2.0, 2
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    return args


# --- seeding -------------------------------------------------------------------------------


async def _in_parallel(calls: list[Callable[[], Awaitable[None]]]) -> None:
    pending = iter(calls)

    async def drain() -> None:
        for call in pending:
            await call()

    await asyncio.gather(*(drain() for _ in range(SEED_CONCURRENCY)))


async def seed(server: Server, *, files: bool) -> list[int]:
    """`JOBS` jobs and (with `files`) the listed tree, through the API; answers the job
    ids."""
    ids: list[int] = []
    async with httpx.AsyncClient(
        base_url=server.url, headers=server.headers, timeout=60.0
    ) as client:

        async def start_job(index: int) -> None:
            response = await client.post("/jobs", json=_job_body(index))
            if response.status_code != 201:
                raise RuntimeError(f"POST /jobs: {response.status_code} {response.text}")
            ids.append(response.json()["id"])

        async def upload(folder: int, index: int) -> None:
            response = await client.post(
                f"/files/data/tree/d{folder:02d}/upload",
                files={"file": (f"f{index:03d}.txt", f"{folder} {index}\n".encode())},
            )
            if response.status_code != 201:
                raise RuntimeError(f"upload: {response.status_code} {response.text}")

        # One at a time: each server process loads the registry on first use, and
        # requests that arrive during that first load see it empty.
        for index in range(JOBS):
            await start_job(index)
        if files:
            await _in_parallel(
                [partial(upload, f, i) for f in range(FOLDERS) for i in range(FILES_PER_FOLDER)]
            )
    return sorted(ids)


def routes(server: Server, ids: list[int]) -> list[Route]:
    auth = server.headers

    def status_bodies(*states: str) -> tuple[bytes, ...]:
        return tuple(
            json.dumps({"job_id": job_id, "status": state, "runtime_details": None}).encode()
            for state in states
            for job_id in ids
        )

    internal = {"x-api-key": API_KEY, "content-type": "application/json"}
    return [
        Route(BARE, "GET", "/", {}),
        Route("GET /jobs/{id}", "GET", f"/jobs/{ids[0]}", auth),
        Route("GET /jobs?limit=100", "GET", "/jobs?limit=100", auth),
        Route("PUT /_job_status", "PUT", "/_job_status", internal, status_bodies("pulled")),
        # Every update a change (re-queued, pulled again), so every one is written.
        Route(CHANGES, "PUT", "/_job_status", internal, status_bodies("queued", "pulled")),
        Route(LISTING, "GET", "/files/?recursive=true", auth),
    ]


def _wanted(name: str, only: list[str] | None) -> bool:
    return name == BARE or not only or any(part in name for part in only)


def check(server: Server, route: Route) -> str:
    """One request, to be sure the route answers 200 before it is loaded; a short note."""
    body = route.bodies[0] if route.bodies else None
    response = httpx.request(
        route.method, server.url + route.path, headers=route.headers, content=body
    )
    if response.status_code != 200:
        raise RuntimeError(f"{route.name}: {response.status_code} {response.text[:300]}")
    data = response.json()
    return f"{len(data)} entries" if isinstance(data, list) else ""


# --- load generators -----------------------------------------------------------------------


def _lua_script(route: Route) -> str:
    """A wrk script sending `route`'s method, headers and bodies in turn."""
    lines = [f'wrk.method = "{route.method}"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in route.headers.items()]
    if route.bodies:
        bodies = ", ".join(json.dumps(body.decode()) for body in route.bodies)
        lines += [
            f"local bodies = {{{bodies}}}",
            "local turn = 0",
            "request = function()",
            "  turn = turn % #bodies + 1",
            "  return wrk.format(nil, nil, nil, bodies[turn])",
            "end",
        ]
    return "\n".join(lines) + "\n"


def wrk_load(url: str, route: Route, connections: int, seconds: float) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua_script(route))
    try:
        result = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "--timeout",
                "30s",
                "-s",
                script.name,
                url + route.path,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(script.name)
    out = result.stdout
    found = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if found is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}\n{result.stderr}")
    elapsed = float(found[2]) / (1000 if found[3] == "ms" else 1)
    failures = sum(int(m) for m in re.findall(r"Non-2xx or 3xx responses: (\d+)", out)) + sum(
        int(m) for m in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)
    )
    return Load(int(found[1]), elapsed, failures)


def _request_bytes(host: str, route: Route, body: bytes | None) -> bytes:
    lines = [f"{route.method} {route.path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{key}: {value}" for key, value in route.headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _python_load(url: str, route: Route, connections: int, seconds: float) -> Load:
    """Keep-alive connections, one request in flight on each, for `seconds`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    bodies = route.bodies or (None,)
    messages = [_request_bytes(f"{host}:{port}", route, body) for body in bodies]
    loop = asyncio.get_running_loop()
    done = failures = 0

    async def connection() -> None:
        nonlocal done, failures
        reader, writer = await asyncio.open_connection(host, port)
        turn = 0
        try:
            while loop.time() < deadline:
                writer.write(messages[turn % len(messages)])
                turn += 1
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                if length is None:
                    raise RuntimeError(f"{route.name}: an answer without Content-Length")
                await reader.readexactly(int(length[1]))
                done += 1
                if not head.startswith(b"HTTP/1.1 2"):
                    failures += 1
        finally:
            writer.close()

    started = loop.time()
    deadline = started + seconds
    await asyncio.gather(*(connection() for _ in range(connections)))
    return Load(done, loop.time() - started, failures)


def python_load(url: str, route: Route, connections: int, seconds: float) -> Load:
    return asyncio.run(_python_load(url, route, connections, seconds))


# --- the production stack ------------------------------------------------------------------


@contextmanager
def production_environment(folder: Path) -> Iterator[dict[str, str]]:
    """PostgreSQL and moto's server on 127.0.0.1 (the test suite's helpers), with a new
    database, bucket and user pool: the server's environment."""
    from tests.servers.fixtures import create_cognito_pool
    from tests.servers.moto import REGION, aws_environment, moto_server
    from tests.servers.postgres import fresh_database, start_postgres

    with ExitStack() as stack:
        postgres = start_postgres()
        stack.callback(postgres.stop)
        stack.enter_context(aws_environment())
        endpoint = stack.enter_context(moto_server())
        loop = asyncio.new_event_loop()
        stack.callback(loop.close)
        database = fresh_database(postgres)
        url = loop.run_until_complete(database.__aenter__())
        stack.callback(lambda: loop.run_until_complete(database.__aexit__(None, None, None)))
        import boto3

        bucket = "throughput"
        boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        pool = create_cognito_pool(endpoint)
        yield {
            **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
            "DATABASE_URL": url,
            "FILESYSTEM": "s3",
            "S3_BUCKET": bucket,
            "S3_REGION": REGION,
            "S3_ENDPOINT_URL": endpoint,
            "USER_DATA_ROOT_PATH": "user_data",
            "COGNITO_USER_POOL_ID": pool.pool_id,
            "COGNITO_CLIENT_ID": pool.client_id,
            "COGNITO_REGION": REGION,
            "COGNITO_ENDPOINT_URL": endpoint,
        }


# --- the run -------------------------------------------------------------------------------


WALK_FLOOR_RUNS = 50


def _read_tree(root: Path) -> None:
    """Every folder below `root` read and every file in it stat'ed, folders opened
    relative to their parent: the system calls a recursive listing cannot do without."""
    pending = [os.open(root, os.O_RDONLY | os.O_DIRECTORY)]
    while pending:
        fd = pending.pop()
        try:
            with os.scandir(fd) as scan:
                for item in scan:
                    if item.is_dir(follow_symlinks=False):
                        pending.append(os.open(item.name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd))
                    else:
                        item.stat(follow_symlinks=False)
        finally:
            os.close(fd)


def walk_floor(data_root: Path) -> float:
    """Median seconds of `_read_tree` over the signed-up user's folder (the only one)."""
    (space,) = [path for path in data_root.iterdir() if not path.name.startswith(".")]
    times = []
    for _ in range(WALK_FLOOR_RUNS):
        started = time.perf_counter()
        _read_tree(space)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _print_table(names: list[str], loads: dict[str, list[Load]], notes: dict[str, str]) -> None:
    bare = loads[names[0]]
    print(
        f"{'route':<30}{'req/s med':>10}{'min':>8}{'max':>8}{'share of GET /':>16}"
        f"{'failed':>8}  note"
    )
    for name in names:
        rates = [load.per_second for load in loads[name]]
        shares = [
            load.per_second / base.per_second for load, base in zip(loads[name], bare, strict=True)
        ]
        failed = sum(load.failures for load in loads[name])
        print(
            f"{name:<30}{statistics.median(rates):>10.0f}{min(rates):>8.0f}{max(rates):>8.0f}"
            f"{statistics.median(shares):>15.1%} {failed:>8}  {notes.get(name, '')}"
        )


def main() -> None:
    args = parse_args()
    load = wrk_load if args.client == "wrk" else python_load
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"# throughput ({args.stack} stack, {args.workers} server process(es), {args.client},"
        f" {args.connections} connections, {args.seconds:g} s per route, {args.rounds} rounds;"
        f" {when}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start)"
    )
    with ExitStack() as stack:
        worker_url = stack.enter_context(worker_api())
        folder = stack.enter_context(scratch_folder())
        env = {**_registry_env(folder, worker_url), "AUTH": "1"}
        if args.stack == "production":
            env.update(stack.enter_context(production_environment(folder)))
        server = stack.enter_context(
            running_server(folder, serve_args=("--workers", str(args.workers)), **env)
        )
        started = time.monotonic()
        ids = asyncio.run(seed(server, files=_wanted(LISTING, args.only)))
        print(f"seeded in {time.monotonic() - started:.0f} s")
        table = [route for route in routes(server, ids) if _wanted(route.name, args.only)]
        notes = {route.name: check(server, route) for route in table}
        for route in table:  # warm-up
            load(server.url, route, args.connections, 1.0)
        loads: dict[str, list[Load]] = {route.name: [] for route in table}
        for _ in range(args.rounds):
            for route in table:
                loads[route.name].append(load(server.url, route, args.connections, args.seconds))
        _print_table([route.name for route in table], loads, notes)
        if args.stack == "embedded" and LISTING in loads:
            floor = walk_floor(server.data_root)
            bare = statistics.median(load.per_second for load in loads[BARE])
            print(
                f"floor of the listing: its system calls alone (scandir of each folder, fstatat"
                f" of each file) take {floor * 1e3:.1f} ms, at most {1 / floor:.0f} req/s from"
                f" one thread, {1 / floor / bare:.1%} of GET /"
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
