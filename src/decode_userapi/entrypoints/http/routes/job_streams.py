"""Live views of jobs: Server-Sent Events of job changes, and a job's log as it grows.

Browsers' `EventSource` cannot set headers: these GET routes accept the sign-in cookie
that `POST /login` sets, like every route (`auth.bearer_token`); a cookie-signed GET
changes nothing, so no origin check applies to it.

An open stream keeps its connection busy: the connection cap (`HTTP_MAX_CONNECTIONS`)
never closes it to make room, so streams alone could fill the cap and lock every other
request out. `LIVE_STREAMS_MAX` open streams per process (event streams and log
follows together) leave that room: one more is refused with 503 and `Retry-After`.
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, Parameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_204_NO_CONTENT

from decode_userapi.domain.errors import InvalidInput, Overloaded
from decode_userapi.domain.job_events import JobEvent, JobEventKind
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.connections import mark_live_stream
from decode_userapi.entrypoints.http.docs import BEARER, error_doc
from decode_userapi.entrypoints.settings import Settings
from decode_userapi.services.jobs.documents import JobOut
from decode_userapi.services.jobs.events import WatchJobEvents
from decode_userapi.services.jobs.logs import ReadJobLog

RETRY_MILLISECONDS = 3000
"""The `retry:` hint: how long a disconnected `EventSource` waits before reconnecting."""
EVENT_STREAM = "text/event-stream"
NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class StreamSlots:
    """Counts this process's open live streams; refuses new ones above `limit`."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open = 0

    def check(self, request: Request[Any, Any, Any]) -> None:
        """Before the answer starts: `Overloaded` when every slot is taken. Marks the
        request as a live stream, which the server closes when it stops."""
        mark_live_stream(request.scope)
        if self._open >= self._limit:
            raise Overloaded(
                f"This server already streams to {self._limit} clients; try again shortly.",
                RETRY_MILLISECONDS // 1000,
            )

    async def hold(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """`chunks`, counted as open from the first to the last (or the client leaving)."""
        self._open += 1
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            self._open -= 1


class DetailsAppended(msgspec.Struct, frozen=True):
    """`data` of a `runtime_details` event: the job, its state, and the text appended
    to its `runtime_details` (on a new line) without a change of state."""

    id: int
    status: str
    appended: str


_BAD_LAST_EVENT_ID = error_doc("Last-Event-ID is not a whole number of 0 or more.")
_TOO_MANY_STREAMS = error_doc("Too many open streams on this server; retry after `Retry-After`.")


def _stream_doc(description: str) -> ResponseSpec:
    return ResponseSpec(
        str, description=description, media_type=EVENT_STREAM, generate_examples=False
    )


LastEventIdHeader = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        required=False,
        description="Resume after this event id (sent by a reconnecting EventSource).",
    ),
]
LastEventIdQuery = Annotated[
    str | None,
    QueryParameter(
        name="last_event_id",
        required=False,
        description="Resume after this event id; the `Last-Event-ID` header wins.",
    ),
]


def _last_event_id(header: str | None, query: str | None) -> int:
    raw = (header or "").strip() or (query or "").strip()
    if not raw:
        return 0
    if not raw.isascii() or not raw.isdigit():
        raise InvalidInput(f"Last-Event-ID must be a whole number of 0 or more, not {raw[:40]!r}.")
    return int(raw)


def _sse(event: JobEvent | None) -> bytes:
    if event is None:
        return b": keep-alive\n\n"
    data: object
    if event.kind is JobEventKind.RUNTIME_DETAILS or event.job is None:
        data = DetailsAppended(event.job_id, event.status.value, event.appended or "")
    else:
        data = JobOut.from_domain(event.job)
    body = msgspec.json.encode(data).decode()
    return f"id: {event.id}\nevent: {event.kind.value}\ndata: {body}\n\n".encode()


def _events_answer(
    request: Request[Any, Any, Any], slots: StreamSlots, events: AsyncIterator[JobEvent | None]
) -> Stream:
    """The stream of `events`, in one of this process's stream slots (503 when none is free)."""
    slots.check(request)
    return Stream(slots.hold(_event_stream(events)), media_type=EVENT_STREAM, headers=NO_BUFFERING)


async def _event_stream(events: AsyncIterator[JobEvent | None]) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
    async for event in events:
        yield _sse(event)


@get(
    "/events",
    summary="Live events of all your jobs (Server-Sent Events)",
    responses={
        200: _stream_doc("The event stream."),
        400: _BAD_LAST_EVENT_ID,
        503: _TOO_MANY_STREAMS,
    },
)
async def all_job_events(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    watch_job_events: NamedDependency[WatchJobEvents],
    stream_slots: NamedDependency[StreamSlots],
    last_event_id_header: LastEventIdHeader = None,
    last_event_id: LastEventIdQuery = None,
) -> Stream:
    """A `text/event-stream` (Server-Sent Events). Each event has an
    `id:` (growing), an `event:` and one `data:` line of JSON:

    - `created`: a job was submitted; `data` is the job (as `GET /jobs/{id}` answers it);
    - `status`: the job's state changed; `data` is the job after the change;
    - `runtime_details`: details were appended without a change of state; `data` is
      `{"id", "status", "appended"}`.

    Events are kept in the database and recorded with the change they describe, so an
    update received by any server process reaches every stream. Resume with the
    `Last-Event-ID` header (an `EventSource` sends it when it reconnects) or the
    `last_event_id` query parameter: events with a higher id follow, none lost, none
    repeated; without either, the stream starts with every kept event. A comment line
    (`: keep-alive`) is sent when nothing happened for a while, and `retry: 3000`
    once at the start. Events of deleted jobs are deleted with them. Signed in by the
    `Authorization` header or by the sign-in cookie of `POST /login` (for browsers'
    `EventSource`). 400: a `Last-Event-ID` that is not a whole number of 0 or more.

    Open until the client leaves.
    """
    events = await watch_job_events.of_all_jobs(
        user, last_event_id=_last_event_id(last_event_id_header, last_event_id)
    )
    return _events_answer(request, stream_slots, events)


@get(
    "/{job_id:int}/events",
    summary="Live events of one of your jobs (Server-Sent Events)",
    responses={
        200: _stream_doc("The event stream of the job."),
        204: ResponseSpec(None, description="The job is final and no later event is left."),
        400: _BAD_LAST_EVENT_ID,
        404: error_doc("No such job of yours."),
        503: _TOO_MANY_STREAMS,
    },
)
async def job_events(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    watch_job_events: NamedDependency[WatchJobEvents],
    stream_slots: NamedDependency[StreamSlots],
    job_id: FromPath[int],
    last_event_id_header: LastEventIdHeader = None,
    last_event_id: LastEventIdQuery = None,
) -> Stream | Response[None]:
    """The events of `GET /jobs/events` (see there), of one job only.

    Ends after the event of a final state. When the job is already final and no later
    event is left the answer is 204, which tells an `EventSource` to stop reconnecting.
    404 when the job does not exist or is someone else's.
    """
    events = await watch_job_events.of_job(
        user, job_id, last_event_id=_last_event_id(last_event_id_header, last_event_id)
    )
    if events is None:
        return Response(None, status_code=HTTP_204_NO_CONTENT)
    return _events_answer(request, stream_slots, events)


@get(
    "/{job_id:int}/log",
    summary="The log of one of your jobs, optionally followed as it grows",
    responses={
        200: ResponseSpec(
            str,
            description="The files of `log/{job_name}/` as `text/plain`, in path order, each"
            " after a line `==> log/{job_name}/<file> <==`; none yet: an empty answer.",
            media_type="text/plain",
            generate_examples=False,
        ),
        400: error_doc("follow is not true or false."),
        404: error_doc("No such job of yours."),
        503: error_doc("follow: too many open streams on this server; retry later."),
    },
)
async def job_log(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    read_job_log: NamedDependency[ReadJobLog],
    stream_slots: NamedDependency[StreamSlots],
    job_id: FromPath[int],
    follow: Annotated[
        bool,
        Parameter(
            description="Keep the answer open and send new log bytes as the worker uploads"
            " them, until the job is final (chunked; the storage is looked at every"
            " `JOB_LOG_POLL_SECONDS`)."
        ),
    ] = False,
) -> Stream:
    """Signed in by the `Authorization` header or by the sign-in cookie."""
    chunks = await read_job_log(user, job_id, follow=follow)
    if follow:
        stream_slots.check(request)
        chunks = stream_slots.hold(chunks)
    return Stream(chunks, media_type="text/plain; charset=utf-8", headers=NO_BUFFERING)


def router(settings: Settings) -> Router:
    slots = StreamSlots(settings.live_streams_max)
    return Router(
        path="/jobs",
        tags=["jobs"],
        security=BEARER,
        route_handlers=[all_job_events, job_events, job_log],
        dependencies={"stream_slots": Provide(lambda: slots, sync_to_thread=False)},
    )
