"""A real server in a subprocess: GiB uploads and downloads in constant memory, the
upload limit, and a client that disconnects mid-upload.

The server's resident memory (RSS) is sampled during each transfer; its peak may grow by
less than `MAX_GROWTH` over the idle server's.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fakes import fake_token

GIB = 1024**3
MIB = 1024**2
MAX_GROWTH = 100 * 1000**2
BOUNDARY = "streaming-test-boundary"
HEADERS = {"Authorization": f"Bearer {fake_token('streamer')}"}
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    url: str
    process: psutil.Process
    data_root: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(tmp_path: Path, **env: str) -> Iterator[Server]:
    port = _free_port()
    data_root = tmp_path / "user_data"
    environ = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
        "USER_DATA_ROOT_PATH": str(data_root),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.fake_identity_server", str(port)],
        cwd=REPO_ROOT,
        env=environ,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health/live").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the server did not start"
            assert time.monotonic() < deadline, "the server did not answer within 30 s"
            time.sleep(0.1)
        yield Server(url, psutil.Process(process.pid), data_root)
    finally:
        process.terminate()
        process.wait(timeout=10)


class PeakRss:
    """Samples a process's RSS every few milliseconds while in a `with` block."""

    def __init__(self, process: psutil.Process, baseline: int) -> None:
        self._process = process
        self.baseline = baseline
        self.peak: int = process.memory_info().rss
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> "PeakRss":
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def _multipart_head(filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


MULTIPART_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()
MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _blocks(size: int) -> Iterator[bytes]:
    """`size` bytes of pseudo-random data, 1 MiB at a time, each block numbered."""
    pattern = os.urandom(MIB)
    for index in range(size // MIB):
        yield index.to_bytes(8, "big") + pattern[8:]


def _upload(url: str, filename: str, size: int, digest: "hashlib._Hash") -> httpx.Response:
    head, tail = _multipart_head(filename), MULTIPART_TAIL

    def body() -> Iterator[bytes]:
        yield head
        for block in _blocks(size):
            digest.update(block)
            yield block
        yield tail

    headers = {
        **HEADERS,
        "Content-Type": MULTIPART_TYPE,
        "Content-Length": str(len(head) + size + len(tail)),
    }
    return httpx.post(url, content=body(), headers=headers, timeout=300)


def _report(what: str, rss: PeakRss, seconds: float) -> None:
    print(
        f"\n{what}: {seconds:.1f} s; server RSS idle {rss.baseline / 1e6:.1f} MB, "
        f"peak {rss.peak / 1e6:.1f} MB, growth {rss.growth / 1e6:.1f} MB"
    )


def _warm_up(server: Server) -> None:
    """Load every code path once so lazy imports do not count as growth."""
    response = _upload(f"{server.url}/files/data/warm/upload", "w.bin", MIB, hashlib.sha256())
    assert response.status_code == 201, response.text
    for path in ("data/warm/w.bin", "data/warm"):
        assert httpx.get(f"{server.url}/files/{path}/download", headers=HEADERS).status_code == 200
    httpx.delete(f"{server.url}/files/data/warm", headers=HEADERS)


@pytest.mark.slow
def test_a_gib_streams_through_in_constant_memory(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    if free < 3.2 * GIB:
        pytest.skip(f"needs about 3.2 GiB free in {tmp_path}, only {free / GIB:.1f} GiB there")
    with running_server(tmp_path) as server:
        _warm_up(server)
        idle: int = server.process.memory_info().rss

        sent = hashlib.sha256()
        with PeakRss(server.process, idle) as rss:
            started = time.monotonic()
            response = _upload(f"{server.url}/files/data/big/upload", "frames.bin", GIB, sent)
        _report("upload 1 GiB", rss, time.monotonic() - started)
        assert response.status_code == 201, response.text
        assert response.json()["size_bytes"] == GIB
        assert rss.growth < MAX_GROWTH

        received, size = hashlib.sha256(), 0
        url = f"{server.url}/files/data/big/frames.bin/download"
        with PeakRss(server.process, idle) as rss:
            started = time.monotonic()
            with httpx.stream("GET", url, headers=HEADERS, timeout=300) as download:
                assert download.status_code == 200
                assert download.headers["content-length"] == str(GIB)
                for chunk in download.iter_bytes(MIB):
                    received.update(chunk)
                    size += len(chunk)
        _report("download 1 GiB", rss, time.monotonic() - started)
        assert size == GIB
        assert received.hexdigest() == sent.hexdigest()
        assert rss.growth < MAX_GROWTH

        archive = tmp_path / "big.zip"
        with PeakRss(server.process, idle) as rss:
            started = time.monotonic()
            url = f"{server.url}/files/data/big/download"
            with (
                httpx.stream("GET", url, headers=HEADERS, timeout=300) as download,
                archive.open("wb") as out,
            ):
                assert download.status_code == 200
                assert download.headers["content-disposition"] == "attachment; filename=big.zip"
                for chunk in download.iter_bytes(MIB):
                    out.write(chunk)
                announced = int(download.headers["content-length"])
        _report("zip of a 1 GiB folder", rss, time.monotonic() - started)
        assert rss.growth < MAX_GROWTH
        assert archive.stat().st_size == announced
        unzipped = hashlib.sha256()
        with zipfile.ZipFile(archive) as opened, opened.open("frames.bin") as member:
            while chunk := member.read(MIB):
                unzipped.update(chunk)
        assert unzipped.hexdigest() == sent.hexdigest()
        archive.unlink()
        assert httpx.delete(f"{server.url}/files/data/big", headers=HEADERS).status_code == 204


def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    with running_server(tmp_path, MAX_UPLOAD_BYTES=str(MIB)) as server:
        response = _upload(f"{server.url}/files/data/upload", "big.bin", 2 * MIB, hashlib.sha256())
        assert response.status_code == 413
        listing = httpx.get(f"{server.url}/files/data", headers=HEADERS)
        assert listing.json() == []
        assert list((server.data_root / ".staging").iterdir()) == []


def _staged(staging: Path) -> list[Path]:
    """Files in the staging folder (which the server creates on its first file request)."""
    return list(staging.iterdir()) if staging.exists() else []


def test_a_client_that_disconnects_mid_upload_leaves_nothing(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        host, port = server.url.removeprefix("http://").split(":")
        head = _multipart_head("cut.bin")
        request = (
            f"POST /files/data/upload HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {HEADERS['Authorization']}\r\nContent-Type: {MULTIPART_TYPE}\r\n"
            f"Content-Length: {len(head) + 10 * MIB + len(MULTIPART_TAIL)}\r\n\r\n"
        ).encode()
        staging = server.data_root / ".staging"
        with socket.create_connection((host, int(port))) as connection:
            connection.sendall(request + head)
            for block in _blocks(3 * MIB):
                connection.sendall(block)
            deadline = time.monotonic() + 30
            while not _staged(staging):
                assert time.monotonic() < deadline, "the upload never reached the storage"
                time.sleep(0.01)
        deadline = time.monotonic() + 30
        while _staged(staging) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _staged(staging) == []
        listing = httpx.get(f"{server.url}/files/data", headers=HEADERS)
        assert listing.json() == []
