"""Upload and download throughput through the API, against the same bytes written to and
read from the same disk directly, in the same run.

For each size, every repetition uploads a file (streamed multipart, `POST .../upload`),
downloads it (`GET .../download`), downloads its folder as a zip, then writes and reads
the same bytes as a plain file in the same temporary folder (the baseline: no fsync on
either side, so both measure the page cache and the code above it). A last round zips a
folder of many 1 MiB files and compares it with the plain download of one file of the same
total size. The server's peak resident memory over its idle value is sampled during every
transfer; the largest growth over the repetitions is printed.

Run: `.venv/bin/python -m benchmarks.file_transfer [--quick]`.
"""

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.harness import median, p90, parse_args, print_header, scratch_folder
from benchmarks.live_server import PeakRss, Server, running_server

MIB = 1024**2
BOUNDARY = "benchmark-boundary-7d1f"
TIMEOUT = httpx.Timeout(300.0)

FULL_SIZES = ((1 * MIB, 30), (64 * MIB, 7), (512 * MIB, 5))
"""(bytes, repetitions) of a full run."""
QUICK_SIZES = ((1 * MIB, 20), (16 * MIB, 5), (64 * MIB, 3))
MANY_FILES_REPETITIONS = 3


@dataclass
class Samples:
    """Seconds per repetition and the largest server memory growth seen, in bytes."""

    seconds: list[float] = field(default_factory=list)
    rss_growth: int = 0

    def add(self, seconds: float, growth: int) -> None:
        self.seconds.append(seconds)
        self.rss_growth = max(self.rss_growth, growth)

    def mb_per_s(self, size: int) -> float:
        """Median throughput in MB/s (10^6 bytes per second)."""
        return median([size / s / 1e6 for s in self.seconds])


def _blocks(size: int, block: bytes) -> Iterator[bytes]:
    for start in range(0, size, len(block)):
        yield block[: min(len(block), size - start)]


def _multipart_parts(filename: str) -> tuple[bytes, bytes]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


class Transfers:
    """The timed operations against one server, each under a memory sampler."""

    def __init__(self, server: Server, client: httpx.Client, block: bytes) -> None:
        self.server = server
        self.client = client
        self.block = block
        self.idle_rss = 0

    def _timed(self, action: Callable[[], None]) -> tuple[float, int]:
        with PeakRss(self.server.process, self.idle_rss) as rss:
            started = time.perf_counter()
            action()
            seconds = time.perf_counter() - started
        return seconds, rss.growth

    def upload(self, folder: str, filename: str, size: int) -> tuple[float, int]:
        head, tail = _multipart_parts(filename)

        def body() -> Iterator[bytes]:
            yield head
            yield from _blocks(size, self.block)
            yield tail

        def send() -> None:
            response = self.client.post(
                f"/files/{folder}/upload",
                content=body(),
                headers={
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                    "Content-Length": str(len(head) + size + len(tail)),
                },
            )
            if response.status_code != 201:
                raise RuntimeError(f"upload failed: {response.status_code} {response.text}")

        return self._timed(send)

    def download(self, path: str, at_least: int) -> tuple[float, int]:
        def receive() -> None:
            received = 0
            with self.client.stream("GET", f"/files/{path}/download") as response:
                if response.status_code != 200:
                    raise RuntimeError(f"download of {path} failed: {response.status_code}")
                for chunk in response.iter_raw(MIB):
                    received += len(chunk)
            if received < at_least:
                raise RuntimeError(f"download of {path}: {received} bytes, expected {at_least}")

        return self._timed(receive)

    def delete(self, path: str) -> None:
        response = self.client.delete(f"/files/{path}")
        if response.status_code != 204:
            raise RuntimeError(f"delete of {path} failed: {response.status_code}")


def _plain_write(path: Path, size: int, block: bytes) -> float:
    started = time.perf_counter()
    with path.open("wb") as out:
        for chunk in _blocks(size, block):
            out.write(chunk)
    return time.perf_counter() - started


def _plain_read(path: Path) -> float:
    buffer = bytearray(MIB)
    started = time.perf_counter()
    with path.open("rb", buffering=0) as source:
        while source.readinto(buffer):
            pass
    return time.perf_counter() - started


def _label(size: int) -> str:
    return f"{size // MIB} MiB"


def _row(what: str, size: int, samples: Samples, baseline: float, against: str) -> None:
    speed = samples.mb_per_s(size)
    print(
        f"{what:<14}{_label(size):>9}{len(samples.seconds):>6}{speed:>11.0f}"
        f"{p90(samples.seconds) * 1000:>11.1f}{baseline:>11.0f}{speed / baseline:>8.2f}"
        f"  {against:<18}{samples.rss_growth / 1e6:>9.1f}"
    )


def _print_table_header() -> None:
    print(
        f"{'transfer':<14}{'size':>9}{'reps':>6}{'MB/s med':>11}{'p90 ms':>11}"
        f"{'base MB/s':>11}{'ratio':>8}  {'baseline':<18}{'RSS+ MB':>9}"
    )


def measure_sizes(transfers: Transfers, sizes: tuple[tuple[int, int], ...]) -> dict[int, float]:
    """Print one block of rows per size; answer the median API download MB/s per size."""
    scratch = transfers.server.folder / "baseline.bin"
    downloads: dict[int, float] = {}
    for size, repetitions in sizes:
        upload, download, zipped = Samples(), Samples(), Samples()
        write, read = Samples(), Samples()
        for rep in range(repetitions):
            folder = f"data/bench-{size}-{rep}"
            upload.add(*transfers.upload(folder, "payload.bin", size))
            download.add(*transfers.download(f"{folder}/payload.bin", size))
            zipped.add(*transfers.download(folder, size))
            transfers.delete(folder)
            write.add(_plain_write(scratch, size, transfers.block), 0)
            read.add(_plain_read(scratch), 0)
            scratch.unlink()
        downloads[size] = download.mb_per_s(size)
        _row("upload", size, upload, write.mb_per_s(size), "plain file write")
        _row("download", size, download, read.mb_per_s(size), "plain file read")
        _row("zip download", size, zipped, downloads[size], "API download")
        print(
            f"{'  plain write':<14}{_label(size):>9}{repetitions:>6}{write.mb_per_s(size):>11.0f}"
            f"{p90(write.seconds) * 1000:>11.1f}"
        )
        print(
            f"{'  plain read':<14}{_label(size):>9}{repetitions:>6}{read.mb_per_s(size):>11.0f}"
            f"{p90(read.seconds) * 1000:>11.1f}"
        )
    return downloads


def measure_many_files(transfers: Transfers, total: int, plain_download: float) -> None:
    """A folder of `total / 1 MiB` files of 1 MiB, zipped, against one file of `total`."""
    count = total // MIB
    for index in range(count):
        transfers.upload("data/many", f"part-{index:04d}.bin", MIB)
    zipped = Samples()
    for _ in range(MANY_FILES_REPETITIONS):
        zipped.add(*transfers.download("data/many", total))
    transfers.delete("data/many")
    _row(f"zip {count} files", total, zipped, plain_download, "API download 1 file")


def main() -> None:
    args = parse_args(__doc__ or "")
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    print_header("file transfer throughput through the API", args.quick)
    started = time.monotonic()
    block = os.urandom(MIB)
    with (
        scratch_folder() as folder,
        running_server(folder) as server,
        httpx.Client(base_url=server.url, headers=server.headers, timeout=TIMEOUT) as client,
    ):
        transfers = Transfers(server, client, block)
        transfers.upload("data/warm", "warm.bin", MIB)
        transfers.download("data/warm/warm.bin", MIB)
        transfers.download("data/warm", MIB)
        transfers.delete("data/warm")
        transfers.idle_rss = server.process.memory_info().rss
        print(f"server RSS after warm-up: {transfers.idle_rss / 1e6:.1f} MB")
        _print_table_header()
        downloads = measure_sizes(transfers, sizes)
        middle = sizes[1][0]
        measure_many_files(transfers, middle, downloads[middle])
    print(f"ratio = API MB/s / baseline MB/s; total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
