"""The one place where domain errors become HTTP status codes."""

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy.exc import SQLAlchemyError

from decode_userapi.adapters.persistence.database import database_unavailable
from decode_userapi.domain import errors
from decode_userapi.entrypoints.http.validation_messages import (
    handler_parameters,
    validation_detail,
)

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 400,
    errors.NotAuthenticated: 401,
    errors.NotAuthorized: 403,
    errors.NotFound: 404,
    errors.NotAllowed: 405,
    errors.AlreadyExists: 409,
    errors.RunningJobsQuotaExceeded: 409,
    errors.Conflict: 409,
    errors.Mismatch: 422,
    errors.TooLarge: 413,
    errors.TooManyAttempts: 429,
    errors.ChecksumMismatch: 460,  # tus checksum extension
    errors.UpstreamRejected: 502,
    errors.UpstreamUnavailable: 503,
    errors.Overloaded: 503,
    errors.OutOfSpace: 507,
}


def _body(
    detail: object, status_code: int, headers: dict[str, str] | None = None
) -> Response[object]:
    return Response(
        {"detail": detail}, status_code=status_code, media_type=MediaType.JSON, headers=headers
    )


def domain_error_handler(
    request: Request[Any, Any, Any], exc: errors.DomainError
) -> Response[object]:
    status_code = next(
        (code for kind, code in STATUS_BY_ERROR.items() if isinstance(exc, kind)), None
    )
    if status_code is None:
        return unmapped_domain_error_handler(request, exc)
    headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
    if isinstance(exc, errors.RetryLater):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return _body(exc.message, status_code, headers)


def unmapped_domain_error_handler(
    request: Request[Any, Any, Any], exc: errors.DomainError
) -> Response[object]:
    """A domain error with no status in `STATUS_BY_ERROR` is a bug of ours, not the
    caller's: 500, and a log line naming it so that it gets a status."""
    log.error(
        "Domain error %s has no HTTP status (%s %s): %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc.message,
    )
    return _body("Internal server error.", HTTP_500_INTERNAL_SERVER_ERROR)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[object]:
    if isinstance(exc, ValidationException) and exc.extra:
        detail = validation_detail(exc.extra, exc.detail, handler_parameters(request))
        return _body(detail, exc.status_code)
    if isinstance(exc.__cause__, SerializationException):  # the body is no JSON
        reason = exc.detail.removeprefix("JSON is malformed: ")
        return _body(f"The request body is not valid JSON: {reason}.", exc.status_code)
    return _body(exc.detail, exc.status_code, exc.headers)


TRY_AGAIN = {"Retry-After": "1"}


def database_error_handler(
    request: Request[Any, Any, Any], exc: SQLAlchemyError
) -> Response[object]:
    """503 while the database is restarting or out of reach; any other database error
    is a bug (500)."""
    if not database_unavailable(exc):
        return unexpected_error_handler(request, exc)
    log.warning("Database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return _body(
        "The database is unavailable right now; try again in a moment.",
        HTTP_503_SERVICE_UNAVAILABLE,
        TRY_AGAIN,
    )


def connection_error_handler(
    request: Request[Any, Any, Any], exc: ConnectionError
) -> Response[object]:
    """A connection to a service we need was refused or dropped (e.g. opening a database
    connection while the server restarts): 503."""
    log.warning("Connection failed on %s %s: %r", request.method, request.url.path, exc)
    return _body(
        "A service this API depends on cannot be reached right now; try again in a moment.",
        HTTP_503_SERVICE_UNAVAILABLE,
        TRY_AGAIN,
    )


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _body("Internal server error.", HTTP_500_INTERNAL_SERVER_ERROR)


EXCEPTION_HANDLERS = {
    errors.DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    SQLAlchemyError: database_error_handler,
    ConnectionError: connection_error_handler,
    Exception: unexpected_error_handler,
}
