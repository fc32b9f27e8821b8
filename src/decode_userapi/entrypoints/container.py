"""The one dependency container: picks the adapters from the settings.

Tests override providers (`container.file_storage.override(...)`).
"""

from dependency_injector import containers, providers

from decode_userapi.adapters.persistence.database import (
    DatabaseProbe,
    create_engine,
    create_session_factory,
)
from decode_userapi.adapters.storage.local import LocalFileStorage
from decode_userapi.entrypoints.settings import Settings
from decode_userapi.ports.identity_provider import IdentityProvider
from decode_userapi.services.readiness import CheckReadiness


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    engine = providers.Singleton(create_engine, url=settings.provided.database_url)
    session_factory = providers.Singleton(create_session_factory, engine)

    identity_provider: providers.Dependency[IdentityProvider] = providers.Dependency()

    file_storage = providers.Selector(
        settings.provided.filesystem,
        local=providers.Singleton(LocalFileStorage, root=settings.provided.user_data_root_path),
    )

    check_readiness = providers.Factory(
        CheckReadiness,
        probes=providers.Dict(
            database=providers.Factory(DatabaseProbe, engine), storage=file_storage
        ),
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
