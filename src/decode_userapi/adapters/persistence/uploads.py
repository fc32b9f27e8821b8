"""Resumable uploads in progress, in the `uploads` table: any replica can continue one.

A writer's lease is a conditional update (`busy_until` past or empty, offset as
expected), so of two requests that append to one upload at once exactly one proceeds.
"""

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON, BigInteger, DateTime, String, Text

from decode_userapi.adapters.persistence.orm import Base
from decode_userapi.domain.files import FileRef
from decode_userapi.domain.uploads import ResumableUpload, Staging


class UploadRow(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    target: Mapped[str] = mapped_column(Text)
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    busy_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    staging_handle: Mapped[str] = mapped_column(Text)
    staging_parts: Mapped[list[str]] = mapped_column(JSON)
    reservation_id: Mapped[int | None] = mapped_column(BigInteger)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _upload(row: UploadRow) -> ResumableUpload:
    return ResumableUpload(
        id=row.id,
        user_id=row.user_id,
        target=FileRef(tuple(row.target.split("/"))),
        length=row.length,
        offset=row.offset,
        expires_at=_aware(row.expires_at),
        staging=Staging(row.staging_handle, tuple(row.staging_parts)),
        reservation_id=row.reservation_id,
    )


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(UploadRow.busy_until.is_(None), UploadRow.busy_until < now)


class SqlaUploadRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, upload: ResumableUpload) -> None:
        async with self._sessions() as session, session.begin():
            session.add(
                UploadRow(
                    id=upload.id,
                    user_id=upload.user_id,
                    target=str(upload.target),
                    length=upload.length,
                    offset=upload.offset,
                    expires_at=upload.expires_at,
                    busy_until=None,
                    staging_handle=upload.staging.handle,
                    staging_parts=list(upload.staging.parts),
                    reservation_id=upload.reservation_id,
                )
            )

    async def get(self, upload_id: str, user_id: str) -> ResumableUpload | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(UploadRow).where(UploadRow.id == upload_id, UploadRow.user_id == user_id)
            )
            return None if row is None else _upload(row)

    async def _update(self, *conditions: ColumnElement[bool], **values: object) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(update(UploadRow).where(*conditions).values(**values))
            return bool(getattr(result, "rowcount", 0))

    async def claim(
        self, upload_id: str, user_id: str, offset: int, now: datetime, busy_until: datetime
    ) -> bool:
        return await self._update(
            UploadRow.id == upload_id,
            UploadRow.user_id == user_id,
            UploadRow.offset == offset,
            _free(now),
            busy_until=busy_until,
        )

    async def extend(self, upload_id: str, busy_until: datetime) -> None:
        await self._update(UploadRow.id == upload_id, busy_until=busy_until)

    async def record(
        self,
        upload_id: str,
        *,
        previous_offset: int,
        offset: int,
        staging: Staging,
        expires_at: datetime,
    ) -> bool:
        return await self._update(
            UploadRow.id == upload_id,
            UploadRow.offset == previous_offset,
            offset=offset,
            staging_handle=staging.handle,
            staging_parts=list(staging.parts),
            expires_at=expires_at,
            busy_until=None,
        )

    async def release(self, upload_id: str) -> None:
        await self._update(UploadRow.id == upload_id, busy_until=None)

    async def remove(self, upload_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(delete(UploadRow).where(UploadRow.id == upload_id))

    async def expired(self, now: datetime) -> list[ResumableUpload]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(UploadRow).where(UploadRow.expires_at <= now, _free(now))
            )
            return [_upload(row) for row in rows]
