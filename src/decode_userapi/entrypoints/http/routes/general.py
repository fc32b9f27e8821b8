"""`GET /` and the health probes."""

import msgspec
from litestar import MediaType, Response, Router, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from decode_userapi.services.readiness import CheckReadiness

WELCOME = "Welcome to the DECODE OpenCloud User-facing API"


@get("/", summary="Welcome", tags=["general"], media_type=MediaType.JSON)
async def welcome() -> Response[bytes]:
    """A JSON string, as the original API answers."""
    return Response(msgspec.json.encode(WELCOME), media_type=MediaType.JSON)


@get("/health/live", summary="The process is up", tags=["health"])
async def live() -> dict[str, str]:
    return {"status": "ok"}


@get("/health/ready", summary="Database and storage answer", tags=["health"])
async def ready(check_readiness: NamedDependency[CheckReadiness]) -> Response[dict[str, str]]:
    checks = await check_readiness()
    healthy = all(value == "ok" for value in checks.values())
    return Response(checks, status_code=HTTP_200_OK if healthy else HTTP_503_SERVICE_UNAVAILABLE)


def router() -> Router:
    return Router(path="/", route_handlers=[welcome, live, ready])
