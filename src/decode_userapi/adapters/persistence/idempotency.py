"""Idempotency keys in SQL: one row per user and key, deleted with the job it made."""

from datetime import datetime
from typing import cast

from sqlalchemy import DateTime, ForeignKey, Integer, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from decode_userapi.adapters.persistence.orm import Base
from decode_userapi.domain.idempotency import KeyUse


class IdempotencyKeyRow(Base):
    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


KEYS = cast(Table, IdempotencyKeyRow.__table__)


class SqlaIdempotencyKeys:
    """The primary key (user, key) decides between concurrent claims: PostgreSQL makes
    the second insert wait for the first transaction, then fails it; SQLite lets one
    writer at a time in, and the next one finds the row."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, user_id: str, key: str, *, since: datetime) -> KeyUse | None:
        row = (
            await self._session.execute(
                select(KEYS.c.request_hash, KEYS.c.job_id).where(
                    KEYS.c.user_id == user_id, KEYS.c.key == key, KEYS.c.date_created >= since
                )
            )
        ).first()
        return None if row is None else KeyUse(row.request_hash, row.job_id)

    async def claim(
        self, user_id: str, key: str, fingerprint: str, *, now: datetime, since: datetime
    ) -> bool:
        # Keys of this user past their time go first (the index on the primary key finds
        # them), which also frees this key when its use has expired.
        await self._session.execute(
            delete(KEYS).where(KEYS.c.user_id == user_id, KEYS.c.date_created < since)
        )
        try:
            await self._session.execute(
                insert(KEYS).values(
                    user_id=user_id, key=key, request_hash=fingerprint, date_created=now
                )
            )
        except IntegrityError:
            return False  # the unit of work that owns the session rolls back
        return True

    async def attach(self, user_id: str, key: str, job_id: int) -> None:
        await self._session.execute(
            update(KEYS).where(KEYS.c.user_id == user_id, KEYS.c.key == key).values(job_id=job_id)
        )
