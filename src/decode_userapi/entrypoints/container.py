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
from decode_userapi.services.files.changes import DeleteFile, RenameFile
from decode_userapi.services.files.downloads import DownloadFile, GetDownloadUrl
from decode_userapi.services.files.listing import ListFiles
from decode_userapi.services.files.space import UserSpaces
from decode_userapi.services.files.uploads import CreateFolder, GetUploadUrl, UploadFile
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

    user_spaces = providers.Singleton(UserSpaces, storage=file_storage)
    list_files = providers.Factory(ListFiles, spaces=user_spaces)
    upload_file = providers.Factory(
        UploadFile, spaces=user_spaces, max_bytes=settings.provided.max_upload_bytes
    )
    create_folder = providers.Factory(CreateFolder, spaces=user_spaces)
    get_upload_url = providers.Factory(
        GetUploadUrl, spaces=user_spaces, max_bytes=settings.provided.max_upload_bytes
    )
    download_file = providers.Factory(DownloadFile, spaces=user_spaces)
    get_download_url = providers.Factory(GetDownloadUrl, spaces=user_spaces)
    rename_file = providers.Factory(RenameFile, spaces=user_spaces)
    delete_file = providers.Factory(DeleteFile, spaces=user_spaces)

    check_readiness = providers.Factory(
        CheckReadiness,
        probes=providers.Dict(
            database=providers.Factory(DatabaseProbe, engine), storage=file_storage
        ),
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
