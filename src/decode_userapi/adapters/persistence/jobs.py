"""Jobs in SQL: the ORM model, mappers to and from the domain, the repository."""

from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from sqlalchemy import (
    JSON,
    DateTime,
    Identity,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from decode_userapi.adapters.persistence.orm import Base
from decode_userapi.domain.errors import AlreadyExists
from decode_userapi.domain.jobs import Environment, FilesDown, Hardware, Job, JobSpec, JobState
from decode_userapi.ports.job_repository import MAX_PAGE_SIZE


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("user_id", "job_name"),
        # AUTOINCREMENT: SQLite never hands out the id of a deleted row again.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    user_email: Mapped[str | None] = mapped_column(String(320))
    job_name: Mapped[str] = mapped_column(String(255))
    environment: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    application: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(255))
    entrypoint: Mapped[str] = mapped_column(String(255))
    config_id: Mapped[str | None] = mapped_column(Text)
    data_ids: Mapped[list[str]] = mapped_column(JSON)
    artifact_ids: Mapped[list[str]] = mapped_column(JSON)
    env_vars: Mapped[dict[str, str]] = mapped_column(JSON)
    hardware: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32), index=True)
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    date_started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    date_finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    runtime_details: Mapped[str | None] = mapped_column(Text)


JOBS = cast(Table, JobRow.__table__)

_ENVIRONMENTS: dict[str, Environment] = {"cloud": "cloud", "local": "local"}


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; they were stored in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def to_domain(row: "JobRow | Row[Any]") -> Job:
    """A job from its ORM object or from a row of `JOBS` (same attribute names)."""
    hardware = row.hardware
    return Job(
        id=row.id,
        user_id=row.user_id,
        user_email=row.user_email,
        job_name=row.job_name,
        environment=_ENVIRONMENTS.get(row.environment or ""),
        priority=row.priority,
        spec=JobSpec(row.application, row.version, row.entrypoint),
        files_down=FilesDown(row.config_id, tuple(row.data_ids), tuple(row.artifact_ids)),
        env_vars=dict(row.env_vars),
        hardware=Hardware(**hardware) if hardware is not None else None,
        status=JobState(row.status),
        date_created=_utc(row.date_created) or row.date_created,
        date_started=_utc(row.date_started),
        date_finished=_utc(row.date_finished),
        runtime_details=row.runtime_details,
    )


def to_row(job: Job) -> JobRow:
    row = JobRow(
        user_id=job.user_id,
        user_email=job.user_email,
        job_name=job.job_name,
        environment=job.environment,
        priority=job.priority,
        application=job.spec.application,
        version=job.spec.version,
        entrypoint=job.spec.entrypoint,
        config_id=job.files_down.config_id,
        data_ids=list(job.files_down.data_ids),
        artifact_ids=list(job.files_down.artifact_ids),
        env_vars=dict(job.env_vars),
        hardware=None if job.hardware is None else msgspec.structs.asdict(job.hardware),
        date_created=job.date_created,
    )
    copy_progress(job, row)
    return row


def copy_progress(job: Job, row: JobRow) -> None:
    """The fields a status update changes."""
    row.status = job.status.value
    row.date_started = job.date_started
    row.date_finished = job.date_finished
    row.runtime_details = job.runtime_details


MAX_ID = 2**31 - 1
"""Ids are PostgreSQL `integer`s; a larger number names no job (and would not bind)."""


def _storable(job_id: int) -> bool:
    return 0 < job_id <= MAX_ID


# Built once: building a statement per call (and its cache key) cost as much as running it.
_GET = select(JOBS).where(JOBS.c.id == bindparam("job_id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_NEWEST_FIRST = (JOBS.c.date_created.desc(), JOBS.c.id.desc())
_LIST = (
    select(JOBS)
    .where(JOBS.c.user_id == bindparam("user_id"))
    .order_by(*_NEWEST_FIRST)
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)
_LIST_OF_STATUS = (
    select(JOBS)
    .where(JOBS.c.user_id == bindparam("user_id"), JOBS.c.status == bindparam("status"))
    .order_by(*_NEWEST_FIRST)
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)
_UPDATE = (
    update(JOBS)
    .where(JOBS.c.id == bindparam("job_id"))
    .values(
        status=bindparam("new_status"),
        date_started=bindparam("new_date_started"),
        date_finished=bindparam("new_date_finished"),
        runtime_details=bindparam("new_runtime_details"),
    )
)


class SqlaJobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, job: Job) -> Job:
        row = to_row(job)
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError:
            # The unit of work that owns the session rolls the transaction back.
            raise AlreadyExists(
                f"You already have a job named {job.job_name!r}; choose another name."
            ) from None
        return to_domain(row)

    # Reads and the status update are Core statements on the table: no ORM objects,
    # identity map or flush on the busiest routes (GET /jobs, PUT /_job_status).

    async def get(self, job_id: int, *, for_update: bool = False) -> Job | None:
        if not _storable(job_id):
            return None
        query = _GET_FOR_UPDATE if for_update else _GET
        row = (await self._session.execute(query, {"job_id": job_id})).first()
        return None if row is None else to_domain(row)

    async def list_for_user(
        self, user_id: str, *, offset: int, limit: int, status: JobState | None
    ) -> list[Job]:
        parameters: dict[str, object] = {
            "user_id": user_id,
            "offset": min(offset, MAX_ID),  # no user has more jobs; larger would not bind
            "limit": min(limit, MAX_PAGE_SIZE),
        }
        if status is not None:
            parameters["status"] = status.value
        query = _LIST if status is None else _LIST_OF_STATUS
        rows = (await self._session.execute(query, parameters)).all()
        return [to_domain(row) for row in rows]

    async def update(self, job: Job) -> None:
        await self._session.execute(
            _UPDATE,
            {
                "job_id": job.id,
                "new_status": job.status.value,
                "new_date_started": job.date_started,
                "new_date_finished": job.date_finished,
                "new_runtime_details": job.runtime_details,
            },
        )

    async def delete(self, job_id: int) -> None:
        if not _storable(job_id):
            return
        await self._session.execute(delete(JobRow).where(JobRow.id == job_id))
