"""Who is calling."""

import msgspec

USERS_GROUP = "users"
KNOWN_GROUPS = frozenset({"users", "workers", "cloud"})


class User(msgspec.Struct, frozen=True):
    """An authenticated caller, as read from a verified ID token."""

    id: str
    email: str | None
    groups: tuple[str, ...] = ()

    @property
    def is_confirmed(self) -> bool:
        """Only members of the `users` group may use the API."""
        return USERS_GROUP in self.groups
