"""A real server in a subprocess on 127.0.0.1 with a signed-up, approved user, and a sampler of its
resident memory: shared by the benchmarks and the streaming tests.

The server runs in a folder the caller owns (its working folder, database, files and
signing key all land there). Its log goes to `server.log` there and is shown when the
server fails to start.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Server:
    url: str
    process: psutil.Process
    folder: Path
    data_root: Path
    headers: dict[str, str]
    """The signed-up user's `Authorization` header."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(folder: Path, *, serve_args: Sequence[str] = (), **env: str) -> Iterator[Server]:
    """Start `python -m decode_userapi serve` in `folder` (so no stray `.env` is read),
    sign a user up (a second server on the database of a first only signs in), and stop
    the server when the block ends, also on error. `serve_args` are added to the command
    line (e.g. `--workers 2`); `env` adds or overrides environment variables of the
    server."""
    data_root = folder / "user_data"
    port = _free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder}/db.sqlite",
        "USER_DATA_ROOT_PATH": str(data_root),
        "LOCAL_IDENTITY_KEY_PATH": str(folder / "identity_key.pem"),
        "HOST": "127.0.0.1",
        **env,
    }
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "decode_userapi", "serve", "--port", str(port), *serve_args],
            cwd=folder,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_live(url, process, log_path)
        headers = _sign_up(url, folder, environ)
        yield Server(url, psutil.Process(process.pid), folder, data_root, headers)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_live(url: str, process: "subprocess.Popen[bytes]", log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health/live").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_SECONDS:.0f} s")


def _sign_up(url: str, folder: Path, environ: dict[str, str]) -> dict[str, str]:
    """Register through `POST /user`, approve the account as an operator does
    (`decode-userapi user groups EMAIL --add users`), sign in through `POST /token`."""
    form = {"username": "live@example.org", "password": "Live-server-2026"}
    created = httpx.post(f"{url}/user", data=form)
    if created.status_code == 409:  # signed up through another server on this database
        return _sign_in(url, form)
    if created.status_code != 201:
        raise RuntimeError(f"sign-up failed: {created.status_code} {created.text}")
    approve = [sys.executable, "-m", "decode_userapi", "user", "groups", form["username"]]
    subprocess.run(
        [*approve, "--add", "users"], cwd=folder, env=environ, check=True, stdout=subprocess.DEVNULL
    )
    return _sign_in(url, form)


def _sign_in(url: str, form: dict[str, str]) -> dict[str, str]:
    token = httpx.post(f"{url}/token", data=form)
    if token.status_code != 201:
        raise RuntimeError(f"sign-in failed: {token.status_code} {token.text}")
    return {"Authorization": f"Bearer {token.json()['id_token']}"}


class PeakRss:
    """Samples a process's resident memory every few milliseconds inside a `with` block."""

    def __init__(self, process: psutil.Process, idle: int) -> None:
        self._process = process
        self.idle = idle
        self.peak: int = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        """Peak during the block minus the idle server's resident memory."""
        return self.peak - self.idle
