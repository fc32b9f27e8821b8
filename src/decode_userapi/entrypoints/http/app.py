"""The Litestar application factory."""

import logging
from typing import Any

import anyio
from litestar import Litestar, Request, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from decode_userapi.adapters.persistence.database import upgrade
from decode_userapi.entrypoints.container import Container, close_resources, open_resources
from decode_userapi.entrypoints.http.auth import user_dependency
from decode_userapi.entrypoints.http.dependencies import (
    container_dependencies,
    resolved_in_turn,
)
from decode_userapi.entrypoints.http.docs import openapi_config, openapi_document, swagger_assets
from decode_userapi.entrypoints.http.errors import EXCEPTION_HANDLERS
from decode_userapi.entrypoints.http.json_body import require_json_body
from decode_userapi.entrypoints.http.json_request import JsonSafeRequest
from decode_userapi.entrypoints.http.observe import metrics_endpoint, observe
from decode_userapi.entrypoints.http.origins import Origins
from decode_userapi.entrypoints.http.routes import (
    auth,
    files,
    general,
    internal,
    job_streams,
    jobs,
    uploads,
)
from decode_userapi.entrypoints.metrics import exposition_registry
from decode_userapi.entrypoints.periodic import PeriodicTask

log = logging.getLogger(__name__)

MAX_REQUEST_BODY_BYTES = 1024 * 1024
"""Bodies over this are refused with 413 before they are read; the upload route streams
and sets its own limit (`MAX_UPLOAD_BYTES`)."""


@get("/openapi.json", include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request[Any, Any, Any]) -> dict[str, object]:
    return openapi_document(request.app)


def create_app(container: Container, *, migrate: bool = True) -> Litestar:
    """Build the app around `container`; `migrate` applies schema migrations at start."""
    settings = container.settings()
    origins = Origins(settings)

    async def apply_migrations() -> None:
        await anyio.to_thread.run_sync(upgrade, settings.database_url)

    async def open_container() -> None:
        await open_resources(container)

    async def close_container() -> None:
        await close_resources(container)

    on_startup = [apply_migrations, open_container] if migrate else [open_container]
    on_shutdown = [close_container]
    if settings.cleanup_interval_seconds is not None:
        cleanup = PeriodicTask(lambda: container.cleanup()(), settings.cleanup_interval_seconds)
        on_startup.append(cleanup.start)
        on_shutdown.insert(0, cleanup.stop)

    handlers: list[ControllerRouterHandler] = [
        general.router(),
        auth.router(settings),
        jobs.router(),
        job_streams.router(settings),
        internal.router(lambda: container.settings().internal_api_key),
        files.router(),
        uploads.router(),
        openapi_json,
        swagger_assets(),
    ]
    if settings.metrics and settings.metrics_port is None:
        handlers.append(metrics_endpoint)
    cors = (
        CORSConfig(
            allow_origins=list(settings.frontend_urls),
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            # Paging and tus headers a page's script may read (beyond the CORS-safelisted).
            expose_headers=[files.NEXT_CURSOR, "Link", *uploads.EXPOSED_HEADERS],
        )
        if settings.frontend_urls
        else None
    )
    dependencies = {
        **container_dependencies(container),
        "user": user_dependency(container.identity_verifier, origins),
        "origins": Provide(lambda: origins, sync_to_thread=False),
    }
    resolved_in_turn(handlers, dependencies)
    return Litestar(
        route_handlers=handlers,
        dependencies=dependencies,
        before_request=require_json_body,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        cors_config=cors,
        openapi_config=openapi_config(),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        request_max_body_size=MAX_REQUEST_BODY_BYTES,
        request_class=JsonSafeRequest,
        middleware=[observe],
        logging_config=None,  # logs go through the root logger (entrypoints/logs.py)
        state=State({"metrics_registry": exposition_registry(settings.database_url)}),
    )
