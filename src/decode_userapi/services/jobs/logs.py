import asyncio
from collections.abc import AsyncIterator

from decode_userapi.domain.errors import NotFound
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.domain.jobs import Job
from decode_userapi.domain.users import User
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.services.files.space import UserFiles, UserSpaces
from decode_userapi.services.jobs.queries import owned_job


class ReadJobLog:
    """The log files the worker uploaded into the job's `log/<job_name>/` folder, as text.

    Files come in path order, each after a header line `==> log/<job_name>/<file> <==`
    (as `tail` shows several files); a folder not there yet means no log yet. With
    `follow`, the folder is looked at again every `poll_seconds` and only the bytes each
    file grew by are sent (a file that shrank was replaced: it is sent again from its
    start), until the job is final: the last look is taken after its final state was seen,
    so everything uploaded before the job ended is sent. Bytes stream in chunks; memory
    does not grow with the log. `NotFound` (before anything is sent) for a job that is
    missing or someone else's.
    """

    def __init__(self, uow: UnitOfWork, spaces: UserSpaces, poll_seconds: float) -> None:
        self._uow = uow
        self._spaces = spaces
        self._poll = poll_seconds

    async def __call__(self, user: User, job_id: int, *, follow: bool) -> AsyncIterator[bytes]:
        async with self._uow as uow:
            job = await owned_job(uow, user, job_id)
        return self._chunks(await self._spaces.open(user), job, follow)

    async def _chunks(self, files: UserFiles, job: Job, follow: bool) -> AsyncIterator[bytes]:
        sent: dict[FileRef, int] = {}
        current: FileRef | None = None
        while True:
            over = not follow or await self._job_over(job.id)
            for entry in await self._files(files, job):
                start = sent.get(entry.ref, 0)
                if entry.size_bytes < start:
                    start = 0
                if entry.size_bytes == start:
                    continue
                if entry.ref != current:
                    separator = "" if current is None else "\n"
                    name = entry.ref
                    yield f"{separator}==> {name} <==\n".encode()
                    current = entry.ref
                try:
                    async for chunk in files.read(entry.ref, start=start, end=entry.size_bytes):
                        yield chunk
                except NotFound:  # removed since it was listed
                    continue
                sent[entry.ref] = entry.size_bytes
            if over:
                return
            await asyncio.sleep(self._poll)

    async def _job_over(self, job_id: int) -> bool:
        async with self._uow as uow:
            job = await uow.jobs.get(job_id)
        return job is None or job.status.is_final

    async def _files(self, files: UserFiles, job: Job) -> list[FileEntry]:
        try:
            entries = await files.list_folder(job.result_folder("log"), recursive=True)
        except NotFound:
            return []
        found = [entry for entry in entries if entry.kind is EntryKind.FILE]
        return sorted(found, key=lambda entry: entry.ref.parts)
