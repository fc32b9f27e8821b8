"""The one dependency container: picks the adapters from the settings.

Tests override providers (`container.file_storage.override(...)`). What must be opened
at start or closed at the end is a `Resource` at the bottom: `open_resources` and
`close_resources` run them all, for the app's lifespan and for the CLI alike.
"""

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio.to_thread
from dependency_injector import containers, providers

from decode_userapi.adapters.catalog.sources import open_source
from decode_userapi.adapters.catalog.yaml_catalog import YamlApplicationCatalog
from decode_userapi.adapters.identity.cognito import CognitoIdentityProvider
from decode_userapi.adapters.identity.local import LocalIdentityProvider
from decode_userapi.adapters.identity.password_hash import HashingPool
from decode_userapi.adapters.identity.signing_key import load_or_create_signing_key
from decode_userapi.adapters.memory.notifier import RecordingNotifier
from decode_userapi.adapters.memory.storage import InMemoryFileStorage
from decode_userapi.adapters.memory.worker_gateway import RecordingWorkerGateway
from decode_userapi.adapters.notifier.log import LogNotifier
from decode_userapi.adapters.notifier.mailjet import MailjetNotifier
from decode_userapi.adapters.persistence.database import (
    DatabaseProbe,
    create_engine,
    create_session_factory,
)
from decode_userapi.adapters.persistence.sign_in_attempts import SqlaSignInThrottle
from decode_userapi.adapters.persistence.unit_of_work import SqlaUnitOfWork
from decode_userapi.adapters.persistence.users import SqlaAccounts
from decode_userapi.adapters.storage.local import LocalFileStorage
from decode_userapi.adapters.storage.s3 import S3FileStorage
from decode_userapi.adapters.worker_gateway.http import HttpWorkerGateway
from decode_userapi.entrypoints.settings import Settings
from decode_userapi.services.accounts import (
    ChangeGroups,
    DeleteUser,
    ListUsers,
    RegisterUser,
    SetPassword,
    SignIn,
    SignUp,
)
from decode_userapi.services.files.changes import DeleteFile, RenameFile
from decode_userapi.services.files.downloads import DownloadFile, GetDownloadUrl
from decode_userapi.services.files.listing import ListFiles
from decode_userapi.services.files.space import UserSpaces
from decode_userapi.services.files.uploads import CreateFolder, GetUploadUrl, UploadFile
from decode_userapi.services.jobs.applications import ListApplications
from decode_userapi.services.jobs.delete import DeleteJob
from decode_userapi.services.jobs.notify import NotifyJobEnded
from decode_userapi.services.jobs.queries import GetJob, ListJobs
from decode_userapi.services.jobs.status import UpdateJobStatus
from decode_userapi.services.jobs.submit import SubmitJob
from decode_userapi.services.readiness import CheckReadiness


async def _opened_in_a_thread(open_: Callable[[], object]) -> AsyncIterator[None]:
    await anyio.to_thread.run_sync(open_)
    yield


async def _closed_at_the_end(close: Callable[[], Awaitable[object]]) -> AsyncIterator[None]:
    yield
    await close()


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    engine = providers.Singleton(
        create_engine,
        url=settings.provided.database_url,
        pool_size=settings.provided.database_pool_size,
        max_overflow=settings.provided.database_max_overflow,
    )
    session_factory = providers.Singleton(create_session_factory, engine)

    identity_provider = providers.Selector(
        settings.provided.identity,
        local=providers.Singleton(
            LocalIdentityProvider,
            accounts=providers.Factory(SqlaAccounts, session_factory),
            key=providers.Singleton(
                load_or_create_signing_key, settings.provided.local_identity_key_path
            ),
            hashing=providers.Singleton(
                HashingPool,
                workers=settings.provided.password_hash_workers,
                queue=settings.provided.password_hash_queue,
            ),
            issuer=settings.provided.local_identity_issuer,
            audience=settings.provided.local_identity_audience,
            token_lifetime_seconds=settings.provided.token_lifetime_seconds,
        ),
        cognito=providers.Singleton(
            CognitoIdentityProvider,
            user_pool_id=settings.provided.cognito_user_pool_id,
            client_id=settings.provided.cognito_client_id,
            region=settings.provided.cognito_region,
            client_secret=settings.provided.cognito_secret,
            endpoint_url=settings.provided.cognito_endpoint_url,
        ),
    )
    register_user = providers.Factory(RegisterUser, identity_provider)
    sign_up = providers.Factory(
        SignUp, identity_provider, choose_groups=settings.provided.sign_up_chooses_groups
    )
    sign_in_throttle = providers.Factory(
        SqlaSignInThrottle,
        session_factory,
        window_seconds=settings.provided.sign_in_failure_window_seconds,
    )
    sign_in = providers.Factory(
        SignIn,
        identity_provider,
        sign_in_throttle,
        max_failures_per_account=settings.provided.sign_in_max_failures_per_account,
        max_failures_per_address=settings.provided.sign_in_max_failures_per_address,
    )
    change_groups = providers.Factory(ChangeGroups, identity_provider)
    list_users = providers.Factory(ListUsers, identity_provider)
    delete_user = providers.Factory(DeleteUser, identity_provider)
    set_password = providers.Factory(SetPassword, identity_provider)

    file_storage = providers.Selector(
        settings.provided.filesystem,
        local=providers.Singleton(LocalFileStorage, root=settings.provided.user_data_root_path),
        memory=providers.Singleton(InMemoryFileStorage),
        s3=providers.Singleton(
            S3FileStorage,
            bucket=settings.provided.s3_bucket,
            root=settings.provided.user_data_root_path,
            region=settings.provided.s3_region,
            endpoint_url=settings.provided.s3_endpoint_url,
            presigned_url_expiry_seconds=settings.provided.presigned_url_expiry_seconds,
        ),
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

    # Jobs
    unit_of_work = providers.Factory(SqlaUnitOfWork, session_factory)
    registry_check_interval = providers.Object(2.0)
    application_catalog = providers.Singleton(
        YamlApplicationCatalog,
        source=providers.Callable(
            open_source,
            settings.provided.application_config_file,
            s3_region=settings.provided.s3_region,
            s3_endpoint_url=settings.provided.s3_endpoint_url,
        ),
        check_interval=registry_check_interval,
    )
    worker_gateway = providers.Selector(
        settings.provided.worker_gateway,
        http=providers.Singleton(
            HttpWorkerGateway,
            base_url=settings.provided.workerfacing_api_url,
            api_key=settings.provided.internal_api_key,
        ),
        memory=providers.Singleton(RecordingWorkerGateway),
    )
    notifier = providers.Selector(
        providers.Callable(
            lambda service: service or "log", settings.provided.email_sender_service
        ),
        log=providers.Singleton(LogNotifier),
        memory=providers.Singleton(RecordingNotifier),
        mailjet=providers.Singleton(
            MailjetNotifier,
            sender=settings.provided.email_sender_address,
            api_key=settings.provided.email_sender_api_key,
            secret_key=settings.provided.email_sender_secret_key,
            api_url=settings.provided.mailjet_api_url,
        ),
    )
    notification_retry_delays = providers.Object((1.0, 4.0))

    list_applications = providers.Factory(ListApplications, application_catalog)
    list_jobs = providers.Factory(ListJobs, unit_of_work)
    get_job = providers.Factory(GetJob, unit_of_work)
    submit_job = providers.Factory(
        SubmitJob,
        uow=unit_of_work,
        catalog=application_catalog,
        storage=file_storage,
        gateway=worker_gateway,
    )
    delete_job = providers.Factory(DeleteJob, unit_of_work, file_storage)
    update_job_status = providers.Factory(UpdateJobStatus, unit_of_work)
    notify_job_ended = providers.Factory(
        NotifyJobEnded, notifier, retry_delays=notification_retry_delays
    )

    # Lifecycles: opened by `open_resources`, closed by `close_resources`. Each wraps a
    # provider above, which stays a plain singleton, so calling it never needs an await.
    storage_opened = providers.Resource(_opened_in_a_thread, file_storage.provider)
    """Local storage cleans its staging folder of what a crashed process left."""
    worker_gateway_closed = providers.Resource(_closed_at_the_end, worker_gateway.provided.aclose)
    engine_closed = providers.Resource(_closed_at_the_end, engine.provided.dispose)


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)


async def open_resources(container: Container) -> None:
    """Open what needs opening (the container's `Resource` providers)."""
    opening = container.init_resources()
    if opening is not None:  # None only if no resource were asynchronous
        await opening


async def close_resources(container: Container) -> None:
    """Close HTTP clients and database connections, in one place."""
    closing = container.shutdown_resources()
    if closing is not None:
        await closing
