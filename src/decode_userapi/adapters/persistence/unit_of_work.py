"""The SQL unit of work: one connection and transaction, the repositories that share it.

Repositories only raise; the unit of work decides what is kept (commit) or dropped (rollback).
"""

from typing import Self

from decode_userapi.adapters.persistence.driver import Database, SqlConnection
from decode_userapi.adapters.persistence.idempotency import SqlaIdempotencyKeys
from decode_userapi.adapters.persistence.job_events import SqlaJobEventLog
from decode_userapi.adapters.persistence.jobs import SqlaJobRepository
from decode_userapi.ports.job_events import JobEventFeed


class SqlaUnitOfWork:
    """One connection and transaction per `async with` (taken at the first statement).
    After a commit that recorded job events, `feed` wakes this process's readers of them."""

    jobs: SqlaJobRepository
    events: SqlaJobEventLog
    idempotency_keys: SqlaIdempotencyKeys

    def __init__(self, database: Database, feed: JobEventFeed) -> None:
        self._database = database
        self._feed = feed
        self._connection: SqlConnection | None = None

    async def __aenter__(self) -> Self:
        self._connection = SqlConnection(self._database)
        self.jobs = SqlaJobRepository(self._connection)
        self.events = SqlaJobEventLog(self._connection)
        self.idempotency_keys = SqlaIdempotencyKeys(self._connection)
        return self

    async def __aexit__(self, *_: object) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()  # rolls back what was not committed

    def _active(self) -> SqlConnection:
        if self._connection is None:
            raise RuntimeError("Use the unit of work inside 'async with'.")
        return self._connection

    async def commit(self) -> None:
        await self._active().commit()
        recorded, self.events.recorded_for = self.events.recorded_for, set()
        if recorded:
            self._feed.committed(recorded)

    async def rollback(self) -> None:
        await self._active().rollback()
        self.events.recorded_for = set()
