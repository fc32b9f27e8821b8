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
from decode_userapi.adapters.identity.cognito import CognitoAccounts, CognitoUserPool
from decode_userapi.adapters.identity.local import LocalAccounts, LocalTokens
from decode_userapi.adapters.identity.password_hash import HashingPool
from decode_userapi.adapters.identity.signing_key import load_or_create_signing_key
from decode_userapi.adapters.job_events.local import InProcessJobEventFeed
from decode_userapi.adapters.job_events.postgres import PostgresJobEventFeed
from decode_userapi.adapters.memory.notifier import RecordingNotifier
from decode_userapi.adapters.memory.storage import InMemoryFileStorage
from decode_userapi.adapters.memory.worker_gateway import RecordingWorkerGateway
from decode_userapi.adapters.notifier.log import LogNotifier
from decode_userapi.adapters.notifier.mailjet import MailjetNotifier
from decode_userapi.adapters.persistence.database import (
    DatabaseProbe,
    backend_name,
    create_engine,
    create_session_factory,
)
from decode_userapi.adapters.persistence.driver import database_for
from decode_userapi.adapters.persistence.sign_in_attempts import SqlaSignInThrottle
from decode_userapi.adapters.persistence.unit_of_work import SqlaUnitOfWork
from decode_userapi.adapters.persistence.uploads import SqlaUploadRepository
from decode_userapi.adapters.persistence.usage import SqlaUsageLedger
from decode_userapi.adapters.persistence.users import SqlaAccounts
from decode_userapi.adapters.storage.local import LocalFileStorage, LocalStagingSweeper
from decode_userapi.adapters.storage.s3 import S3FileStorage
from decode_userapi.adapters.worker_gateway.http import HttpWorkerGateway
from decode_userapi.domain.quotas import Limits
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
from decode_userapi.services.files.direct import DirectMultipartUploads
from decode_userapi.services.files.downloads import DownloadFile, GetDownloadUrl
from decode_userapi.services.files.listing import ListFiles
from decode_userapi.services.files.quota import StorageQuota
from decode_userapi.services.files.resumable import (
    AbortExpiredUploads,
    ExpiredUploadsSweeper,
    ResumableUploads,
)
from decode_userapi.services.files.space import UserSpaces
from decode_userapi.services.files.uploads import CreateFolder, GetUploadUrl, UploadFile
from decode_userapi.services.jobs.applications import ListApplications
from decode_userapi.services.jobs.cancel import CancelJob
from decode_userapi.services.jobs.delete import DeleteJob
from decode_userapi.services.jobs.events import WatchJobEvents
from decode_userapi.services.jobs.logs import ReadJobLog
from decode_userapi.services.jobs.notify import NotifyJobEnded
from decode_userapi.services.jobs.queries import GetJob, ListJobs
from decode_userapi.services.jobs.rerun import RerunJob
from decode_userapi.services.jobs.status import UpdateJobStatus
from decode_userapi.services.jobs.submit import SubmitJob
from decode_userapi.services.readiness import CheckReadiness
from decode_userapi.services.retention import Cleanup
from decode_userapi.services.usage import DescribeUsage, RecountUsage, SetQuota


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
    database = providers.Singleton(database_for, engine)
    """The job routes' statements, run on the driver (`persistence/driver.py`)."""

    local_tokens = providers.Singleton(
        LocalTokens,
        key=providers.Singleton(
            load_or_create_signing_key, settings.provided.local_identity_key_path
        ),
        issuer=settings.provided.local_identity_issuer,
        audience=settings.provided.local_identity_audience,
        lifetime_seconds=settings.provided.token_lifetime_seconds,
    )
    cognito_pool = providers.Singleton(
        CognitoUserPool,
        user_pool_id=settings.provided.cognito_user_pool_id,
        client_id=settings.provided.cognito_client_id,
        region=settings.provided.cognito_region,
        endpoint_url=settings.provided.cognito_endpoint_url,
    )
    identity_verifier = providers.Selector(
        settings.provided.identity,
        local=providers.Singleton(LocalTokens.verifier, local_tokens),
        cognito=providers.Singleton(CognitoUserPool.verifier, cognito_pool),
    )
    account_directory = providers.Selector(
        settings.provided.identity,
        local=providers.Singleton(
            LocalAccounts,
            accounts=providers.Factory(SqlaAccounts, session_factory),
            hashing=providers.Singleton(
                HashingPool,
                workers=settings.provided.password_hash_workers,
                queue=settings.provided.password_hash_queue,
            ),
            tokens=local_tokens,
        ),
        cognito=providers.Singleton(
            CognitoAccounts, cognito_pool, client_secret=settings.provided.cognito_secret
        ),
    )
    register_user = providers.Factory(RegisterUser, account_directory)
    sign_up = providers.Factory(
        SignUp, account_directory, choose_groups=settings.provided.sign_up_chooses_groups
    )
    sign_in_throttle = providers.Factory(
        SqlaSignInThrottle,
        session_factory,
        window_seconds=settings.provided.sign_in_failure_window_seconds,
    )
    sign_in = providers.Factory(
        SignIn,
        account_directory,
        sign_in_throttle,
        max_failures_per_account=settings.provided.sign_in_max_failures_per_account,
        max_failures_per_address=settings.provided.sign_in_max_failures_per_address,
    )
    change_groups = providers.Factory(ChangeGroups, account_directory)
    list_users = providers.Factory(ListUsers, account_directory)
    delete_user = providers.Factory(DeleteUser, account_directory)
    set_password = providers.Factory(SetPassword, account_directory)

    staging_cleaned_at_open = providers.Object(True)
    """Local storage removes what crashed uploads left when it opens (not in `cleanup`,
    whose sweep of the staging folder logs each removal)."""
    file_storage = providers.Selector(
        settings.provided.filesystem,
        local=providers.Singleton(
            LocalFileStorage,
            root=settings.provided.user_data_root_path,
            clean_staging=staging_cleaned_at_open,
        ),
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

    # Quotas
    usage_ledger = providers.Singleton(
        SqlaUsageLedger,
        session_factory,
        defaults=providers.Factory(
            Limits,
            bytes=settings.provided.quota_bytes,
            files=settings.provided.quota_files,
            running_jobs=settings.provided.quota_running_jobs,
        ),
    )
    storage_quota = providers.Singleton(StorageQuota, usage_ledger)
    """Where every upload holds its bytes (resumable and multipart uploads too)."""

    user_spaces = providers.Singleton(UserSpaces, storage=file_storage)
    max_upload_bytes = settings.provided.max_upload_bytes
    list_files = providers.Factory(ListFiles, spaces=user_spaces)
    upload_file = providers.Factory(UploadFile, user_spaces, storage_quota, max_upload_bytes)
    create_folder = providers.Factory(CreateFolder, spaces=user_spaces)
    get_upload_url = providers.Factory(GetUploadUrl, user_spaces, storage_quota, max_upload_bytes)
    download_file = providers.Factory(DownloadFile, spaces=user_spaces)
    get_download_url = providers.Factory(GetDownloadUrl, spaces=user_spaces)
    rename_file = providers.Factory(RenameFile, spaces=user_spaces)
    delete_file = providers.Factory(DeleteFile, spaces=user_spaces, ledger=usage_ledger)
    upload_repository = providers.Factory(SqlaUploadRepository, session_factory)
    resumable_uploads = providers.Factory(
        ResumableUploads,
        spaces=user_spaces,
        storage=file_storage,
        uploads=upload_repository,
        ledger=usage_ledger,
        max_bytes=max_upload_bytes,
        expiry_seconds=settings.provided.resumable_upload_expiry_seconds,
    )
    direct_uploads = providers.Factory(
        DirectMultipartUploads, user_spaces, file_storage, storage_quota, max_upload_bytes
    )
    abort_expired_uploads = providers.Factory(
        AbortExpiredUploads, storage=file_storage, uploads=upload_repository, ledger=usage_ledger
    )

    check_readiness = providers.Factory(
        CheckReadiness,
        probes=providers.Dict(
            database=providers.Factory(DatabaseProbe, engine), storage=file_storage
        ),
    )

    # Jobs
    database_backend = providers.Singleton(backend_name, settings.provided.database_url)
    """`sqlite` or `postgresql`, worked out once (a Selector asks on every call)."""
    job_event_feed = providers.Selector(
        database_backend,
        sqlite=providers.Singleton(InProcessJobEventFeed),
        postgresql=providers.Singleton(PostgresJobEventFeed, settings.provided.database_url),
    )
    unit_of_work = providers.Factory(SqlaUnitOfWork, database, job_event_feed)
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
        spaces=user_spaces,
        gateway=worker_gateway,
        ledger=usage_ledger,
        idempotency_ttl_seconds=settings.provided.idempotency_key_ttl,
    )
    delete_job = providers.Factory(DeleteJob, unit_of_work, user_spaces, usage_ledger)
    cancel_job = providers.Factory(CancelJob, unit_of_work)
    rerun_job = providers.Factory(RerunJob, unit_of_work, submit_job)
    update_job_status = providers.Factory(UpdateJobStatus, unit_of_work)
    watch_job_events = providers.Factory(
        WatchJobEvents,
        unit_of_work,
        job_event_feed,
        keepalive_seconds=settings.provided.sse_keepalive_seconds,
    )
    read_job_log = providers.Factory(
        ReadJobLog, unit_of_work, user_spaces, poll_seconds=settings.provided.job_log_poll_seconds
    )
    notify_job_ended = providers.Factory(
        NotifyJobEnded, notifier, retry_delays=notification_retry_delays
    )

    describe_usage = providers.Factory(DescribeUsage, usage_ledger, unit_of_work)
    set_quota = providers.Factory(SetQuota, account_directory, usage_ledger)
    recount_usage = providers.Factory(RecountUsage, file_storage, usage_ledger)

    # Retention
    sweepers = providers.Selector(
        settings.provided.filesystem,
        local=providers.List(
            providers.Factory(
                LocalStagingSweeper,
                root=settings.provided.user_data_root_path,
                grace_seconds=settings.provided.staging_grace_seconds,
            ),
            providers.Factory(ExpiredUploadsSweeper, abort_expired_uploads),
        ),
        s3=providers.List(providers.Factory(ExpiredUploadsSweeper, abort_expired_uploads)),
        memory=providers.List(),
    )
    """What `cleanup` sweeps besides jobs."""
    cleanup = providers.Factory(
        Cleanup,
        uow=unit_of_work,
        delete_job=delete_job,
        recount=recount_usage,
        ledger=usage_ledger,
        sweepers=sweepers,
        retention_days=settings.provided.job_retention_days,
    )

    # Lifecycles: opened by `open_resources`, closed by `close_resources`. Each wraps a
    # provider above, which stays a plain singleton, so calling it never needs an await.
    storage_opened = providers.Resource(_opened_in_a_thread, file_storage.provider)
    """Local storage cleans its staging folder of what a crashed process left."""
    worker_gateway_closed = providers.Resource(_closed_at_the_end, worker_gateway.provided.aclose)
    database_closed = providers.Resource(_closed_at_the_end, database.provided.close)
    engine_closed = providers.Resource(_closed_at_the_end, engine.provided.dispose)
    job_event_feed_closed = providers.Resource(_closed_at_the_end, job_event_feed.provided.aclose)


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
