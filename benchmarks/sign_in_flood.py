"""What a flood of wrong-password sign-ins does to one real server (SQLite, local files).

120 `POST /token` with a wrong password for the signed-up user, all sent at once, while
`GET /files/` is timed one request at a time for the signed-up user; before the flood the
same `GET /files/` is timed on the idle server (the baseline). Prints the answers the
flood got, the median and p90 latency of `GET /files/` idle and under the flood, how long
the flood took, and the server's resident memory idle and at its peak.

Run: `.venv/bin/python -m benchmarks.sign_in_flood [--quick]` (quick: 40 sign-ins).
"""

import asyncio
import time
from collections import Counter

import httpx

from benchmarks.harness import median, p90, parse_args, print_header, scratch_folder
from benchmarks.live_server import PeakRss, Server, running_server

MIB = 1024 * 1024


async def time_listing(
    client: httpx.AsyncClient, server: Server, stop: asyncio.Event, limit: int = 10**9
) -> list[float]:
    """`GET /files/` one at a time until `stop` is set or `limit` requests were timed;
    the latencies in milliseconds."""
    latencies: list[float] = []
    while not stop.is_set() and len(latencies) < limit:
        started = time.perf_counter()
        response = await client.get(f"{server.url}/files/", headers=server.headers)
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return latencies


async def flood(server: Server, sign_ins: int) -> tuple[Counter[int], list[float], float]:
    """(status counts of the sign-ins, `GET /files/` latencies meanwhile, flood seconds)."""
    limits = httpx.Limits(max_connections=sign_ins + 1)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        form = {"username": "live@example.org", "password": "Wrong-password-1"}
        stop = asyncio.Event()
        timing = asyncio.create_task(time_listing(client, server, stop))
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(client.post(f"{server.url}/token", data=form) for _ in range(sign_ins))
        )
        took = time.perf_counter() - started
        stop.set()
        latencies = await timing
    return Counter(answer.status_code for answer in answers), latencies, took


async def idle_listing(server: Server, requests: int) -> list[float]:
    async with httpx.AsyncClient() as client:
        return await time_listing(client, server, asyncio.Event(), requests)


SCENARIOS = {
    "default limits": {},
    "rate limits raised (the hashing pool alone)": {
        "SIGN_IN_MAX_FAILURES_PER_ACCOUNT": "100000",
        "SIGN_IN_MAX_FAILURES_PER_ADDRESS": "100000",
    },
}


def run(sign_ins: int, title: str, env: dict[str, str]) -> None:
    with scratch_folder() as folder, running_server(folder, **env) as server:
        idle_rss = server.process.memory_info().rss
        idle = asyncio.run(idle_listing(server, 50))
        with PeakRss(server.process, idle_rss) as rss:
            statuses, loaded, took = asyncio.run(flood(server, sign_ins))
    answers = ", ".join(f"{count}x{status}" for status, count in sorted(statuses.items()))
    print(
        f"\n## {title}: {sign_ins} parallel wrong-password POST /token in {took:.1f} s: {answers}"
    )
    print("| GET /files/ | n | median ms | p90 ms |")
    print("|---|---|---|---|")
    print(f"| idle | {len(idle)} | {median(idle):.1f} | {p90(idle):.1f} |")
    print(f"| during the flood | {len(loaded)} | {median(loaded):.1f} | {p90(loaded):.1f} |")
    print(f"server RSS: idle {idle_rss / MIB:.0f} MiB, peak {rss.peak / MIB:.0f} MiB")


def main() -> None:
    args = parse_args(__doc__ or "")
    sign_ins = 40 if args.quick else 120
    print_header("Wrong-password sign-in flood", args.quick)
    for title, env in SCENARIOS.items():
        run(sign_ins, title, env)


if __name__ == "__main__":
    main()
