"""Job events: what a live stream of a user's jobs tells (`GET /jobs/events`).

Every change a user can watch is one event, recorded in the same transaction as the change:
a job was created, its state changed, or runtime details were appended without a change of
state. Events carry an id that grows in the order they were committed, per user, so that a
reader resuming after event N sees every later event exactly once.
"""

import enum

import msgspec

from decode_userapi.domain.jobs import Job, JobState


class JobEventKind(enum.StrEnum):
    CREATED = "created"
    STATUS = "status"
    RUNTIME_DETAILS = "runtime_details"


class JobEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event. `job` is the job right after the change; a `runtime_details` event
    names only the text that was appended (`appended`), since the whole details grow with
    every update. `id` is 0 until the event log stores it."""

    id: int = 0
    kind: JobEventKind
    job_id: int
    user_id: str
    status: JobState
    job: Job | None = None
    appended: str | None = None

    @classmethod
    def created(cls, job: Job) -> "JobEvent":
        return cls._of(job, JobEventKind.CREATED, with_job=True)

    @classmethod
    def of_update(cls, before: JobState, job: Job, appended: str | None) -> "JobEvent | None":
        """The event a status update made, or None when it changed nothing."""
        if job.status is not before:
            return cls._of(job, JobEventKind.STATUS, with_job=True)
        if appended:
            return cls._of(job, JobEventKind.RUNTIME_DETAILS, appended=appended)
        return None

    @classmethod
    def _of(
        cls, job: Job, kind: JobEventKind, *, with_job: bool = False, appended: str | None = None
    ) -> "JobEvent":
        return cls(
            kind=kind,
            job_id=job.id,
            user_id=job.user_id,
            status=job.status,
            job=job if with_job else None,
            appended=appended,
        )

    @property
    def ends_job(self) -> bool:
        """True for the event of a job reaching a final state."""
        return self.kind is JobEventKind.STATUS and self.status.is_final
