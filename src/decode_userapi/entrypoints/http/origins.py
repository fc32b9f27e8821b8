"""Which addresses this API trusts: its own public URL, and the origins of its frontends.

Requests carry the `Host` header their client chose. It is used to build URLs, or taken
as this API's own origin, only when `PUBLIC_URL` is unset and the host is one of
`ALLOWED_HOSTS`, so a forged `Host` is never echoed back next to a caller's token.
"""

from typing import Any
from urllib.parse import urlsplit

from litestar import Request

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.entrypoints.settings import Settings, origin_of


class Origins:
    """This API's base URL and the origins allowed to send it cookie-signed requests."""

    def __init__(self, settings: Settings) -> None:
        self._public_url = settings.public_url
        self._allowed_hosts = frozenset(settings.allowed_hosts)
        public = origin_of(settings.public_url) if settings.public_url else None
        self._trusted = frozenset(
            [
                *settings.frontend_urls,
                *([public] if public else []),
            ]
        )

    def base_url(self, request: Request[Any, Any, Any]) -> str:
        """`PUBLIC_URL`, or else the URL the request was sent to when its host is allowed.

        `InvalidInput` (400) for any other host."""
        if self._public_url is not None:
            return self._public_url
        own = self._request_origin(request)
        if own is None:
            raise InvalidInput(
                "The request's Host header is not one this API answers to: it builds URLs "
                "from PUBLIC_URL, or for the hosts in ALLOWED_HOSTS."
            )
        return str(request.base_url).rstrip("/")

    def is_trusted(self, origin: str, request: Request[Any, Any, Any]) -> bool:
        """Whether `origin` is a frontend's, `PUBLIC_URL`'s or (host allowed) the request's."""
        candidate = origin_of(origin)
        if candidate is None:
            return False
        return candidate in self._trusted or candidate == self._request_origin(request)

    def _request_origin(self, request: Request[Any, Any, Any]) -> str | None:
        """The origin the request was sent to, when `PUBLIC_URL` is unset and its host is
        allowed; None otherwise."""
        if self._public_url is not None:
            return None
        origin = origin_of(str(request.base_url))
        host = urlsplit(origin).hostname if origin else None
        if host is None or ("*" not in self._allowed_hosts and host not in self._allowed_hosts):
            return None
        return origin
