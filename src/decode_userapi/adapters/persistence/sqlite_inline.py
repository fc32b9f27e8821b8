"""SQLite for SQLAlchemy's asyncio engine, run on the event loop's own thread.

aiosqlite runs every call (open a cursor, execute, fetch, close, commit, rollback) in a
thread of its own, about six thread hand-offs per query; on a busy machine each costs far
more than the query itself (a primary-key SELECT: ~40 µs inline, ~0.4 ms through
aiosqlite, milliseconds under load). This connection offers the part of aiosqlite's API
that SQLAlchemy's `sqlite+aiosqlite` dialect uses and runs each call at once.

What keeps the loop responsive: SQLite's own busy handler is off (`timeout=0`), so a
statement that meets another connection's lock fails at once with SQLITE_BUSY, and is
retried after an `asyncio.sleep`, for up to `LOCK_WAIT_SECONDS` in all (the wait the
thread-based driver had). Reads never wait for writers (WAL), and with
`synchronous=NORMAL` a commit writes to the WAL without an fsync; only the periodic
checkpoint syncs the disk on the loop's thread. Engines keep SQLite's default isolation
(SQLAlchemy would set another one through aiosqlite's private queue, which is not here).
"""

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

LOCK_WAIT_SECONDS = 30.0
FIRST_RETRY_SECONDS = 0.001
LONGEST_RETRY_SECONDS = 0.05

T = TypeVar("T")


async def waiting_for_locks(call: Callable[[], T]) -> T:
    """`call()`, again after a pause while another connection holds a lock it needs.

    Only plain SQLITE_BUSY is retried: a transaction whose snapshot went stale
    (SQLITE_BUSY_SNAPSHOT) cannot succeed by waiting and fails at once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOCK_WAIT_SECONDS
    pause = FIRST_RETRY_SECONDS
    while True:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or loop.time() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_RETRY_SECONDS)


def sqlite_pragmas(connection: sqlite3.Connection) -> None:
    """Foreign keys, WAL, and `synchronous=NORMAL` (see `database.create_engine`)."""
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> "InlineCursor":
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> "InlineCursor":
        await waiting_for_locks(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> "InlineCursor":
        rows = list(parameters)
        await waiting_for_locks(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> Sequence[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """The aiosqlite `Connection` calls SQLAlchemy makes, run on the calling thread."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = connection

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._connection

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._open().cursor())

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    async def commit(self) -> None:
        await waiting_for_locks(self._open().commit)

    async def rollback(self) -> None:
        self._open().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's `terminate`)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def inline_connector(database: str) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine("sqlite+aiosqlite://...")`."""

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(database, timeout=0, check_same_thread=False)
        sqlite_pragmas(connection)
        return InlineConnection(connection)

    return connect
