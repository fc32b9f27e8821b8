"""Session-scoped servers for the integration tests, and per-test resources on them.

Registered from tests/conftest.py (`pytest_plugins`). Servers start lazily: a test run
that uses none of these fixtures starts nothing.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from decode_userapi.adapters.persistence.database import upgrade
from decode_userapi.entrypoints.settings import Settings, load_settings
from decode_userapi.ports.account_directory import AccountDirectory
from tests.servers.botocore_models import share_model_cache
from tests.servers.minio import Minio, minio_server
from tests.servers.moto import REGION, aws_environment, moto_server
from tests.servers.postgres import (
    PostgresServer,
    create_database,
    fresh_database,
    start_postgres,
)

share_model_cache()

STARTUP_TIMES = pytest.StashKey[dict[str, float]]()
"""Seconds each server took to start, shown at the end of the run."""


def _report(request: pytest.FixtureRequest, what: str, started: float) -> None:
    seconds = time.perf_counter() - started
    request.config.stash.setdefault(STARTUP_TIMES, {})[what] = seconds


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server (`.url(db)`, `.restart()`), stopped at session end."""
    started = time.perf_counter()
    server = start_postgres()
    _report(request, "postgres", started)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """The `postgresql+asyncpg://` URL of a new empty database, dropped after the test."""
    async with fresh_database(postgres_server) as url:
        yield url


MIGRATED_TEMPLATE = "template_at_head"


@pytest.fixture(scope="session")
def migrated_postgres_template(postgres_server: PostgresServer) -> str:
    """A database the migrations took to their head once per session, to copy from: a
    copy costs one `CREATE DATABASE`, the migrations about 0.15 s per test. (The app
    still applies migrations at start: on a copy there is nothing left to apply.
    tests/integration/test_migrations.py runs them from an empty database.)"""

    def migrate() -> None:  # in a thread: alembic runs its own event loop
        upgrade(asyncio.run(create_database(postgres_server, MIGRATED_TEMPLATE)))

    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(migrate).result()
    return MIGRATED_TEMPLATE


@pytest.fixture
async def migrated_postgres_url(
    postgres_server: PostgresServer, migrated_postgres_template: str
) -> AsyncIterator[str]:
    """The URL of a new database at the newest migration, dropped after the test."""
    async with fresh_database(postgres_server, template=migrated_postgres_template) as url:
        yield url


@pytest.fixture(scope="session")
def aws_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """moto's server (S3, Cognito, Secrets Manager); fake AWS credentials in the env."""
    started = time.perf_counter()
    with aws_environment(), moto_server() as endpoint:
        _report(request, "moto", started)
        yield endpoint


@pytest.fixture(scope="session")
def minio() -> Iterator[Minio]:
    """A MinIO server (testcontainers); the tests that need it skip where Docker is absent."""
    with minio_server() as server:
        if server is None:
            pytest.skip("no Docker engine here: the MinIO tests run where Docker does")
        yield server


@pytest.fixture
def s3_bucket(aws_endpoint: str) -> str:
    """A new empty bucket on moto's server."""
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=aws_endpoint, region_name=REGION)
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@dataclass(frozen=True)
class CognitoPool:
    """A user pool on moto: emails as usernames, the embedded stack's password rules
    (8 characters, a digit, upper and lower case, a symbol), groups users/workers/cloud, two app
    clients allowing USER_PASSWORD_AUTH (one without, one with a client secret)."""

    endpoint: str
    pool_id: str
    client_id: str
    secret_client_id: str
    client_secret: str


def create_cognito_pool(aws_endpoint: str) -> CognitoPool:
    """A new user pool on moto's server (also used by `benchmarks.throughput`)."""
    cognito = boto3.client("cognito-idp", endpoint_url=aws_endpoint, region_name=REGION)
    pool_id = cognito.create_user_pool(
        PoolName=f"pool-{uuid.uuid4().hex[:8]}",
        UsernameAttributes=["email"],
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 8,
                "RequireNumbers": True,
                "RequireLowercase": True,
                "RequireUppercase": True,
                "RequireSymbols": True,
            }
        },
    )["UserPool"]["Id"]
    for group in ("users", "workers", "cloud"):
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
    clients = [
        cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=f"client-{with_secret}",
            GenerateSecret=with_secret,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]
        for with_secret in (False, True)
    ]
    return CognitoPool(
        endpoint=aws_endpoint,
        pool_id=pool_id,
        client_id=clients[0]["ClientId"],
        secret_client_id=clients[1]["ClientId"],
        client_secret=clients[1]["ClientSecret"],
    )


@pytest.fixture
def cognito_pool(aws_endpoint: str) -> CognitoPool:
    """A new user pool on moto's server."""
    return create_cognito_pool(aws_endpoint)


@pytest.fixture
def production_settings(
    tmp_path: Path, migrated_postgres_url: str, s3_bucket: str, cognito_pool: CognitoPool
) -> Settings:
    """The production stack on throwaway servers: PostgreSQL, S3 and Cognito (moto).

    Built from environment variables exactly as an operator would set them.
    """
    return load_settings(
        {
            "DATABASE_URL": migrated_postgres_url,
            "FILESYSTEM": "s3",
            "S3_BUCKET": s3_bucket,
            "S3_REGION": REGION,
            "S3_ENDPOINT_URL": cognito_pool.endpoint,
            "USER_DATA_ROOT_PATH": "user_data",
            "COGNITO_USER_POOL_ID": cognito_pool.pool_id,
            "COGNITO_CLIENT_ID": cognito_pool.client_id,
            "COGNITO_REGION": REGION,
            "COGNITO_ENDPOINT_URL": cognito_pool.endpoint,
            "AUTH": "1",
            "APPLICATION_CONFIG_FILE": str(tmp_path / "application_config.yaml"),
            "INTERNAL_API_KEY_SECRET": "internal-test-key",
            "ALLOWED_HOSTS": "testserver.local",  # the test client's host
        },
        env_file=None,
    )


TEST_PASSWORD = "Test password 1"


def signed_in_headers(identity: AccountDirectory) -> Callable[[str], Awaitable[dict[str, str]]]:
    """`await headers(name)`: auth headers of a confirmed user (in `users`) signed in
    through a real identity provider; registered on first use, so one name is one user."""
    registered: set[str] = set()

    async def headers(name: str) -> dict[str, str]:
        email = f"{name}@example.org"
        if name not in registered:
            await identity.register(email, TEST_PASSWORD, ["users"])
            registered.add(name)
        token = await identity.issue_token(email, TEST_PASSWORD)
        return {"Authorization": f"Bearer {token.id_token}"}

    return headers


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    times = terminalreporter.config.stash.get(STARTUP_TIMES, {})
    if times:
        shown = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in sorted(times.items()))
        terminalreporter.write_line(f"test servers started: {shown}")
