"""`/jobs`: the application registry and the caller's jobs."""

from typing import Annotated

from litestar import Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from decode_userapi.domain.jobs import JobState
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.http.docs import BEARER
from decode_userapi.entrypoints.http.schemas_jobs import JobIn, JobOut
from decode_userapi.services.jobs.applications import ListApplications
from decode_userapi.services.jobs.delete import DeleteJob
from decode_userapi.services.jobs.queries import GetJob, ListJobs
from decode_userapi.services.jobs.submit import SubmitJob


@get("/applications", summary="The application registry")
async def list_applications(
    user: NamedDependency[User], list_applications: NamedDependency[ListApplications]
) -> object:
    """`{application: {version: {entrypoint: spec}}}`; reloaded when its file changes."""
    return (await list_applications()).to_builtins()


@get("/", summary="List your jobs")
async def list_jobs(
    user: NamedDependency[User],
    list_jobs: NamedDependency[ListJobs],
    offset: Annotated[int, QueryParameter(ge=0)] = 0,
    limit: Annotated[int, QueryParameter(ge=1, description="At most 1000 are returned.")] = 100,
    status: FromQuery[JobState | None] = None,
) -> list[JobOut]:
    """Newest first (ties: higher id first), so pages by offset/limit are stable."""
    jobs = await list_jobs(user, offset=offset, limit=limit, status=status)
    return [JobOut.from_domain(job) for job in jobs]


@get("/{job_id:int}", summary="One of your jobs")
async def get_job(
    user: NamedDependency[User], get_job: NamedDependency[GetJob], job_id: FromPath[int]
) -> JobOut:
    """404 when it does not exist or is someone else's."""
    return JobOut.from_domain(await get_job(user, job_id))


@post("/", summary="Start a job", status_code=HTTP_201_CREATED)
async def submit_job(
    user: NamedDependency[User], submit_job: NamedDependency[SubmitJob], data: JSONBody[JobIn]
) -> JobOut:
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
    """
    return JobOut.from_domain(await submit_job(user, data.to_domain()))


@delete("/{job_id:int}", summary="Delete a job", status_code=HTTP_204_NO_CONTENT)
async def delete_job(
    user: NamedDependency[User], delete_job: NamedDependency[DeleteJob], job_id: FromPath[int]
) -> None:
    """Also removes `output/{job_name}/`, `log/{job_name}/` and `artifact/{job_name}/`.

    404 when it does not exist or is someone else's. Job ids are never reused.
    """
    await delete_job(user, job_id)


def router() -> Router:
    return Router(
        path="/jobs",
        tags=["jobs"],
        security=BEARER,
        route_handlers=[list_applications, list_jobs, get_job, submit_job, delete_job],
    )
