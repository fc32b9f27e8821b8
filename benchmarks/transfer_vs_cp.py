"""A 1 GiB file through the API with curl, against `cp` of the same file, in the same run.

One real server (SQLite, local files); a 1 GiB file in its folder, copied once uncounted
(a first copy on a fresh machine runs far slower). Each repetition copies
the file with `cp` (the baseline), uploads it with `curl -F file=@…` (multipart, streamed
from disk by curl), downloads it with `curl -o`, downloads its folder as a zip with
`curl -o`, and deletes what it made. Every copy lands on the same disk as the source, so
each transfer reads and writes the same bytes `cp` does, plus the HTTP in between. The
same upload and download against `bare_transfer_server` (socket and file only, `splice`
in and `sendfile` out) show what HTTP with curl costs by itself on this machine. The
table shows median MB/s (10^6 bytes/s) over the repetitions, the median of the per-repetition
ratio to `cp`, and the largest growth of the server's resident memory over its idle value
during a transfer.

Run: `.venv/bin/python -m benchmarks.transfer_vs_cp [--quick] [--size-mib N] [--reps N]`.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tusclient import client as tus

from benchmarks import bare_transfer_server
from benchmarks.harness import scratch_folder
from benchmarks.live_server import PeakRss, Server, running_server

MIB = 1024**2
FOLDER = "data/transfer"
SETTLE_SECONDS = 1.0
BARE = ("bare upload", "bare download")
"""The steps against `bare_transfer_server`, not the API (no memory to sample)."""
TUS_CHUNK = 64 * MIB
"""Bytes per tus PATCH request (tuspy holds one in the client's memory)."""


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    rss_growth: int = 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="256 MiB, 3 repetitions")
    parser.add_argument("--size-mib", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--reps", type=int, default=3, help="repetitions")
    args = parser.parse_args()
    if args.quick:
        args.size_mib, args.reps = 256, 3
    return args


def _make_file(path: Path, size: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as out:
        for _ in range(size // MIB):
            out.write(block)


def _cp(source: Path, target: Path) -> None:
    subprocess.run(["cp", str(source), str(target)], check=True)


def _curl(*args: str) -> None:
    """Run curl; raise unless the answer's status is 2xx."""
    result = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-H", "Expect:", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"curl {' '.join(args[:3])}…: {result.stderr} {result.stdout[:300]}")


class Transfers:
    def __init__(self, server: Server, source: Path) -> None:
        self.server = server
        self.source = source
        self.auth = f"Authorization: {server.headers['Authorization']}"
        self.idle_rss = server.process.memory_info().rss

    def timed(self, action: Callable[[], None], samples: Samples) -> float:
        # Each step starts with nothing left to write back, on a machine at rest: the
        # steps write 256 MiB to 1 GiB each, and the bare upload right after the others
        # ran at 430-620 MB/s, first or after a second's rest at 1,900-2,550.
        os.sync()
        time.sleep(SETTLE_SECONDS)
        with PeakRss(self.server.process, self.idle_rss) as rss:
            started = time.perf_counter()
            action()
            seconds = time.perf_counter() - started
        samples.seconds.append(seconds)
        samples.rss_growth = max(samples.rss_growth, rss.growth)
        return seconds

    def upload(self) -> None:
        _curl(
            "-o",
            os.devnull,
            "-H",
            self.auth,
            "-F",
            f"file=@{self.source}",
            f"{self.server.url}/files/{FOLDER}/upload",
        )

    def tus_upload(self) -> None:
        uploads = tus.TusClient(f"{self.server.url}/uploads/", headers=self.server.headers)
        uploads.uploader(
            file_path=str(self.source),
            metadata={"path": FOLDER, "filename": "tus.bin"},
            chunk_size=TUS_CHUNK,
        ).upload()

    def download(self, url_path: str, target: Path, at_least: int) -> None:
        _curl("-o", str(target), "-H", self.auth, f"{self.server.url}/files/{url_path}")
        if target.stat().st_size < at_least:
            raise RuntimeError(f"{url_path}: {target.stat().st_size} bytes only")

    def delete(self) -> None:
        response = httpx.delete(
            f"{self.server.url}/files/{FOLDER}", headers=self.server.headers, timeout=60
        )
        if response.status_code != 204:
            raise RuntimeError(f"delete: {response.status_code}")


class BareServer:
    """`bare_transfer_server` in a process of its own, serving `folder`."""

    def __init__(self, folder: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", bare_transfer_server.__name__, str(folder)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = f"http://127.0.0.1:{self._process.stdout.readline().strip()}"

    def __enter__(self) -> "BareServer":
        return self

    def __exit__(self, *_: object) -> None:
        self._process.kill()
        self._process.wait()


def main() -> None:
    args = parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("transfer_vs_cp needs curl")
    size = args.size_mib * MIB
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"# transfer vs cp ({args.size_mib} MiB, {args.reps} repetitions; {when}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start)"
    )
    with (
        scratch_folder() as folder,
        running_server(folder, AUTH="1") as server,
        BareServer(folder) as bare,
    ):
        source = folder / "source.bin"
        _make_file(source, size)
        copy = folder / "copy.bin"
        transfers = Transfers(server, source)
        warm = folder / "warm.bin"
        _make_file(warm, MIB)
        _curl(
            "-o",
            os.devnull,
            "-H",
            transfers.auth,
            "-F",
            f"file=@{warm}",
            f"{server.url}/files/{FOLDER}/upload",
        )
        transfers.download(f"{FOLDER}/warm.bin/download", copy, MIB)
        transfers.delete()
        # Not counted: on a fresh machine the first copy of a run wrote at a tenth of the
        # later ones' rate, and it skewed that repetition's every ratio.
        _cp(source, copy)
        copy.unlink()
        transfers.idle_rss = server.process.memory_info().rss
        kinds = (
            "cp",
            "upload",
            "download",
            "zip download",
            "tus upload",
            *BARE,
        )
        samples = {kind: Samples() for kind in kinds}
        ratios: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(args.reps):
            cp = transfers.timed(lambda: _cp(source, copy), samples["cp"])
            copy.unlink()
            steps: dict[str, Callable[[], None]] = {
                "upload": transfers.upload,
                "download": lambda: transfers.download(f"{FOLDER}/source.bin/download", copy, size),
                "zip download": lambda: transfers.download(f"{FOLDER}/download", copy, size),
                "tus upload": transfers.tus_upload,
                "bare upload": lambda: _curl("-o", os.devnull, "-F", f"file=@{source}", bare.url),
                "bare download": lambda: _curl("-o", str(copy), f"{bare.url}/{source.name}"),
            }
            for kind, step in steps.items():
                seconds = transfers.timed(step, samples[kind])
                ratios[kind].append(cp / seconds)
                copy.unlink(missing_ok=True)
            ratios["cp"].append(1.0)
            transfers.delete()
        print(f"server RSS when idle: {transfers.idle_rss / 1e6:.0f} MB")
        print(
            f"{'transfer':<14}{'MB/s med':>10}{'min':>8}{'max':>8}{'share of cp':>13}"
            f"{'RSS+ MiB':>10}"
        )
        for kind in kinds:
            rates = [size / s / 1e6 for s in samples[kind].seconds]
            of_api = kind != "cp" and kind not in BARE
            growth = f"{samples[kind].rss_growth / MIB:.1f}" if of_api else "-"
            print(
                f"{kind:<14}{statistics.median(rates):>10.0f}{min(rates):>8.0f}"
                f"{max(rates):>8.0f}{statistics.median(ratios[kind]):>12.0%} {growth:>9}"
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
