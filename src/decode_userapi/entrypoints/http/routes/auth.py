"""Signing up and in: `/access_info`, `/user`, `/token`, `/login` and the public keys.

`POST /user` is mounted only when self-registration is on, `POST /token` and
`POST /login` only when the identity back-end signs people in through this API.
"""

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.types import ControllerRouterHandler

from decode_userapi.domain.errors import NotFound
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.http.docs import BEARER
from decode_userapi.entrypoints.settings import Settings
from decode_userapi.ports.identity_verifier import IdentityVerifier
from decode_userapi.services.accounts import SignIn, SignUp
from decode_userapi.services.usage import DescribeUsage

TOKEN_PATH, LOGIN_PATH, JWKS_PATH = "/token", "/login", "/.well-known/jwks.json"
LOGIN_COOKIE_MAX_AGE = 1800
MAX_FORM_BYTES = 64 * 1024

FormBody = Body(media_type=RequestEncodingType.URL_ENCODED)


class Credentials(msgspec.Struct):
    username: str
    """The account's email address."""
    password: str


class Registration(msgspec.Struct):
    username: str
    """The account's email address."""
    password: str
    groups: str | list[str] = []
    """`users` (default), `workers`, `cloud`; repeat the field for several. Honoured only
    in development (`AUTH=1`)."""


class UsageInfo(msgspec.Struct):
    bytes: int
    """Bytes your files take (with uploads in flight)."""
    files: int
    running_jobs: int
    """Jobs not finished or failed."""


class LimitsInfo(msgspec.Struct):
    """Your quotas; null is unlimited."""

    bytes: int | None
    files: int | None
    running_jobs: int | None


class UserInfo(msgspec.Struct, omit_defaults=True):
    email: str | None
    groups: list[str]
    usage: UsageInfo | None = None
    """`GET /user` only: what you use. Files sent straight to the storage (presigned
    POSTs) and job results count from the next recount (`cleanup`)."""
    limits: LimitsInfo | None = None
    """`GET /user` only: your quotas."""


class TokenResponse(msgspec.Struct):
    id_token: str
    expires_in: int
    """Seconds until the token expires."""


class LoginResponse(msgspec.Struct):
    message: str


def _client_address(request: Request[Any, Any, Any]) -> str | None:
    """The caller's IP address (behind a proxy, the one it forwards when the proxy is
    trusted: uvicorn's `FORWARDED_ALLOW_IPS`)."""
    return request.client.host if request.client else None


def _user_info(user: User) -> UserInfo:
    return UserInfo(email=user.email, groups=list(user.groups))


@get("/access_info", summary="Where to log in")
async def access_info(settings: NamedDependency[Settings]) -> dict[str, dict[str, str | None]]:
    """No authentication. One key per identity back-end: `cognito` (user pool, app client, region)
    or `local` (issuer, audience and the sign-in routes)."""
    if settings.identity == "cognito":
        return {
            "cognito": {
                "user_pool_id": settings.cognito_user_pool_id,
                "client_id": settings.cognito_client_id,
                "region": settings.cognito_region,
            }
        }
    return {
        "local": {
            "issuer": settings.local_identity_issuer,
            "audience": settings.local_identity_audience,
            "token_url": TOKEN_PATH,
            "login_url": LOGIN_PATH,
            "jwks_url": JWKS_PATH,
        }
    }


@get(JWKS_PATH, summary="Public keys of the ID tokens")
async def jwks(identity_verifier: NamedDependency[IdentityVerifier]) -> dict[str, Any]:
    """No authentication. The JSON Web Key Set that verifies ID tokens issued by this service; 404
    when the identity back-end publishes its keys elsewhere."""
    keys = identity_verifier.jwks()
    if keys is None:
        raise NotFound("This identity back-end publishes its keys elsewhere.")
    return keys


@get("/user", summary="The caller's account", security=BEARER)
async def describe_user(
    user: NamedDependency[User], describe_usage: NamedDependency[DescribeUsage]
) -> UserInfo:
    """Email and groups of the caller, from the ID token, with their usage and quotas
    (`usage`, `limits`; a null limit is unlimited). 403 while the account is not in the
    group `users`."""
    report = await describe_usage(user.id)
    usage, limits = report.account.usage, report.account.limits
    info = _user_info(user)
    info.usage = UsageInfo(
        bytes=usage.used_bytes + usage.reserved_bytes,
        files=usage.used_files + usage.reserved_files,
        running_jobs=report.running_jobs,
    )
    info.limits = LimitsInfo(
        bytes=limits.bytes, files=limits.files, running_jobs=limits.running_jobs
    )
    return info


@post("/user", summary="Sign up")
async def register(
    data: Annotated[Registration, FormBody],
    sign_up: NamedDependency[SignUp],
    query_groups: Annotated[
        list[str] | None,
        QueryParameter(name="groups", description="Groups, repeated; added to the form's."),
    ] = None,
) -> UserInfo:
    """Form fields `username` (an email) and `password`. The new account has no group, so it gets
    403 until an operator approves it (adds it to `users`). Only in development (`AUTH=1`) it
    joins the groups asked for with the optional `groups`, repeated, as form field or query
    parameter (`users`, `workers`, `cloud`; default `users`). 409 when the email is taken, 400
    when the password does not meet the policy (8 to 256 characters with a lowercase and an
    uppercase letter, a digit and a symbol) or a group is unknown."""
    form_groups = [data.groups] if isinstance(data.groups, str) else data.groups
    user = await sign_up(data.username, data.password, [*form_groups, *(query_groups or [])])
    return _user_info(user)


@post(TOKEN_PATH, summary="Sign in for an ID token")
async def token(
    request: Request[Any, Any, Any],
    data: Annotated[Credentials, FormBody],
    sign_in: NamedDependency[SignIn],
) -> TokenResponse:
    """Form fields `username` (an email) and `password`. Send the token as
    `Authorization: Bearer <id_token>`. 404 for an unknown user, 400 for a wrong password,
    429 (with `Retry-After`) after too many failed sign-ins for the account or from the
    caller's address, 503 (with `Retry-After`) when too many sign-ins run at once."""
    issued = await sign_in(data.username, data.password, _client_address(request))
    return TokenResponse(id_token=issued.id_token, expires_in=issued.expires_in)


@post(LOGIN_PATH, summary="Sign in with a cookie")
async def login(
    request: Request[Any, Any, Any],
    data: Annotated[Credentials, FormBody],
    sign_in: NamedDependency[SignIn],
) -> Response[LoginResponse]:
    """Like `POST /token`, but sets the cookie `Authorization="Bearer <token>"` (HttpOnly,
    Secure, SameSite=None, 30 minutes) that browsers then send instead of the header."""
    issued = await sign_in(data.username, data.password, _client_address(request))
    cookie = Cookie(
        key="Authorization",
        value=f"Bearer {issued.id_token}",
        max_age=LOGIN_COOKIE_MAX_AGE,
        httponly=True,
        secure=True,
        samesite="none",
    )
    return Response(LoginResponse(message="Signed in."), status_code=201, cookies=[cookie])


def router(settings: Settings) -> Router:
    handlers: list[ControllerRouterHandler] = [access_info, jwks, describe_user]
    if settings.self_registration:
        handlers.append(register)
    if settings.sign_in_routes:
        handlers.extend([token, login])
    return Router(
        path="/", tags=["auth"], route_handlers=handlers, request_max_body_size=MAX_FORM_BYTES
    )
