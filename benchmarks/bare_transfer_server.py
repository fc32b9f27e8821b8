"""The fastest HTTP a file can take on this machine: the socket and the file, nothing else.

`transfer_vs_cp` runs it beside the API, with the same curl commands, so the table shows
what HTTP over loopback with curl on the other end costs by itself. `GET /<name>` sends
the file `<name>` of its folder with `sendfile`; `POST` moves the request's body (a
multipart body as it is, unparsed) into a new file of its folder with `splice`: both
zero-copy, the bytes never reach the process.
One connection at a time, `Connection: close`; no checks beyond what the benchmark needs.

Run: `python -m benchmarks.bare_transfer_server FOLDER` (prints its port, serves until
killed).
"""

import fcntl
import os
import socket
import sys
from pathlib import Path

CHUNK = 1024 * 1024


def _head(connection: socket.socket) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path, lower-cased headers, the body's first bytes)."""
    received = b""
    while b"\r\n\r\n" not in received:
        more = connection.recv(65536)
        if not more:
            raise ConnectionError("closed before the end of the headers")
        received += more
    head, _, body = received.partition(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return method, path, headers, body


def _answer(connection: socket.socket, status: str, length: int) -> None:
    connection.sendall(
        f"HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n".encode()
    )


def _send_file(connection: socket.socket, path: Path) -> None:
    size = path.stat().st_size
    _answer(connection, "200 OK", size)
    with path.open("rb") as file:
        sent = 0
        while sent < size:
            sent += os.sendfile(connection.fileno(), file.fileno(), sent, size - sent)


def _receive_file(connection: socket.socket, path: Path, length: int, first: bytes) -> None:
    """The body from the socket into the file through a pipe (`splice`: the bytes stay in
    the kernel)."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, CHUNK)
    try:
        with path.open("wb") as file:
            file.write(first)
            file.flush()
            left = length - len(first)
            while left > 0:
                moved = os.splice(connection.fileno(), write_end, min(CHUNK, left))
                if not moved:
                    raise ConnectionError("closed before the end of the body")
                while moved:
                    written = os.splice(read_end, file.fileno(), moved)
                    moved -= written
                    left -= written
    finally:
        os.close(read_end)
        os.close(write_end)
    _answer(connection, "201 Created", 0)


def serve(folder: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    uploads = 0
    while True:
        connection, _ = listener.accept()
        with connection:
            method, path, headers, first = _head(connection)
            if method == "GET":
                _send_file(connection, folder / path.lstrip("/"))
            else:
                uploads += 1
                target = folder / f"upload-{uploads}.bin"
                _receive_file(connection, target, int(headers["content-length"]), first)
                target.unlink()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
