import gzip
import json
import time
import uuid
from collections.abc import AsyncIterator
from importlib.resources import files

import httpx
import jwt
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.adapters.identity.signing_key import load_or_create_signing_key
from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]
PASSWORD = "Sunny-day-42"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Development sign-up (`AUTH=1`): `POST /user` grants the groups asked for. What it
    does without `AUTH=1` is tested in test_sign_up.py."""
    return msgspec.structs.replace(settings, auth=True)


async def register(
    client: Client, email: str, password: str = PASSWORD, groups: tuple[str, ...] = ()
) -> tuple[int, dict[str, object]]:
    form = {"username": email, "password": password, "groups": list(groups)}
    response = await client.post("/user", data=form)
    return response.status_code, response.json()


async def sign_in(client: Client, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/token", data={"username": email, "password": password})
    assert response.status_code == 201, response.text
    token: str = response.json()["id_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_token_and_describe_user(client: Client) -> None:
    assert await register(client, "Alice@Example.org") == (
        201,
        {"email": "alice@example.org", "groups": ["users"]},
    )
    response = await client.post(
        "/token", data={"username": "alice@example.org", "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["expires_in"] == 3600
    me = await client.get("/user", headers=bearer(body["id_token"]))
    assert me.status_code == 200
    assert me.json() == {
        "email": "alice@example.org",
        "groups": ["users"],
        "usage": {"bytes": 0, "files": 0, "running_jobs": 0},
        "limits": {"bytes": None, "files": None, "running_jobs": None},
    }


async def test_token_carries_cognito_claims(client: Client, settings: Settings) -> None:
    await register(client, "bob@example.org", groups=("users", "cloud"))
    token = await sign_in(client, "bob@example.org")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["cognito:username"] == claims["sub"]
    assert sorted(claims["cognito:groups"]) == ["cloud", "users"]
    assert claims["email"] == "bob@example.org"
    assert claims["token_use"] == "id"
    assert claims["aud"] == audience(settings)
    assert claims["iss"] == issuer(settings)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    if settings.identity == "local":
        assert len(claims["cognito:username"]) == 32
        assert claims["cognito:groups"] == ["users", "cloud"]
        assert claims["exp"] - claims["iat"] == settings.token_lifetime_seconds
    else:  # emails as usernames: Cognito's username is the `sub`, a UUID
        assert str(uuid.UUID(claims["cognito:username"])) == claims["cognito:username"]


def audience(settings: Settings) -> str | None:
    """The `aud` of the stack's ID tokens."""
    if settings.identity == "local":
        return settings.local_identity_audience
    return settings.cognito_client_id


def issuer(settings: Settings) -> str:
    """The `iss` of the stack's ID tokens."""
    if settings.identity == "local":
        return settings.local_identity_issuer
    return (
        f"https://cognito-idp.{settings.cognito_region}.amazonaws.com/"
        f"{settings.cognito_user_pool_id}"
    )


async def test_groups_as_query_parameters(client: Client) -> None:
    response = await client.post(
        "/user?groups=workers&groups=cloud",
        data={"username": "w@example.org", "password": PASSWORD},
    )
    assert response.status_code == 201
    assert response.json()["groups"] == ["workers", "cloud"]


async def test_unknown_group_is_refused(client: Client) -> None:
    status, body = await register(client, "x@example.org", groups=("admins",))
    assert status == 400
    assert "admins" in str(body["detail"])


async def test_login_sets_a_cookie_that_authenticates(client: Client) -> None:
    await register(client, "carol@example.org")
    response = await client.post(
        "/login", data={"username": "carol@example.org", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert "message" in response.json()
    set_cookie = response.headers["set-cookie"]
    attributes = [part.strip().lower() for part in set_cookie.split(";")]
    assert attributes[0].startswith('authorization="bearer ey')
    assert {"httponly", "max-age=1800", "samesite=none", "secure"} <= set(attributes)

    client.cookies.clear()
    cookie = set_cookie.split(";")[0]
    me = await client.get("/user", headers={"Cookie": cookie})
    assert me.status_code == 200
    assert me.json()["email"] == "carol@example.org"


async def test_duplicate_email_is_409(client: Client) -> None:
    assert (await register(client, "dave@example.org"))[0] == 201
    status, body = await register(client, "DAVE@example.org", password="Other-pass-7")
    assert status == 409
    assert "dave@example.org" in str(body["detail"])


@pytest.mark.parametrize(
    ("password", "reason"),
    [("Short-1", "8 characters"), ("nouppercase-1", "uppercase"), ("NoSymbol1", "symbol")],
)
async def test_weak_password_is_400_with_the_reason(
    client: Client, stack: str, password: str, reason: str
) -> None:
    status, body = await register(client, "eve@example.org", password=password)
    assert status == 400
    # Cognito names the policy, not which rule failed.
    assert (reason if stack == "embedded" else "password") in str(body["detail"])


async def test_not_an_email_is_400(client: Client) -> None:
    status, body = await register(client, "not-an-email")
    assert status == 400
    assert "email" in str(body["detail"])


async def test_missing_form_field_is_400_naming_it(client: Client) -> None:
    response = await client.post("/token", data={"username": "a@example.org"})
    assert response.status_code == 400
    assert "password" in response.json()["detail"]


async def test_unknown_user_is_404_and_wrong_password_400(client: Client) -> None:
    unknown = await client.post(
        "/token", data={"username": "nobody@example.org", "password": PASSWORD}
    )
    assert unknown.status_code == 404
    await register(client, "frank@example.org")
    wrong = await client.post(
        "/token", data={"username": "frank@example.org", "password": "Wrong-pass-1"}
    )
    assert wrong.status_code == 400
    assert "password" in wrong.json()["detail"].lower()


async def test_user_outside_users_group_is_403(client: Client) -> None:
    await register(client, "worker@example.org", groups=("workers",))
    token = await sign_in(client, "worker@example.org")
    response = await client.get("/user", headers=bearer(token))
    assert response.status_code == 403
    assert "users" in response.json()["detail"]


def expired_token(settings: Settings, genuine: str) -> str:
    """`genuine` with its dates moved an hour into the past, signed by its issuer's key."""
    if settings.identity == "local":
        own = load_or_create_signing_key(settings.local_identity_key_path)
        key: object = own.private_key
    else:  # moto signs every pool's tokens with the private key it ships
        packed = files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz")
        key = jwt.PyJWK(json.loads(gzip.decompress(packed.read_bytes())))
    now = int(time.time())
    claims = jwt.decode(genuine, options={"verify_signature": False})
    claims |= {"iat": now - 7200, "exp": now - 3600}
    header = jwt.get_unverified_header(genuine)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"]})  # type: ignore[arg-type]


@pytest.mark.parametrize("case", ["none", "garbage", "expired", "basic"])
async def test_bad_credentials_are_401_with_www_authenticate(
    client: Client, settings: Settings, case: str
) -> None:
    await register(client, "grace@example.org")
    genuine = await sign_in(client, "grace@example.org")
    headers = {
        "none": {},
        "garbage": bearer("garbage.not.jwt"),
        "expired": bearer(expired_token(settings, genuine)),
        "basic": {"Authorization": "Basic Z3JhY2U6cGFzcw=="},
    }[case]
    response = await client.get("/user", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"]


async def test_headers_for_gives_a_confirmed_user(client: Client, headers_for: HeadersFor) -> None:
    first = await headers_for("heidi")
    assert await headers_for("heidi") == first
    me = await client.get("/user", headers=first)
    assert {key: me.json()[key] for key in ("email", "groups")} == {
        "email": "heidi@example.org",
        "groups": ["users"],
    }


async def test_access_info_tells_how_to_sign_in(client: Client, settings: Settings) -> None:
    response = await client.get("/access_info")
    assert response.status_code == 200
    expected: dict[str, dict[str, str | None]]
    if settings.identity == "local":
        expected = {
            "local": {
                "issuer": settings.local_identity_issuer,
                "audience": settings.local_identity_audience,
                "token_url": "/token",
                "login_url": "/login",
                "jwks_url": "/.well-known/jwks.json",
            }
        }
    else:
        expected = {
            "cognito": {
                "user_pool_id": settings.cognito_user_pool_id,
                "client_id": settings.cognito_client_id,
                "region": settings.cognito_region,
            }
        }
    assert response.json() == expected


async def test_the_issuers_jwks_verifies_issued_tokens(client: Client, settings: Settings) -> None:
    """The local provider serves its keys; Cognito publishes the pool's (not this API)."""
    await register(client, "ivan@example.org")
    token = await sign_in(client, "ivan@example.org")
    served = await client.get("/.well-known/jwks.json")
    if settings.identity == "local":
        assert served.status_code == 200
        document = served.json()
    else:
        assert served.status_code == 404
        pool_keys = f"{settings.cognito_endpoint_url}/{settings.cognito_user_pool_id}"
        async with httpx.AsyncClient() as outside:
            document = (await outside.get(f"{pool_keys}/.well-known/jwks.json")).json()
    keys = jwt.PyJWKSet.from_dict(document)
    key = keys[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token, key, algorithms=["RS256"], audience=audience(settings), issuer=issuer(settings)
    )
    assert claims["email"] == "ivan@example.org"


async def test_routes_are_documented(client: Client) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, method in [
        ("/user", "get"),
        ("/user", "post"),
        ("/token", "post"),
        ("/login", "post"),
        ("/access_info", "get"),
        ("/.well-known/jwks.json", "get"),
    ]:
        operation = paths[path][method]
        assert operation["summary"]
        assert operation["description"]
    form = paths["/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in form


@pytest.fixture
async def no_self_registration(settings: Settings) -> AsyncIterator[Client]:
    closed = msgspec.structs.replace(settings, auth=False)
    async with AsyncTestClient(create_app(build_container(closed))) as test_client:
        yield test_client


async def test_auth_0_removes_registration_but_keeps_sign_in(
    embedded_only: None, no_self_registration: Client, settings: Settings
) -> None:
    """Local identity only: with Cognito, AUTH=0 removes every sign-in route (below)."""
    container = build_container(settings)
    await container.register_user()("judy@example.org", PASSWORD)
    assert (await register(no_self_registration, "mallory@example.org"))[0] == 405
    token = await sign_in(no_self_registration, "judy@example.org")
    assert (await no_self_registration.get("/user", headers=bearer(token))).status_code == 200
    await container.engine().dispose()


async def test_oversized_form_is_413(client: Client) -> None:
    response = await client.post(
        "/token", data={"username": "a@example.org", "password": "x" * 100_000}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("auth", [None, False])
def test_sign_in_routes_are_not_mounted_for_an_external_back_end(
    settings: Settings, auth: bool | None
) -> None:
    external = msgspec.structs.replace(settings, identity="cognito", auth=auth)
    paths = create_app(build_container(external)).openapi_schema.to_schema()["paths"]
    assert "/token" not in paths
    assert "/login" not in paths
    assert set(paths["/user"]) == {"get"}
