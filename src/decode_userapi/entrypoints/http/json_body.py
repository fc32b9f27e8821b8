"""Routes whose body is JSON accept only JSON bodies.

Browsers send `text/plain`, form and multipart bodies to any site without asking it
first (no CORS preflight); refusing every other content type on JSON routes keeps a page
on another site from posting JSON through a signed-in browser.
"""

from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE


def takes_json(request: Request[Any, Any, Any]) -> bool:
    """Whether the route's handler reads its `data` from a JSON body."""
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return False
    media_type = getattr(data.kwarg_definition, "media_type", RequestEncodingType.JSON)
    return bool(media_type == RequestEncodingType.JSON)


def is_json(media_type: str) -> bool:
    kind, _, subtype = media_type.strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def has_body(request: Request[Any, Any, Any]) -> bool:
    headers = request.headers
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


async def require_json_body(request: Request[Any, Any, Any]) -> None:
    """`before_request` hook: 415 when a JSON route gets a body of another content type.
    (Without a body the request goes on, to be refused for what it lacks: a token first.)"""
    if not takes_json(request) or not has_body(request):
        return
    media_type = request.headers.get("content-type", "").partition(";")[0]
    if not is_json(media_type):
        shown = media_type.strip()[:100] or "none"
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"This route takes a JSON body: send it with 'Content-Type: "
            f"application/json' (the request's content type: {shown}).",
        )
