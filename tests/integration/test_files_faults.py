"""Faults through a real server over a socket (`benchmarks.live_server`): the server
process killed mid-upload and started again, and clients that hang up mid-download.
(A client hanging up mid-upload: `test_files_streaming.py`.)"""

import hashlib
import socket
import struct
import time
from pathlib import Path

import httpx

from benchmarks.live_server import Server, running_server
from tests.integration.test_files_streaming import (
    MIB,
    MULTIPART_TAIL,
    MULTIPART_TYPE,
    _blocks,
    _multipart_head,
    _upload,
)


def _address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def _staged(data_root: Path) -> list[str]:
    staging = data_root / ".staging"
    return sorted(path.name for path in staging.iterdir()) if staging.exists() else []


def _wait_for(condition: object, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_server_killed_mid_upload_leaves_nothing_after_a_restart(tmp_path: Path) -> None:
    first_folder, second_folder = tmp_path / "first", tmp_path / "second"
    first_folder.mkdir()
    second_folder.mkdir()
    with running_server(first_folder) as server:
        data_root = server.data_root
        head = _multipart_head("cut.bin")
        request = (
            f"POST /files/data/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {server.headers['Authorization']}\r\n"
            f"Content-Type: {MULTIPART_TYPE}\r\n"
            f"Content-Length: {len(head) + 10 * MIB + len(MULTIPART_TAIL)}\r\n\r\n"
        ).encode()
        with socket.create_connection(_address(server)) as connection:
            connection.sendall(request + head)
            for block in _blocks(3 * MIB):
                connection.sendall(block)
            _wait_for(lambda: _staged(data_root), "the upload never reached the staging folder")
            for process in (*server.process.children(recursive=True), server.process):
                process.kill()  # SIGKILL: no clean-up code runs
            server.process.wait(timeout=10)
        assert _staged(data_root), "the kill left nothing to clean up; the test proves nothing"

    # Started again on the same storage folder (its own database: one user signs up again).
    with running_server(second_folder, USER_DATA_ROOT_PATH=str(data_root)) as restarted:
        assert _staged(data_root) == []  # at start, before any file request
        listing = httpx.get(f"{restarted.url}/files/data", headers=restarted.headers)
        assert listing.status_code == 200
        assert list(data_root.rglob("cut.bin*")) == []


def _hang_up_mid_download(server: Server, path: str) -> None:
    with socket.create_connection(_address(server)) as connection:
        connection.sendall(
            f"GET /files/{path}/download HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {server.headers['Authorization']}\r\n\r\n".encode()
        )
        received = 0
        while received < 256 * 1024:
            chunk = connection.recv(64 * 1024)
            assert chunk, "the server closed the connection first"
            received += len(chunk)
        # RST instead of FIN: the server sees the client vanish, not a polite close.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_clients_hanging_up_mid_download_leak_nothing(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        sent = hashlib.sha256()
        assert _upload(server, "data/big", "big.bin", 64 * MIB, sent).status_code == 201
        assert _upload(server, "data/big", "small.bin", MIB, hashlib.sha256()).status_code == 201
        health = httpx.get(f"{server.url}/health/live")
        assert health.status_code == 200
        baseline_files = len(server.process.open_files())
        baseline_fds = server.process.num_fds()

        for _ in range(10):
            _hang_up_mid_download(server, "data/big/big.bin")
            _hang_up_mid_download(server, "data/big")

        def settled() -> bool:
            return (
                len(server.process.open_files()) <= baseline_files
                and server.process.num_fds() <= baseline_fds + 2
            )

        _wait_for(settled, "files or sockets of the aborted downloads stay open", seconds=20)
        assert httpx.get(f"{server.url}/health/live").status_code == 200
        received = hashlib.sha256()
        with httpx.stream(
            "GET", f"{server.url}/files/data/big/big.bin/download", headers=server.headers
        ) as response:
            for chunk in response.iter_bytes():
                received.update(chunk)
        assert received.hexdigest() == sent.hexdigest()
