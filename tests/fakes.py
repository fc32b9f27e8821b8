"""In-memory fakes of our own ports, for tests that are not about those ports."""

from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from types import TracebackType
from typing import Self

import msgspec

from decode_userapi.domain.applications import ApplicationRegistry
from decode_userapi.domain.errors import (
    AlreadyExists,
    NotAllowed,
    NotFound,
    RunningJobsQuotaExceeded,
    TooLarge,
    UpstreamUnavailable,
)
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.domain.idempotency import KeyUse
from decode_userapi.domain.job_events import JobEvent
from decode_userapi.domain.jobs import Job, JobQuery
from decode_userapi.domain.quotas import Account, Limits, Usage, storage_quota_exceeded
from decode_userapi.ports.file_storage import HttpRequestSpec
from decode_userapi.ports.usage_ledger import Reservation
from decode_userapi.ports.worker_gateway import QueuedJob


class InMemoryFileStorage:
    """`FileStorage` in dictionaries: folders as a set, files as bytes."""

    def __init__(self) -> None:
        self.folders: set[FileRef] = {FileRef(())}
        self.files: dict[FileRef, bytes] = {}

    async def stat(self, ref: FileRef) -> FileEntry | None:
        if ref in self.folders:
            return FileEntry(ref, EntryKind.DIRECTORY)
        if ref in self.files:
            return FileEntry(ref, EntryKind.FILE, len(self.files[ref]))
        return None

    async def list_folder(self, folder: FileRef, *, recursive: bool) -> list[FileEntry]:
        if folder not in self.folders:
            raise NotFound(f"'{folder}' is not a folder.")
        below = [ref for ref in (*self.folders, *self.files) if ref != folder]
        below = [ref for ref in below if ref.is_within(folder)]
        if not recursive:
            below = [ref for ref in below if ref.parent == folder]
        return [entry for ref in below if (entry := await self.stat(ref)) is not None]

    async def make_folder(self, ref: FileRef) -> None:
        for depth in range(len(ref.parts) + 1):
            ancestor = FileRef(ref.parts[:depth])
            if ancestor in self.files:
                raise AlreadyExists(f"'{ancestor}' is a file.")
            self.folders.add(ancestor)

    async def read(
        self, ref: FileRef, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if ref not in self.files:
            raise NotFound(f"'{ref}' is not a file.")
        content = self.files[ref][start:end]
        for start in range(0, len(content), 4):
            yield content[start : start + 4]

    async def write(self, ref: FileRef, chunks: AsyncIterable[bytes], *, max_bytes: int) -> int:
        content = b""
        async for chunk in chunks:
            content += chunk
            if len(content) > max_bytes:
                raise TooLarge("Too large.")
        if ref in self.folders:
            raise AlreadyExists(f"'{ref}' is a folder.")
        await self.make_folder(ref.parent)
        self.files[ref] = content
        return len(content)

    async def rename(self, source: FileRef, target: FileRef) -> None:
        if await self.stat(source) is None:
            raise NotFound(f"'{source}' does not exist.")
        if await self.stat(target) is not None:
            raise AlreadyExists(f"'{target}' exists.")
        if source in self.folders and await self.list_folder(source, recursive=False):
            raise NotAllowed(
                f"Folder '{source.as_folder()}' is not empty; only empty folders move."
            )
        await self.make_folder(target.parent)
        if source in self.files:
            self.files[target] = self.files.pop(source)
        else:
            self.folders.remove(source)
            self.folders.add(target)

    async def delete(self, ref: FileRef) -> None:
        self.files = {key: value for key, value in self.files.items() if not key.is_within(ref)}
        self.folders = {key for key in self.folders if not key.is_within(ref)} | {FileRef(())}

    def uri(self, ref: FileRef) -> str:
        return f"memory://{ref}"

    async def download_request(self, ref: FileRef) -> HttpRequestSpec | None:
        return HttpRequestSpec("get", f"https://storage.example/{ref}")

    async def upload_request(self, folder: FileRef, *, max_bytes: int) -> HttpRequestSpec | None:
        return HttpRequestSpec("post", "https://storage.example/", data={"key": f"{folder}/"})

    async def check(self) -> None:
        return None


class FakeJobRepository:
    def __init__(self, committed: dict[int, Job], next_id: list[int]) -> None:
        self.jobs = {job_id: msgspec.structs.replace(job) for job_id, job in committed.items()}
        self._next_id = next_id

    async def add(self, job: Job, *, running_limit: int | None = None) -> Job:
        if running_limit is not None and await self.count_running(job.user_id) >= running_limit:
            raise RunningJobsQuotaExceeded(f"Running-jobs quota of {running_limit} reached.")
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
        self,
        user_id: str,
        query: JobQuery,
        *,
        offset: int,
        limit: int,
        after: tuple[datetime, int] | None = None,
    ) -> list[Job]:
        mine = [
            job
            for job in self.jobs.values()
            if job.user_id == user_id
            and (not query.statuses or job.status in query.statuses)
            and (after is None or (job.date_created, job.id) < after)
        ]
        mine.sort(key=lambda job: (job.date_created, job.id), reverse=True)
        return mine[offset : offset + limit]

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
        self.jobs[job.id] = msgspec.structs.replace(job)

    async def delete(self, job_id: int) -> bool:
        return self.jobs.pop(job_id, None) is not None


class FakeJobEventLog:
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


class FakeIdempotencyKeys:
    """Uses by (user, key): (fingerprint, job id, when); no cascade from deleted jobs."""

    def __init__(self, committed: dict[tuple[str, str], tuple[str, int | None, datetime]]) -> None:
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


class FakeUnitOfWork:
    """Keeps jobs, keys and events in `committed*` only when `commit()` is called."""

    jobs: FakeJobRepository
    events: FakeJobEventLog
    idempotency_keys: FakeIdempotencyKeys

    def __init__(self) -> None:
        self.committed: dict[int, Job] = {}
        self.committed_events: list[JobEvent] = []
        self.committed_keys: dict[tuple[str, str], tuple[str, int | None, datetime]] = {}
        self._next_id = [0]

    async def __aenter__(self) -> Self:
        await self.rollback()
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
        self.committed_events = list(self.events.events)
        self.committed_keys = dict(self.idempotency_keys.uses)

    async def rollback(self) -> None:
        self.jobs = FakeJobRepository(self.committed, self._next_id)
        self.events = FakeJobEventLog(self.committed_events)
        self.idempotency_keys = FakeIdempotencyKeys(self.committed_keys)


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


class FakeUsageLedger:
    """Usage per user in memory, with the quota checks of the real ledger."""

    def __init__(self, defaults: Limits | None = None) -> None:
        self.defaults = defaults or Limits()
        self.usage: dict[str, Usage] = {}
        self.overrides: dict[str, Limits] = {}
        self.reservations: dict[int, Reservation] = {}

    async def account(self, user_id: str) -> Account:
        overrides = self.overrides.get(user_id, Limits())
        return Account(
            user_id, self.usage.get(user_id, Usage()), overrides, self.defaults.over(overrides)
        )

    def _change(self, user_id: str, **deltas: int) -> None:
        now = msgspec.structs.asdict(self.usage.get(user_id, Usage()))
        self.usage[user_id] = Usage(**{k: max(0, v + deltas.get(k, 0)) for k, v in now.items()})

    async def _hold(self, user_id: str, bytes: int, files: int) -> None:
        account = await self.account(user_id)
        limits, usage = account.limits, account.usage
        if (
            limits.bytes is not None
            and bytes > 0
            and usage.used_bytes + usage.reserved_bytes + bytes > limits.bytes
        ) or (
            limits.files is not None
            and files > 0
            and usage.used_files + usage.reserved_files + files > limits.files
        ):
            raise storage_quota_exceeded(limits, usage, bytes, declared=bytes > 0)
        self._change(user_id, reserved_bytes=bytes, reserved_files=files)

    async def reserve(
        self, user_id: str, *, bytes: int, files: int, expires_at: datetime
    ) -> Reservation:
        await self._hold(user_id, bytes, files)
        reservation = Reservation(len(self.reservations) + 1, user_id, bytes, files)
        self.reservations[reservation.id] = reservation
        return reservation

    async def grow(self, reservation: Reservation, bytes: int) -> Reservation:
        await self._hold(reservation.user_id, bytes, 0)
        held = self.reservations[reservation.id]
        grown = Reservation(held.id, held.user_id, held.bytes + bytes, held.files)
        self.reservations[held.id] = grown
        return grown

    async def release(self, reservation: Reservation) -> None:
        held = self.reservations.pop(reservation.id, None)
        if held is not None:
            self._change(held.user_id, reserved_bytes=-held.bytes, reserved_files=-held.files)

    async def settle(self, reservation: Reservation, *, bytes: int, files: int) -> None:
        await self.release(reservation)
        await self.add(reservation.user_id, bytes=bytes, files=files)

    async def add(self, user_id: str, *, bytes: int, files: int) -> None:
        self._change(user_id, used_bytes=bytes, used_files=files)

    async def set_used(self, user_id: str, *, bytes: int, files: int) -> None:
        held = self.usage.get(user_id, Usage())
        self.usage[user_id] = Usage(bytes, files, held.reserved_bytes, held.reserved_files)

    async def set_overrides(self, user_id: str, overrides: Limits) -> Account:
        self.overrides[user_id] = overrides
        return await self.account(user_id)

    async def release_expired(self, now: datetime, *, dry_run: bool = False) -> list[Reservation]:
        return []

    async def user_ids(self) -> list[str]:
        return sorted(self.usage.keys() | self.overrides.keys())
