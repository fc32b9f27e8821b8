"""Accounts: signing up, signing in, and an operator changing someone's groups.

These use cases apply the rules every identity back-end shares (an email address,
known groups); each back-end applies its own password policy.
"""

from collections.abc import Sequence

from decode_userapi.domain.users import DEFAULT_GROUPS, User, parse_email, parse_groups
from decode_userapi.ports.identity_provider import IdentityProvider, IssuedToken


class RegisterUser:
    """Create an account in the given groups (default: `users`)."""

    def __init__(self, identity: IdentityProvider) -> None:
        self._identity = identity

    async def __call__(self, email: str, password: str, groups: Sequence[str] = ()) -> User:
        return await self._identity.register(
            parse_email(email), password, parse_groups(groups or DEFAULT_GROUPS)
        )


class SignIn:
    """Exchange an email and password for an ID token."""

    def __init__(self, identity: IdentityProvider) -> None:
        self._identity = identity

    async def __call__(self, email: str, password: str) -> IssuedToken:
        return await self._identity.issue_token(parse_email(email), password)


class ChangeGroups:
    """Add an account to groups and remove it from others."""

    def __init__(self, identity: IdentityProvider) -> None:
        self._identity = identity

    async def __call__(
        self, email: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> User:
        return await self._identity.change_groups(
            parse_email(email), add=parse_groups(add), remove=parse_groups(remove)
        )


class ListUsers:
    """Every account, sorted by email (an operator's view)."""

    def __init__(self, identity: IdentityProvider) -> None:
        self._identity = identity

    async def __call__(self) -> list[User]:
        return sorted(await self._identity.list_users(), key=lambda user: user.email or "")


class DeleteUser:
    """Remove an account (its files and jobs stay until deleted through the API)."""

    def __init__(self, identity: IdentityProvider) -> None:
        self._identity = identity

    async def __call__(self, email: str) -> None:
        await self._identity.delete_user(parse_email(email))


class SetPassword:
    """Replace an account's password."""

    def __init__(self, identity: IdentityProvider) -> None:
        self._identity = identity

    async def __call__(self, email: str, password: str) -> None:
        await self._identity.set_password(parse_email(email), password)
