import asyncio
import base64
import hashlib
import threading

import pytest
from argon2 import PasswordHasher

from decode_userapi.adapters.identity.password_hash import (
    HashingPool,
    hash_password,
    needs_rehash,
    password_matches,
)
from decode_userapi.domain.errors import InvalidInput, Overloaded
from decode_userapi.domain.passwords import check_password_policy


@pytest.mark.parametrize(
    "password", ["Abcdef1!", "Ünïcödé-Päss9", "x" * 250 + "A1 _b", "A1b" + "-" * 5]
)
def test_accepts_policy_compliant_passwords(password: str) -> None:
    check_password_policy(password)


@pytest.mark.parametrize(
    ("password", "missing"),
    [
        ("Ab1!", "at least 8 characters"),
        ("", "at least 8 characters"),
        ("ABCDEFG1!", "a lowercase letter"),
        ("abcdefg1!", "an uppercase letter"),
        ("Abcdefgh!", "a digit"),
        ("Abcdefgh1", "a symbol"),
        ("Ab1!" + "x" * 253, "at most 256 characters"),
    ],
)
def test_names_the_missing_rule(password: str, missing: str) -> None:
    with pytest.raises(InvalidInput, match=missing):
        check_password_policy(password)


def test_names_every_missing_rule() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_password_policy("abc")
    assert all(
        rule in raised.value.message for rule in ("8 characters", "uppercase", "digit", "symbol")
    )


def scrypt_hash(password: str, n: int = 2**10) -> str:
    """A hash as the first version stored them: `scrypt$<n>$<r>$<p>$<salt>$<digest>`."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, dklen=32)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return "$".join(["scrypt", str(n), "8", "1", *encoded])


def test_hash_round_trip() -> None:
    stored = hash_password("Correct-horse-1")
    assert password_matches("Correct-horse-1", stored)
    assert not password_matches("correct-horse-1", stored)
    assert not password_matches("", stored)
    assert not needs_rehash(stored)


def test_new_hashes_are_argon2id_at_owasp_parameters() -> None:
    parameters = hash_password("Correct-horse-1").split("$")
    assert parameters[1] == "argon2id"
    assert parameters[3] == "m=19456,t=2,p=1"


def test_same_password_gets_a_new_salt() -> None:
    assert hash_password("Correct-horse-1") != hash_password("Correct-horse-1")


def test_scrypt_hashes_of_the_first_version_still_verify_and_need_a_rehash() -> None:
    stored = scrypt_hash("Correct-horse-1")
    assert password_matches("Correct-horse-1", stored)
    assert not password_matches("Correct-horse-2", stored)
    assert needs_rehash(stored)


def test_weaker_argon2_parameters_need_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("Pass-w0rd!")
    assert password_matches("Pass-w0rd!", weak)
    assert needs_rehash(weak)


async def test_the_hashing_pool_refuses_work_beyond_its_queue() -> None:
    pool = HashingPool(workers=1, queue=2)
    release = threading.Event()
    taken = [asyncio.create_task(pool.run(release.wait, 10)) for _ in range(3)]
    await asyncio.sleep(0)  # the three take their places: one runs, two wait
    with pytest.raises(Overloaded) as refused:
        await pool.run(release.wait, 10)
    assert refused.value.retry_after_seconds == 1
    release.set()
    assert await asyncio.gather(*taken) == [True, True, True]
    assert await pool.run(len, "free again") == 10
