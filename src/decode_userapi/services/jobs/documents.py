"""The job as the API shows it (`JobOut`), and its JSON document.

The repository keeps each job's document beside the job (`jobs.document`), written
whenever the job changes, so that a page of jobs is sent as the documents joined, without
a `JobOut` built for each job: building and encoding 100 of them took longer than all
the rest of `GET /jobs`. A stored document follows `JobOut`'s shape of the day it was
written: a change of that shape needs a migration that sets `jobs.document` to NULL
(reads then build a job's document from its row until it is written again);
`tests/unit/test_job_documents.py` fails on a change of the shape until its `SHAPE` is
updated, to remind of it.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from decode_userapi.domain.jobs import Hardware, Job, JobState


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
    files_down: FilesDownSchema = msgspec.field(default_factory=FilesDownSchema)
    env_vars: dict[str, str] | None = None


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


_document_encoder = msgspec.json.Encoder()


def document(job: Job) -> bytes:
    """The job's JSON document: `JobOut.from_domain(job)`, encoded."""
    return _document_encoder.encode(JobOut.from_domain(job))


class _Position(msgspec.Struct):
    id: int
    date_created: datetime


_position_decoder = msgspec.json.Decoder(_Position)


def position(job_document: bytes) -> tuple[datetime, int]:
    """(date created, id) of the job of a document: its place in the order of a list."""
    found = _position_decoder.decode(job_document)
    return found.date_created, found.id
