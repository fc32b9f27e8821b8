"""Domain errors: each carries a message the user can act on.

The HTTP layer maps each class to one status code in one place
(`entrypoints/http/errors.py`); nothing else decides status codes.
"""


class DomainError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The request is malformed or breaks a rule (400)."""


class NotAuthenticated(DomainError):
    """No valid credentials: missing, malformed, expired or forged token (401)."""


class NotAuthorized(DomainError):
    """Valid credentials, but the caller may not do this (403)."""


class NotFound(DomainError):
    """The thing does not exist, or belongs to someone else (404)."""


class NotAllowed(DomainError):
    """The thing exists but this operation is not allowed on it (405)."""


class AlreadyExists(DomainError):
    """A name is already taken (409)."""


class Conflict(DomainError):
    """The thing is in a state that does not allow this, e.g. canceling a finished job (409)."""


class Mismatch(DomainError):
    """The request contradicts an earlier one it claims to repeat (422)."""


class TooLarge(DomainError):
    """The payload is over the configured limit (413)."""


class StorageQuotaExceeded(TooLarge):
    """The upload would take the user past their storage quota (bytes or files) (413)."""


class RunningJobsQuotaExceeded(DomainError):
    """The user already runs as many jobs as their quota allows (409): it clears when a
    job ends, not after a time a client could wait out, so not 429."""


class ChecksumMismatch(DomainError):
    """The bytes received do not match the checksum sent with them; none were kept (460)."""


class OutOfSpace(DomainError):
    """The server's own storage has no room left (a full disk); nothing was kept (507)."""


class UpstreamUnavailable(DomainError):
    """A service we depend on did not answer; nothing was changed (503)."""


class UpstreamRejected(DomainError):
    """A service we depend on refused the request; nothing was changed (502)."""


class RetryLater(DomainError):
    """Refused for now; the same request may succeed after `retry_after_seconds`."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)


class TooManyAttempts(RetryLater):
    """Too many failed attempts on this account or from this address (429)."""


class Overloaded(RetryLater):
    """The service has no capacity left for this kind of work right now (503)."""
