"""The accounts of the identity back-end: signing people up and in, an operator's changes."""

from collections.abc import Sequence
from typing import Protocol

import msgspec

from decode_userapi.domain.users import User


class IssuedToken(msgspec.Struct, frozen=True):
    id_token: str
    expires_in: int
    """Seconds until the token expires."""


class AccountDirectory(Protocol):
    """Creates, signs in and changes accounts (verifying tokens is `IdentityVerifier`'s).

    Accounts are named by email; callers pass emails already normalised
    (`domain.users.parse_email`) and groups already checked (`parse_groups`).
    """

    async def register(self, email: str, password: str, groups: Sequence[str]) -> User:
        """Create an account. `AlreadyExists` when the email is taken; `InvalidInput`
        (naming the rule) when the password does not meet the policy."""
        ...

    async def issue_token(self, email: str, password: str) -> IssuedToken:
        """Sign in. `NotFound` for an unknown user; `InvalidInput` for a wrong password."""
        ...

    async def change_groups(self, email: str, *, add: Sequence[str], remove: Sequence[str]) -> User:
        """Add the account to groups and remove it from others (an operator's action;
        approving a new user = adding them to `users`). `NotFound` for an unknown user.
        Tokens issued before keep their groups until they expire."""
        ...

    async def list_users(self) -> list[User]:
        """Every account (an operator's view), in no particular order."""
        ...

    async def delete_user(self, email: str) -> None:
        """Remove the account; its tokens stay valid until they expire. `NotFound` for
        an unknown user."""
        ...

    async def set_password(self, email: str, password: str) -> None:
        """Replace the password (an operator's action). `NotFound` for an unknown user;
        `InvalidInput` (naming the rule) when it does not meet the policy."""
        ...
