"""The one place where domain errors become HTTP status codes."""

import logging
from enum import Enum
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from decode_userapi.domain import errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 400,
    errors.NotAuthenticated: 401,
    errors.NotAuthorized: 403,
    errors.NotFound: 404,
    errors.NotAllowed: 405,
    errors.AlreadyExists: 409,
    errors.TooLarge: 413,
    errors.NotImplementedByBackend: 501,
    errors.UpstreamRejected: 502,
    errors.UpstreamUnavailable: 503,
}


def _body(
    detail: object, status_code: int, headers: dict[str, str] | None = None
) -> Response[object]:
    return Response(
        {"detail": detail}, status_code=status_code, media_type=MediaType.JSON, headers=headers
    )


def domain_error_handler(_: Request[Any, Any, Any], exc: errors.DomainError) -> Response[object]:
    status_code = next(
        (code for kind, code in STATUS_BY_ERROR.items() if isinstance(exc, kind)), 400
    )
    headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
    return _body(exc.message, status_code, headers)


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[object]:
    if isinstance(exc, ValidationException) and exc.extra:
        return _body(f"{exc.detail}: {_without_enums(exc.extra)}", exc.status_code)
    return _body(exc.detail, exc.status_code, exc.headers)


def _without_enums(extra: object) -> object:
    """Litestar puts enum members in `extra` (`<ParamType.QUERY: 'query'>`): their value."""
    if isinstance(extra, list):
        return [_without_enums(item) for item in extra]
    if isinstance(extra, dict):
        return {key: _without_enums(value) for key, value in extra.items()}
    return extra.value if isinstance(extra, Enum) else extra


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _body("Internal server error.", HTTP_500_INTERNAL_SERVER_ERROR)


EXCEPTION_HANDLERS = {
    errors.DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
