"""Failed sign-ins per account and per client address, in the `sign_in_attempts` table.

The database is the one place every process shares (`serve --workers N` on SQLite, or
replicas on PostgreSQL), so the limits hold however many processes answer. Each count
is one atomic upsert per key (`INSERT … ON CONFLICT DO UPDATE … RETURNING`, which both
SQLite and PostgreSQL have), so parallel attempts cannot slip past a limit.
"""

import time
from collections.abc import Collection, Mapping

from sqlalchemy import Float, Integer, String, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from decode_userapi.adapters.persistence.orm import Base


class SignInAttemptRow(Base):
    __tablename__ = "sign_in_attempts"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[float] = mapped_column(Float, index=True)
    """Seconds since the epoch."""
    attempts: Mapped[int] = mapped_column(Integer)


class SqlaSignInThrottle:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], window_seconds: int) -> None:
        self._sessions = sessions
        self._window = window_seconds

    async def count(self, limits: Mapping[str, int]) -> int | None:
        now = time.time()
        expired = now - self._window
        waits: list[float] = []
        async with self._sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            row = SignInAttemptRow
            for key in sorted(limits):  # one order everywhere: no deadlock between replicas
                fresh = row.window_start < expired
                statement = (
                    insert(row)
                    .values(key=key, window_start=now, attempts=1)
                    .on_conflict_do_update(
                        index_elements=[row.key],
                        set_={
                            "attempts": case((fresh, 1), else_=row.attempts + 1),
                            "window_start": case((fresh, now), else_=row.window_start),
                        },
                    )
                    .returning(row.attempts, row.window_start)
                )
                attempts, window_start = (await session.execute(statement)).one()
                if attempts > limits[key]:
                    waits.append(window_start + self._window - now)
            # Rows other transactions hold are left for a later prune: never wait here.
            stale = select(row.key).where(row.window_start < expired)
            await session.execute(
                delete(row).where(row.key.in_(stale.with_for_update(skip_locked=True)))
            )
        return max(1, round(max(waits))) if waits else None

    async def forgive(self, keys: Collection[str]) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(SignInAttemptRow)
                .where(SignInAttemptRow.key.in_(sorted(keys)), SignInAttemptRow.attempts > 0)
                .values(attempts=SignInAttemptRow.attempts - 1)
            )
