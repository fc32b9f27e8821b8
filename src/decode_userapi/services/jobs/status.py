from decode_userapi.domain.errors import NotFound
from decode_userapi.domain.job_events import JobEvent
from decode_userapi.domain.jobs import Job, JobState
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.services.clock import Clock, utc_now


class StatusUpdate:
    """What a status update did: the job's state now, and the job when it just ended."""

    def __init__(self, state: JobState, ended: Job | None) -> None:
        self.state = state
        self.ended = ended


class UpdateJobStatus:
    """A status update from the worker-facing API (internal).

    Applies the domain state machine (`domain.jobs.next_state`): repeated, backward or
    late updates change nothing and still succeed. Runtime details are appended on a new
    line. `NotFound` for an unknown job id and for a job its owner canceled: the worker
    then treats the job as cancelled, and the update changes nothing. A change of state,
    or details appended without one, is recorded as a job event in the same transaction.
    The caller notifies the owner of `StatusUpdate.ended` once the update is committed.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, job_id: int, reported: JobState, runtime_details: str | None
    ) -> StatusUpdate:
        async with self._uow as uow:
            job = await uow.jobs.get(job_id, for_update=True)
            if job is None:
                raise NotFound(f"Job {job_id} does not exist.")
            if job.status is JobState.CANCELED:
                raise NotFound(f"Job {job_id} was canceled by its owner.")
            before = job.status
            ended = job.report(reported, runtime_details, self._clock())
            event = JobEvent.of_update(before, job, runtime_details)
            if event is not None:  # else the job is as it was: nothing to write
                await uow.jobs.update(job)
                await uow.events.record(event)
            await uow.commit()
        return StatusUpdate(job.status, job if ended else None)
