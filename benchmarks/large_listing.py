"""How long a big folder stalls the server's event loop: other requests wait meanwhile.

A real server (SQLite, local files) gets a folder of many empty files, written straight
into its storage folder. Then, while one client lists the folder recursively (and, second,
asks for its zip download, up to the response headers), another client calls
`GET /health/live` over and over: the slowest of those answers is the stall every other
request of the process suffers meanwhile. The same pings over 3 s with nothing else going
on give the floor on this machine.

Run: `.venv/bin/python -m benchmarks.large_listing [--quick]` (200,000 files; 50,000 quick).
"""

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.harness import parse_args, print_header, scratch_folder
from benchmarks.live_server import Server, running_server

FULL_FILES = 200_000
QUICK_FILES = 50_000
PER_FOLDER = 1000


def _fill(server: Server, count: int) -> None:
    """`count` empty files in `data/big/<n>/`, 1,000 a folder, in the user's storage folder."""
    httpx.post(f"{server.url}/files/data/big/", headers=server.headers).raise_for_status()
    [user_folder] = [path for path in server.data_root.iterdir() if not path.name.startswith(".")]
    big = user_folder / "data" / "big"
    for index in range(count):
        folder = big / str(index // PER_FOLDER)
        if index % PER_FOLDER == 0:
            folder.mkdir()
        (folder / f"f{index}.txt").touch()


def _while_pinging(server: Server, action: Callable[[], None]) -> tuple[float, float, int]:
    """(seconds `action` took, slowest `/health/live` answer meanwhile, pings answered)."""
    slowest, answered = 0.0, 0
    done = threading.Event()

    def ping() -> None:
        nonlocal slowest, answered
        with httpx.Client() as client:
            while not done.is_set():
                started = time.perf_counter()
                client.get(f"{server.url}/health/live").raise_for_status()
                slowest = max(slowest, time.perf_counter() - started)
                answered += 1
                time.sleep(0.005)

    pinger = threading.Thread(target=ping)
    pinger.start()
    time.sleep(0.2)
    started = time.perf_counter()
    try:
        action()
    finally:
        took = time.perf_counter() - started
        done.set()
        pinger.join()
    return took, slowest, answered


def main() -> None:
    args = parse_args(__doc__ or "")
    count = QUICK_FILES if args.quick else FULL_FILES
    print_header(f"Event-loop stall on a folder of {count:,} files", args.quick)
    with scratch_folder() as folder, running_server(Path(folder)) as server:
        started = time.perf_counter()
        _fill(server, count)
        print(f"created {count:,} files in {time.perf_counter() - started:.1f} s")

        def listing() -> None:
            response = httpx.get(
                f"{server.url}/files/data/big/?recursive=true", headers=server.headers, timeout=300
            )
            response.raise_for_status()
            # Counted, not parsed: parsing would hold this process's GIL and delay the pings.
            assert response.content.count(b'"path"') == count + count // PER_FOLDER

        def zip_headers() -> None:
            url = f"{server.url}/files/data/big/download"
            with httpx.stream("GET", url, headers=server.headers, timeout=300) as response:
                response.raise_for_status()

        def idle() -> None:
            time.sleep(3)

        actions = (
            ("nothing else (the floor)", idle),
            ("recursive listing", listing),
            ("zip download headers", zip_headers),
        )
        for name, action in actions:
            took, slowest, answered = _while_pinging(server, action)
            print(
                f"{name}: {took:.2f} s; slowest /health/live meanwhile {slowest * 1000:.0f} ms "
                f"({answered} answered)"
            )


if __name__ == "__main__":
    main()
