from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from decode_userapi.adapters.memory.catalog import StaticApplicationCatalog
from decode_userapi.adapters.memory.jobs import InMemoryUnitOfWork
from decode_userapi.adapters.memory.usage import InMemoryUsageLedger
from decode_userapi.adapters.memory.worker_gateway import RecordingWorkerGateway
from decode_userapi.adapters.storage.local import LocalFileStorage
from decode_userapi.domain.applications import ApplicationRegistry
from decode_userapi.domain.errors import (
    AlreadyExists,
    InvalidInput,
    Mismatch,
    UpstreamRejected,
    UpstreamUnavailable,
)
from decode_userapi.domain.files import FileRef
from decode_userapi.domain.idempotency import Once
from decode_userapi.domain.jobs import FilesDown, Hardware, JobSpec, NewJob
from decode_userapi.domain.users import User
from decode_userapi.ports.worker_gateway import QueuedJob
from decode_userapi.services.files.space import UserSpaces
from decode_userapi.services.jobs.submit import SubmitJob
from tests.registry_examples import NO_HARDWARE, queued_handler, registry_document

ALICE = User(id="id-alice", email="alice@example.org", groups=("users",))
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def put(storage: LocalFileStorage, path: str, content: bytes = b"x") -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield content

    await storage.write(FileRef.parse(path), chunks(), max_bytes=1000)


class World:
    def __init__(self, root: Path) -> None:
        self.uow = InMemoryUnitOfWork()
        self.gateway = RecordingWorkerGateway()
        self.storage = LocalFileStorage(root)
        self.submit = self.submitting_to(self.gateway)

    def submitting_to(self, gateway: RecordingWorkerGateway) -> SubmitJob:
        return SubmitJob(
            self.uow,
            StaticApplicationCatalog(ApplicationRegistry.parse(registry_document())),
            UserSpaces(self.storage),
            gateway,
            InMemoryUsageLedger(),
            clock=lambda: NOW,
        )


@pytest.fixture
async def world(tmp_path: Path) -> World:
    built = World(tmp_path)
    await put(built.storage, "id-alice/config/exp1/param.yaml")
    await put(built.storage, "id-alice/data/run/calib.mat")
    return built


def new_job(name: str = "exp-1", config: str = "exp1") -> NewJob:
    return NewJob(
        job_name=name,
        spec=JobSpec("decode", "v1", "train"),
        files_down=FilesDown(config, ("run",)),
        env_vars={"SEED": "7"},
        priority=3,
    )


async def test_submit_stores_and_queues(world: World, tmp_path: Path) -> None:
    job = await world.submit(ALICE, new_job())
    assert list(world.uow.committed) == [job.id]
    [queued] = world.gateway.queued
    assert msgspec.to_builtins(queued) == {
        "job": {
            "app": {"cmd": ["decode", "--train"], "env": {"SEED": "7"}},
            "handler": queued_handler(
                {
                    "config/param.yaml": f"{tmp_path}/id-alice/config/exp1/param.yaml",
                    "data/calib.mat": f"{tmp_path}/id-alice/data/run/calib.mat",
                }
            ),
            "meta": {"job_id": job.id, "date_created": "2026-01-02T03:04:05+00:00"},
            "hardware": NO_HARDWARE,
        },
        "environment": None,
        "group": None,
        "priority": 3,
        "paths_upload": {
            "output": f"{tmp_path}/id-alice/output/exp-1",
            "log": f"{tmp_path}/id-alice/log/exp-1",
            "artifact": f"{tmp_path}/id-alice/artifact/exp-1",
        },
    }


@pytest.mark.parametrize(
    "failure",
    [UpstreamUnavailable("worker API down"), UpstreamRejected("worker API said 422")],
)
async def test_enqueue_failure_keeps_nothing(world: World, failure: Exception) -> None:
    world.gateway.failure = failure
    with pytest.raises(type(failure)):
        await world.submit(ALICE, new_job())
    assert world.uow.committed == {}
    world.gateway.failure = None
    job = await world.submit(ALICE, new_job())
    assert job.job_name == "exp-1"
    assert list(world.uow.committed) == [job.id]


async def test_duplicate_name_is_refused_before_queueing(world: World) -> None:
    await world.submit(ALICE, new_job())
    with pytest.raises(AlreadyExists):
        await world.submit(ALICE, new_job())
    assert len(world.gateway.queued) == 1


async def test_missing_input_folder_is_named(world: World) -> None:
    with pytest.raises(InvalidInput, match="'config/nope/'"):
        await world.submit(ALICE, new_job(config="nope"))
    assert world.gateway.queued == []


async def test_another_users_folder_is_not_visible(world: World) -> None:
    bob = User(id="id-bob", email=None, groups=("users",))
    with pytest.raises(InvalidInput, match="'config/exp1/'"):
        await world.submit(bob, new_job())


async def test_hardware_and_environment_are_passed_on(world: World) -> None:
    wanted = Hardware(cpu_cores=8, memory=16000, gpu_model="A100", gpu_archi="ampere", gpu_mem=40)
    request = msgspec.structs.replace(new_job(), hardware=wanted, environment="local")
    job = await world.submit(ALICE, request)
    [queued] = world.gateway.queued
    assert job.hardware == wanted
    assert msgspec.to_builtins(queued.job.hardware) == msgspec.to_builtins(wanted)
    assert queued.environment == "local"


async def test_the_worker_hears_only_of_a_committed_job(world: World) -> None:
    """A worker may report a job `pulled` before the enqueue call returns: the job must
    already be in the database by then."""
    committed_at_enqueue: list[set[int]] = []

    class Watching(RecordingWorkerGateway):
        async def enqueue(self, job: QueuedJob) -> None:
            committed_at_enqueue.append(set(world.uow.committed))
            await super().enqueue(job)

    world.submit = world.submitting_to(Watching())
    job = await world.submit(ALICE, new_job())
    assert committed_at_enqueue == [{job.id}]


@pytest.mark.parametrize("kind", ["output", "log", "artifact"])
async def test_a_job_never_takes_over_an_existing_folder(world: World, kind: str) -> None:
    await put(world.storage, f"id-alice/{kind}/exp-1/mine.txt")
    with pytest.raises(AlreadyExists, match=f"'{kind}/exp-1/'"):
        await world.submit(ALICE, new_job())
    assert world.uow.committed == {}
    assert world.gateway.queued == []


async def test_an_idempotency_key_expires_after_its_time(world: World) -> None:
    now = [NOW]
    world.submit = SubmitJob(
        world.uow,
        StaticApplicationCatalog(ApplicationRegistry.parse(registry_document())),
        UserSpaces(world.storage),
        world.gateway,
        InMemoryUsageLedger(),
        clock=lambda: now[0],
        idempotency_ttl_seconds=60,
    )
    once = Once.of("k", new_job())
    first = await world.submit.once(ALICE, new_job(), once)
    now[0] = NOW + timedelta(seconds=60)
    replayed = await world.submit.once(ALICE, new_job(), once)
    assert (replayed.job.id, replayed.replayed) == (first.job.id, True)
    with pytest.raises(Mismatch, match="'k'"):
        await world.submit.once(ALICE, new_job("exp-2"), Once.of("k", new_job("exp-2")))
    now[0] = NOW + timedelta(seconds=61)
    later = await world.submit.once(ALICE, new_job("exp-2"), Once.of("k", new_job("exp-2")))
    assert later.replayed is False
    assert later.job.id != first.job.id
