"""Alembic environment: runs migrations on the async engine of the configured URL."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from decode_userapi.adapters.persistence import models  # noqa: F401  (registers tables)
from decode_userapi.adapters.persistence.orm import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


url = context.config.get_main_option("sqlalchemy.url")
assert url is not None
asyncio.run(_run_async(url))
