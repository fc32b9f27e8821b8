"""Where each user's storage use, upload reservations and quota overrides are kept."""

from datetime import datetime
from typing import Protocol

import msgspec

from decode_userapi.domain.quotas import Account, Limits


class Reservation(msgspec.Struct, frozen=True):
    """Bytes and files held for one upload in flight, until it is settled or released.

    Plain data: an upload that spans requests (tus, S3 multipart) keeps it with its own
    state and hands it back to `grow`, `settle` or `release` later.
    """

    id: int
    user_id: str
    bytes: int
    files: int


class UsageLedger(Protocol):
    """Usage per user, shared by every process and replica (the database).

    Changes are atomic: of parallel reservations that together pass a quota, the ones
    that would pass it are refused, whatever process makes them. Limits are the
    defaults the ledger was built with, under each user's overrides.
    """

    async def account(self, user_id: str) -> Account:
        """The user's usage, overrides and limits (zero usage for a user never seen)."""
        ...

    async def reserve(
        self, user_id: str, *, bytes: int, files: int, expires_at: datetime
    ) -> Reservation:
        """Hold `bytes` and `files` for an upload; `StorageQuotaExceeded` (naming the
        quota and the use) when they do not fit. A reservation still held at
        `expires_at` is abandoned and released by `release_expired`."""
        ...

    async def grow(self, reservation: Reservation, bytes: int) -> Reservation:
        """Hold `bytes` more for the same upload (its size was not known ahead);
        `StorageQuotaExceeded` when they do not fit, the reservation unchanged."""
        ...

    async def settle(self, reservation: Reservation, *, bytes: int, files: int) -> None:
        """The upload is stored: drop the reservation and add `bytes` and `files` (which
        may be negative: a replaced file's size is subtracted) to the use."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """The upload failed: drop the reservation; an unknown one is fine."""
        ...

    async def add(self, user_id: str, *, bytes: int, files: int) -> None:
        """Change the use by `bytes` and `files` (negative for deletions), never below 0."""
        ...

    async def set_used(self, user_id: str, *, bytes: int, files: int) -> None:
        """Replace the use with what the storage holds (a recount)."""
        ...

    async def set_overrides(self, user_id: str, overrides: Limits) -> Account:
        """Replace the user's overrides (None fields: the default applies)."""
        ...

    async def release_expired(self, now: datetime, *, dry_run: bool = False) -> list[Reservation]:
        """Release (unless `dry_run`) and return the reservations that expired before `now`."""
        ...

    async def user_ids(self) -> list[str]:
        """Every user the ledger has a row for."""
        ...
