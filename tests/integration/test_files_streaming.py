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

GIB = 1024**3
MIB = 1024**2
MAX_GROWTH = 100 * 1000**2
BOUNDARY = "streaming-test-boundary"


@dataclass
class Server:
    url: str
    process: psutil.Process
    data_root: Path
    headers: dict[str, str]


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
        "LOCAL_IDENTITY_KEY_PATH": str(tmp_path / "identity_key.pem"),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "decode_userapi", "serve", "--port", str(port)],
        cwd=tmp_path,  # no stray .env; ./data lands in the test's folder
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
        yield Server(url, psutil.Process(process.pid), data_root, _sign_up(url))
    finally:
        process.terminate()
        process.wait(timeout=10)


def _sign_up(url: str) -> dict[str, str]:
    """Register a user through the server's own sign-up route and sign in."""
    form = {"username": "streamer@example.org", "password": "Stream1ng-test"}
    assert httpx.post(f"{url}/user", data=form).status_code == 201
    token = httpx.post(f"{url}/token", data=form).json()["id_token"]
    return {"Authorization": f"Bearer {token}"}


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


def _upload(
    server: Server, path: str, filename: str, size: int, digest: "hashlib._Hash"
) -> httpx.Response:
    head, tail = _multipart_head(filename), MULTIPART_TAIL

    def body() -> Iterator[bytes]:
        yield head
        for block in _blocks(size):
            digest.update(block)
            yield block
        yield tail

    headers = {
        **server.headers,
        "Content-Type": MULTIPART_TYPE,
        "Content-Length": str(len(head) + size + len(tail)),
    }
    return httpx.post(
        f"{server.url}/files/{path}/upload", content=body(), headers=headers, timeout=300
    )


def _report(what: str, rss: PeakRss, seconds: float) -> None:
    print(
        f"\n{what}: {seconds:.1f} s; server RSS idle {rss.baseline / 1e6:.1f} MB, "
        f"peak {rss.peak / 1e6:.1f} MB, growth {rss.growth / 1e6:.1f} MB"
    )


def _warm_up(server: Server) -> None:
    """Load every code path once so lazy imports do not count as growth."""
    response = _upload(server, "data/warm", "w.bin", MIB, hashlib.sha256())
    assert response.status_code == 201, response.text
    for path in ("data/warm/w.bin", "data/warm"):
        assert (
            httpx.get(f"{server.url}/files/{path}/download", headers=server.headers).status_code
            == 200
        )
    httpx.delete(f"{server.url}/files/data/warm", headers=server.headers)


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
            response = _upload(server, "data/big", "frames.bin", GIB, sent)
        _report("upload 1 GiB", rss, time.monotonic() - started)
        assert response.status_code == 201, response.text
        assert response.json()["size_bytes"] == GIB
        assert rss.growth < MAX_GROWTH

        received, size = hashlib.sha256(), 0
        url = f"{server.url}/files/data/big/frames.bin/download"
        with PeakRss(server.process, idle) as rss:
            started = time.monotonic()
            with httpx.stream("GET", url, headers=server.headers, timeout=300) as download:
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
                httpx.stream("GET", url, headers=server.headers, timeout=300) as download,
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
        assert (
            httpx.delete(f"{server.url}/files/data/big", headers=server.headers).status_code == 204
        )


def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    with running_server(tmp_path, MAX_UPLOAD_BYTES=str(MIB)) as server:
        response = _upload(server, "data", "big.bin", 2 * MIB, hashlib.sha256())
        assert response.status_code == 413
        listing = httpx.get(f"{server.url}/files/data", headers=server.headers)
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
            f"Authorization: {server.headers['Authorization']}\r\n"
            f"Content-Type: {MULTIPART_TYPE}\r\n"
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
        listing = httpx.get(f"{server.url}/files/data", headers=server.headers)
        assert listing.json() == []
