import pytest

from decode_userapi.adapters.identity.password_hash import hash_password, password_matches
from decode_userapi.domain.errors import InvalidInput
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


def test_hash_round_trip() -> None:
    stored = hash_password("Correct-horse-1", n=2**10)
    assert stored.startswith("scrypt$1024$8$1$")
    assert password_matches("Correct-horse-1", stored)
    assert not password_matches("correct-horse-1", stored)
    assert not password_matches("", stored)


def test_same_password_gets_a_new_salt() -> None:
    assert hash_password("Correct-horse-1", n=2**10) != hash_password("Correct-horse-1", n=2**10)


def test_hash_keeps_its_own_cost() -> None:
    cheap = hash_password("Correct-horse-1", n=2**10, r=4, p=2)
    assert password_matches("Correct-horse-1", cheap)


def test_default_cost_is_strong() -> None:
    _, n, r, *_ = hash_password("Correct-horse-1").split("$")
    assert int(n) * int(r) >= 2**15 * 8
