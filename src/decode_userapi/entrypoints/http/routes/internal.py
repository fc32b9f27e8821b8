"""Internal routes for the worker-facing API, authenticated by `x-api-key`."""

import hmac
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, Router, put
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.types import BeforeRequestHookHandler

from decode_userapi.domain.errors import NotAuthenticated
from decode_userapi.entrypoints.http.docs import API_KEY
from decode_userapi.entrypoints.http.json_body import require_json_body
from decode_userapi.entrypoints.http.schemas_jobs import StatusUpdateIn
from decode_userapi.services.jobs.notify import NotifyJobEnded
from decode_userapi.services.jobs.status import UpdateJobStatus

log = logging.getLogger(__name__)


def api_key_check(expected: Callable[[], str | None]) -> BeforeRequestHookHandler:
    """A `before_request` hook that checks `x-api-key` against `INTERNAL_API_KEY_SECRET` in
    constant time, before anything else (then the JSON body check of every route). When
    no key is configured every internal request is refused.

    Not a guard: Litestar copies the route handler for each guard call, which cost a
    tenth of a status update's time."""

    async def check_api_key(request: Request[Any, Any, Any]) -> None:
        key = expected()
        if not key:
            log.error("Refused an internal request: INTERNAL_API_KEY_SECRET is not set.")
            raise NotAuthenticated("Internal routes are disabled on this server.")
        given = request.headers.get("x-api-key", "")
        if not hmac.compare_digest(given.encode(), key.encode()):
            raise NotAuthenticated("Missing or wrong x-api-key.")
        await require_json_body(request)

    return check_api_key


@put("/_job_status", summary="Update a job's status")
async def update_job_status(
    update_job_status: NamedDependency[UpdateJobStatus],
    notify_job_ended: NamedDependency[NotifyJobEnded],
    data: JSONBody[StatusUpdateIn],
) -> Response[bytes]:
    """A status update from the worker-facing API; answers the job's state
    after the update, as a JSON string.

    States move forward along queued → pulled → preprocessing → running → postprocessing →
    finished, skipping states is fine; `error` may follow any state but `finished`. `queued`
    after any later state but `finished`/`error` is a re-queue (a stalled worker's job handed
    to another): it is applied and the job moves forward again. `finished` and `error` are
    final. An update to the current state, to another earlier state, or after the job ended
    changes nothing and still answers 200 with the job's current state (so a late `running`
    after `finished` does not reopen the job). `runtime_details` is appended on a new line even
    then. The first `pulled` (or later state) sets `date_started`, which a re-queue keeps;
    `finished`/`error` sets `date_finished`. When the job ends its owner is notified in the
    background, after the answer; a failing email service never fails the update. 404: unknown
    job (treat it as cancelled). 401: missing or wrong `x-api-key`."""
    update = await update_job_status(data.job_id, data.status, data.runtime_details)
    background = BackgroundTask(notify_job_ended, update.ended) if update.ended else None
    return Response(
        msgspec.json.encode(update.state.value), media_type=MediaType.JSON, background=background
    )


def router(api_key: Callable[[], str | None]) -> Router:
    """`api_key` is read per request (tests change the settings late)."""
    return Router(
        path="/",
        tags=["internal"],
        security=API_KEY,
        route_handlers=[update_job_status],
        before_request=api_key_check(api_key),
    )
