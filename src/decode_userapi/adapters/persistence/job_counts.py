"""Jobs per state across all users, for the metrics."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from decode_userapi.adapters.persistence.jobs import JobRow


async def count_jobs_by_state(database_url: str) -> dict[str, int]:
    """`{state: number of jobs}` on a connection of its own (opened and closed here)."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(JobRow.status, func.count()).group_by(JobRow.status)
            )
            return {str(status): int(count) for status, count in rows.all()}
    finally:
        await engine.dispose()
