"""Wire schemas of the job routes, kept apart from the domain so the wire stays stable.

The original's clients send `null` for every field left empty (the frontend's job form
does): each optional input accepts `null` with the meaning of leaving it out.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from decode_userapi.domain.jobs import FilesDown, Hardware, Job, JobSpec, JobState, NewJob


class ApplicationSchema(msgspec.Struct, frozen=True):
    application: str
    version: str
    entrypoint: str


class FilesDownSchema(msgspec.Struct, frozen=True):
    config_id: str | None = None
    """A folder under `config/`."""
    data_ids: list[str] | None = None
    """Folders under `data/`."""
    artifact_ids: list[str] | None = None
    """Folders under `artifact/`."""


class AttributesSchema(msgspec.Struct, frozen=True):
    files_down: FilesDownSchema = FilesDownSchema()
    env_vars: dict[str, str] | None = None


class JobIn(msgspec.Struct, frozen=True):
    """A job to start. `priority` is 0 (default) to 5."""

    job_name: str
    """Becomes a folder name (`output/<job_name>/`): up to 255 bytes in UTF-8, no `/`,
    `\\` or control characters, not `.` or `..`, no space at either end, no `.` at the end."""
    application: ApplicationSchema
    environment: Literal["cloud", "local"] | None = None
    priority: int | None = None
    """0 (the default, also for `null`) to 5."""
    attributes: AttributesSchema = AttributesSchema()
    hardware: Hardware | None = None
    tags: dict[str, str] | None = None
    """Up to 20 labels of your own, `{"key": "value"}`: keys of 1 to 64 characters of
    `A-Z a-z 0-9 _ . -`, values of up to 256 characters without control characters.
    `GET /jobs?tag=key:value` finds the job by them."""

    def to_domain(self) -> NewJob:
        files = self.attributes.files_down
        return NewJob(
            job_name=self.job_name,
            spec=JobSpec(
                self.application.application,
                self.application.version,
                self.application.entrypoint,
            ),
            environment=self.environment,
            priority=self.priority or 0,
            files_down=FilesDown(
                files.config_id, tuple(files.data_ids or ()), tuple(files.artifact_ids or ())
            ),
            env_vars=dict(self.attributes.env_vars or {}),
            hardware=self.hardware,
            tags=dict(self.tags or {}),
        )


class RerunIn(msgspec.Struct, frozen=True):
    """What to change for the rerun; every field may be left out or `null`."""

    job_name: str | None = None
    """The new job's name (the rules of `POST /jobs`); default `<name>-rerun-<n>`."""
    priority: int | None = None
    """0 to 5; default the original job's."""


class PathsOutSchema(msgspec.Struct, frozen=True):
    output: str
    log: str
    artifact: str


Timestamp = Annotated[str, msgspec.Meta(extra_json_schema={"extra": {"format": "date-time"}})]
"""ISO 8601 in UTC with an explicit `+00:00` offset, which every client parses (Python's
`fromisoformat` reads no `Z` before 3.11, and msgspec writes a UTC `datetime` with `Z`).
Litestar copies `extra` into the OpenAPI schema: `format: date-time`."""


_encode = msgspec.json.encode


def timestamp(moment: datetime) -> Timestamp:
    """`moment.astimezone(UTC).isoformat()`, written by msgspec (which writes the same but
    `Z` for `+00:00`): a seventh of isoformat's cost, paid up to three times per listed job."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return _encode(utc)[1:-2].decode() + "+00:00"


class JobOut(msgspec.Struct, frozen=True):
    id: int
    job_name: str
    user_id: str
    user_email: str | None
    environment: Literal["cloud", "local"] | None
    priority: int
    application: ApplicationSchema
    attributes: AttributesSchema
    hardware: Hardware | None
    status: JobState
    date_created: Timestamp
    date_started: Timestamp | None
    date_finished: Timestamp | None
    runtime_details: str | None
    paths_out: PathsOutSchema
    tags: dict[str, str] = {}
    """The job's tags (`{}` when it has none)."""

    @classmethod
    def from_domain(cls, job: Job) -> "JobOut":
        """The job on the wire; it shares the job's lists and dicts (neither changes them)."""
        files_down = job.files_down
        return cls(
            id=job.id,
            job_name=job.job_name,
            user_id=job.user_id,
            user_email=job.user_email,
            environment=job.environment,
            priority=job.priority,
            application=ApplicationSchema(
                job.spec.application, job.spec.version, job.spec.entrypoint
            ),
            attributes=AttributesSchema(
                files_down=FilesDownSchema(
                    files_down.config_id,
                    files_down.data_ids,  # type: ignore[arg-type]  # a tuple encodes as a list
                    files_down.artifact_ids,  # type: ignore[arg-type]
                ),
                env_vars=job.env_vars,
            ),
            hardware=job.hardware,
            status=job.status,
            date_created=timestamp(job.date_created),
            date_started=None if job.date_started is None else timestamp(job.date_started),
            date_finished=None if job.date_finished is None else timestamp(job.date_finished),
            runtime_details=job.runtime_details,
            paths_out=PathsOutSchema(**job.paths_out),
            tags=job.tags,
        )


class StatusUpdateIn(msgspec.Struct, frozen=True):
    job_id: int
    status: JobState
    runtime_details: str | None = None
