"""The whole app on the production stack: PostgreSQL, S3 and Cognito on local servers."""

from litestar.testing import AsyncTestClient

from decode_userapi.adapters.identity.cognito import CognitoIdentityProvider
from decode_userapi.adapters.storage.s3 import S3FileStorage
from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings


async def test_app_starts_and_is_ready_on_the_production_stack(
    production_settings: Settings,
) -> None:
    container = build_container(production_settings)
    container.identity_provider.override(container.cognito_identity)
    assert isinstance(container.file_storage(), S3FileStorage)
    assert isinstance(container.identity_provider(), CognitoIdentityProvider)

    async with AsyncTestClient(create_app(container)) as client:
        ready = await client.get("/health/ready")

    assert ready.status_code == 200
    assert ready.json() == {"database": "ok", "storage": "ok"}
