import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

import msgspec

from decode_userapi.domain.applications import EntrypointConfig
from decode_userapi.domain.errors import AlreadyExists, InvalidInput, Mismatch
from decode_userapi.domain.files import EntryKind, FileRef
from decode_userapi.domain.idempotency import KeyUse, Once
from decode_userapi.domain.job_events import JobEvent
from decode_userapi.domain.jobs import (
    RESULT_KINDS,
    Hardware,
    InputKind,
    Job,
    NewJob,
)
from decode_userapi.domain.users import User
from decode_userapi.ports.application_catalog import ApplicationCatalog
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.ports.usage_ledger import UsageLedger
from decode_userapi.ports.worker_gateway import (
    QueuedApp,
    QueuedHandler,
    QueuedJob,
    QueuedJobSpec,
    QueuedMeta,
    WorkerGateway,
)
from decode_userapi.services.clock import Clock, utc_now
from decode_userapi.services.files.space import UserFiles, UserSpaces

log = logging.getLogger(__name__)


class Submitted(msgspec.Struct, frozen=True):
    """The job, and whether it is the one an earlier request with the same key made."""

    job: Job
    replayed: bool = False


class InputFolder(msgspec.Struct, frozen=True):
    """One chosen input folder and the files under it (paths in the user's space)."""

    kind: InputKind
    folder: FileRef
    files: list[FileRef]


def _check_same(use: KeyUse, once: Once) -> None:
    if use.fingerprint != once.fingerprint:
        raise Mismatch(
            f"Idempotency-Key {once.key!r} was used for a different request; a retry must "
            "repeat the request exactly, and a new request needs a new key."
        )


def build_files_down(
    mounts: Mapping[InputKind, str], inputs: Sequence[InputFolder], uri: Callable[[FileRef], str]
) -> dict[str, str]:
    """`<container dir>/<path relative to the input folder>` → storage URI, for every file.

    Two files landing on the same container path is an `InvalidInput`.
    """
    files_down: dict[str, str] = {}
    for chosen in inputs:
        mount = mounts[chosen.kind].strip("/")
        for file in chosen.files:
            target = "/".join(part for part in (mount, file.relative_to(chosen.folder)) if part)
            if target in files_down:
                raise InvalidInput(
                    f"Two input files would both be mounted at '{target}'; "
                    "rename one or choose fewer folders."
                )
            files_down[target] = uri(file)
    return files_down


class SubmitJob:
    """Start a job: check it, store it and hand it to the worker-facing API, all or nothing.

    Raises `InvalidInput` for an unknown application/version/entrypoint, a refused env
    var, a bad priority or job name, or an input folder that does not exist;
    `AlreadyExists` when the user already has a job of that name, or already has one of
    the folders the job would write into (`output/<name>/`, `log/<name>/`,
    `artifact/<name>/`): deleting a job deletes those, so a job never takes over a folder
    it did not make. `RunningJobsQuotaExceeded` when the user already has as many jobs
    not finished or failed as their running-jobs quota allows.

    The job is committed (state `queued`) before the worker-facing API hears of it, and
    no database transaction is open while that call is in flight: a status update the
    worker sends before the call returns finds the job, and a slow worker-facing API holds
    no database connection. Meanwhile the job is listed like any queued job. When the
    worker-facing API is down (`UpstreamUnavailable`) or refuses the job
    (`UpstreamRejected`) the job is deleted again: no job is kept, and the name is free.
    Its `created` event is recorded with the job (and deleted with it).

    `once` (an idempotency key) makes retries safe: the key is stored in the job's own
    transaction, and deleted with the job (also when the job is deleted again because it
    was not queued). While a key younger than `idempotency_ttl_seconds` is kept, a request with
    the same key and fingerprint answers the job it made (`Submitted.replayed`), and one
    with another fingerprint is a `Mismatch`. Of concurrent requests with one key, one
    makes the job and the others answer it.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        catalog: ApplicationCatalog,
        spaces: UserSpaces,
        gateway: WorkerGateway,
        ledger: UsageLedger,
        clock: Clock = utc_now,
        idempotency_ttl_seconds: int = 86400,
    ) -> None:
        self._uow, self._catalog, self._spaces = uow, catalog, spaces
        self._gateway, self._ledger, self._clock = gateway, ledger, clock
        self._idempotency_ttl = timedelta(seconds=idempotency_ttl_seconds)

    async def __call__(self, user: User, request: NewJob) -> Job:
        return (await self.once(user, request, None)).job

    async def once(self, user: User, request: NewJob, once: Once | None) -> Submitted:
        """Submit `request`, or answer the job an earlier request with the key `once` made."""
        if once is not None:
            earlier = await self._earlier(user, once)
            if earlier is not None:
                return Submitted(earlier, replayed=True)
        entry = (await self._catalog.current()).entrypoint(request.spec)
        job = Job.submitted(user, request, entry, self._clock())
        files = await self._spaces.open(user)
        inputs = [await _input_folder(files, kind, ref) for kind, ref in job.files_down.folders()]
        files_down = build_files_down(entry.handler.files_down, inputs, files.uri)
        await _refuse_taken_result_folders(files, job)
        running_limit = (await self._ledger.account(user.id)).limits.running_jobs
        async with self._uow as uow:
            claimed = once is None or await self._claim(uow, user, once)
            if claimed:
                job = await uow.jobs.add(job, running_limit=running_limit)
                await uow.events.record(JobEvent.created(job))
                if once is not None:
                    await uow.idempotency_keys.attach(user.id, once.key, job.id)
                await uow.commit()
        if once is not None and not claimed:
            return await self._replay_claimed(user, request, once)
        try:
            await self._gateway.enqueue(self._queued(job, entry, files_down, files))
        except Exception:
            await self._forget(job)
            raise
        return Submitted(job)

    async def _claim(self, uow: UnitOfWork, user: User, once: Once) -> bool:
        now = self._clock()
        return await uow.idempotency_keys.claim(
            user.id, once.key, once.fingerprint, now=now, since=now - self._idempotency_ttl
        )

    async def _earlier(self, user: User, once: Once) -> Job | None:
        """The job made by a kept use of the key; `Mismatch` when that use was another
        request."""
        async with self._uow as uow:
            use = await uow.idempotency_keys.find(
                user.id, once.key, since=self._clock() - self._idempotency_ttl
            )
            if use is None or use.job_id is None:
                return None
            _check_same(use, once)
            return await uow.jobs.get(use.job_id)

    async def _replay_claimed(self, user: User, request: NewJob, once: Once) -> Submitted:
        """A concurrent request claimed the key first; by now it committed its job."""
        earlier = await self._earlier(user, once)
        if earlier is None:  # its job was not queued and is gone again: start afresh
            return await self.once(user, request, once)
        return Submitted(earlier, replayed=True)

    async def _forget(self, job: Job) -> None:
        """Undo the job's creation after the worker-facing API did not take it."""
        try:
            async with self._uow as uow:
                await uow.jobs.delete(job.id)
                await uow.commit()
        except Exception:
            log.exception("Job %s was not queued and could not be deleted", job.id)

    def _queued(
        self, job: Job, entry: EntrypointConfig, files_down: dict[str, str], files: UserFiles
    ) -> QueuedJob:
        return QueuedJob(
            job=QueuedJobSpec(
                app=QueuedApp(cmd=list(entry.app.cmd), env=dict(job.env_vars)),
                handler=QueuedHandler(
                    image_url=entry.handler.image_url,
                    image_name=job.spec.application,
                    image_version=job.spec.version,
                    entrypoint=job.spec.entrypoint,
                    files_down=files_down,
                    files_up={str(kind): path for kind, path in entry.handler.files_up.items()},
                ),
                meta=QueuedMeta(job_id=job.id, date_created=job.date_created.isoformat()),
                hardware=job.hardware or Hardware(),
            ),
            environment=job.environment,
            group=None,
            priority=job.priority,
            paths_upload={kind: files.uri(job.result_folder(kind)) for kind in RESULT_KINDS},
        )


async def _refuse_taken_result_folders(files: UserFiles, job: Job) -> None:
    for kind in RESULT_KINDS:
        folder = job.result_folder(kind)
        if await files.stat(folder) is not None:
            raise AlreadyExists(
                f"'{folder.as_folder()}' already exists: job {job.job_name!r} would write "
                "its results there, and deleting the job deletes that folder. Choose "
                "another job_name, or move the folder away first."
            )


async def _input_folder(files: UserFiles, kind: InputKind, folder: FileRef) -> InputFolder:
    found = await files.stat(folder)
    if found is None or found.kind is not EntryKind.DIRECTORY:
        raise InvalidInput(f"Input folder '{folder.as_folder()}' ({kind}) does not exist.")
    entries = await files.list_folder(folder, recursive=True)
    inside = sorted(
        (entry.ref for entry in entries if entry.kind is EntryKind.FILE),
        key=lambda file: file.parts,
    )
    return InputFolder(kind, folder, inside)
