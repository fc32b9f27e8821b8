from decode_userapi.domain.errors import InvalidInput, NotFound
from decode_userapi.domain.jobs import Job, JobState
from decode_userapi.domain.users import User
from decode_userapi.ports.job_repository import MAX_PAGE_SIZE
from decode_userapi.ports.unit_of_work import UnitOfWork


async def owned_job(uow: UnitOfWork, user: User, job_id: int, *, for_update: bool = False) -> Job:
    """The user's job; `NotFound` for a missing job and for someone else's alike.
    `for_update` locks it until the unit of work ends (see `JobRepository.get`)."""
    job = await uow.jobs.get(job_id, for_update=for_update)
    if job is None or job.user_id != user.id:
        raise NotFound(f"Job {job_id} does not exist.")
    return job


class ListJobs:
    """A page of the caller's jobs, newest first; `limit` is capped at 1000."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self, user: User, *, offset: int, limit: int, status: JobState | None = None
    ) -> list[Job]:
        if offset < 0:
            raise InvalidInput(f"offset must be 0 or more, not {offset}.")
        if limit < 1:
            raise InvalidInput(f"limit must be 1 or more, not {limit}.")
        async with self._uow as uow:
            return await uow.jobs.list_for_user(
                user.id, offset=offset, limit=min(limit, MAX_PAGE_SIZE), status=status
            )


class GetJob:
    """One of the caller's jobs; `NotFound` for jobs of others."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, user: User, job_id: int) -> Job:
        async with self._uow as uow:
            return await owned_job(uow, user, job_id)
