"""PostgreSQL through asyncpg: the service survives a database restart."""

from sqlalchemy import text

from decode_userapi.adapters.persistence.database import create_engine
from tests.servers.postgres import PostgresServer


async def test_engine_reconnects_after_the_server_restarts(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            before = await connection.scalar(text("SELECT pg_backend_pid()"))

        postgres_server.restart()

        async with engine.connect() as connection:
            after = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert after != before
    finally:
        await engine.dispose()
