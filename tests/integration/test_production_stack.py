"""The whole app on the production stack: PostgreSQL, S3 and Cognito on local servers."""

from collections.abc import Awaitable

from litestar.testing import AsyncTestClient

from decode_userapi.adapters.identity.cognito import CognitoAccounts
from decode_userapi.adapters.storage.s3 import S3FileStorage
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings
from decode_userapi.ports.identity_verifier import IdentityVerifier
from tests.servers.fixtures import signed_in_headers


async def test_app_starts_and_is_ready_on_the_production_stack(
    production_settings: Settings,
) -> None:
    container = build_container(production_settings)
    assert isinstance(container.file_storage(), S3FileStorage)
    assert isinstance(container.account_directory(), CognitoAccounts)

    async with AsyncTestClient(create_app(container)) as client:
        ready = await client.get("/health/ready")

    assert ready.status_code == 200
    assert ready.json() == {"database": "ok", "storage": "ok"}


async def test_signed_in_headers_carry_a_cognito_token_of_a_confirmed_user(
    production_settings: Settings,
) -> None:
    container = build_container(production_settings)
    headers_for = signed_in_headers(container.account_directory())
    verifier: IdentityVerifier = container.identity_verifier()

    first = await headers_for("alice")
    again = await headers_for("alice")
    other = await headers_for("bob")

    def user_of(headers: dict[str, str]) -> Awaitable[User]:
        return verifier.verify(headers["Authorization"].removeprefix("Bearer "))

    alice = await user_of(first)
    assert alice.is_confirmed
    assert alice.email == "alice@example.org"
    assert (await user_of(again)).id == alice.id
    assert (await user_of(other)).id != alice.id
