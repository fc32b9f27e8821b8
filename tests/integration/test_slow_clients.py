"""Slow and idle connections against the real server the CLI starts (uvicorn, httptools),
raw sockets: silent, trickling headers, stalling a body, and more than the cap."""

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from benchmarks.live_server import Server, running_server

TIMEOUT = 1
SLACK = 2.0
"""Seconds past a timeout within which the server must have closed the connection."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("slow-clients")
    with running_server(
        folder,
        HTTP_HEADER_TIMEOUT_SECONDS=str(TIMEOUT),
        HTTP_BODY_IDLE_TIMEOUT_SECONDS=str(TIMEOUT),
    ) as started:
        yield started


def connect(server: Server) -> socket.socket:
    address = urlsplit(server.url)
    return socket.create_connection((address.hostname, address.port), timeout=10)


def seconds_until_closed(connection: socket.socket, trickle: bytes = b"") -> float:
    """Seconds until the server closes `connection`, sending `trickle` every 0.2 s."""
    started = time.monotonic()
    connection.settimeout(0.2)
    while time.monotonic() - started < 10:
        try:
            if connection.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - started
        if trickle:
            try:
                connection.sendall(trickle)
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
    return float("inf")


def test_a_silent_connection_is_closed(server: Server) -> None:
    with connect(server) as silent:
        assert seconds_until_closed(silent) < TIMEOUT + SLACK


def test_trickled_headers_do_not_extend_the_deadline(server: Server) -> None:
    with connect(server) as slow:
        slow.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert seconds_until_closed(slow, trickle=b"X-Slow: 1\r\n") < TIMEOUT + SLACK


def test_a_stalled_body_is_closed_and_a_flowing_one_is_not(server: Server) -> None:
    head = b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4000\r\n"
    head += b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    with connect(server) as stalled:
        stalled.sendall(head + b"username=")
        assert seconds_until_closed(stalled) < TIMEOUT + SLACK
    with connect(server) as flowing:  # 10 bytes every 0.2 s: 2 s, twice the idle timeout
        flowing.sendall(head)
        started = time.monotonic()
        while time.monotonic() - started < 2 * TIMEOUT:
            flowing.sendall(b"x" * 10)
            time.sleep(0.2)
        flowing.settimeout(0.1)
        with pytest.raises(TimeoutError):
            flowing.recv(1)  # still open, still waiting for the rest of its body


def test_idle_connections_beyond_the_cap_are_closed_and_health_answers(tmp_path: Path) -> None:
    with running_server(tmp_path, HTTP_MAX_CONNECTIONS="50") as capped:
        idle = [connect(capped) for _ in range(80)]
        try:
            time.sleep(0.5)
            started = time.monotonic()
            assert httpx.get(f"{capped.url}/health/live", timeout=5).status_code == 200
            assert time.monotonic() - started < 2
            still_open = sum(1 for connection in idle if is_open(connection))
            assert 45 <= still_open <= 50
        finally:
            for connection in idle:
                connection.close()


def is_open(connection: socket.socket) -> bool:
    connection.settimeout(0.01)
    try:
        return connection.recv(1) != b""
    except TimeoutError:
        return True
    except ConnectionResetError:
        return False


def test_an_oversized_request_head_is_refused(server: Server) -> None:
    """A head past 16 KiB is answered 400 and closed, not buffered until the deadline."""
    head = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += b"".join(b"X-Filler-%03d: %s\r\n" % (i, b"f" * 40) for i in range(400))  # 22 KB
    with connect(server) as flooding:
        flooding.sendall(head)  # no blank line: without the cap it waits for more
        flooding.settimeout(TIMEOUT / 2)  # answered at once, well before the deadline
        assert flooding.recv(4096).startswith(b"HTTP/1.1 400")
