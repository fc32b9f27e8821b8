"""Job events in SQL (`job_events`), and the wake-up of readers when new ones commit.

Ids come from the table's autoincrement, which hands them out at insert time, not at
commit: two transactions of one user could commit out of id order, and a reader that
saw the later id would skip the earlier one for ever. On PostgreSQL the recording
transaction therefore takes a per-user advisory lock (held until it ends) before it takes
an id, so a user's events commit in id order; SQLite has one writer at a time anyway.
On PostgreSQL the same transaction sends `pg_notify('job_events', <user id>)`, which is
delivered to every listening server process on commit only.
"""

from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from sqlalchemy import Select, bindparam, select, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import ForeignKey, Identity, Index, Table
from sqlalchemy.types import BigInteger, DateTime, Integer, String, Text

from decode_userapi.adapters.persistence.driver import Prepared, SqlConnection
from decode_userapi.adapters.persistence.orm import Base
from decode_userapi.domain.job_events import JobEvent
from decode_userapi.ports.job_events import MAX_EVENTS_PER_READ

CHANNEL = "job_events"
"""The PostgreSQL notification channel; the payload is the user id."""
_LOCK_CLASS = 0x6A6F6265
"""First key of the per-user advisory lock (`pg_advisory_xact_lock(class, hashtext(user))`)."""


class JobEventRow(Base):
    __tablename__ = "job_events"
    __table_args__ = (
        Index("ix_job_events_user_id_id", "user_id", "id"),
        Index("ix_job_events_job_id_id", "job_id", "id"),
        # AUTOINCREMENT: SQLite never hands out the id of a deleted event again, so a
        # reader that resumes after it cannot miss a newer event with a reused id.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(255))
    job_id: Mapped[int] = mapped_column(Integer, ForeignKey("jobs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    """The event as JSON (`JobEvent`, its id left out)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


_EVENTS = cast(Table, JobEventRow.__table__)
_decoder = msgspec.json.Decoder(JobEvent)
_LOCK = Prepared(lambda _: text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:user_id))"))
_NOTIFY = Prepared(lambda _: text("SELECT pg_notify(:channel, :user_id)"))
_INSERT = Prepared(
    lambda _: _EVENTS.insert().values(
        {
            name: bindparam(name, type_=_EVENTS.c[name].type)
            for name in ("user_id", "job_id", "kind", "payload", "created_at")
        }
    )
)


def _after(of_one_job: bool) -> Prepared:
    def build(_: str) -> Select[Any]:
        query = select(_EVENTS.c.id, _EVENTS.c.payload).where(
            _EVENTS.c.user_id == bindparam("user_id"), _EVENTS.c.id > bindparam("last_id")
        )
        if of_one_job:
            query = query.where(_EVENTS.c.job_id == bindparam("job_id"))
        return query.order_by(_EVENTS.c.id).limit(MAX_EVENTS_PER_READ)

    return Prepared(build)


_AFTER = {False: _after(False), True: _after(True)}


class SqlaJobEventLog:
    """The job events of one unit of work; remembers whose events it recorded, so the
    unit of work can wake this process's readers after the commit."""

    def __init__(self, connection: SqlConnection) -> None:
        self._connection = connection
        self.recorded_for: set[str] = set()

    async def record(self, event: JobEvent) -> None:
        on_postgres = self._connection.dialect.name == "postgresql"
        if on_postgres and event.user_id not in self.recorded_for:
            await self._connection.run(_LOCK, {"lock_class": _LOCK_CLASS, "user_id": event.user_id})
        await self._connection.run(
            _INSERT,
            {
                "user_id": event.user_id,
                "job_id": event.job_id,
                "kind": event.kind.value,
                "payload": msgspec.json.encode(event).decode(),
                "created_at": datetime.now(UTC),
            },
        )
        if on_postgres:
            await self._connection.run(_NOTIFY, {"channel": CHANNEL, "user_id": event.user_id})
        self.recorded_for.add(event.user_id)

    async def after(
        self, user_id: str, last_id: int, *, job_id: int | None = None
    ) -> list[JobEvent]:
        rows = await self._connection.rows(
            _AFTER[job_id is not None], {"user_id": user_id, "last_id": last_id, "job_id": job_id}
        )
        return [
            msgspec.structs.replace(_decoder.decode(payload), id=event_id)
            for event_id, payload in rows
        ]
