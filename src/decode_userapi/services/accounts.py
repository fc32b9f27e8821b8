"""Accounts: signing up, signing in, and an operator changing someone's groups.

These use cases apply the rules every identity back-end shares (an email address,
known groups); each back-end applies its own password policy.
"""

from collections.abc import Sequence

from decode_userapi.domain.errors import InvalidInput, NotFound, TooManyAttempts
from decode_userapi.domain.users import DEFAULT_GROUPS, User, parse_email, parse_groups
from decode_userapi.ports.account_directory import AccountDirectory, IssuedToken
from decode_userapi.ports.sign_in_throttle import SignInThrottle


class RegisterUser:
    """An operator creates an account in the given groups (default: `users`)."""

    def __init__(self, accounts: AccountDirectory) -> None:
        self._accounts = accounts

    async def __call__(self, email: str, password: str, groups: Sequence[str] = ()) -> User:
        return await self._accounts.register(
            parse_email(email), password, parse_groups(groups or DEFAULT_GROUPS)
        )


class SignUp:
    """Self-registration through the API.

    In development (`choose_groups`, i.e. `AUTH=1`) the account gets the groups asked for
    (default `users`). Otherwise it gets none, so it is refused (403, "not confirmed")
    until an operator approves it; the groups asked for are still checked, then ignored.
    """

    def __init__(self, accounts: AccountDirectory, *, choose_groups: bool) -> None:
        self._accounts = accounts
        self._choose_groups = choose_groups

    async def __call__(self, email: str, password: str, groups: Sequence[str] = ()) -> User:
        asked = parse_groups(groups)
        granted = (asked or DEFAULT_GROUPS) if self._choose_groups else ()
        return await self._accounts.register(parse_email(email), password, granted)


class SignIn:
    """Exchange an email and password for an ID token, within the limits of failed
    sign-ins per account and per client address (shared by every replica)."""

    def __init__(
        self,
        accounts: AccountDirectory,
        throttle: SignInThrottle,
        *,
        max_failures_per_account: int,
        max_failures_per_address: int,
    ) -> None:
        self._accounts, self._throttle = accounts, throttle
        self._per_account, self._per_address = max_failures_per_account, max_failures_per_address

    async def __call__(
        self, email: str, password: str, client_address: str | None = None
    ) -> IssuedToken:
        """`TooManyAttempts` once the account or the address has used up its failures;
        every attempt counts until it succeeds, so parallel ones cannot pass the limit."""
        account = parse_email(email)
        limits = {f"account:{account}": self._per_account}
        if client_address:
            limits[f"address:{client_address}"] = self._per_address
        wait = await self._throttle.count(limits)
        if wait is not None:
            raise TooManyAttempts(
                f"Too many failed sign-ins for this account or from this address; try "
                f"again in {wait} seconds.",
                wait,
            )
        try:
            issued = await self._accounts.issue_token(account, password)
        except (InvalidInput, NotFound):
            raise  # a failed sign-in: it stays counted
        except BaseException:
            await self._throttle.forgive(limits)
            raise
        await self._throttle.forgive(limits)
        return issued


class ChangeGroups:
    """Add an account to groups and remove it from others."""

    def __init__(self, accounts: AccountDirectory) -> None:
        self._accounts = accounts

    async def __call__(
        self, email: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> User:
        return await self._accounts.change_groups(
            parse_email(email), add=parse_groups(add), remove=parse_groups(remove)
        )


class ListUsers:
    """Every account, sorted by email (an operator's view)."""

    def __init__(self, accounts: AccountDirectory) -> None:
        self._accounts = accounts

    async def __call__(self) -> list[User]:
        return sorted(await self._accounts.list_users(), key=lambda user: user.email or "")


class DeleteUser:
    """Remove an account (its files and jobs stay until deleted through the API)."""

    def __init__(self, accounts: AccountDirectory) -> None:
        self._accounts = accounts

    async def __call__(self, email: str) -> None:
        await self._accounts.delete_user(parse_email(email))


class SetPassword:
    """Replace an account's password."""

    def __init__(self, accounts: AccountDirectory) -> None:
        self._accounts = accounts

    async def __call__(self, email: str, password: str) -> None:
        await self._accounts.set_password(parse_email(email), password)
