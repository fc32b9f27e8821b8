"""Engine, sessions and schema migrations."""

import os
from pathlib import Path

import msgspec
from alembic import command
from alembic.config import Config
from sqlalchemy import exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from decode_userapi.adapters.persistence.sqlite_inline import inline_connector

MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> AsyncEngine:
    """An async engine. SQLite gets its file created private (0600 in a 0700 folder),
    foreign keys, WAL with `synchronous=NORMAL` (a commit is durable once the next
    checkpoint syncs; a power cut may lose the last commits, never corrupt the file),
    and connections that run on the event loop's thread (`sqlite_inline`), which the job
    routes use directly too (`driver`).

    PostgreSQL connections are pooled (`pool_size` kept open, `max_overflow` more under
    load), checked before each use so that a restarted database costs no service restart,
    and replaced after half an hour so that proxies that drop idle connections do not bite.
    JSON columns are read with msgspec (the stdlib's `json.loads` was a fifth of the time
    of `GET /jobs?limit=100`).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private_file(Path(parsed.database))
        return create_async_engine(
            url,
            async_creator=inline_connector(parsed.database or ":memory:"),
            json_deserializer=msgspec.json.decode,
        )
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        json_deserializer=msgspec.json.decode,
    )


def backend_name(url: str) -> str:
    """`sqlite` or `postgresql`."""
    return make_url(url).get_backend_name()


def _create_private_file(path: Path) -> None:
    """The database's folder (0700 when created here) and an empty database file readable
    by its owner only (0600); SQLite gives its `-wal` and `-shm` files the same mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


UNAVAILABLE_SQLSTATES = ("08", "57P")
"""PostgreSQL's connection exceptions, and its server shutting down or starting up."""


def database_unavailable(error: exc.SQLAlchemyError) -> bool:
    """True when `error` says the database could not be used right now (restarting,
    unreachable, connection lost, no pooled connection free in time, SQLite locked),
    so that the same request may succeed later; False for an error in the query."""
    if isinstance(error, exc.TimeoutError):
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    return (
        error.connection_invalidated
        or sqlstate.startswith(UNAVAILABLE_SQLSTATES)
        or "database is locked" in str(error.orig)
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`. Blocking: call it from a thread inside a loop."""
    if make_url(url).get_backend_name() == "sqlite":
        create_engine(url)  # creates the database's folder and file
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Revert migrations down to `revision` ("base" for an empty database)."""
    command.downgrade(alembic_config(url), revision)


class DatabaseProbe:
    """Readiness of the database: one `SELECT 1`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def check(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
