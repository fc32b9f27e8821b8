"""In-memory fakes of the job ports (ours), for unit tests of the use cases."""

from types import TracebackType
from typing import Self

import msgspec

from decode_userapi.domain.applications import ApplicationRegistry
from decode_userapi.domain.errors import AlreadyExists, UpstreamUnavailable
from decode_userapi.domain.jobs import Job, JobState
from decode_userapi.ports.worker_gateway import QueuedJob


class FakeJobRepository:
    def __init__(self, committed: dict[int, Job], next_id: list[int]) -> None:
        self.jobs = {job_id: msgspec.structs.replace(job) for job_id, job in committed.items()}
        self._next_id = next_id

    async def add(self, job: Job) -> Job:
        if any(
            (other.user_id, other.job_name) == (job.user_id, job.job_name)
            for other in self.jobs.values()
        ):
            raise AlreadyExists(f"You already have a job named {job.job_name!r}.")
        self._next_id[0] += 1
        stored = msgspec.structs.replace(job, id=self._next_id[0])
        self.jobs[stored.id] = stored
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
        return mine[offset : offset + limit]

    async def update(self, job: Job) -> None:
        self.jobs[job.id] = msgspec.structs.replace(job)

    async def delete(self, job_id: int) -> None:
        self.jobs.pop(job_id, None)


class FakeUnitOfWork:
    """Keeps jobs in `committed` only when `commit()` is called."""

    jobs: FakeJobRepository

    def __init__(self) -> None:
        self.committed: dict[int, Job] = {}
        self._next_id = [0]

    async def __aenter__(self) -> Self:
        self.jobs = FakeJobRepository(self.committed, self._next_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        self.committed = dict(self.jobs.jobs)

    async def rollback(self) -> None:
        self.jobs = FakeJobRepository(self.committed, self._next_id)


class FakeCatalog:
    def __init__(self, registry: ApplicationRegistry) -> None:
        self.registry = registry

    async def current(self) -> ApplicationRegistry:
        return self.registry


class FakeWorkerGateway:
    """Records what it queued; `failure` makes every enqueue raise it."""

    def __init__(self) -> None:
        self.queued: list[QueuedJob] = []
        self.failure: Exception | None = None

    async def enqueue(self, job: QueuedJob) -> None:
        if self.failure is not None:
            raise self.failure
        self.queued.append(job)


class FakeNotifier:
    """Fails with `UpstreamUnavailable` `failures_left` times, then records the job."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures_left = failures
        self.error = error or UpstreamUnavailable("rate limited")
        self.attempts = 0
        self.sent: list[Job] = []

    async def job_ended(self, job: Job) -> None:
        self.attempts += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            raise self.error
        self.sent.append(job)
