from collections.abc import Callable
from datetime import UTC, datetime

from decode_userapi.domain.jobs import RESULT_KINDS, Job, JobState
from decode_userapi.domain.spaces import UserSpace
from decode_userapi.domain.users import User
from decode_userapi.ports.file_storage import FileStorage
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.services.jobs.queries import owned_job


class DeleteJob:
    """Remove one of the caller's jobs and its `output/`, `log/` and `artifact/` folders.

    A job that is not final is canceled first (as `CancelJob` does) and returned, so that
    the caller notifies its owner; None for a job that had already ended.
    `NotFound` for a missing job and for someone else's. The job's id is not reused.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        storage: FileStorage,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._clock = clock

    async def __call__(self, user: User, job_id: int) -> Job | None:
        space = UserSpace.of(user.id)
        async with self._uow as uow:
            job = await owned_job(uow, user, job_id, for_update=True)
            canceled = job.report(JobState.CANCELED, None, self._clock())
            if canceled:
                await uow.jobs.update(job)
            await uow.jobs.delete(job.id)
            await uow.commit()
        for kind in RESULT_KINDS:
            await self._storage.delete(space.ref(job.result_folder(kind)))
        return job if canceled else None
