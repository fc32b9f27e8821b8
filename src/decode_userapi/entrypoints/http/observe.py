"""Per-request observation at the ASGI level: the request id (`X-Request-ID`), one access
line per request, and the request metrics. Kept to a few dictionary look-ups and one log
call per request."""

import logging
import os
import re
import time
from typing import Any, cast

from litestar import MediaType, Request, Response, get
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from decode_userapi.entrypoints.logs import CURRENT_REQUEST, RequestContext
from decode_userapi.entrypoints.metrics import (
    CONTENT_TYPE,
    FILE_BYTES,
    LATENCY,
    REQUESTS,
    SIGN_IN_FAILURES,
    exposition,
)

access_log = logging.getLogger("decode_userapi.access")

REQUEST_ID_HEADER = b"x-request-id"
_GOOD_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_SIGN_IN_ROUTES = ("/token", "/login")


def _request_id(scope: Scope) -> str:
    """The client's `X-Request-ID` when it is a sane token, else a new one."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _GOOD_ID.fullmatch(value):
            return value.decode()
    return os.urandom(16).hex()


def observe(app: ASGIApp) -> ASGIApp:
    """Wraps the Litestar app (register with `middleware=[observe]`)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        context = RequestContext(_request_id(scope))
        token = CURRENT_REQUEST.set(context)
        path = scope["path"]
        status = 500
        received = sent = 0

        async def counting_receive() -> ReceiveMessage:
            nonlocal received
            message = await receive()
            received += len(cast("bytes", message.get("body", b"")))
            return message

        async def tagging_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, context.request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        upload = path.endswith("/upload")
        try:
            await app(scope, counting_receive if upload else receive, tagging_send)
        finally:
            duration = time.perf_counter() - started
            route = scope.get("path_template") or "unmatched"
            method = scope["method"]
            REQUESTS.labels(method, route, status).inc()
            LATENCY.labels(method, route, status).observe(duration)
            if upload:
                FILE_BYTES.labels("upload").inc(received)
            elif path.endswith("/download") and method == "GET":
                FILE_BYTES.labels("download").inc(sent)
            elif route in _SIGN_IN_ROUTES and 400 <= status < 500:
                SIGN_IN_FAILURES.inc()
            access_log.info(
                "%s %s %s",
                method,
                path,
                status,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                    "user_id": context.user_id,
                },
            )
            CURRENT_REQUEST.reset(token)

    return middleware


@get("/metrics", include_in_schema=False, media_type=MediaType.TEXT, sync_to_thread=True)
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text format, no authentication (turn off with `METRICS=0`)."""
    body = exposition(request.app.state["metrics_registry"])
    return Response(body, media_type=CONTENT_TYPE)
