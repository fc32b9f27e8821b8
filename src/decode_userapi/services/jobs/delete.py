from decode_userapi.domain.job_events import JobEvent
from decode_userapi.domain.jobs import RESULT_KINDS, Job, JobState
from decode_userapi.domain.users import User
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.ports.usage_ledger import UsageLedger
from decode_userapi.services.clock import Clock, utc_now
from decode_userapi.services.files.measure import Footprint, footprint
from decode_userapi.services.files.space import UserFiles, UserSpaces
from decode_userapi.services.jobs.queries import owned_job


class DeleteJob:
    """Remove one of the caller's jobs and its `output/`, `log/` and `artifact/` folders;
    returns what the folders held, which no longer counts against the user's quota.

    A job that is not final is canceled first (as `CancelJob` does) and returned, so that
    the caller notifies its owner; None for a job that had already ended.
    `NotFound` for a missing job and for someone else's. The job's id is not reused.
    The folders go first, the job last: a failure or a kill half-way leaves the job
    listed (with fewer results), so deleting it again finishes the work, and no result
    folder outlives its job. Of two deletions of one job at once, only the one that
    removes the job takes its bytes off the user's use.
    """

    def __init__(
        self, uow: UnitOfWork, spaces: UserSpaces, ledger: UsageLedger, clock: Clock = utc_now
    ) -> None:
        self._uow, self._spaces, self._ledger, self._clock = uow, spaces, ledger, clock

    async def __call__(self, user: User, job_id: int) -> Job | None:
        """Returns the job when this call canceled it (it was not final), so the caller
        notifies its owner as for any job that ended."""
        async with self._uow as uow:
            job = await owned_job(uow, user, job_id, for_update=True)
            before = job.status
            canceled = job.report(JobState.CANCELED, None, self._clock())
            if canceled:
                await uow.jobs.update(job)
                event = JobEvent.of_update(before, job, None)
                if event is not None:
                    await uow.events.record(event)
                await uow.commit()
        await self.remove(job)
        return job if canceled else None

    async def measure(self, job: Job) -> Footprint:
        """What the job's result folders hold."""
        files = await self._owner_files(job)
        freed = Footprint()
        for kind in RESULT_KINDS:
            freed += await footprint(files, job.result_folder(kind))
        return freed

    async def _owner_files(self, job: Job) -> UserFiles:
        return await self._spaces.open(User(job.user_id, job.user_email))

    async def remove(self, job: Job) -> Footprint:
        """Delete `job` (already known to be its owner's) and its result folders."""
        freed = await self.measure(job)
        files = await self._owner_files(job)
        for kind in RESULT_KINDS:
            await files.delete(job.result_folder(kind))
        async with self._uow as uow:
            removed = await uow.jobs.delete(job.id)
            await uow.commit()
        if removed and freed.files:
            await self._ledger.add(job.user_id, bytes=-freed.bytes, files=-freed.files)
        return freed
