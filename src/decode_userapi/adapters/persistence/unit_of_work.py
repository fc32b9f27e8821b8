"""The SQL unit of work: one session and transaction, the repositories that share it.

Repositories only raise; the unit of work decides what is kept (commit) or dropped (rollback).
"""

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from decode_userapi.adapters.persistence.idempotency import SqlaIdempotencyKeys
from decode_userapi.adapters.persistence.job_events import SqlaJobEventLog
from decode_userapi.adapters.persistence.jobs import SqlaJobRepository
from decode_userapi.ports.job_events import JobEventFeed


class SqlaUnitOfWork:
    """One session and transaction per `async with`. After a commit that recorded job
    events, `feed` wakes this process's readers of them."""

    jobs: SqlaJobRepository
    events: SqlaJobEventLog
    idempotency_keys: SqlaIdempotencyKeys

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], feed: JobEventFeed
    ) -> None:
        self._session_factory = session_factory
        self._feed = feed
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self.jobs = SqlaJobRepository(self._session)
        self.events = SqlaJobEventLog(self._session)
        self.idempotency_keys = SqlaIdempotencyKeys(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()  # rolls back what was not committed

    def _active(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("Use the unit of work inside 'async with'.")
        return self._session

    async def commit(self) -> None:
        await self._active().commit()
        recorded, self.events.recorded_for = self.events.recorded_for, set()
        if recorded:
            self._feed.committed(recorded)

    async def rollback(self) -> None:
        await self._active().rollback()
        self.events.recorded_for = set()
