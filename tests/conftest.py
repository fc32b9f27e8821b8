"""Fixtures shared by every test: settings on both stacks and the app around them.

`settings` is parametrised: every test that uses it (directly or through `container`,
`app`, `client`, `headers_for`) runs twice, on `[embedded]` (SQLite, local files, local
identity, under `tmp_path`) and on `[production]` (PostgreSQL, S3 and Cognito on the
throwaway servers of tests/servers/). A test of what only the embedded stack has asks
for `embedded_only`.
"""

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.adapters.persistence.database import upgrade
from decode_userapi.entrypoints.container import Container, build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings, load_settings

TEST_PASSWORD = "Test-passw0rd"
STACKS = ["embedded", "production"]

pytest_plugins = ["tests.servers.fixtures"]


def embedded_settings(tmp_path: Path) -> Settings:
    """The embedded default, with every file under `tmp_path`."""
    return load_settings(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
            "USER_DATA_ROOT_PATH": str(tmp_path / "user_data"),
            "LOCAL_IDENTITY_KEY_PATH": str(tmp_path / "identity_key.pem"),
            "APPLICATION_CONFIG_FILE": str(tmp_path / "application_config.yaml"),
            "INTERNAL_API_KEY_SECRET": "internal-test-key",
            "ALLOWED_HOSTS": "testserver.local",  # the test client's host
        },
        env_file=None,
    )


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    """Which stack this test runs on: `embedded` or `production`."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a SQLite database the migrations took to their head once per session, to copy
    from: a copy costs a millisecond, the migrations about 0.25 s per test. (The app still
    applies migrations at start: on a copy there is nothing left to apply.
    tests/integration/test_migrations.py runs them from an empty database.)"""
    folder = tmp_path_factory.mktemp("migrated-sqlite")
    url = embedded_settings(folder).database_url

    with ThreadPoolExecutor(max_workers=1) as thread:  # alembic runs its own event loop
        thread.submit(upgrade, url).result()
    return folder


@pytest.fixture
def settings(stack: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The settings of `stack`, on fresh databases (at the newest migration), buckets
    and pools; production ones on the throwaway servers."""
    if stack == "production":
        production: Settings = request.getfixturevalue("production_settings")
        return production
    template: Path = request.getfixturevalue("migrated_sqlite_template")
    for database_file in template.glob("db.sqlite*"):  # with a journal, if one is left
        shutil.copy2(database_file, tmp_path / database_file.name)  # mode (owner only) too
    return embedded_settings(tmp_path)


@pytest.fixture
def embedded_only(stack: str) -> None:
    """For a test of what only the embedded stack has (local files, local identity)."""
    if stack != "embedded":
        pytest.skip("embedded stack only")


@pytest.fixture
def container(settings: Settings) -> Container:
    return build_container(settings)


HeadersFor = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture
def headers_for(container: Container, client: AsyncTestClient[Litestar]) -> HeadersFor:
    """`await headers_for("alice")`: request headers that authenticate a confirmed user
    (member of `users`) named by `alice`. Same name, same user. Do not assume the
    user's id equals the name.

    Users are registered through the real identity provider of the stack (after the
    app's start applied the migrations, hence `client`)."""
    tokens: dict[str, str] = {}

    async def headers(name: str) -> dict[str, str]:
        if name not in tokens:
            email = f"{name}@example.org"
            await container.register_user()(email, TEST_PASSWORD, ["users"])
            # From the provider, not the `SignIn` use case: its count of attempts would open
            # a database connection on this loop, which the app (on its own loop) cannot use.
            issued = await container.account_directory().issue_token(email, TEST_PASSWORD)
            tokens[name] = issued.id_token
        return {"Authorization": f"Bearer {tokens[name]}"}

    return headers


@pytest.fixture
def app(container: Container) -> Litestar:
    return create_app(container)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as test_client:
        yield test_client
