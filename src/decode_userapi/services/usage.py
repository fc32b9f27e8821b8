"""Quotas and usage: what a user sees, what an operator sets, and recounting usage."""

import logging

import msgspec

from decode_userapi.domain.errors import InvalidInput, NotFound
from decode_userapi.domain.files import EntryKind, FileRef
from decode_userapi.domain.quotas import Account, Limits
from decode_userapi.domain.users import User, parse_email
from decode_userapi.ports.account_directory import AccountDirectory
from decode_userapi.ports.file_storage import FileStorage
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.ports.usage_ledger import UsageLedger
from decode_userapi.services.files.measure import Footprint, footprint
from decode_userapi.services.files.space import stored_ref

log = logging.getLogger(__name__)


class UsageReport(msgspec.Struct, frozen=True):
    account: Account
    running_jobs: int


class DescribeUsage:
    """A user's storage use (as tracked, not recounted), running jobs and limits."""

    def __init__(self, ledger: UsageLedger, uow: UnitOfWork) -> None:
        self._ledger = ledger
        self._uow = uow

    async def __call__(self, user_id: str) -> UsageReport:
        account = await self._ledger.account(user_id)
        async with self._uow as uow:
            running = await uow.jobs.count_running(user_id)
        return UsageReport(account, running)


async def user_named(identity: AccountDirectory, email: str) -> User:
    """The account with that email; `NotFound` otherwise."""
    wanted = parse_email(email)
    for user in await identity.list_users():
        if user.email == wanted:
            return user
    raise NotFound(f"No user has the email {wanted}.")


class SetQuota:
    """An operator sets a user's overrides (None: the default applies again)."""

    def __init__(self, identity: AccountDirectory, ledger: UsageLedger) -> None:
        self._identity = identity
        self._ledger = ledger

    async def __call__(self, email: str, overrides: Limits | None) -> tuple[User, Account]:
        """`overrides` None only reads the account."""
        user = await user_named(self._identity, email)
        if overrides is None:
            return user, await self._ledger.account(user.id)
        return user, await self._ledger.set_overrides(user.id, overrides)


def _space(name: str) -> bool:
    """Whether `name` can be a user's space (the storage keeps its own `.` folders)."""
    try:
        stored_ref(name, FileRef(()))
    except InvalidInput:
        return False
    return True


class RecountUsage:
    """Count what the storage holds in users' spaces and make it their tracked use.

    Files that reach a space without passing through this service (presigned POSTs
    straight to S3, results the workers write) are counted here; `cleanup` runs it for
    every user.
    """

    def __init__(self, storage: FileStorage, ledger: UsageLedger) -> None:
        self._storage = storage
        self._ledger = ledger

    async def user_ids(self) -> list[str]:
        """Users with a space in the storage or a row in the ledger."""
        top = await self._storage.list_folder(FileRef(()), recursive=False)
        spaces = {entry.ref.name for entry in top if entry.kind is EntryKind.DIRECTORY}
        return sorted(name for name in spaces | set(await self._ledger.user_ids()) if _space(name))

    async def __call__(self, user_id: str, *, dry_run: bool = False) -> tuple[Footprint, Account]:
        """The user's footprint in the storage, and their account before the recount."""
        before = await self._ledger.account(user_id)
        found = await footprint(self._storage, stored_ref(user_id, FileRef(())))
        if not dry_run:
            await self._ledger.set_used(user_id, bytes=found.bytes, files=found.files)
        return found, before
