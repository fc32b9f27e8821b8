"""Where jobs are kept."""

from datetime import datetime
from typing import Protocol

import msgspec

from decode_userapi.domain.jobs import Job, JobQuery

MAX_PAGE_SIZE = 1000


class Window(msgspec.Struct, frozen=True):
    """Which part of a list of jobs: up to `limit` from `offset`, starting after `after` (a
    job's `date_created` and id, which need not be a job that still exists) when given.
    `limit` is capped at `MAX_PAGE_SIZE` + 1 (so that a caller can tell whether more
    follow); an `offset` past the last job, however large, gives an empty list."""

    offset: int = 0
    limit: int = MAX_PAGE_SIZE
    after: tuple[datetime, int] | None = None


class JobRepository(Protocol):
    """Jobs inside one unit of work; changes are kept only when the unit of work commits.

    Job ids are never reused, even after a job is deleted: the worker-facing API may
    still send updates for an old id.
    """

    async def add(self, job: Job, *, running_limit: int | None = None) -> Job:
        """Store a new job and return it with its id (visible to this unit of work).

        Raises `AlreadyExists` when the user already has a job of that name; the
        database decides, so two concurrent adds of one name cannot both succeed.
        With `running_limit`, `RunningJobsQuotaExceeded` when the user already has that
        many jobs not in a final state; parallel adds of one user are counted one after
        the other, so they cannot pass the limit together.
        """
        ...

    async def count_running(self, user_id: str) -> int:
        """How many of the user's jobs are not in a final state."""
        ...

    async def list_ended_before(self, moment: datetime, *, limit: int) -> list[Job]:
        """Up to `limit` jobs of any user in a final state that ended before `moment`,
        oldest first."""
        ...

    async def get(self, job_id: int, *, for_update: bool = False) -> Job | None:
        """The job with that id, whoever owns it, or None (also for any number, however
        large or small, that the store cannot hold as an id).

        `for_update` locks the job until the unit of work ends (where the database can),
        so that concurrent updates of one job apply one after the other.
        """
        ...

    async def list_documents(self, user_id: str, query: JobQuery, window: Window) -> list[bytes]:
        """The JSON documents (`services.jobs.documents.document`) of the `window` of the
        user's jobs that match `query`, newest first (ties: higher id first)."""
        ...

    async def names_starting_with(self, user_id: str, prefix: str) -> list[str]:
        """The names of the user's jobs that start with `prefix` (case-sensitive)."""
        ...

    async def update(self, job: Job) -> None:
        """Save the job's status, dates and runtime details."""
        ...

    async def delete(self, job_id: int) -> bool:
        """Remove the job; a missing job is fine. True when this call removed it."""
        ...
