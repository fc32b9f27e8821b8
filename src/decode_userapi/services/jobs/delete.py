from decode_userapi.domain.jobs import RESULT_KINDS
from decode_userapi.domain.users import User
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.services.files.space import UserSpaces
from decode_userapi.services.jobs.queries import owned_job


class DeleteJob:
    """Remove one of the caller's jobs and its `output/`, `log/` and `artifact/` folders.

    `NotFound` for a missing job and for someone else's. The job's id is not reused.
    """

    def __init__(self, uow: UnitOfWork, spaces: UserSpaces) -> None:
        self._uow = uow
        self._spaces = spaces

    async def __call__(self, user: User, job_id: int) -> None:
        async with self._uow as uow:
            job = await owned_job(uow, user, job_id)
            await uow.jobs.delete(job.id)
            await uow.commit()
        files = await self._spaces.open(user)
        for kind in RESULT_KINDS:
            await files.delete(job.result_folder(kind))
