"""What a change of a job records as an event, and the live stream of events over fakes."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from decode_userapi.adapters.memory.jobs import InMemoryUnitOfWork
from decode_userapi.domain.errors import InvalidInput, NotFound
from decode_userapi.domain.job_events import JobEvent, JobEventKind
from decode_userapi.domain.jobs import FilesDown, Job, JobSpec, JobState
from decode_userapi.domain.users import User
from decode_userapi.services.jobs.events import WatchJobEvents
from decode_userapi.services.jobs.status import UpdateJobStatus

NOW = datetime(2026, 11, 25, tzinfo=UTC)
ALICE = User(id="alice", email="alice@example.org", groups=("users",))


class NeverWakes:
    """A feed with no other writer: every wait times out."""

    @asynccontextmanager
    async def listen(self, user_id: str) -> AsyncIterator["NeverWakes"]:
        yield self

    async def wait(self, up_to_seconds: float) -> bool:
        await asyncio.sleep(0)
        return False

    def committed(self, user_ids: set[str]) -> None:
        pass


def a_job(status: JobState = JobState.QUEUED) -> Job:
    return Job(
        user_id=ALICE.id,
        user_email=ALICE.email,
        job_name="exp",
        environment=None,
        priority=0,
        spec=JobSpec("decode", "v1", "train"),
        files_down=FilesDown(),
        env_vars={},
        hardware=None,
        status=status,
        date_created=NOW,
    )


async def stored(uow: InMemoryUnitOfWork, job: Job) -> Job:
    async with uow:
        job = await uow.jobs.add(job)
        await uow.events.record(JobEvent.created(job))
        await uow.commit()
    return job


@pytest.mark.parametrize(
    ("reported", "details", "kind"),
    [
        (JobState.RUNNING, None, JobEventKind.STATUS),
        (JobState.RUNNING, "epoch 1", JobEventKind.STATUS),
        (JobState.QUEUED, "still waiting", JobEventKind.RUNTIME_DETAILS),
        (JobState.QUEUED, None, None),
    ],
)
async def test_a_status_update_records_one_event_or_none(
    reported: JobState, details: str | None, kind: JobEventKind | None
) -> None:
    uow = InMemoryUnitOfWork()
    job = await stored(uow, a_job())
    committed = uow.store.committed[job.id]
    await UpdateJobStatus(uow)(job.id, reported, details)
    recorded = [event.kind for event in uow.committed_events[1:]]
    assert recorded == ([] if kind is None else [kind])
    rewritten = uow.store.committed[job.id] is not committed
    assert rewritten is (kind is not None), "the job is written when, and only when, it changed"
    if kind is JobEventKind.RUNTIME_DETAILS:
        assert uow.committed_events[-1].appended == details


async def test_the_stream_of_one_job_ends_with_its_final_state() -> None:
    uow = InMemoryUnitOfWork()
    job = await stored(uow, a_job())
    await UpdateJobStatus(uow)(job.id, JobState.FINISHED, None)
    await UpdateJobStatus(uow)(job.id, JobState.FINISHED, "a late detail")  # after the end
    watch = WatchJobEvents(uow, NeverWakes(), keepalive_seconds=0.01)
    stream = await watch.of_job(ALICE, job.id, last_event_id=0)
    assert stream is not None
    events = [event async for event in stream if event is not None]
    assert [event.kind for event in events] == [JobEventKind.CREATED, JobEventKind.STATUS]
    resumed = await watch.of_job(ALICE, job.id, last_event_id=events[-1].id)
    assert resumed is not None
    late = [event async for event in resumed if event is not None]
    assert [event.appended for event in late] == ["a late detail"]
    assert await watch.of_job(ALICE, job.id, last_event_id=late[-1].id) is None, "no stream"


async def test_the_stream_refuses_someone_elses_job_and_a_bad_last_id() -> None:
    uow = InMemoryUnitOfWork()
    job = await stored(uow, a_job())
    watch = WatchJobEvents(uow, NeverWakes(), keepalive_seconds=0.01)
    bob = User(id="bob", email="bob@example.org", groups=("users",))
    with pytest.raises(NotFound):
        await watch.of_job(bob, job.id, last_event_id=0)
    with pytest.raises(InvalidInput):
        await watch.of_all_jobs(ALICE, last_event_id=-1)
