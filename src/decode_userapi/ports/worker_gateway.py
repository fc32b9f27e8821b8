"""Handing jobs over to the worker-facing API."""

from typing import Protocol

import msgspec

from decode_userapi.domain.jobs import Environment, Hardware


class QueuedApp(msgspec.Struct, frozen=True):
    cmd: list[str]
    env: dict[str, str]


class QueuedHandler(msgspec.Struct, frozen=True):
    image_url: str
    image_name: str
    image_version: str
    entrypoint: str
    files_down: dict[str, str]
    """`<container dir>/<path relative to the input folder>` → storage URI."""
    files_up: dict[str, str]


class QueuedMeta(msgspec.Struct, frozen=True):
    job_id: int
    date_created: str
    """ISO 8601."""


class QueuedJobSpec(msgspec.Struct, frozen=True):
    app: QueuedApp
    handler: QueuedHandler
    meta: QueuedMeta
    hardware: Hardware
    """The domain type as is: its fields are the wire's."""


class QueuedJob(msgspec.Struct, frozen=True):
    """The body of `POST {WORKERFACING_API_URL}/_jobs`, field for field."""

    job: QueuedJobSpec
    environment: Environment | None
    group: str | None
    priority: int
    paths_upload: dict[str, str]
    """output, log, artifact → storage URI of the folder the worker uploads into."""


class WorkerGateway(Protocol):
    """The worker-facing API, which queues jobs for workers."""

    async def enqueue(self, job: QueuedJob) -> None:
        """Queue a job; returns only once the worker-facing API accepted it.

        Raises `UpstreamUnavailable` when it could not be reached and `UpstreamRejected`
        when it answered anything but success; in both cases the job is not queued.
        """
        ...
