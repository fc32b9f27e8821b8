"""Storage use, upload reservations and quota overrides per user, in SQL.

Each change opens with an upsert of the user's `user_usage` row, which takes the row's
lock (PostgreSQL) or the database's write lock (SQLite) until the transaction ends, so
the check against the quota and the change it allows are one atomic step for every
process and replica.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import Identity
from sqlalchemy.types import BigInteger, DateTime, Integer, String

from decode_userapi.adapters.persistence.driver import Prepared, SqlConnection
from decode_userapi.adapters.persistence.orm import Base
from decode_userapi.domain.errors import NotFound
from decode_userapi.domain.quotas import Account, Limits, Usage, storage_quota_exceeded
from decode_userapi.ports.usage_ledger import Reservation


class UsageRow(Base):
    __tablename__ = "user_usage"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_files: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_files: Mapped[int] = mapped_column(BigInteger, default=0)
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    """Overrides: NULL keeps the default, -1 is unlimited."""
    quota_files: Mapped[int | None] = mapped_column(BigInteger)
    quota_running_jobs: Mapped[int | None] = mapped_column(Integer)


class ReservationRow(Base):
    __tablename__ = "upload_reservations"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    files: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def _usage(row: UsageRow | None) -> Usage:
    if row is None:
        return Usage()
    return Usage(row.used_bytes, row.used_files, row.reserved_bytes, row.reserved_files)


def _overrides(row: UsageRow | None) -> Limits:
    if row is None:
        return Limits()
    return Limits(row.quota_bytes, row.quota_files, row.quota_running_jobs)


def _not_below_zero(value: ColumnElement[int]) -> ColumnElement[int]:
    return case((value < 0, 0), else_=value)


def _usage_row_upsert(dialect: str, user_id: Any) -> Any:
    """Inserts the user's row when missing, else rewrites its id: either way the row is
    locked until the transaction ends."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(UsageRow)
        .values(user_id=user_id, used_bytes=0, used_files=0, reserved_bytes=0, reserved_files=0)
        .on_conflict_do_update(index_elements=[UsageRow.user_id], set_={"user_id": user_id})
    )


async def lock_usage_row(session: AsyncSession, user_id: str) -> UsageRow:
    """The user's row, created when missing, locked until the transaction ends."""
    statement = (
        _usage_row_upsert(session.get_bind().dialect.name, user_id)
        .returning(UsageRow)
        .execution_options(populate_existing=True)
    )
    row: UsageRow = (await session.execute(statement)).scalar_one()
    return row


_LOCK_USAGE = Prepared(lambda dialect: _usage_row_upsert(dialect, bindparam("user_id")))


async def lock_usage(connection: SqlConnection, user_id: str) -> None:
    """`lock_usage_row` for a unit of work on the driver (`driver.SqlConnection`)."""
    await connection.run(_LOCK_USAGE, {"user_id": user_id})


class SqlaUsageLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], defaults: Limits) -> None:
        self._sessions = sessions
        self._defaults = defaults

    def _account(self, user_id: str, row: UsageRow | None) -> Account:
        overrides = _overrides(row)
        return Account(
            user_id=user_id,
            usage=_usage(row),
            overrides=overrides,
            limits=self._defaults.over(overrides),
        )

    async def account(self, user_id: str) -> Account:
        async with self._sessions() as session:
            row = await session.get(UsageRow, user_id)
            return self._account(user_id, row)

    async def _hold(
        self, session: AsyncSession, user_id: str, bytes: int, files: int, *, declared: bool
    ) -> None:
        """Add to the reservations of the locked row, or `StorageQuotaExceeded`."""
        row = await lock_usage_row(session, user_id)
        account = self._account(user_id, row)
        limits, usage = account.limits, account.usage
        over_bytes = limits.bytes is not None and (
            usage.used_bytes + usage.reserved_bytes + bytes > limits.bytes
        )
        over_files = limits.files is not None and (
            usage.used_files + usage.reserved_files + files > limits.files
        )
        if (over_bytes and bytes > 0) or (over_files and files > 0):
            raise storage_quota_exceeded(limits, usage, bytes, declared=declared)
        await session.execute(
            update(UsageRow)
            .where(UsageRow.user_id == user_id)
            .values(
                reserved_bytes=UsageRow.reserved_bytes + bytes,
                reserved_files=UsageRow.reserved_files + files,
            )
        )

    async def reserve(
        self, user_id: str, *, bytes: int, files: int, expires_at: datetime
    ) -> Reservation:
        async with self._sessions() as session, session.begin():
            await self._hold(session, user_id, bytes, files, declared=bytes > 0)
            row = ReservationRow(user_id=user_id, bytes=bytes, files=files, expires_at=expires_at)
            session.add(row)
            await session.flush()
            return Reservation(row.id, user_id, bytes, files)

    async def grow(self, reservation: Reservation, bytes: int) -> Reservation:
        async with self._sessions() as session, session.begin():
            await self._hold(session, reservation.user_id, bytes, 0, declared=False)
            grown = await session.execute(
                update(ReservationRow)
                .where(ReservationRow.id == reservation.id)
                .values(bytes=ReservationRow.bytes + bytes)
            )
            if grown.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound("The upload's reservation expired; start the upload again.")
        return Reservation(reservation.id, reservation.user_id, reservation.bytes + bytes, 0)

    async def _drop(self, session: AsyncSession, reservation: Reservation) -> bool:
        """Remove the reservation row and its hold on the user's row; False when it was
        gone already (released as expired), so nothing is taken off twice."""
        await lock_usage_row(session, reservation.user_id)
        held = (
            await session.execute(
                delete(ReservationRow)
                .where(ReservationRow.id == reservation.id)
                .returning(ReservationRow.bytes, ReservationRow.files)
            )
        ).first()
        if held is None:
            return False
        await session.execute(
            update(UsageRow)
            .where(UsageRow.user_id == reservation.user_id)
            .values(
                reserved_bytes=_not_below_zero(UsageRow.reserved_bytes - held.bytes),
                reserved_files=_not_below_zero(UsageRow.reserved_files - held.files),
            )
        )
        return True

    async def settle(self, reservation: Reservation, *, bytes: int, files: int) -> None:
        async with self._sessions() as session, session.begin():
            await self._drop(session, reservation)
            await self._change_use(session, reservation.user_id, bytes, files)

    async def release(self, reservation: Reservation) -> None:
        async with self._sessions() as session, session.begin():
            await self._drop(session, reservation)

    async def _change_use(
        self, session: AsyncSession, user_id: str, bytes: int, files: int
    ) -> None:
        await lock_usage_row(session, user_id)
        await session.execute(
            update(UsageRow)
            .where(UsageRow.user_id == user_id)
            .values(
                used_bytes=_not_below_zero(UsageRow.used_bytes + bytes),
                used_files=_not_below_zero(UsageRow.used_files + files),
            )
        )

    async def add(self, user_id: str, *, bytes: int, files: int) -> None:
        async with self._sessions() as session, session.begin():
            await self._change_use(session, user_id, bytes, files)

    async def set_used(self, user_id: str, *, bytes: int, files: int) -> None:
        async with self._sessions() as session, session.begin():
            await lock_usage_row(session, user_id)
            await session.execute(
                update(UsageRow)
                .where(UsageRow.user_id == user_id)
                .values(used_bytes=bytes, used_files=files)
            )

    async def set_overrides(self, user_id: str, overrides: Limits) -> Account:
        async with self._sessions() as session, session.begin():
            await lock_usage_row(session, user_id)
            await session.execute(
                update(UsageRow)
                .where(UsageRow.user_id == user_id)
                .values(
                    quota_bytes=overrides.bytes,
                    quota_files=overrides.files,
                    quota_running_jobs=overrides.running_jobs,
                )
            )
            row = await session.get(UsageRow, user_id, populate_existing=True)
            return self._account(user_id, row)

    async def release_expired(self, now: datetime, *, dry_run: bool = False) -> list[Reservation]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(ReservationRow)
                    .where(ReservationRow.expires_at < now)
                    .order_by(ReservationRow.id)
                )
            ).scalars()
            expired = [Reservation(r.id, r.user_id, r.bytes, r.files) for r in rows]
        if not dry_run:
            for reservation in expired:
                await self.release(reservation)
        return expired

    async def user_ids(self) -> list[str]:
        async with self._sessions() as session:
            return list((await session.execute(select(UsageRow.user_id))).scalars())
