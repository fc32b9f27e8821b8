"""Failed sign-ins are limited per account and per client address, in the database that
every replica shares; old password hashes are replaced at the next sign-in."""

import asyncio
from collections import Counter

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from decode_userapi.adapters.persistence.sign_in_attempts import SignInAttemptRow
from decode_userapi.adapters.persistence.users import Account, SqlaAccounts, UserRow
from decode_userapi.entrypoints.container import Container, build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings
from tests.unit.test_passwords import scrypt_hash

Client = AsyncTestClient[Litestar]
PASSWORD = "Sunny-day-42"
PER_ACCOUNT, PER_ADDRESS = 3, 5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings,
        auth=True,  # development sign-in routes on Cognito too
        sign_in_max_failures_per_account=PER_ACCOUNT,
        sign_in_max_failures_per_address=PER_ADDRESS,
    )


async def sign_in(client: Client, email: str, password: str = PASSWORD) -> int:
    response = await client.post("/token", data={"username": email, "password": password})
    return response.status_code


async def add_user(container: Container, email: str) -> None:
    await container.register_user()(email, PASSWORD, ["users"])


async def test_failed_sign_ins_are_limited_per_account(
    client: Client, container: Container, settings: Settings
) -> None:
    await add_user(container, "alice@example.org")
    await add_user(container, "bob@example.org")
    wrong = [await sign_in(client, "alice@example.org", "Wrong-pass-1") for _ in range(3)]
    assert wrong == [400, 400, 400]

    refused = await client.post(
        "/token", data={"username": "alice@example.org", "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.json()["detail"]
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= settings.sign_in_failure_window_seconds
    assert await sign_in(client, "bob@example.org") == 201


async def test_failed_sign_ins_are_limited_per_address(
    client: Client, container: Container
) -> None:
    await add_user(container, "carol@example.org")
    tries = [await sign_in(client, f"nobody{i}@example.org") for i in range(PER_ADDRESS)]
    assert tries == [404] * PER_ADDRESS
    assert await sign_in(client, "carol@example.org") == 429
    login = await client.post(
        "/login", data={"username": "carol@example.org", "password": PASSWORD}
    )
    assert login.status_code == 429


async def test_parallel_attempts_cannot_pass_the_limit(
    client: Client, container: Container
) -> None:
    await add_user(container, "dave@example.org")
    statuses = await asyncio.gather(
        *(sign_in(client, "dave@example.org", "Wrong-pass-1") for _ in range(12))
    )
    assert Counter(statuses) == {400: PER_ACCOUNT, 429: 12 - PER_ACCOUNT}


async def test_a_successful_sign_in_does_not_count(client: Client, container: Container) -> None:
    await add_user(container, "erin@example.org")
    for _ in range(PER_ACCOUNT + 2):
        assert await sign_in(client, "erin@example.org") == 201
    assert await sign_in(client, "erin@example.org", "Wrong-pass-1") == 400


async def test_the_limit_holds_across_replicas(
    client: Client, container: Container, settings: Settings
) -> None:
    """Two processes of the service (two apps, two containers) on one database."""
    await add_user(container, "frank@example.org")
    other = build_container(settings)
    async with AsyncTestClient(create_app(other, migrate=False)) as replica:
        assert await sign_in(client, "frank@example.org", "Wrong-pass-1") == 400
        assert await sign_in(replica, "frank@example.org", "Wrong-pass-1") == 400
        assert await sign_in(client, "frank@example.org", "Wrong-pass-1") == 400
        assert await sign_in(replica, "frank@example.org") == 429
    await other.engine().dispose()


async def test_an_old_scrypt_hash_signs_in_and_is_replaced_by_argon2id(
    embedded_only: None, client: Client, container: Container
) -> None:
    accounts = SqlaAccounts(container.session_factory())
    await accounts.add(Account("0" * 32, "old@example.org", scrypt_hash(PASSWORD), ("users",)))

    assert await sign_in(client, "old@example.org") == 201

    async with container.session_factory()() as session:
        stored = await session.scalar(
            select(UserRow.password_hash).where(UserRow.email == "old@example.org")
        )
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert await sign_in(client, "old@example.org") == 201
    assert await sign_in(client, "old@example.org", "Wrong-pass-1") == 400


async def test_counts_start_again_when_the_window_has_passed(
    container: Container, settings: Settings
) -> None:
    short = build_container(msgspec.structs.replace(settings, sign_in_failure_window_seconds=1))
    async with AsyncTestClient(create_app(short)) as client:
        await add_user(container, "grace@example.org")
        for _ in range(PER_ACCOUNT):
            assert await sign_in(client, "grace@example.org", "Wrong-pass-1") == 400
        assert await sign_in(client, "grace@example.org") == 429
        await asyncio.sleep(1.2)
        assert await sign_in(client, "heidi@example.org") == 404  # prunes grace's rows
        async with container.session_factory()() as session:
            keys = set(await session.scalars(select(SignInAttemptRow.key)))
        assert keys == {"account:heidi@example.org", "address:testclient"}
        assert await sign_in(client, "grace@example.org") == 201
    await short.engine().dispose()
