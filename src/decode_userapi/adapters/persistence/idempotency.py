"""Idempotency keys in SQL: one row per user and key, deleted with the job it made."""

from datetime import datetime
from typing import cast

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import ForeignKey, Table
from sqlalchemy.types import DateTime, Integer, String

from decode_userapi.adapters.persistence.driver import Prepared, SqlConnection
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
_THIS_KEY = (KEYS.c.user_id == bindparam("user_id"), KEYS.c.key == bindparam("key"))
_FIND = Prepared(
    lambda _: select(KEYS.c.request_hash, KEYS.c.job_id).where(
        *_THIS_KEY, KEYS.c.date_created >= bindparam("since", type_=KEYS.c.date_created.type)
    )
)
_FORGET_EXPIRED = Prepared(
    lambda _: delete(KEYS).where(
        KEYS.c.user_id == bindparam("user_id"),
        KEYS.c.date_created < bindparam("since", type_=KEYS.c.date_created.type),
    )
)
_CLAIM = Prepared(
    lambda _: insert(KEYS).values(
        user_id=bindparam("user_id"),
        key=bindparam("key"),
        request_hash=bindparam("request_hash"),
        date_created=bindparam("now", type_=KEYS.c.date_created.type),
    )
)
_ATTACH = Prepared(lambda _: update(KEYS).where(*_THIS_KEY).values(job_id=bindparam("job_id")))


class SqlaIdempotencyKeys:
    """The primary key (user, key) decides between concurrent claims: PostgreSQL makes
    the second insert wait for the first transaction, then fails it; SQLite lets one
    writer at a time in, and the next one finds the row."""

    def __init__(self, connection: SqlConnection) -> None:
        self._connection = connection

    async def find(self, user_id: str, key: str, *, since: datetime) -> KeyUse | None:
        row = await self._connection.first(_FIND, {"user_id": user_id, "key": key, "since": since})
        return None if row is None else KeyUse(row[0], row[1])

    async def claim(
        self, user_id: str, key: str, fingerprint: str, *, now: datetime, since: datetime
    ) -> bool:
        # Keys of this user past their time go first (the index on the primary key finds
        # them), which also frees this key when its use has expired.
        await self._connection.run(_FORGET_EXPIRED, {"user_id": user_id, "since": since})
        claim = {"user_id": user_id, "key": key, "request_hash": fingerprint, "now": now}
        try:
            await self._connection.run(_CLAIM, claim)
        except IntegrityError:
            return False  # the unit of work that owns the connection rolls back
        return True

    async def attach(self, user_id: str, key: str, job_id: int) -> None:
        await self._connection.run(_ATTACH, {"user_id": user_id, "key": key, "job_id": job_id})
