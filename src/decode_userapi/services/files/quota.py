"""Holding an upload's bytes against the user's storage quota while it is written.

Every way bytes enter a user's space through this service goes through `StorageQuota`:
reserve what the upload declares before the first byte is stored, hold more as bytes
beyond it arrive, settle with the stored size when it is in place, release on failure.
"""

from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from decode_userapi.domain.errors import StorageQuotaExceeded
from decode_userapi.domain.files import human_size
from decode_userapi.domain.quotas import storage_quota_exceeded
from decode_userapi.ports.usage_ledger import Reservation, UsageLedger
from decode_userapi.services.clock import Clock, utc_now

RESERVATION_LIFETIME = timedelta(days=1)
"""A plain upload's reservation left by a crashed process is released by `cleanup` after
this."""
GROWTH_STEP = 16 * 1024 * 1024
"""Bytes held at once when an upload passes what it reserved (one database write per step)."""


class HeldUpload:
    """One upload's reservation: meters its bytes, then settles or releases it."""

    def __init__(self, ledger: UsageLedger, reservation: Reservation) -> None:
        self._ledger = ledger
        self.reservation = reservation
        self.written = 0
        self.settled = False

    async def metered(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """`chunks`, holding more of the quota whenever they pass the reservation;
        `StorageQuotaExceeded` as soon as a chunk would not fit, before it is passed on."""
        async for chunk in chunks:
            self.written += len(chunk)
            missing = self.written - self.reservation.bytes
            if missing > 0:
                try:
                    self.reservation = await self._ledger.grow(
                        self.reservation, max(missing, GROWTH_STEP)
                    )
                except StorageQuotaExceeded:
                    self.reservation = await self._grow_exactly(missing)
            yield chunk

    async def _grow_exactly(self, missing: int) -> Reservation:
        """The last step may fit where a whole `GROWTH_STEP` does not."""
        try:
            return await self._ledger.grow(self.reservation, missing)
        except StorageQuotaExceeded as refused:
            raise StorageQuotaExceeded(
                f"{refused.message.rstrip('.')}; the upload was stopped after "
                f"{human_size(self.written)} and nothing of it was kept."
            ) from None

    async def settle(self, *, bytes: int, files: int) -> None:
        """The upload is in place: count `bytes` and `files` (deltas) as used."""
        await self._ledger.settle(self.reservation, bytes=bytes, files=files)
        self.settled = True


class StorageQuota:
    """Where uploads hold their bytes: `async with quota.hold(user_id, ...) as held:`
    write `held.metered(chunks)`, then `await held.settle(...)`; leaving the block
    without settling (an error, a refused chunk) releases the reservation.

    Uploads that span requests (resumable, multipart) call the ledger's
    `reserve`/`grow`/`settle`/`release` themselves and keep the `Reservation`.
    """

    def __init__(self, ledger: UsageLedger, clock: Clock = utc_now) -> None:
        self.ledger = ledger
        self._clock = clock

    @asynccontextmanager
    async def hold(
        self, user_id: str, *, declared_bytes: int | None, new_file: bool
    ) -> AsyncIterator[HeldUpload]:
        """Reserve `declared_bytes` (None: unknown, held as bytes arrive) and one file
        when the upload adds one; `StorageQuotaExceeded` before anything is written
        when they do not fit."""
        reservation = await self.ledger.reserve(
            user_id,
            bytes=declared_bytes or 0,
            files=1 if new_file else 0,
            expires_at=self._clock() + RESERVATION_LIFETIME,
        )
        held = HeldUpload(self.ledger, reservation)
        try:
            yield held
        finally:
            if not held.settled:
                await self.ledger.release(held.reservation)

    async def room(self, user_id: str) -> int | None:
        """Bytes the user may still add (None: no byte quota); `StorageQuotaExceeded`
        when nothing fits any more (bytes or files)."""
        account = await self.ledger.account(user_id)
        limits, usage = account.limits, account.usage
        files_left = (
            None if limits.files is None else limits.files - usage.used_files - usage.reserved_files
        )
        bytes_left = (
            None if limits.bytes is None else limits.bytes - usage.used_bytes - usage.reserved_bytes
        )
        if (files_left is not None and files_left < 1) or (
            bytes_left is not None and bytes_left < 1
        ):
            raise storage_quota_exceeded(limits, usage, 0, declared=False)
        return bytes_left

    async def fits(self, user_id: str, *, bytes: int, files: int) -> None:
        """`StorageQuotaExceeded` (naming the quota and the use) unless `bytes` and
        `files` more fit now; holds nothing."""
        reservation = await self.ledger.reserve(
            user_id, bytes=bytes, files=files, expires_at=self._clock() + RESERVATION_LIFETIME
        )
        await self.ledger.release(reservation)

    async def count(self, user_id: str, *, bytes: int, files: int) -> None:
        """Add `bytes` and `files` that are stored already to the use, atomically with
        the check that they fit (`StorageQuotaExceeded`, the use unchanged)."""
        reservation = await self.ledger.reserve(
            user_id, bytes=bytes, files=files, expires_at=self._clock() + RESERVATION_LIFETIME
        )
        await self.ledger.settle(reservation, bytes=bytes, files=files)
