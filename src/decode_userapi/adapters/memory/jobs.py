"""`UnitOfWork` and `JobRepository` in a dictionary: a change is kept on `commit()`."""

from datetime import datetime
from typing import Self

import msgspec

from decode_userapi.domain.errors import AlreadyExists, RunningJobsQuotaExceeded
from decode_userapi.domain.idempotency import KeyUse
from decode_userapi.domain.job_events import JobEvent
from decode_userapi.domain.jobs import Job, JobQuery
from decode_userapi.ports.job_repository import MAX_PAGE_SIZE, Window
from decode_userapi.services.jobs.documents import document

KeyUses = dict[tuple[str, str], tuple[str, int | None, datetime]]
"""(user, key) → (fingerprint, job id, when)."""


class InMemoryJobStore:
    """The committed jobs, shared by every unit of work made on it (the "database")."""

    def __init__(self) -> None:
        self.committed: dict[int, Job] = {}
        self.last_id = 0
        """Ids are never handed out twice, even when a unit of work is rolled back."""
        self.events: list[JobEvent] = []
        self.keys: KeyUses = {}


class InMemoryJobRepository:
    """The jobs as one unit of work sees them: the committed ones and its own changes."""

    def __init__(self, store: InMemoryJobStore) -> None:
        self._store = store
        self.jobs = {
            job_id: msgspec.structs.replace(job) for job_id, job in store.committed.items()
        }
        self.changed: set[int] = set()

    async def add(self, job: Job, *, running_limit: int | None = None) -> Job:
        if running_limit is not None and await self.count_running(job.user_id) >= running_limit:
            raise RunningJobsQuotaExceeded(f"Running-jobs quota of {running_limit} reached.")
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

    async def list_documents(self, user_id: str, query: JobQuery, window: Window) -> list[bytes]:
        after = window.after
        mine = [
            job
            for job in self.jobs.values()
            if job.user_id == user_id
            and _matches(job, query)
            and (after is None or (job.date_created, job.id) < after)
        ]
        mine.sort(key=lambda job: (job.date_created, job.id), reverse=True)
        page = mine[window.offset :][: min(window.limit, MAX_PAGE_SIZE + 1)]
        return [document(job) for job in page]

    async def count_running(self, user_id: str) -> int:
        return sum(
            1 for job in self.jobs.values() if job.user_id == user_id and not job.status.is_final
        )

    async def list_ended_before(self, moment: datetime, *, limit: int) -> list[Job]:
        ended = [
            job
            for job in self.jobs.values()
            if job.status.is_final and job.date_finished and job.date_finished < moment
        ]
        ended.sort(key=lambda job: (job.date_finished or moment, job.id))
        return [msgspec.structs.replace(job) for job in ended[:limit]]

    async def names_starting_with(self, user_id: str, prefix: str) -> list[str]:
        return [
            job.job_name
            for job in self.jobs.values()
            if job.user_id == user_id and job.job_name.startswith(prefix)
        ]

    async def update(self, job: Job) -> None:
        if job.id in self.jobs:
            self.jobs[job.id] = msgspec.structs.replace(job)
            self.changed.add(job.id)

    async def delete(self, job_id: int) -> bool:
        if self.jobs.pop(job_id, None) is None:
            return False
        self.changed.add(job_id)
        return True


def _matches(job: Job, query: JobQuery) -> bool:
    created = job.date_created
    return (
        (not query.statuses or job.status in query.statuses)
        and query.application in (None, job.spec.application)
        and query.version in (None, job.spec.version)
        and all(job.tags.get(key) == value for key, value in query.tags)
        and (query.created_after is None or created > query.created_after)
        and (query.created_before is None or created < query.created_before)
        and (query.name_prefix is None or job.job_name.startswith(query.name_prefix))
    )


class InMemoryJobEventLog:
    """Events of one unit of work: the committed ones and those it recorded."""

    def __init__(self, committed: list[JobEvent]) -> None:
        self.events = list(committed)

    async def record(self, event: JobEvent) -> None:
        self.events.append(msgspec.structs.replace(event, id=len(self.events) + 1))

    async def after(
        self, user_id: str, last_id: int, *, job_id: int | None = None
    ) -> list[JobEvent]:
        return [
            event
            for event in self.events
            if event.user_id == user_id and event.id > last_id and job_id in (None, event.job_id)
        ]


class InMemoryIdempotencyKeys:
    """Keys of one unit of work (no cascade from deleted jobs: a key of a vanished job
    finds no job)."""

    def __init__(self, committed: KeyUses) -> None:
        self.uses = dict(committed)

    async def find(self, user_id: str, key: str, *, since: datetime) -> KeyUse | None:
        use = self.uses.get((user_id, key))
        return None if use is None or use[2] < since else KeyUse(use[0], use[1])

    async def claim(
        self, user_id: str, key: str, fingerprint: str, *, now: datetime, since: datetime
    ) -> bool:
        if await self.find(user_id, key, since=since) is not None:
            return False
        self.uses[user_id, key] = (fingerprint, None, now)
        return True

    async def attach(self, user_id: str, key: str, job_id: int) -> None:
        fingerprint, _, when = self.uses[user_id, key]
        self.uses[user_id, key] = (fingerprint, job_id, when)


class InMemoryUnitOfWork:
    """A new one per use (like the SQL one), on a shared `InMemoryJobStore`."""

    jobs: InMemoryJobRepository
    events: InMemoryJobEventLog
    idempotency_keys: InMemoryIdempotencyKeys

    def __init__(self, store: InMemoryJobStore | None = None) -> None:
        self.store = store or InMemoryJobStore()

    @property
    def committed(self) -> dict[int, Job]:
        return self.store.committed

    @property
    def committed_events(self) -> list[JobEvent]:
        return self.store.events

    async def __aenter__(self) -> Self:
        await self.rollback()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.rollback()

    async def commit(self) -> None:
        for job_id in self.jobs.changed:
            if job_id in self.jobs.jobs:
                self.store.committed[job_id] = msgspec.structs.replace(self.jobs.jobs[job_id])
            else:
                self.store.committed.pop(job_id, None)
        self.jobs.changed.clear()
        self.store.events = list(self.events.events)
        self.store.keys = dict(self.idempotency_keys.uses)

    async def rollback(self) -> None:
        self.jobs = InMemoryJobRepository(self.store)
        self.events = InMemoryJobEventLog(self.store.events)
        self.idempotency_keys = InMemoryIdempotencyKeys(self.store.keys)
