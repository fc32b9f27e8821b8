"""Who a caller is, and (where the back-end allows it) signing people up and in."""

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from decode_userapi.domain.users import User


class IssuedToken(msgspec.Struct, frozen=True):
    id_token: str
    expires_in: int
    """Seconds until the token expires."""


@runtime_checkable  # handlers receive it as a Litestar dependency, which checks types
class IdentityProvider(Protocol):
    """Verifies ID tokens shaped like AWS Cognito's and manages accounts.

    Accounts are named by email; callers pass emails already normalised
    (`domain.users.parse_email`) and groups already checked (`parse_groups`).
    """

    async def verify(self, token: str) -> User:
        """The user an ID token speaks for.

        Raises `NotAuthenticated` for a missing, malformed, expired or forged token, or
        one issued for another audience/issuer or not of `token_use: id`. Group
        membership is *not* checked here.
        """
        ...

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

    def access_info(self) -> dict[str, dict[str, str]]:
        """Tells clients where and how to log in (`GET /access_info`)."""
        ...

    def jwks(self) -> dict[str, list[dict[str, Any]]] | None:
        """The JSON Web Key Set that verifies this provider's tokens when the service
        publishes it itself; None when the back-end publishes its keys elsewhere."""
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
