"""`UnitOfWork` and `JobRepository` in a dictionary: a change is kept on `commit()`."""

from types import TracebackType
from typing import Self

import msgspec

from decode_userapi.domain.errors import AlreadyExists
from decode_userapi.domain.jobs import Job, JobState
from decode_userapi.ports.job_repository import MAX_PAGE_SIZE


class InMemoryJobStore:
    """The committed jobs, shared by every unit of work made on it (the "database")."""

    def __init__(self) -> None:
        self.committed: dict[int, Job] = {}
        self.last_id = 0
        """Ids are never handed out twice, even when a unit of work is rolled back."""


class InMemoryJobRepository:
    """The jobs as one unit of work sees them: the committed ones and its own changes."""

    def __init__(self, store: InMemoryJobStore) -> None:
        self._store = store
        self.jobs = {
            job_id: msgspec.structs.replace(job) for job_id, job in store.committed.items()
        }
        self.changed: set[int] = set()

    async def add(self, job: Job) -> Job:
        if any(
            (other.user_id, other.job_name) == (job.user_id, job.job_name)
            for other in (*self.jobs.values(), *self._store.committed.values())
        ):
            raise AlreadyExists(f"You already have a job named {job.job_name!r}.")
        self._store.last_id += 1
        stored = msgspec.structs.replace(job, id=self._store.last_id)
        self.jobs[stored.id] = stored
        self.changed.add(stored.id)
        return msgspec.structs.replace(stored)

    async def get(self, job_id: int, *, for_update: bool = False) -> Job | None:
        job = self.jobs.get(job_id)
        return None if job is None else msgspec.structs.replace(job)

    async def list_for_user(
        self, user_id: str, *, offset: int, limit: int, status: JobState | None
    ) -> list[Job]:
        mine = [
            job
            for job in self.jobs.values()
            if job.user_id == user_id and status in (None, job.status)
        ]
        mine.sort(key=lambda job: (job.date_created, job.id), reverse=True)
        return [msgspec.structs.replace(job) for job in mine[offset:][: min(limit, MAX_PAGE_SIZE)]]

    async def update(self, job: Job) -> None:
        if job.id in self.jobs:
            self.jobs[job.id] = msgspec.structs.replace(job)
            self.changed.add(job.id)

    async def delete(self, job_id: int) -> None:
        if self.jobs.pop(job_id, None) is not None:
            self.changed.add(job_id)


class InMemoryUnitOfWork:
    """A new one per use (like the SQL one), on a shared `InMemoryJobStore`."""

    jobs: InMemoryJobRepository

    def __init__(self, store: InMemoryJobStore | None = None) -> None:
        self.store = store or InMemoryJobStore()

    @property
    def committed(self) -> dict[int, Job]:
        return self.store.committed

    async def __aenter__(self) -> Self:
        self.jobs = InMemoryJobRepository(self.store)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        for job_id in self.jobs.changed:
            if job_id in self.jobs.jobs:
                self.store.committed[job_id] = msgspec.structs.replace(self.jobs.jobs[job_id])
            else:
                self.store.committed.pop(job_id, None)
        self.jobs.changed.clear()

    async def rollback(self) -> None:
        self.jobs = InMemoryJobRepository(self.store)
