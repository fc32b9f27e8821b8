"""`/jobs`: the application registry and the caller's jobs."""

import unicodedata
from typing import Annotated, Any, cast
from urllib.parse import urlencode

from litestar import MediaType, Request, Response, Router, delete, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from decode_userapi.domain.idempotency import Once
from decode_userapi.domain.jobs import JobQuery, JobState, parse_moment, parse_tag_filter
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.http.docs import bearer_router
from decode_userapi.entrypoints.http.routes.files import NEXT_CURSOR
from decode_userapi.entrypoints.http.schemas_jobs import JobIn, RerunIn
from decode_userapi.services.jobs.applications import ListApplications
from decode_userapi.services.jobs.cancel import CancelJob
from decode_userapi.services.jobs.delete import DeleteJob
from decode_userapi.services.jobs.documents import JobOut
from decode_userapi.services.jobs.notify import NotifyJobEnded
from decode_userapi.services.jobs.queries import GetJob, ListJobs
from decode_userapi.services.jobs.rerun import RerunJob
from decode_userapi.services.jobs.submit import SubmitJob, Submitted


@get("/applications", summary="The application registry")
async def list_applications(
    user: NamedDependency[User], list_applications: NamedDependency[ListApplications]
) -> object:
    """`{application: {version: {entrypoint: spec}}}`; reloaded when its file changes."""
    return (await list_applications()).to_builtins()


LIST_HEADERS = [
    ResponseHeader(
        name=NEXT_CURSOR,
        description="When more jobs follow: the `cursor` of the next page.",
        documentation_only=True,
    ),
    ResponseHeader(
        name="Link",
        description='When more jobs follow: `<URL of the next page>; rel="next"` (this '
        "request's path and query, with `cursor` set and `offset` left out).",
        documentation_only=True,
    ),
]


def _next_page_link(request: Request[Any, Any, Any], cursor: str) -> str:
    kept = [
        (name, value)
        for name, value in request.query_params.multi_items()
        if name not in ("offset", "cursor")
    ]
    query = urlencode([*kept, ("cursor", cursor)])
    return f'<{request.url.path}?{query}>; rel="next"'


@get("/", summary="List your jobs", response_headers=LIST_HEADERS)
async def list_jobs(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    list_jobs: NamedDependency[ListJobs],
    offset: Annotated[int, QueryParameter(ge=0)] = 0,
    limit: Annotated[int, QueryParameter(ge=1, description="At most 1000 are returned.")] = 100,
    status: Annotated[
        list[JobState] | None,
        QueryParameter(description="Only jobs in one of these states (repeat the parameter)."),
    ] = None,
    application: Annotated[
        str | None, QueryParameter(description="Only jobs of this application.")
    ] = None,
    version: Annotated[
        str | None, QueryParameter(description="Only jobs of this application version.")
    ] = None,
    tag: Annotated[
        list[str] | None,
        QueryParameter(
            description="`key:value`: only jobs with this tag; repeated, all must match."
        ),
    ] = None,
    created_after: Annotated[
        str | None,
        QueryParameter(
            description="ISO 8601 date or date and time (UTC without an offset): only jobs "
            "created after it.",
            max_length=64,
        ),
    ] = None,
    created_before: Annotated[
        str | None,
        QueryParameter(
            description="ISO 8601 date or date and time (UTC without an offset): only jobs "
            "created before it.",
            max_length=64,
        ),
    ] = None,
    q: Annotated[
        str | None,
        QueryParameter(
            description="Only jobs whose name starts with this text (case-sensitive; `%` and "
            "`_` are plain characters).",
            max_length=255,
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        QueryParameter(
            description=f"Where the page starts: the `{NEXT_CURSOR}` of the previous page "
            "(keep the other parameters). Unlike `offset`, stable while jobs are added.",
            max_length=200,
        ),
    ] = None,
) -> Response[list[JobOut]]:
    """Newest first (ties: higher id first), so pages by offset/limit are stable.

    Filters combine (all must hold). Pages go by `offset` (as always) or by `cursor`, not
    both. When more jobs follow, the answer carries the next page's cursor in
    `X-Next-Cursor` and a `Link: <...>; rel="next"` header. 400 names a bad parameter.
    """
    query = JobQuery(
        statuses=tuple(status or ()),
        application=application,
        version=version,
        tags=tuple(parse_tag_filter(text) for text in tag or ()),
        created_after=None
        if created_after is None
        else parse_moment(created_after, "created_after"),
        created_before=None
        if created_before is None
        else parse_moment(created_before, "created_before"),
        name_prefix=None if q is None else unicodedata.normalize("NFC", q),
    )
    page = await list_jobs(user, query, offset=offset, limit=limit, cursor=cursor)
    headers = (
        {}
        if page.next_cursor is None
        else {
            NEXT_CURSOR: page.next_cursor,
            "Link": _next_page_link(request, page.next_cursor),
        }
    )
    # The stored documents are the `JobOut`s, encoded: joined, they are the body Litestar
    # would render from `list[JobOut]`, which the annotation keeps in the OpenAPI document.
    body = b"[" + b",".join(page.documents) + b"]"
    return cast(
        "Response[list[JobOut]]", Response(body, media_type=MediaType.JSON, headers=headers)
    )


@get("/{job_id:int}", summary="One of your jobs")
async def get_job(
    user: NamedDependency[User], get_job: NamedDependency[GetJob], job_id: FromPath[int]
) -> JobOut:
    """404 when it does not exist or is someone else's."""
    return JobOut.from_domain(await get_job(user, job_id))


IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name=IDEMPOTENCY_KEY,
        description="Makes retries safe: 1 to 255 printable ASCII characters, your own per "
        "request (e.g. a UUID). A retry with the same key and the same body within "
        "IDEMPOTENCY_KEY_TTL (default 24 h) answers the job the first request made (201, "
        f"with `{REPLAYED}: true`); the same key with another body is 422.",
    ),
]
REPLAYED_HEADER = ResponseHeader(
    name=REPLAYED,
    description="`true` when the job was made by an earlier request with the same Idempotency-Key.",
    documentation_only=True,
)


def _created(submitted: Submitted) -> Response[JobOut]:
    headers = {REPLAYED: "true"} if submitted.replayed else {}
    return Response(
        JobOut.from_domain(submitted.job), status_code=HTTP_201_CREATED, headers=headers
    )


@post("/", summary="Start a job", status_code=HTTP_201_CREATED, response_headers=[REPLAYED_HEADER])
async def submit_job(
    user: NamedDependency[User],
    submit_job: NamedDependency[SubmitJob],
    data: JSONBody[JobIn],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[JobOut]:
    """Checks the job, stores it and queues it with the worker-facing API, all or nothing.

    `null` in an optional field means the same as leaving it out (priority 0, no
    environment, no hardware constraint, no env vars or input folders).

    400: unknown application/version/entrypoint, env var not allowed by the entrypoint,
    priority outside 0 to 5, a job name that is no safe folder name (it becomes
    `output/<job_name>/`: up to 255 bytes in UTF-8, no `/`, `\\` or control characters,
    not `.` or `..`, no space at either end, no `.` at the end; stored in Unicode NFC), or an
    input folder (`config/{config_id}`, `data/{id}`, `artifact/{id}`) that does not exist.
    409: you already have a job of that name, or already have a folder
    `output/{job_name}/`, `log/{job_name}/` or `artifact/{job_name}/` (the job writes its
    results there and deleting the job deletes them).
    502: the worker-facing API refused the job; 503: it could not be reached. On 502/503
    nothing is kept and the name stays free. The job is stored before the worker-facing
    API is called, so while that call is in flight the job is already listed as `queued`
    (and status updates for it are applied); it disappears again if the call fails.

    `Idempotency-Key` (optional, per user): see the header's description. The key is
    kept with the job (a deleted job frees it). 400 for a key that is no 1 to 255
    printable ASCII characters; 422 for a key used with another body.
    """
    request = data.to_domain()
    once = None if idempotency_key is None else Once.of(idempotency_key, request)
    return _created(await submit_job.once(user, request, once))


@delete("/{job_id:int}", summary="Delete a job", status_code=HTTP_204_NO_CONTENT)
async def delete_job(
    user: NamedDependency[User],
    delete_job: NamedDependency[DeleteJob],
    notify_job_ended: NamedDependency[NotifyJobEnded],
    job_id: FromPath[int],
) -> Response[None]:
    """Also removes `output/{job_name}/`, `log/{job_name}/` and `artifact/{job_name}/`.

    A job that is not final is canceled first (see `POST /jobs/{job_id}/cancel`): its owner
    is notified, and the worker's next status update for it is answered 404.
    404 when it does not exist or is someone else's. Job ids are never reused.
    """
    canceled = await delete_job(user, job_id)
    background = BackgroundTask(notify_job_ended, canceled) if canceled else None
    return Response(None, status_code=HTTP_204_NO_CONTENT, background=background)


@post("/{job_id:int}/cancel", summary="Cancel a job", status_code=HTTP_200_OK)
async def cancel_job(
    user: NamedDependency[User],
    cancel_job: NamedDependency[CancelJob],
    notify_job_ended: NamedDependency[NotifyJobEnded],
    job_id: FromPath[int],
) -> Response[JobOut]:
    """A job that is not final (`queued` to `postprocessing`) becomes `canceled`, a final
    state: `date_finished` is set, files it wrote so far under `output/`, `log/` and
    `artifact/` are kept, and its owner is notified as when a job finishes. The
    worker-facing API learns it from its next status update for the job, which is
    answered 404 (its sign for a cancelled job); no later update reopens the job.

    Answers the canceled job. 404 when it does not exist or is someone else's; 409 when it
    is already final (`finished`, `error` or `canceled`), naming its state.
    """
    job = await cancel_job(user, job_id)
    return Response(JobOut.from_domain(job), background=BackgroundTask(notify_job_ended, job))


@post(
    "/{job_id:int}/rerun",
    summary="Start a job again",
    status_code=HTTP_201_CREATED,
    response_headers=[REPLAYED_HEADER],
)
async def rerun_job(
    user: NamedDependency[User],
    rerun_job: NamedDependency[RerunJob],
    job_id: FromPath[int],
    data: JSONBody[RerunIn | None] = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[JobOut]:
    """A new job with the same application, inputs, environment, env vars and hardware as
    job `job_id` (in any state), started exactly as `POST /jobs` starts one: checked
    against the registry and the input folders as they are now, stored, queued.

    The optional body changes `job_name` (default `<name>-rerun-<n>`, n one more than
    the highest rerun of that name) and `priority` (default the original's). 201 with the
    new job. 404 when job `job_id` does not exist or is someone else's; otherwise the
    answers of `POST /jobs` (400, 409, 422, 502, 503). `Idempotency-Key` as on
    `POST /jobs`: the request it names is this rerun (the job id and the body).
    """
    changes = data or RerunIn()
    submitted = await rerun_job(
        user,
        job_id,
        job_name=changes.job_name,
        priority=changes.priority,
        idempotency_key=idempotency_key,
    )
    return _created(submitted)


def router() -> Router:
    return bearer_router(
        "jobs",
        [list_applications, list_jobs, get_job, submit_job, delete_job, cancel_job, rerun_job],
    )
