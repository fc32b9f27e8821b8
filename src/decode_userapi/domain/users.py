"""Who is calling, and the rules for accounts."""

import re
from collections.abc import Iterable

import msgspec

from decode_userapi.domain.errors import InvalidInput

USERS_GROUP = "users"
KNOWN_GROUPS = frozenset({"users", "workers", "cloud"})
DEFAULT_GROUPS = (USERS_GROUP,)

MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


class User(msgspec.Struct, frozen=True):
    """An authenticated caller, as read from a verified ID token."""

    id: str
    email: str | None
    groups: tuple[str, ...] = ()

    @property
    def is_confirmed(self) -> bool:
        """Only members of the `users` group may use the API."""
        return USERS_GROUP in self.groups


def parse_email(raw: str) -> str:
    """The address lower-cased and stripped; `InvalidInput` unless it looks like an email."""
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        raise InvalidInput(f"'{raw[:60]}' is not an email address.")
    return email


def parse_groups(raw: Iterable[str]) -> tuple[str, ...]:
    """Known group names, duplicates removed, in the order given."""
    groups = tuple(dict.fromkeys(raw))
    unknown = sorted(set(groups) - KNOWN_GROUPS)
    if unknown:
        raise InvalidInput(
            f"Unknown group '{unknown[0][:40]}'; groups are {', '.join(sorted(KNOWN_GROUPS))}."
        )
    return groups
