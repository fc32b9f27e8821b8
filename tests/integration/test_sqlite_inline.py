"""SQLite connections that run on the event loop's thread (`sqlite_inline`)."""

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import text

from decode_userapi.adapters.persistence.database import create_engine


async def test_a_write_waits_for_another_connections_lock_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def commit_later() -> None:
        await asyncio.sleep(0.3)
        holder.execute("COMMIT")

    ticker, committer = asyncio.create_task(tick()), asyncio.create_task(commit_later())
    try:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one()
    finally:
        ticker.cancel()
        await committer
        holder.close()
        await engine.dispose()

    assert count == 1
    assert ticks >= 10  # the loop ran on while the insert waited ~0.3 s for the lock
