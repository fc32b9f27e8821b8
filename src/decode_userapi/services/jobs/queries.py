import base64
from datetime import datetime

import msgspec

from decode_userapi.domain.errors import InvalidInput, NotFound
from decode_userapi.domain.jobs import Job, JobQuery
from decode_userapi.domain.users import User
from decode_userapi.ports.job_repository import MAX_PAGE_SIZE, Window
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.services.jobs.documents import position


async def owned_job(uow: UnitOfWork, user: User, job_id: int, *, for_update: bool = False) -> Job:
    """The user's job; `NotFound` for a missing job and for someone else's alike.
    `for_update` locks it until the unit of work ends (see `JobRepository.get`)."""
    job = await uow.jobs.get(job_id, for_update=for_update)
    if job is None or job.user_id != user.id:
        raise NotFound(f"Job {job_id} does not exist.")
    return job


class JobPage(msgspec.Struct, frozen=True):
    documents: list[bytes]
    """The jobs' JSON documents (`documents.document`)."""
    next_cursor: str | None
    """Where the next page starts, when more jobs follow."""


def encode_cursor(moment: datetime, job_id: int) -> str:
    """An opaque cursor: a position in the list's order (date created, id)."""
    position = msgspec.json.encode([moment.isoformat(), job_id])
    return base64.urlsafe_b64encode(position).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, job_id = msgspec.json.decode(raw, type=tuple[datetime, int])
        if moment.tzinfo is None:
            raise ValueError(moment)
    except (ValueError, msgspec.DecodeError):
        raise InvalidInput(
            f"The query parameter cursor {cursor[:70]!r} is not one this API gave."
        ) from None
    return moment, job_id


class ListJobs:
    """A page of the caller's jobs matching a `JobQuery`, newest first (ties: higher id
    first); `limit` is capped at 1000.

    Pages go by `offset` (the contract's) or by `cursor` (the `next_cursor` of the
    previous page): a cursor names a position in the list's order, so jobs created or
    deleted meanwhile neither repeat nor skip a job. Both may not be given at once.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self,
        user: User,
        query: JobQuery,
        *,
        offset: int,
        limit: int,
        cursor: str | None = None,
    ) -> JobPage:
        if offset < 0:
            raise InvalidInput(f"offset must be 0 or more, not {offset}.")
        if limit < 1:
            raise InvalidInput(f"limit must be 1 or more, not {limit}.")
        if cursor is not None and offset:
            raise InvalidInput("Give either the query parameter offset or cursor, not both.")
        after = None if cursor is None else decode_cursor(cursor)
        limit = min(limit, MAX_PAGE_SIZE)
        async with self._uow as uow:
            found = await uow.jobs.list_documents(user.id, query, Window(offset, limit + 1, after))
        if len(found) <= limit:
            return JobPage(found, None)
        del found[limit:]
        return JobPage(found, encode_cursor(*position(found[-1])))


class GetJob:
    """One of the caller's jobs; `NotFound` for jobs of others."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, user: User, job_id: int) -> Job:
        async with self._uow as uow:
            return await owned_job(uow, user, job_id)
