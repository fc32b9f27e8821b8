"""A transaction over the repositories."""

from types import TracebackType
from typing import Protocol, Self

from decode_userapi.ports.idempotency_keys import IdempotencyKeys
from decode_userapi.ports.job_events import JobEventLog
from decode_userapi.ports.job_repository import JobRepository


class UnitOfWork(Protocol):
    """`async with uow:` opens a transaction; `uow.jobs` and `uow.events` work inside it.

    Nothing is kept unless `commit()` is called; leaving the block without committing
    (or with an exception) rolls everything back.
    """

    @property
    def jobs(self) -> JobRepository:
        """The jobs, as this unit of work sees them."""
        ...

    @property
    def events(self) -> JobEventLog:
        """The job events, recorded with the changes they describe."""
        ...

    @property
    def idempotency_keys(self) -> IdempotencyKeys:
        """The users' idempotency keys, as this unit of work sees them."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Keep every change made in this unit of work."""
        ...

    async def rollback(self) -> None:
        """Drop every change made since the last commit."""
        ...
