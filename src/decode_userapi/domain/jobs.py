"""Jobs: what a user asked to run, and where it is in its life.

The state machine (`next_state`) is the one place that decides what a status update from
the worker-facing API does:

- states move forward along `queued → pulled → preprocessing → running → postprocessing
  → finished`; a worker may skip states (`queued → running` is fine);
- `error` may follow any state that is not final;
- `queued` from any other state that is not final is a re-queue (the worker-facing API
  took the job back from a stalled worker): it is applied, and the forward path starts
  again for the next worker;
- `canceled` may follow any state that is not final: the user canceled the job (a status
  update from the worker-facing API for a canceled job is refused, see `UpdateJobStatus`);
- `finished`, `error` and `canceled` are final: nothing leaves them (a late `running` after
  `finished` does not reopen the job);
- an update to the current state, or to an earlier one other than `queued`, changes nothing.

An update that changes nothing is not an error: the worker-facing API is told the job's
current state, so it can tell a late message from a real change.
"""

import enum
import re
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import msgspec

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import FileRef, check_segment
from decode_userapi.domain.users import User

if TYPE_CHECKING:  # applications imports this module
    from decode_userapi.domain.applications import EntrypointConfig


class JobState(enum.StrEnum):
    QUEUED = "queued"
    PULLED = "pulled"
    PREPROCESSING = "preprocessing"
    RUNNING = "running"
    POSTPROCESSING = "postprocessing"
    FINISHED = "finished"
    ERROR = "error"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in (JobState.FINISHED, JobState.ERROR, JobState.CANCELED)


_FORWARD_ORDER = (
    JobState.QUEUED,
    JobState.PULLED,
    JobState.PREPROCESSING,
    JobState.RUNNING,
    JobState.POSTPROCESSING,
    JobState.FINISHED,
)


def next_state(current: JobState, reported: JobState) -> JobState:
    """The state a job is in after the worker reports `reported` (see the module doc)."""
    if current.is_final:
        return current
    if reported in (JobState.ERROR, JobState.CANCELED, JobState.QUEUED):
        return reported
    if _FORWARD_ORDER.index(reported) > _FORWARD_ORDER.index(current):
        return reported
    return current


Environment = Literal["cloud", "local"]
InputKind = Literal["config_id", "data_ids", "artifact_ids"]
ResultKind = Literal["output", "log", "artifact"]

MIN_PRIORITY, MAX_PRIORITY = 0, 5


class JobName(msgspec.Struct, frozen=True):
    """A job name, kept in NFC form. It becomes a folder name (`output/<job_name>/`,
    `log/…`, `artifact/…`), so it follows the rules of any file or folder name
    (`check_segment`: up to 255 bytes, no `/`, `\\` or control characters, not `.`/`..`);
    `InvalidInput` otherwise."""

    value: str

    def __post_init__(self) -> None:
        normalised = unicodedata.normalize("NFC", self.value)
        check_segment(normalised, "job_name")
        msgspec.structs.force_setattr(self, "value", normalised)


class Priority(msgspec.Struct, frozen=True):
    """A job's priority, `MIN_PRIORITY` to `MAX_PRIORITY`; `InvalidInput` otherwise."""

    value: int

    def __post_init__(self) -> None:
        if not MIN_PRIORITY <= self.value <= MAX_PRIORITY:
            raise InvalidInput(
                f"priority must be a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}, "
                f"not {self.value}."
            )


MAX_TAGS = 20
MAX_TAG_VALUE_LENGTH = 256
_TAG_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _has_control_character(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def check_tag(key: str, value: str, subject: str = "tags") -> None:
    """A tag: a key of 1 to 64 characters of `A-Z a-z 0-9 _ . -`, a value of up to 256
    characters without control characters."""
    if not _TAG_KEY.fullmatch(key):
        raise InvalidInput(
            f"{subject}: the key {key[:70]!r} must be 1 to 64 characters of A-Z, a-z, 0-9, "
            "'_', '.' and '-'."
        )
    if len(value) > MAX_TAG_VALUE_LENGTH or _has_control_character(value):
        raise InvalidInput(
            f"{subject}: the value of {key!r} must be up to {MAX_TAG_VALUE_LENGTH} characters "
            "without control characters."
        )


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    """Up to 20 tags (`check_tag`)."""
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"tags may hold up to {MAX_TAGS} entries, not {len(tags)}.")
    for key, value in tags.items():
        check_tag(key, value)
    return tags


class JobSpec(msgspec.Struct, frozen=True):
    """Which registry entry the job runs."""

    application: str
    version: str
    entrypoint: str

    def __str__(self) -> str:
        return f"{self.application} {self.version} {self.entrypoint}"


class FilesDown(msgspec.Struct, frozen=True):
    """The user's input folders: `config/<config_id>`, `data/<id>`, `artifact/<id>`."""

    config_id: str | None = None
    data_ids: tuple[str, ...] = ()
    artifact_ids: tuple[str, ...] = ()

    def folders(self) -> list[tuple[InputKind, FileRef]]:
        """Each input as (kind, folder in the user's space); kind is the registry key.

        Raises `InvalidInput` for an id that is not a safe path.
        """
        chosen: list[tuple[InputKind, str, str]] = [
            *(("config_id", "config", key) for key in (self.config_id,) if key is not None),
            *(("data_ids", "data", key) for key in self.data_ids),
            *(("artifact_ids", "artifact", key) for key in self.artifact_ids),
        ]
        folders: list[tuple[InputKind, FileRef]] = []
        for kind, top, key in chosen:
            ref = FileRef.parse(f"{top}/{key}")  # `..` is refused, so ref stays in top/
            if len(ref.parts) < 2:
                raise InvalidInput(f"{kind} {key!r} must name a folder inside '{top}/'.")
            folders.append((kind, ref))
        return folders


class Hardware(msgspec.Struct, frozen=True):
    """Optional hardware constraints; None leaves the choice to the worker."""

    cpu_cores: int | None = None
    memory: int | None = None
    gpu_model: str | None = None
    gpu_archi: str | None = None
    gpu_mem: int | None = None


RESULT_KINDS: tuple[ResultKind, ...] = ("output", "log", "artifact")


class NewJob(msgspec.Struct, frozen=True, kw_only=True):
    """What a user asks for when starting a job, unchecked (`Job.submitted` checks it)."""

    job_name: str
    spec: JobSpec
    environment: Environment | None = None
    priority: int = 0
    files_down: FilesDown = FilesDown()
    env_vars: dict[str, str] = {}
    hardware: Hardware | None = None
    tags: dict[str, str] = {}


class Job(msgspec.Struct, kw_only=True):
    """A job of one user. `id` is 0 until the repository stores it."""

    id: int = 0
    user_id: str
    user_email: str | None
    job_name: str
    environment: Environment | None
    priority: int
    spec: JobSpec
    files_down: FilesDown
    env_vars: dict[str, str]
    hardware: Hardware | None
    status: JobState = JobState.QUEUED
    date_created: datetime
    date_started: datetime | None = None
    date_finished: datetime | None = None
    runtime_details: str | None = None
    tags: dict[str, str] = {}

    @classmethod
    def submitted(
        cls, owner: User, request: NewJob, entry: "EntrypointConfig", now: datetime
    ) -> "Job":
        """A new job of `owner`, queued at `now`, for the registry `entry` of `request.spec`.

        `InvalidInput` for a bad job name or priority, an env var the application does not
        allow, or an input it does not take (or that is not a safe folder path).
        """
        allowed = set(entry.app.env)
        refused = sorted(set(request.env_vars) - allowed)
        job_name, priority = JobName(request.job_name).value, Priority(request.priority).value
        tags = check_tags(dict(request.tags))
        if refused:
            raise InvalidInput(
                f"Environment variable(s) {', '.join(refused)} are not allowed by "
                f"{request.spec}; allowed: {', '.join(sorted(allowed)) or 'none'}."
            )
        for kind, folder in request.files_down.folders():
            if kind not in entry.handler.files_down:
                raise InvalidInput(f"{request.spec} takes no {kind}, but '{folder}' was given.")
        return cls(
            user_id=owner.id,
            user_email=owner.email,
            job_name=job_name,
            environment=request.environment,
            priority=priority,
            spec=request.spec,
            files_down=request.files_down,
            env_vars=dict(request.env_vars),
            hardware=request.hardware,
            date_created=now,
            tags=tags,
        )

    def result_folder(self, kind: str) -> FileRef:
        """Where the job writes `kind` (output, log, artifact), relative to the user's space."""
        return FileRef((kind, self.job_name))

    @property
    def paths_out(self) -> dict[str, str]:
        """`str(self.result_folder(kind))` for each kind, without building the refs (a
        job name is one safe segment)."""
        return {kind: f"{kind}/{self.job_name}" for kind in RESULT_KINDS}

    def report(self, reported: JobState, details: str | None, now: datetime) -> bool:
        """Apply a status update from the worker; True when the job just ended.

        The one place a job changes state (the user's cancel goes through it too).
        The first `pulled` (or any later state reached without it) sets `date_started`,
        which a re-queue keeps; reaching a final state sets `date_finished`.
        `details` is appended on a new line even when the state does not change.
        """
        if details:
            self.runtime_details = (
                details if not self.runtime_details else f"{self.runtime_details}\n{details}"
            )
        state = next_state(self.status, reported)
        if state is self.status:
            return False
        self.status = state
        if self.date_started is None and state not in (JobState.ERROR, JobState.CANCELED):
            self.date_started = now
        if state.is_final:
            self.date_finished = now
            return True
        return False


class JobQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Which of a user's jobs to list; every condition given must hold."""

    statuses: tuple[JobState, ...] = ()
    """Any of these (all when empty)."""
    application: str | None = None
    version: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    """Each (key, value) must be a tag of the job."""
    created_after: datetime | None = None
    created_before: datetime | None = None
    name_prefix: str | None = None
    """The job name starts with it (case-sensitive)."""


def parse_tag_filter(text: str) -> tuple[str, str]:
    """`key:value` (the value may hold `:`)."""
    key, colon, value = text.partition(":")
    if not colon:
        raise InvalidInput(f"The query parameter tag must read key:value, not {text[:70]!r}.")
    check_tag(key, value, "The query parameter tag")
    return key, value


def parse_moment(text: str, name: str) -> datetime:
    """An ISO 8601 date or date and time; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"The query parameter {name} must be an ISO 8601 date or date and time "
            f"(e.g. 2026-11-25T14:00:00Z), not {text[:70]!r}."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
