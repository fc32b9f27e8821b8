"""Who is calling: the `user` dependency every protected route takes."""

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.di import Provide

from decode_userapi.domain.errors import NotAuthenticated, NotAuthorized
from decode_userapi.domain.users import USERS_GROUP, User
from decode_userapi.entrypoints.logs import note_user
from decode_userapi.ports.identity_provider import IdentityProvider


def bearer_token(request: Request[Any, Any, Any]) -> str:
    """The token from `Authorization: Bearer …`, or from the `Authorization` cookie
    that `POST /login` sets for browsers."""
    raw = request.headers.get("authorization") or request.cookies.get("Authorization") or ""
    scheme, _, token = raw.strip().strip('"').partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Send an ID token as 'Authorization: Bearer <token>'.")
    return token.strip()


def user_dependency(identity: Callable[[], IdentityProvider]) -> Provide:
    """`identity` is called per request, so tests can override the provider late."""

    async def current_user(request: Request[Any, Any, Any]) -> User:
        user = await identity().verify(bearer_token(request))
        note_user(user.id)
        if not user.is_confirmed:
            raise NotAuthorized(
                f"Your account is not confirmed yet: it must be in the group '{USERS_GROUP}'."
            )
        return user

    return Provide(current_user)
