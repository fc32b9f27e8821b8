"""Alembic migrations go up, all the way down and up again, on SQLite and PostgreSQL."""

from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from decode_userapi.adapters.persistence import models  # noqa: F401  (registers tables)
from decode_userapi.adapters.persistence.database import create_engine, downgrade, upgrade
from decode_userapi.adapters.persistence.orm import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/migrations.sqlite"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    expected = {*Base.metadata.tables, "alembic_version"}

    await anyio.to_thread.run_sync(upgrade, database_url)
    assert await tables(database_url) == expected

    await anyio.to_thread.run_sync(downgrade, database_url, "base")
    assert await tables(database_url) <= {"alembic_version"}

    await anyio.to_thread.run_sync(upgrade, database_url)
    assert await tables(database_url) == expected


async def test_sqlite_keeps_ids_of_deleted_jobs_unused_across_migrations(tmp_path: Path) -> None:
    """0004 rebuilds the jobs table on SQLite; AUTOINCREMENT and its counter must survive."""
    url = f"sqlite+aiosqlite:///{tmp_path}/ids.sqlite"
    await anyio.to_thread.run_sync(upgrade, url, "0002_jobs")
    insert = text(
        "INSERT INTO jobs (user_id, job_name, priority, application, version, entrypoint,"
        " data_ids, artifact_ids, env_vars, status, date_created) VALUES ('u', :name, 0,"
        " 'a', 'v', 'e', '[]', '[]', '{}', 'queued', '2026-01-01')"
    )
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for name in ("first", "second"):
                await connection.execute(insert, {"name": name})
            await connection.execute(text("DELETE FROM jobs WHERE job_name = 'second'"))
        await anyio.to_thread.run_sync(upgrade, url)
        async with engine.begin() as connection:
            await connection.execute(insert, {"name": "third"})
            ids = (await connection.execute(text("SELECT id FROM jobs ORDER BY id"))).scalars()
            assert list(ids) == [1, 3]
    finally:
        await engine.dispose()
