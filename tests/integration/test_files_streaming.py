"""A real server in a subprocess: GiB uploads and downloads in constant memory, the
upload limit, and a client that disconnects mid-upload.

The server (`benchmarks.live_server`, shared with the benchmarks) runs in the test's
`tmp_path`. Its resident memory (RSS) is sampled during each transfer; its peak may grow by
less than `MAX_GROWTH` over the idle server's.
"""

import hashlib
import os
import shutil
import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.live_server import PeakRss, Server, running_server

GIB = 1024**3
MIB = 1024**2
MAX_GROWTH = 100 * 1000**2
BOUNDARY = "streaming-test-boundary"


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
        f"\n{what}: {seconds:.1f} s; server RSS idle {rss.idle / 1e6:.1f} MB, "
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
