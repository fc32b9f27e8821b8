"""What every `UnitOfWork` and its `JobRepository` promise (ports/unit_of_work.py and
ports/job_repository.py), run against SQLite, PostgreSQL and the in-memory one."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio.to_thread
import msgspec
import pytest
from sqlalchemy import text

from decode_userapi.adapters.job_events.local import InProcessJobEventFeed
from decode_userapi.adapters.memory.jobs import InMemoryJobStore, InMemoryUnitOfWork
from decode_userapi.adapters.persistence.database import create_engine, upgrade
from decode_userapi.adapters.persistence.driver import database_for
from decode_userapi.adapters.persistence.unit_of_work import SqlaUnitOfWork
from decode_userapi.domain.errors import AlreadyExists
from decode_userapi.domain.jobs import FilesDown, Job, JobQuery, JobSpec, JobState
from decode_userapi.ports.job_repository import Window
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.services.jobs.documents import JobOut

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NewUnitOfWork = Callable[[], UnitOfWork]


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new empty database's URL, or `memory`."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return "memory" if request.param == "memory" else f"sqlite:///{tmp_path}/jobs.sqlite"


@pytest.fixture
async def new_uow(database: str) -> AsyncIterator[NewUnitOfWork]:
    if database == "memory":
        store = InMemoryJobStore()
        yield lambda: InMemoryUnitOfWork(store)
        return
    url = database.replace("sqlite://", "sqlite+aiosqlite://")
    await anyio.to_thread.run_sync(upgrade, url)
    engine = create_engine(url)
    sql = database_for(engine)
    feed = InProcessJobEventFeed()
    yield lambda: SqlaUnitOfWork(sql, feed)
    await sql.close()
    await engine.dispose()


def job(name: str = "j", user: str = "u1", created: datetime = T0) -> Job:
    return Job(
        user_id=user,
        user_email=f"{user}@example.org",
        job_name=name,
        environment="cloud",
        priority=1,
        spec=JobSpec("decode", "v1", "train"),
        files_down=FilesDown("exp1", ("a", "b"), ()),
        env_vars={"SEED": "1"},
        hardware=None,
        date_created=created,
    )


async def add(new_uow: NewUnitOfWork, *jobs: Job) -> list[Job]:
    async with new_uow() as uow:
        added = [await uow.jobs.add(one) for one in jobs]
        await uow.commit()
    return added


async def test_a_job_is_kept_with_every_field_only_once_committed(new_uow: NewUnitOfWork) -> None:
    async with new_uow() as uow:
        added = await uow.jobs.add(job())
        assert added.id > 0
        assert await uow.jobs.get(added.id) == added
        async with new_uow() as other:
            assert await other.jobs.get(added.id) is None
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.jobs.get(added.id) == added
    assert msgspec.structs.replace(added, id=0) == job()


async def test_leaving_without_commit_keeps_nothing(new_uow: NewUnitOfWork) -> None:
    [kept] = await add(new_uow, job("kept"))
    async with new_uow() as uow:
        dropped = await uow.jobs.add(job("dropped"))
        await uow.jobs.delete(kept.id)
    async with new_uow() as uow:
        assert await uow.jobs.get(dropped.id) is None
        assert await uow.jobs.get(kept.id) == kept


async def test_rollback_drops_the_changes_since_the_last_commit(new_uow: NewUnitOfWork) -> None:
    async with new_uow() as uow:
        first = await uow.jobs.add(job("first"))
        await uow.commit()
        second = await uow.jobs.add(job("second"))
        await uow.rollback()
        assert await uow.jobs.get(second.id) is None
        assert await uow.jobs.get(first.id) == first


async def test_one_name_per_user(new_uow: NewUnitOfWork) -> None:
    await add(new_uow, job("same"))
    with pytest.raises(AlreadyExists):
        async with new_uow() as uow:
            await uow.jobs.add(job("same"))
    [other] = await add(new_uow, job("same", user="u2"))
    assert other.user_id == "u2"


async def test_ids_are_never_reused(new_uow: NewUnitOfWork) -> None:
    [first] = await add(new_uow, job("first"))
    async with new_uow() as uow:
        await uow.jobs.delete(first.id)
        await uow.jobs.delete(first.id + 1000)  # missing: fine
        await uow.commit()
    [again] = await add(new_uow, job("first"))
    assert again.id > first.id
    async with new_uow() as uow:
        assert await uow.jobs.get(first.id) is None
        assert await uow.jobs.get(2**63) is None
        assert await uow.jobs.get(-1) is None


ALL, FIRST_TEN = JobQuery(), Window(0, 10)


def _round_trip(job: JobOut) -> JobOut:
    """`job` as its JSON reads (its tuples as lists)."""
    return msgspec.json.decode(msgspec.json.encode(job), type=JobOut)


async def listed(
    uow: UnitOfWork, query: JobQuery = ALL, window: Window = FIRST_TEN
) -> list[JobOut]:
    """The jobs of `u1` that `list_documents` answers, as `JobOut`s."""
    found = await uow.jobs.list_documents("u1", query, window)
    return [msgspec.json.decode(one, type=JobOut) for one in found]


async def test_a_user_lists_their_jobs_newest_first(new_uow: NewUnitOfWork) -> None:
    late = T0 + timedelta(hours=1)
    await add(new_uow, job("a"), job("b", created=late), job("c", created=late))
    await add(new_uow, job("theirs", user="u2"))
    async with new_uow() as uow:
        assert [one.job_name for one in await listed(uow)] == ["c", "b", "a"]
        page = await listed(uow, window=Window(1, 1))
        assert [one.job_name for one in page] == ["b"]
        assert await listed(uow, window=Window(10**12, 10)) == []
        assert await listed(uow, JobQuery(statuses=(JobState.RUNNING,))) == []


async def test_every_read_gives_a_job_its_tags(new_uow: NewUnitOfWork) -> None:
    tagged = msgspec.structs.replace(job("tagged"), tags={"experiment": "E-42", "sample": "s 1"})
    [with_tags, without] = await add(new_uow, tagged, job("plain"))
    async with new_uow() as uow:
        for for_update in (False, True):
            read = await uow.jobs.get(with_tags.id, for_update=for_update)
            plain = await uow.jobs.get(without.id, for_update=for_update)
            assert read is not None
            assert plain is not None
            assert (read.tags, plain.tags) == ({"experiment": "E-42", "sample": "s 1"}, {})
        assert {one.job_name: one.tags for one in await listed(uow)} == {
            "tagged": {"experiment": "E-42", "sample": "s 1"},
            "plain": {},
        }


async def test_an_update_keeps_status_dates_and_details(new_uow: NewUnitOfWork) -> None:
    [added] = await add(new_uow, job())
    async with new_uow() as uow:
        current = await uow.jobs.get(added.id, for_update=True)
        assert current is not None
        current.report(JobState.RUNNING, "started on gpu-1", T0 + timedelta(minutes=1))
        await uow.jobs.update(current)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.jobs.get(added.id) == current
        running = await listed(uow, JobQuery(statuses=(JobState.RUNNING,)))
        assert running == [_round_trip(JobOut.from_domain(current))]


async def test_jobs_stored_before_their_documents_list_the_same(
    database: str, new_uow: NewUnitOfWork
) -> None:
    """Jobs of before migration 0009 have no document: the list builds it from the row."""
    if database == "memory":
        pytest.skip("a database's rows only")
    tagged = msgspec.structs.replace(job("tagged"), tags={"exp": "A"})
    await add(new_uow, tagged, job("plain", created=T0 + timedelta(hours=1)))
    queries = [ALL, JobQuery(application="decode")]
    async with new_uow() as uow:
        stored = [await listed(uow, query) for query in queries]
    engine = create_engine(database.replace("sqlite://", "sqlite+aiosqlite://"))
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE jobs SET document = NULL"))
    await engine.dispose()
    async with new_uow() as uow:
        assert [await listed(uow, query) for query in queries] == stored
    assert [one.job_name for one in stored[0]] == ["plain", "tagged"]
