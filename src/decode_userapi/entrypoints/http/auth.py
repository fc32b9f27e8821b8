"""Who is calling: the `user` dependency every protected route takes."""

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.di import Provide

from decode_userapi.domain.errors import NotAuthenticated, NotAuthorized
from decode_userapi.domain.users import USERS_GROUP, User
from decode_userapi.entrypoints.http.origins import Origins
from decode_userapi.entrypoints.logs import note_user
from decode_userapi.ports.identity_verifier import IdentityVerifier

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE = "Authorization"


def bearer_token(request: Request[Any, Any, Any]) -> str:
    """The token from `Authorization: Bearer …`, or from the `Authorization` cookie
    that `POST /login` sets for browsers."""
    raw = request.headers.get("authorization") or request.cookies.get(COOKIE) or ""
    scheme, _, token = raw.strip().strip('"').partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Send an ID token as 'Authorization: Bearer <token>'.")
    return token.strip()


def check_cookie_origin(request: Request[Any, Any, Any], origins: Origins) -> None:
    """A browser sends the sign-in cookie with requests any site makes, so a request
    signed in by the cookie alone that changes something must come from a trusted
    origin (its `Origin`, or `Referer` when there is none): `NotAuthorized` otherwise.
    Requests with an `Authorization` header are not affected."""
    if request.method in SAFE_METHODS or "authorization" in request.headers:
        return
    sent_from = request.headers.get("origin") or request.headers.get("referer")
    if sent_from is None:
        raise NotAuthorized(
            "A request signed in by cookie that changes something must carry an Origin "
            "or Referer header; send the token as 'Authorization: Bearer <token>' instead."
        )
    if not origins.is_trusted(sent_from, request):
        raise NotAuthorized(
            f"Requests signed in by cookie are accepted only from this API's frontends, "
            f"not from {sent_from[:100]!r} (FRONTEND_URL)."
        )


def user_dependency(identity: Callable[[], IdentityVerifier], origins: Origins) -> Provide:
    """`identity` is called per request, so tests can override the provider late."""

    async def current_user(request: Request[Any, Any, Any]) -> User:
        user = await identity().verify(bearer_token(request))
        check_cookie_origin(request, origins)
        note_user(user.id)
        if not user.is_confirmed:
            raise NotAuthorized(
                f"Your account is not confirmed yet: it must be in the group '{USERS_GROUP}'."
            )
        return user

    return Provide(current_user)
