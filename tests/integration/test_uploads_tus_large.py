"""A resumable upload over 5 GiB (S3's limit for one PUT) with tuspy, to a real server in a
subprocess on local storage, in constant server memory (slow tier)."""

import hashlib
import shutil
import time
from pathlib import Path

import pytest
from tusclient import client as tus

from benchmarks.live_server import PeakRss, running_server

GIB = 1024**3
MIB = 1024**2
SIZE = 5 * GIB + 3 * MIB + 7
CHUNK = 256 * MIB
"""Bytes per PATCH (tuspy reads each chunk into the client's memory)."""
MAX_GROWTH = 100 * 1000**2
MARKS = (0, GIB, 4 * GIB + 5, SIZE - 100)
"""Where the source has real bytes among its holes."""


def _sha256_of_ends(path: Path) -> str:
    """The hash of the first and last `CHUNK` bytes (where the first request and the last
    one wrote) and of the bytes around each mark: reading 10 GiB back would double the
    test's time."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for offset in (0, *MARKS, SIZE - CHUNK):
            file.seek(max(0, offset - MIB))
            digest.update(file.read(CHUNK))
    return digest.hexdigest()


@pytest.mark.slow
def test_a_file_over_5_gib_uploads_resumably_in_constant_memory(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    if free < SIZE * 2.2:
        pytest.skip(f"needs about 11.5 GiB free in {tmp_path}, only {free / GIB:.1f} GiB there")
    source = tmp_path / "sparse.bin"
    with source.open("wb") as file:  # sparse: holes read as zeros, with a few real bytes
        file.truncate(SIZE)
        for offset in MARKS:
            file.seek(offset)
            file.write(b"frame %d" % offset)
    (tmp_path / "server").mkdir()
    assert source.stat().st_size == SIZE
    with running_server(tmp_path / "server") as server, source.open("rb") as stream:
        uploader = tus.TusClient(f"{server.url}/uploads/", headers=server.headers).uploader(
            file_stream=stream,
            metadata={"path": "data/big", "filename": "frames.bin"},
            chunk_size=CHUNK,
        )
        uploader.upload(stop_at=CHUNK)  # a first request, then the rest as a resume
        idle: int = server.process.memory_info().rss
        with PeakRss(server.process, idle) as rss:
            started = time.monotonic()
            resumed = tus.TusClient(f"{server.url}/uploads/", headers=server.headers).uploader(
                file_stream=stream, url=uploader.url, chunk_size=CHUNK
            )
            assert resumed.offset == CHUNK
            resumed.upload()
        seconds = time.monotonic() - started
        growth = rss.growth / 1e6
        print(f"\ntus upload {SIZE / GIB:.2f} GiB: {seconds:.1f} s, RSS growth {growth:.1f} MB")
        assert rss.growth < MAX_GROWTH
        (stored,) = server.data_root.glob("*/data/big/frames.bin")
        assert stored.stat().st_size == SIZE
        assert _sha256_of_ends(stored) == _sha256_of_ends(source)
