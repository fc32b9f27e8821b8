from decode_userapi.domain.errors import Conflict
from decode_userapi.domain.job_events import JobEvent
from decode_userapi.domain.jobs import Job, JobState
from decode_userapi.domain.users import User
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.services.clock import Clock, utc_now
from decode_userapi.services.jobs.queries import owned_job


class CancelJob:
    """The caller cancels one of their jobs that is not final: it becomes `canceled`
    (through the job's one transition, `Job.report`), `date_finished` is set and whatever
    it wrote so far is kept. The worker-facing API learns it from its next status update
    for the job, which is answered 404 (see `UpdateJobStatus`).

    `NotFound` for a missing job and for someone else's; `Conflict` naming the state of a
    job that is already final. The caller notifies the owner of the returned job, as for
    any job that ended.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user: User, job_id: int) -> Job:
        async with self._uow as uow:
            job = await owned_job(uow, user, job_id, for_update=True)
            before = job.status
            if not job.report(JobState.CANCELED, None, self._clock()):
                raise Conflict(
                    f"Job {job_id} is already {job.status.value}; it cannot be canceled."
                )
            await uow.jobs.update(job)
            event = JobEvent.of_update(before, job, None)
            if event is not None:
                await uow.events.record(event)
            await uow.commit()
        return job
