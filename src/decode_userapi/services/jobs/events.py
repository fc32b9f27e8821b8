from collections.abc import AsyncIterator

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.job_events import JobEvent
from decode_userapi.domain.users import User
from decode_userapi.ports.job_events import MAX_EVENTS_PER_READ, JobEventFeed
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.services.jobs.queries import owned_job

MAX_EVENT_ID = 2**63 - 1


def _check(last_event_id: int) -> None:
    if not 0 <= last_event_id <= MAX_EVENT_ID:
        raise InvalidInput(
            f"Last-Event-ID must be a whole number from 0 to {MAX_EVENT_ID}, not {last_event_id}."
        )


class WatchJobEvents:
    """A live stream of the caller's job events, of all their jobs or of one.

    Yields every event with an id above `last_event_id`, oldest first, then each new one
    as it is committed (by any server process), and None whenever `keepalive_seconds`
    pass without one (the caller sends a keep-alive then). The stream of one job ends
    after the event of its final state (or when the job is deleted meanwhile); for a job
    already final with no event after `last_event_id` there is no stream at all (None:
    a reconnecting client must be told to stop). The stream of all jobs lasts until the
    caller stops reading. No database connection is held between reads.

    `NotFound` (before the stream starts) for a job that is missing or someone else's;
    `InvalidInput` for a negative or too large `last_event_id`.
    """

    def __init__(self, uow: UnitOfWork, feed: JobEventFeed, keepalive_seconds: float) -> None:
        self._uow = uow
        self._feed = feed
        self._keepalive = keepalive_seconds

    async def of_all_jobs(
        self, user: User, *, last_event_id: int
    ) -> AsyncIterator[JobEvent | None]:
        _check(last_event_id)
        return self._events(user, None, last_event_id)

    async def of_job(
        self, user: User, job_id: int, *, last_event_id: int
    ) -> AsyncIterator[JobEvent | None] | None:
        _check(last_event_id)
        async with self._uow as uow:
            job = await owned_job(uow, user, job_id)
            if job.status.is_final and not await uow.events.after(
                user.id, last_event_id, job_id=job_id
            ):
                return None
        return self._events(user, job_id, last_event_id)

    async def _events(
        self, user: User, job_id: int | None, last_id: int
    ) -> AsyncIterator[JobEvent | None]:
        async with self._feed.listen(user.id) as waiter:
            while True:
                job_over = False
                async with self._uow as uow:
                    if job_id is not None:
                        # Read before the events: a final state seen here has its event
                        # committed already, so the read below finds it.
                        job = await uow.jobs.get(job_id)
                        job_over = job is None or job.status.is_final
                    events = await uow.events.after(user.id, last_id, job_id=job_id)
                for event in events:
                    last_id = event.id
                    yield event
                    if job_id is not None and event.ends_job:
                        return
                if len(events) == MAX_EVENTS_PER_READ:
                    continue
                if job_over:
                    return
                if not await waiter.wait(self._keepalive):
                    yield None
