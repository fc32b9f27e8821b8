"""Jobs in SQL: the table, mappers to and from the domain, the repository."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import bindparam, case, delete, func, insert, null, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import ForeignKey, Identity, Index, Table, UniqueConstraint
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.expression import ColumnElement, Select, literal, literal_column, tuple_
from sqlalchemy.types import JSON, DateTime, Integer, String, Text

from decode_userapi.adapters.persistence.driver import Prepared, SqlConnection
from decode_userapi.adapters.persistence.orm import Base
from decode_userapi.adapters.persistence.usage import lock_usage
from decode_userapi.domain.errors import AlreadyExists, RunningJobsQuotaExceeded
from decode_userapi.domain.jobs import (
    Job,
    JobQuery,
    JobState,
)
from decode_userapi.ports.job_repository import MAX_PAGE_SIZE, Window
from decode_userapi.services.jobs.documents import document


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
    document: Mapped[str | None] = mapped_column(Text)
    """The job's JSON document as the API shows it (`services.jobs.documents`), written
    with each change of the job; NULL until then for jobs stored before migration 0009."""


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


def _document(
    dialect: str, rows: FromClause = JOBS, *, with_tags: bool = True
) -> ColumnElement[str]:
    """The job as one JSON object shaped like `Job`, built by the database: msgspec
    decodes a page of them into jobs in C, where converting each of a row's 20 values in
    Python took longer than the query. Datetimes are RFC 3339 in UTC; a job without tags
    has `{}` (or, without `with_tags`, none: the caller fills them in). `rows` has the
    columns of `JOBS` (the table, or a page of it)."""
    c = rows.c
    on = _JsonOf(dialect)
    fields: dict[str, Any] = {
        "id": c.id,
        "user_id": c.user_id,
        "user_email": c.user_email,
        "job_name": c.job_name,
        "environment": c.environment,
        "priority": c.priority,
        "spec": on.object(
            {"application": c.application, "version": c.version, "entrypoint": c.entrypoint}
        ),
        "files_down": on.object(
            {
                "config_id": c.config_id,
                "data_ids": on.embedded(c.data_ids),
                "artifact_ids": on.embedded(c.artifact_ids),
            }
        ),
        "env_vars": on.embedded(c.env_vars),
        "hardware": on.embedded(c.hardware),
        "status": c.status,
        "date_created": on.moment(c.date_created),
        "date_started": on.moment(c.date_started),
        "date_finished": on.moment(c.date_finished),
        "runtime_details": c.runtime_details,
    }
    if with_tags:
        fields["tags"] = on.tags(c.id)
    return sql_cast(on.object(fields), Text).label("job")


class _JsonOf:
    """JSON built in SQL: `json_object` on SQLite, `json_build_object` on PostgreSQL."""

    def __init__(self, dialect: str) -> None:
        self._postgres = dialect == "postgresql"

    def object(self, fields: dict[str, Any]) -> ColumnElement[Any]:
        build = func.json_build_object if self._postgres else func.json_object
        return build(*(part for name, value in fields.items() for part in (literal(name), value)))

    def embedded(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON column as JSON (SQLite keeps it as text, which would become a string)."""
        return column if self._postgres else func.json(column)

    def moment(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """RFC 3339: PostgreSQL writes a timestamptz so; SQLite keeps a UTC datetime as
        `YYYY-MM-DD HH:MM:SS.ffffff` (NULL stays NULL)."""
        if self._postgres:
            return column
        return func.replace(column, " ", "T").concat("+00:00")

    def tags(self, job_id: ColumnElement[int]) -> ColumnElement[Any]:
        aggregate = func.json_object_agg if self._postgres else func.json_group_object
        found = (
            select(aggregate(TAGS.c.key, TAGS.c.value))
            .where(TAGS.c.job_id == job_id)
            .scalar_subquery()
        )
        if self._postgres:
            return func.coalesce(found, literal_column("'{}'::json"))
        return func.json(found)  # a subquery's result loses its JSON subtype


_job_decoder = msgspec.json.Decoder(Job)


def to_domain(row: Sequence[Any]) -> Job:
    """A job from a row whose first column is its `_document`."""
    return _job_decoder.decode(row[0])


def _values(job: Job) -> dict[str, Any]:
    """The columns of a new job's row (all but `id`)."""
    return {
        "user_id": job.user_id,
        "user_email": job.user_email,
        "job_name": job.job_name,
        "environment": job.environment,
        "priority": job.priority,
        "application": job.spec.application,
        "version": job.spec.version,
        "entrypoint": job.spec.entrypoint,
        "config_id": job.files_down.config_id,
        "data_ids": list(job.files_down.data_ids),
        "artifact_ids": list(job.files_down.artifact_ids),
        "env_vars": dict(job.env_vars),
        "hardware": None if job.hardware is None else msgspec.structs.asdict(job.hardware),
        **_progress(job),
        "date_created": job.date_created,
    }


_PROGRESS = ("status", "date_started", "date_finished", "runtime_details")


def _progress(job: Job) -> dict[str, Any]:
    """The columns a status update changes."""
    return {
        "status": job.status.value,
        "date_started": job.date_started,
        "date_finished": job.date_finished,
        "runtime_details": job.runtime_details,
    }


def _stored_document(job: Job) -> dict[str, Any]:
    return {"job_id": job.id, "document": document(job).decode()}


MAX_ID = 2**31 - 1
"""Ids are PostgreSQL `integer`s; a larger number names no job (and would not bind)."""


def _storable(job_id: int) -> bool:
    return 0 < job_id <= MAX_ID


def _jobs_with_tags(dialect: str) -> Select[Any]:
    return select(_document(dialect))


Order = Callable[[Any], tuple[ColumnElement[Any], ...]]


def _documents(dialect: str, rows: Select[Any], order: Order) -> Select[Any]:
    """The documents of the jobs `rows` selects (`select(JOBS)` with its conditions, `order`
    and limit): the database plans the query as it is, then builds a document for each
    row of the page only; `order(columns)` sorts the page again."""
    page = rows.order_by(*order(JOBS.c)).subquery("page")
    return select(_document(dialect, page)).order_by(*order(page.c))


def _public_documents(dialect: str, rows: Select[Any], order: Order) -> Select[Any]:
    """As `_documents`, the jobs' stored public documents: each row is (document, NULL),
    or (NULL, the `_document` to build it from) for a job stored before there were any."""
    page = rows.order_by(*order(JOBS.c)).subquery("page")
    missing = case((page.c.document.is_(None), _document(dialect, page)), else_=null())
    return select(page.c.document, missing).order_by(*order(page.c))


def _public(rows: Sequence[Sequence[Any]]) -> list[bytes]:
    return [
        stored.encode() if stored is not None else document(_job_decoder.decode(built))
        for stored, built in rows
    ]


def _newest_first(c: Any) -> tuple[ColumnElement[Any], ...]:
    return (c.date_created.desc(), c.id.desc())


def _bound(column: str) -> Any:
    return bindparam(column, type_=JOBS.c[column].type)


# Built once, compiled once per dialect: building a statement per call (and its cache
# key) cost as much as running it.
_GET = Prepared(lambda dialect: _jobs_with_tags(dialect).where(JOBS.c.id == bindparam("job_id")))
_GET_FOR_UPDATE = Prepared(
    # PostgreSQL takes no aggregate in a statement that locks rows: the tags come on their
    # own (`_TAGS`).
    lambda dialect: (
        select(_document(dialect, with_tags=False))
        .where(JOBS.c.id == bindparam("job_id"))
        .with_for_update()
    )
)
_TAGS = Prepared(
    lambda _: select(TAGS.c.key, TAGS.c.value).where(TAGS.c.job_id == bindparam("job_id"))
)
_LIST = Prepared(
    lambda dialect: _public_documents(
        dialect,
        select(JOBS)
        .where(JOBS.c.user_id == bindparam("user_id"))
        .offset(bindparam("offset"))
        .limit(bindparam("limit")),
        _newest_first,
    )
)
_UNFILTERED = JobQuery()
_INSERT = Prepared(
    lambda _: (
        insert(JOBS)
        .values(
            {
                column.name: _bound(column.name)
                for column in JOBS.columns
                if column.name not in ("id", "document")
            }
        )
        .returning(JOBS.c.id)
    )
)
_SET_DOCUMENT = Prepared(
    lambda _: (
        update(JOBS)
        .where(JOBS.c.id == bindparam("job_id"))
        .values(document=bindparam("document", type_=Text()))
    )
)
_INSERT_TAG = Prepared(
    lambda _: insert(TAGS).values(
        job_id=bindparam("job_id"), key=bindparam("key"), value=bindparam("value")
    )
)
_UPDATE = Prepared(
    lambda _: (
        update(JOBS)
        .where(JOBS.c.id == bindparam("job_id"))
        .values({name: _bound(name) for name in (*_PROGRESS, "document")})
    )
)
_DELETE = Prepared(lambda _: delete(JOBS).where(JOBS.c.id == bindparam("job_id")))
_FINAL = [state.value for state in JobState if state.is_final]
_COUNT_RUNNING = Prepared(
    # `!=` each final state rather than NOT IN: an IN list is rendered per call.
    lambda _: select(func.count()).where(
        JOBS.c.user_id == bindparam("user_id"), *(JOBS.c.status != state for state in _FINAL)
    )
)


class SqlaJobRepository:
    """Jobs through Core statements run on the driver (`driver.SqlConnection`): no ORM
    objects, identity map or flush on the busiest routes."""

    def __init__(self, connection: SqlConnection) -> None:
        self._connection = connection

    async def add(self, job: Job, *, running_limit: int | None = None) -> Job:
        if running_limit is not None:
            await lock_usage(self._connection, job.user_id)  # one add per user at a time
            running = await self.count_running(job.user_id)
            if running >= running_limit:
                raise RunningJobsQuotaExceeded(
                    f"Running-jobs quota of {running_limit} reached: you have {running} "
                    "jobs not finished or failed. Wait for one to end, or delete one."
                )
        try:
            added = await self._connection.first(_INSERT, _values(job))
        except IntegrityError:
            # The unit of work that owns the connection rolls the transaction back.
            raise AlreadyExists(
                f"You already have a job named {job.job_name!r}; choose another name."
            ) from None
        assert added is not None  # INSERT … RETURNING answers the row
        job_id = int(added[0])
        for key, value in job.tags.items():
            await self._connection.run(_INSERT_TAG, {"job_id": job_id, "key": key, "value": value})
        added_job = msgspec.structs.replace(job, id=job_id, tags=dict(job.tags))
        await self._connection.run(_SET_DOCUMENT, _stored_document(added_job))
        return added_job

    async def get(self, job_id: int, *, for_update: bool = False) -> Job | None:
        if not _storable(job_id):
            return None
        # SQLite locks no rows (one writer at a time): there the plain read does.
        locking = for_update and self._connection.dialect.name == "postgresql"
        row = await self._connection.first(_GET_FOR_UPDATE if locking else _GET, {"job_id": job_id})
        if row is None:
            return None
        job = to_domain(row)
        if locking:
            tags = await self._connection.rows(_TAGS, {"job_id": job_id})
            job.tags = {str(key): str(value) for key, value in tags}
        return job

    async def list_documents(self, user_id: str, query: JobQuery, window: Window) -> list[bytes]:
        if query == _UNFILTERED and window.after is None:  # the busiest case, built once
            rows = await self._connection.rows(_LIST, {"user_id": user_id, **self._page(window)})
        else:
            rows = await self._connection.rows(self.list_statement(user_id, query, window))
        return _public(rows)

    def list_statement(self, user_id: str, query: JobQuery, window: Window) -> Select[Any]:
        """The query of `list_documents` (benchmarks/jobs_query_plan.py explains it)."""
        conditions = [JOBS.c.user_id == user_id, *self._conditions(query)]
        if (after := window.after) is not None:
            # Keyset paging on the list's order, which the index (user_id, date_created,
            # id) serves: jobs inserted meanwhile move no page.
            moment, job_id = after
            conditions.append(
                tuple_(JOBS.c.date_created, JOBS.c.id)
                < tuple_(literal(moment, JOBS.c.date_created.type), literal(job_id, Integer()))
            )
        page = self._page(window)
        rows = select(JOBS).where(*conditions).offset(page["offset"]).limit(page["limit"])
        return _public_documents(self._connection.dialect.name, rows, _newest_first)

    @staticmethod
    def _page(window: Window) -> dict[str, int]:
        # No user has more jobs than MAX_ID; a larger offset would not bind. One more than
        # a page tells whether another page follows.
        return {
            "offset": min(window.offset, MAX_ID),
            "limit": min(window.limit, MAX_PAGE_SIZE + 1),
        }

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
        return [name for (name,) in await self._connection.rows(query)]

    def _name_starts_with(self, prefix: str) -> ColumnElement[bool]:
        """A case-sensitive prefix match that an index can serve: `LIKE` with its wildcards
        escaped on PostgreSQL (index `ix_jobs_user_name_prefix`, `text_pattern_ops`);
        `GLOB` on SQLite, whose `LIKE` ignores case."""
        if self._connection.dialect.name == "sqlite":
            escaped = "".join(f"[{ch}]" if ch in "*?[" else ch for ch in prefix)
            return JOBS.c.job_name.op("GLOB")(f"{escaped}*")
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return JOBS.c.job_name.like(f"{escaped}%", escape="\\")

    async def count_running(self, user_id: str) -> int:
        counted = await self._connection.first(_COUNT_RUNNING, {"user_id": user_id})
        return int(counted[0]) if counted else 0

    async def list_ended_before(self, moment: datetime, *, limit: int) -> list[Job]:
        rows = (
            select(JOBS)
            .where(JOBS.c.status.in_(_FINAL), JOBS.c.date_finished < moment)
            .limit(limit)
        )
        query = _documents(self._connection.dialect.name, rows, lambda c: (c.date_finished, c.id))
        return [to_domain(row) for row in await self._connection.rows(query)]

    async def update(self, job: Job) -> None:
        await self._connection.run(_UPDATE, {**_progress(job), **_stored_document(job)})

    async def delete(self, job_id: int) -> bool:
        if not _storable(job_id):
            return False
        return await self._connection.run(_DELETE, {"job_id": job_id}) > 0
