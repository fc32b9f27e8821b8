"""The real service in-process, on in-memory adapters: for the tests of this project and
of the projects around it (the worker-facing API, the browser frontend, scripts).

Files live in memory (`FILESYSTEM=memory`), jobs sent to the worker-facing API are
recorded (`WORKERFACING_API_URL=memory://`), so are the emails (`EMAIL_SENDER_SERVICE=
memory`); accounts and jobs are kept by SQLite in a folder the caller gives (a test's
temporary folder), so the real SQL, migrations and identity provider run. Signing up is
open (`AUTH=1`); any variable can be set otherwise through `variables`.

    app = build_app(tmp_path, APPLICATION_CONFIG_FILE=str(registry_file))
    async with AsyncTestClient(app.app) as client: ...
    assert app.gateway.queued[0].job.meta.job_id == ...

    async with use_cases(tmp_path) as service:
        await service.register_user()("ada@example.org", "Sunny-day-42", ["users"])
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from litestar import Litestar

from decode_userapi.adapters.memory.notifier import RecordingNotifier
from decode_userapi.adapters.memory.storage import InMemoryFileStorage
from decode_userapi.adapters.memory.worker_gateway import RecordingWorkerGateway
from decode_userapi.adapters.persistence.database import upgrade
from decode_userapi.entrypoints.container import (
    Container,
    build_container,
    close_resources,
    open_resources,
)
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings, load_settings

INTERNAL_API_KEY = "internal-test-key"
"""The `x-api-key` of the internal routes (`PUT /_job_status`)."""


def in_memory_settings(folder: Path, **variables: str) -> Settings:
    """The settings of the in-memory service; `variables` (environment variable names)
    override or add to them."""
    return load_settings(
        {
            "FILESYSTEM": "memory",
            "WORKERFACING_API_URL": "memory://",
            "EMAIL_SENDER_SERVICE": "memory",
            "DATABASE_URL": f"sqlite:///{folder}/decode-userapi.sqlite",
            "LOCAL_IDENTITY_KEY_PATH": str(folder / "identity_key.pem"),
            "APPLICATION_CONFIG_FILE": str(folder / "application_config.yaml"),
            "INTERNAL_API_KEY_SECRET": INTERNAL_API_KEY,
            "AUTH": "1",
            "ALLOWED_HOSTS": "testserver.local,localhost,127.0.0.1",
            **variables,
        },
        env_file=None,
    )


@dataclass(frozen=True)
class InProcessApp:
    """The Litestar app and the in-memory adapters it runs on."""

    app: Litestar
    container: Container

    @property
    def gateway(self) -> RecordingWorkerGateway:
        """Every job queued with the worker-facing API, in order (`.queued`)."""
        gateway: RecordingWorkerGateway = self.container.worker_gateway()
        return gateway

    @property
    def notifier(self) -> RecordingNotifier:
        """Every ended job whose owner was told (`.sent`)."""
        notifier: RecordingNotifier = self.container.notifier()
        return notifier

    @property
    def storage(self) -> InMemoryFileStorage:
        """Every user's files (`.files`, by storage path `<user id>/<path>`)."""
        storage: InMemoryFileStorage = self.container.file_storage()
        return storage


def build_app(folder: Path, **variables: str) -> InProcessApp:
    """The whole HTTP API; run it with an ASGI test client (migrations run at its start)."""
    container = build_container(in_memory_settings(folder, **variables))
    return InProcessApp(create_app(container), container)


@asynccontextmanager
async def use_cases(folder: Path, **variables: str) -> AsyncIterator[Container]:
    """The container, migrated and opened: `(await) service.submit_job()(user, request)`,
    `service.worker_gateway().queued`, … Closed when the block ends."""
    container = build_container(in_memory_settings(folder, **variables))
    await anyio.to_thread.run_sync(upgrade, container.settings().database_url)
    await open_resources(container)
    try:
        yield container
    finally:
        await close_resources(container)
