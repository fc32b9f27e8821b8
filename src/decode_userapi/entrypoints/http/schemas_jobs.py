"""Wire schemas of what the job routes take, kept apart from the domain so the wire
stays stable. What they answer, `JobOut`, is in `services.jobs.documents`: the repository
stores it.

The original's clients send `null` for every field left empty (the frontend's job form
does): each optional input accepts `null` with the meaning of leaving it out.
"""

from typing import Literal

import msgspec

from decode_userapi.domain.jobs import FilesDown, Hardware, JobSpec, JobState, NewJob
from decode_userapi.services.jobs.documents import ApplicationSchema, AttributesSchema


class JobIn(msgspec.Struct, frozen=True):
    """A job to start. `priority` is 0 (default) to 5."""

    job_name: str
    """Becomes a folder name (`output/<job_name>/`): up to 255 bytes in UTF-8, no `/`,
    `\\` or control characters, not `.` or `..`, no space at either end, no `.` at the end."""
    application: ApplicationSchema
    environment: Literal["cloud", "local"] | None = None
    priority: int | None = None
    """0 (the default, also for `null`) to 5."""
    attributes: AttributesSchema = msgspec.field(default_factory=AttributesSchema)
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


class StatusUpdateIn(msgspec.Struct, frozen=True):
    job_id: int
    status: JobState
    runtime_details: str | None = None
