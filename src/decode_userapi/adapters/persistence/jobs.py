"""Jobs in SQL: the ORM model, mappers to and from the domain, the repository."""

from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Row,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from decode_userapi.adapters.persistence.orm import Base
from decode_userapi.adapters.persistence.usage import lock_usage_row
from decode_userapi.domain.errors import AlreadyExists, RunningJobsQuotaExceeded
from decode_userapi.domain.jobs import (
    Environment,
    FilesDown,
    Hardware,
    Job,
    JobQuery,
    JobSpec,
    JobState,
)
from decode_userapi.ports.job_repository import MAX_PAGE_SIZE


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("user_id", "job_name"),
        # For the list and its filters (`list_for_user`); see migration 0005.
        Index("ix_jobs_user_created", "user_id", "date_created", "id"),
        Index("ix_jobs_user_status_created", "user_id", "status", "date_created", "id"),
        Index("ix_jobs_user_application", "user_id", "application", "version", "date_created"),
        Index(
            "ix_jobs_user_name_prefix",
            "user_id",
            "job_name",
            postgresql_ops={"job_name": "text_pattern_ops"},
        ),
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


class JobTagRow(Base):
    __tablename__ = "job_tags"
    __table_args__ = (Index("ix_job_tags_key_value", "key", "value", "job_id"),)

    job_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


TAGS = cast(Table, JobTagRow.__table__)

_ENVIRONMENTS: dict[str, Environment] = {"cloud": "cloud", "local": "local"}


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; they were stored in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def to_domain(row: "JobRow | Row[Any]", tags: dict[str, str] | None = None) -> Job:
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
        tags=tags or {},
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
_UNFILTERED = JobQuery()
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

    async def add(self, job: Job, *, running_limit: int | None = None) -> Job:
        if running_limit is not None:
            await lock_usage_row(self._session, job.user_id)  # one add per user at a time
            running = await self.count_running(job.user_id)
            if running >= running_limit:
                raise RunningJobsQuotaExceeded(
                    f"Running-jobs quota of {running_limit} reached: you have {running} "
                    "jobs not finished or failed. Wait for one to end, or delete one."
                )
        row = to_row(job)
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError:
            # The unit of work that owns the session rolls the transaction back.
            raise AlreadyExists(
                f"You already have a job named {job.job_name!r}; choose another name."
            ) from None
        if job.tags:
            await self._session.execute(
                insert(TAGS),
                [{"job_id": row.id, "key": key, "value": value} for key, value in job.tags.items()],
            )
        return to_domain(row, dict(job.tags))

    # Reads and the status update are Core statements on the table: no ORM objects,
    # identity map or flush on the busiest routes (GET /jobs, PUT /_job_status).

    async def get(self, job_id: int, *, for_update: bool = False) -> Job | None:
        if not _storable(job_id):
            return None
        query = _GET_FOR_UPDATE if for_update else _GET
        row = (await self._session.execute(query, {"job_id": job_id})).first()
        if row is None:
            return None
        return to_domain(row, (await self._tags([job_id])).get(job_id))

    async def _tags(self, job_ids: list[int]) -> dict[int, dict[str, str]]:
        """The tags of each of these jobs that has any."""
        if not job_ids:
            return {}
        rows = await self._session.execute(
            select(TAGS.c.job_id, TAGS.c.key, TAGS.c.value).where(TAGS.c.job_id.in_(job_ids))
        )
        found: dict[int, dict[str, str]] = {}
        for job_id, key, value in rows:
            found.setdefault(job_id, {})[key] = value
        return found

    async def list_for_user(
        self,
        user_id: str,
        query: JobQuery,
        *,
        offset: int,
        limit: int,
        after: tuple[datetime, int] | None = None,
    ) -> list[Job]:
        if query == _UNFILTERED and after is None:  # the busiest case, built once
            parameters = {"user_id": user_id, **self._page(offset, limit)}
            rows = (await self._session.execute(_LIST, parameters)).all()
        else:
            statement = self.list_statement(user_id, query, offset=offset, limit=limit, after=after)
            rows = (await self._session.execute(statement)).all()
        tags = await self._tags([row.id for row in rows])
        return [to_domain(row, tags.get(row.id)) for row in rows]

    def list_statement(
        self,
        user_id: str,
        query: JobQuery,
        *,
        offset: int,
        limit: int,
        after: tuple[datetime, int] | None = None,
    ) -> Select[Any]:
        """The query of `list_for_user` (benchmarks/jobs_query_plan.py explains it)."""
        conditions = [JOBS.c.user_id == user_id, *self._conditions(query)]
        if after is not None:
            # Keyset paging on the list's order, which the index (user_id, date_created,
            # id) serves: jobs inserted meanwhile move no page.
            moment, job_id = after
            conditions.append(
                tuple_(JOBS.c.date_created, JOBS.c.id)
                < tuple_(literal(moment, JOBS.c.date_created.type), literal(job_id, Integer()))
            )
        page = self._page(offset, limit)
        return (
            select(JOBS)
            .where(*conditions)
            .order_by(*_NEWEST_FIRST)
            .offset(page["offset"])
            .limit(page["limit"])
        )

    @staticmethod
    def _page(offset: int, limit: int) -> dict[str, int]:
        # No user has more jobs than MAX_ID; a larger offset would not bind. One more than
        # a page tells whether another page follows.
        return {"offset": min(offset, MAX_ID), "limit": min(limit, MAX_PAGE_SIZE + 1)}

    def _conditions(self, query: JobQuery) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if query.statuses:
            conditions.append(JOBS.c.status.in_([state.value for state in query.statuses]))
        if query.application is not None:
            conditions.append(JOBS.c.application == query.application)
        if query.version is not None:
            conditions.append(JOBS.c.version == query.version)
        for key, value in query.tags:
            conditions.append(
                JOBS.c.id.in_(select(TAGS.c.job_id).where(TAGS.c.key == key, TAGS.c.value == value))
            )
        if query.created_after is not None:
            conditions.append(JOBS.c.date_created > query.created_after)
        if query.created_before is not None:
            conditions.append(JOBS.c.date_created < query.created_before)
        if query.name_prefix is not None:
            conditions.append(self._name_starts_with(query.name_prefix))
        return conditions

    async def names_starting_with(self, user_id: str, prefix: str) -> list[str]:
        query = select(JOBS.c.job_name).where(
            JOBS.c.user_id == user_id, self._name_starts_with(prefix)
        )
        return list((await self._session.execute(query)).scalars())

    def _name_starts_with(self, prefix: str) -> ColumnElement[bool]:
        """A case-sensitive prefix match that an index can serve: `LIKE` with its wildcards
        escaped on PostgreSQL (index `ix_jobs_user_name_prefix`, `text_pattern_ops`);
        `GLOB` on SQLite, whose `LIKE` ignores case."""
        if self._session.get_bind().dialect.name == "sqlite":
            escaped = "".join(f"[{ch}]" if ch in "*?[" else ch for ch in prefix)
            return JOBS.c.job_name.op("GLOB")(f"{escaped}*")
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return JOBS.c.job_name.like(f"{escaped}%", escape="\\")

    async def count_running(self, user_id: str) -> int:
        final = [state.value for state in JobState if state.is_final]
        query = select(func.count()).where(JOBS.c.user_id == user_id, JOBS.c.status.not_in(final))
        return int((await self._session.execute(query)).scalar_one())

    async def list_ended_before(self, moment: datetime, *, limit: int) -> list[Job]:
        final = [state.value for state in JobState if state.is_final]
        query = (
            select(JOBS)
            .where(JOBS.c.status.in_(final), JOBS.c.date_finished < moment)
            .order_by(JOBS.c.date_finished, JOBS.c.id)
            .limit(limit)
        )
        return [to_domain(row) for row in (await self._session.execute(query)).all()]

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

    async def delete(self, job_id: int) -> bool:
        if not _storable(job_id):
            return False
        deleted = await self._session.execute(delete(JOBS).where(JOBS.c.id == job_id))
        return bool(deleted.rowcount)  # type: ignore[attr-defined]
