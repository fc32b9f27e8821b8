"""The one dependency container: picks the adapters from the settings.

Tests override providers (`container.file_storage.override(...)`).
"""

from dependency_injector import containers, providers

from decode_userapi.adapters.identity.local import LocalIdentityProvider
from decode_userapi.adapters.identity.signing_key import load_or_create_signing_key
from decode_userapi.adapters.persistence.database import (
    DatabaseProbe,
    create_engine,
    create_session_factory,
)
from decode_userapi.adapters.persistence.users import SqlaAccounts
from decode_userapi.adapters.storage.local import LocalFileStorage
from decode_userapi.entrypoints.settings import Settings
from decode_userapi.services.accounts import ChangeGroups, RegisterUser, SignIn
from decode_userapi.services.readiness import CheckReadiness


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    engine = providers.Singleton(create_engine, url=settings.provided.database_url)
    session_factory = providers.Singleton(create_session_factory, engine)

    identity_provider = providers.Selector(
        settings.provided.identity,
        local=providers.Singleton(
            LocalIdentityProvider,
            accounts=providers.Factory(SqlaAccounts, session_factory),
            key=providers.Singleton(
                load_or_create_signing_key, settings.provided.local_identity_key_path
            ),
            issuer=settings.provided.local_identity_issuer,
            audience=settings.provided.local_identity_audience,
            token_lifetime_seconds=settings.provided.token_lifetime_seconds,
        ),
        # cognito=providers.Singleton(CognitoIdentityProvider, ...)  <- the Cognito adapter
    )
    register_user = providers.Factory(RegisterUser, identity_provider)
    sign_in = providers.Factory(SignIn, identity_provider)
    change_groups = providers.Factory(ChangeGroups, identity_provider)

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
