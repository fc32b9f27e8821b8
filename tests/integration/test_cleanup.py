"""Retention and the running-jobs quota on both stacks: `decode-userapi cleanup` (also
killed half-way, also as a dry run), the periodic cleanup of `serve`, and jobs refused
past the running-jobs quota."""

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks.stub_server import StubServer
from decode_userapi.adapters.persistence.database import create_engine
from decode_userapi.entrypoints.container import Container, build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings
from tests.integration import test_jobs_api as jobs_api
from tests.integration.cli_run import cli, cli_environment
from tests.integration.test_jobs_api import (
    Caller,
    Client,
    Registry,
    put_file,
    set_status,
    start,
)

worker_api, mailjet, registry = jobs_api.worker_api, jobs_api.mailjet, jobs_api.registry
fast_retries, alice = jobs_api.fast_retries, jobs_api.alice

RETENTION = {"JOB_RETENTION_DAYS": "30"}


@pytest.fixture
def settings(
    settings: Settings, worker_api: StubServer, mailjet: StubServer, registry: Registry
) -> Settings:
    return msgspec.structs.replace(
        jobs_api.with_stand_ins(settings, worker_api, mailjet, registry), quota_running_jobs=3
    )


@dataclass(frozen=True)
class Arrange:
    """Puts in place what a test starts from, behind the API's back where it must."""

    client: Client
    container: Container
    settings: Settings

    async def ended_job(
        self,
        owner: Caller,
        name: str,
        *,
        days_ago: float,
        results: dict[str, bytes],
        status: str = "finished",
    ) -> int:
        """A job that ended `days_ago`, with result files (path under the job's folders)."""
        job = await start(self.client, owner, name)
        for path, content in results.items():
            await self.file(owner, path, content)
        await set_status(self.client, job["id"], status)
        moment = datetime.now(UTC) - timedelta(days=days_ago)
        await set_date_finished(self.settings, job["id"], moment)
        job_id: int = job["id"]
        return job_id

    async def file(self, owner: Caller, path: str, content: bytes) -> None:
        await put_file(self.container, owner, path, content)


@pytest.fixture
def arrange(client: Client, container: Container, settings: Settings) -> Arrange:
    return Arrange(client, container, settings)


async def set_date_finished(settings: Settings, job_id: int, moment: datetime) -> None:
    """Back-dates a job in the database. On SQLite through the `sqlite3` module: an engine
    of ours opens and closes the database file to create it, and closing any descriptor
    of the file drops the SQLite locks the app's connections in this process hold."""
    if settings.database_url.startswith("sqlite"):
        path = make_url(settings.database_url).database
        assert path is not None
        with contextlib.closing(sqlite3.connect(path)) as database:
            naive = moment.astimezone(UTC).replace(tzinfo=None)
            database.execute(
                "UPDATE jobs SET date_finished = ? WHERE id = ?",
                (naive.strftime("%Y-%m-%d %H:%M:%S.%f"), job_id),
            )
            database.commit()
        return
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE jobs SET date_finished = :moment WHERE id = :id"),
                {"moment": moment, "id": job_id},
            )
    finally:
        await engine.dispose()


async def job_names(client: Client, owner: Caller) -> list[str]:
    response = await client.get("/jobs", headers=owner.headers)
    return sorted(job["job_name"] for job in response.json())


async def everything(client: Client, owner: Caller) -> list[dict[str, Any]]:
    response = await client.get("/files/?recursive=1", headers=owner.headers)
    listed: list[dict[str, Any]] = response.json()
    return listed


async def usage(client: Client, owner: Caller) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/user", headers=owner.headers)).json()["usage"]
    return body


def log_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def kill_at_first_removal(settings: Settings, cwd: Path) -> int:
    """Runs `cleanup` and kills it (SIGKILL) as soon as it logs its first removed job;
    returns its exit code."""
    process = subprocess.Popen(
        [sys.executable, "-m", "decode_userapi", "cleanup"],
        env=cli_environment(settings, **RETENTION),
        cwd=cwd,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    try:
        for line in process.stderr:
            if line.startswith("{") and json.loads(line).get("removal") == "job":
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.kill()
        process.wait(timeout=60)
    return process.returncode


async def test_jobs_past_the_running_jobs_quota_are_refused_with_409(
    client: Client, alice: Caller
) -> None:
    first = await start(client, alice, "one")
    await start(client, alice, "two")
    await start(client, alice, "three")
    refused = await client.post(
        "/jobs", json=jobs_api.job_body("four", inputs=False), headers=alice.headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        "Running-jobs quota of 3 reached: you have 3 jobs not finished or failed. Wait for "
        "one to end, or delete one."
    )
    user = (await client.get("/user", headers=alice.headers)).json()
    assert user["usage"]["running_jobs"] == 3
    assert user["limits"]["running_jobs"] == 3
    await set_status(client, first["id"], "error")
    assert (await start(client, alice, "four"))["status"] == "queued"


async def test_cleanup_removes_expired_jobs_with_their_results_and_logs_each(
    client: Client, settings: Settings, alice: Caller, tmp_path: Path, arrange: Arrange
) -> None:
    await arrange.ended_job(
        alice,
        "old",
        days_ago=40,
        results={"output/old/result.bin": b"r" * 300, "log/old/run.log": b"l" * 50},
    )
    await arrange.ended_job(
        alice,
        "failed",
        days_ago=31,
        results={"artifact/failed/model.pt": b"m" * 20},
        status="error",
    )
    await arrange.ended_job(
        alice, "recent", days_ago=29, results={"output/recent/result.bin": b"r" * 10}
    )
    await start(client, alice, "running")
    await arrange.file(alice, "output/running/partial.bin", b"p" * 5)

    done = cli(settings, tmp_path, "cleanup", **RETENTION)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("decode-userapi cleanup: removed 2 job(s) (370 Bytes)"), (
        done.stdout
    )
    removals = [line for line in log_lines(done.stderr) if line.get("removal") == "job"]
    assert sorted((line["user_id"], line["bytes_freed"]) for line in removals) == [
        (alice.id, 20),
        (alice.id, 350),
    ]
    assert all(line["logger"] == "decode_userapi.cleanup" for line in removals)
    assert await job_names(client, alice) == ["recent", "running"]
    files = [entry["path"] for entry in await everything(client, alice) if entry["type"] == "file"]
    assert files == ["output/recent/result.bin", "output/running/partial.bin"]
    assert await usage(client, alice) == {"bytes": 15, "files": 2, "running_jobs": 1}


async def test_without_a_retention_cleanup_keeps_every_job(
    client: Client, settings: Settings, alice: Caller, tmp_path: Path, arrange: Arrange
) -> None:
    await arrange.ended_job(alice, "old", days_ago=400, results={})
    done = cli(settings, tmp_path, "cleanup")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("decode-userapi cleanup: removed 0 job(s) (0 Bytes)")
    assert await job_names(client, alice) == ["old"]


async def test_a_dry_run_removes_nothing(
    client: Client, settings: Settings, alice: Caller, tmp_path: Path, arrange: Arrange
) -> None:
    await arrange.ended_job(
        alice, "old", days_ago=40, results={"output/old/result.bin": b"r" * 300}
    )
    staged = Path(settings.user_data_root_path) / ".staging" / "elsewhere~1~abandoned"
    if settings.filesystem == "local":
        staged.write_bytes(b"s" * 7)
        os.utime(staged, (time.time() - 7200, time.time() - 7200))
    before = (
        await job_names(client, alice),
        await everything(client, alice),
        await usage(client, alice),
    )

    dry = cli(settings, tmp_path, "cleanup", "--dry-run", **RETENTION)

    assert dry.returncode == 0, dry.stderr
    expected = "decode-userapi cleanup: would remove 1 job(s) (300 Bytes)"
    if settings.filesystem == "local":
        expected += ", 1 staged upload(s) (7 Bytes)"
        assert staged.read_bytes() == b"s" * 7
    assert dry.stdout.startswith(expected), dry.stdout
    assert "1 would be corrected" in dry.stdout  # the results reached storage without us
    after = (
        await job_names(client, alice),
        await everything(client, alice),
        await usage(client, alice),
    )
    assert after == before

    done = cli(settings, tmp_path, "cleanup", **RETENTION)
    assert done.stdout.startswith(expected.replace("would remove", "removed")), done.stdout
    assert await job_names(client, alice) == []
    assert not staged.exists()


async def test_a_cleanup_killed_half_way_leaves_nothing_the_next_run_cannot_finish(
    client: Client, settings: Settings, alice: Caller, tmp_path: Path, arrange: Arrange
) -> None:
    names = [f"old-{number:02}" for number in range(24)]
    for name in names:
        await arrange.ended_job(
            alice,
            name,
            days_ago=40,
            results={f"output/{name}/a.bin": b"a" * 100, f"log/{name}/b.log": b"b" * 10},
        )
    await arrange.file(alice, "data/keep.bin", b"k" * 42)

    assert kill_at_first_removal(settings, tmp_path) == -signal.SIGKILL

    left = await job_names(client, alice)
    assert 0 < len(left) < len(names), "the kill should land half-way"
    folders = {entry["path"] for entry in await everything(client, alice)}
    for name in set(names) - set(left):  # a job that is gone left no results behind
        assert not {f"output/{name}/", f"log/{name}/", f"artifact/{name}/"} & folders, name

    again = cli(settings, tmp_path, "cleanup", **RETENTION)

    assert again.returncode == 0, again.stderr
    assert await job_names(client, alice) == []
    files = [entry["path"] for entry in await everything(client, alice) if entry["type"] == "file"]
    assert files == ["data/keep.bin"]
    assert await usage(client, alice) == {"bytes": 42, "files": 1, "running_jobs": 0}


async def test_serve_runs_the_cleanup_periodically_when_asked(
    settings: Settings, client: Client, alice: Caller, arrange: Arrange
) -> None:
    await arrange.ended_job(alice, "old", days_ago=40, results={})
    await arrange.ended_job(alice, "recent", days_ago=1, results={})
    periodic = msgspec.structs.replace(settings, cleanup_interval_seconds=1, job_retention_days=30)
    async with AsyncTestClient(create_app(build_container(periodic))) as other:
        deadline = time.monotonic() + 30
        while (left := await job_names(other, alice)) != ["recent"]:
            assert time.monotonic() < deadline, left
            await asyncio.sleep(0.2)
