import pytest

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.users import parse_email, parse_groups


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        ("alice@example.org", "alice@example.org"),
        ("  Alice.Smith+decode@Lab.Example.ORG ", "alice.smith+decode@lab.example.org"),
    ],
)
def test_emails_are_normalised(raw: str, email: str) -> None:
    assert parse_email(raw) == email


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "alice",
        "alice@",
        "@example.org",
        "alice@localhost",
        "a b@example.org",
        "a@b@example.org",
        "alice@example.",
        "x" * 250 + "@example.org",
    ],
)
def test_non_emails_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="email"):
        parse_email(raw)


def test_groups_are_known_and_unique() -> None:
    assert parse_groups(["workers", "users", "workers"]) == ("workers", "users")
    assert parse_groups([]) == ()
    with pytest.raises(InvalidInput, match="'admins'"):
        parse_groups(["users", "admins"])
