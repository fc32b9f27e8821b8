"""The one dependency container: picks the adapters from the settings.

Tests override providers (`container.file_storage.override(...)`).
"""

from dependency_injector import containers, providers

from decode_userapi.adapters.identity.cognito import CognitoIdentityProvider
from decode_userapi.adapters.persistence.database import (
    DatabaseProbe,
    create_engine,
    create_session_factory,
)
from decode_userapi.adapters.storage.local import LocalFileStorage
from decode_userapi.adapters.storage.s3 import S3FileStorage
from decode_userapi.entrypoints.settings import Settings
from decode_userapi.ports.identity_provider import IdentityProvider
from decode_userapi.services.readiness import CheckReadiness


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    engine = providers.Singleton(
        create_engine,
        url=settings.provided.database_url,
        pool_size=settings.provided.database_pool_size,
        max_overflow=settings.provided.database_max_overflow,
    )
    session_factory = providers.Singleton(create_session_factory, engine)

    identity_provider: providers.Dependency[IdentityProvider] = providers.Dependency()

    cognito_identity = providers.Singleton(
        CognitoIdentityProvider,
        user_pool_id=settings.provided.cognito_user_pool_id,
        client_id=settings.provided.cognito_client_id,
        region=settings.provided.cognito_region,
        client_secret=settings.provided.cognito_secret,
        endpoint_url=settings.provided.cognito_endpoint_url,
    )
    """The `cognito` choice of `identity_provider` (settings.identity == "cognito")."""

    file_storage = providers.Selector(
        settings.provided.filesystem,
        local=providers.Singleton(LocalFileStorage, root=settings.provided.user_data_root_path),
        s3=providers.Singleton(
            S3FileStorage,
            bucket=settings.provided.s3_bucket,
            root=settings.provided.user_data_root_path,
            region=settings.provided.s3_region,
            endpoint_url=settings.provided.s3_endpoint_url,
            presigned_url_expiry_seconds=settings.provided.presigned_url_expiry_seconds,
        ),
    )

    check_readiness = providers.Factory(
        CheckReadiness,
        probes=providers.Dict(
            database=providers.Factory(DatabaseProbe, engine), storage=file_storage
        ),
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
