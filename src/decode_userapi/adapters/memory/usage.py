"""`UsageLedger` in dictionaries, with the quota checks of the SQL one."""

from datetime import datetime

import msgspec

from decode_userapi.domain.quotas import Account, Limits, Usage, storage_quota_exceeded
from decode_userapi.ports.usage_ledger import Reservation


class InMemoryUsageLedger:
    """Usage per user in memory, with the quota checks of the real ledger."""

    def __init__(self, defaults: Limits | None = None) -> None:
        self.defaults = defaults or Limits()
        self.usage: dict[str, Usage] = {}
        self.overrides: dict[str, Limits] = {}
        self.reservations: dict[int, Reservation] = {}

    async def account(self, user_id: str) -> Account:
        overrides = self.overrides.get(user_id, Limits())
        return Account(
            user_id, self.usage.get(user_id, Usage()), overrides, self.defaults.over(overrides)
        )

    def _change(self, user_id: str, **deltas: int) -> None:
        now = msgspec.structs.asdict(self.usage.get(user_id, Usage()))
        self.usage[user_id] = Usage(**{k: max(0, v + deltas.get(k, 0)) for k, v in now.items()})

    async def _hold(self, user_id: str, bytes: int, files: int) -> None:
        account = await self.account(user_id)
        limits, usage = account.limits, account.usage
        if (
            limits.bytes is not None
            and bytes > 0
            and usage.used_bytes + usage.reserved_bytes + bytes > limits.bytes
        ) or (
            limits.files is not None
            and files > 0
            and usage.used_files + usage.reserved_files + files > limits.files
        ):
            raise storage_quota_exceeded(limits, usage, bytes, declared=bytes > 0)
        self._change(user_id, reserved_bytes=bytes, reserved_files=files)

    async def reserve(
        self, user_id: str, *, bytes: int, files: int, expires_at: datetime
    ) -> Reservation:
        await self._hold(user_id, bytes, files)
        reservation = Reservation(len(self.reservations) + 1, user_id, bytes, files)
        self.reservations[reservation.id] = reservation
        return reservation

    async def grow(self, reservation: Reservation, bytes: int) -> Reservation:
        await self._hold(reservation.user_id, bytes, 0)
        held = self.reservations[reservation.id]
        grown = Reservation(held.id, held.user_id, held.bytes + bytes, held.files)
        self.reservations[held.id] = grown
        return grown

    async def release(self, reservation: Reservation) -> None:
        held = self.reservations.pop(reservation.id, None)
        if held is not None:
            self._change(held.user_id, reserved_bytes=-held.bytes, reserved_files=-held.files)

    async def settle(self, reservation: Reservation, *, bytes: int, files: int) -> None:
        await self.release(reservation)
        await self.add(reservation.user_id, bytes=bytes, files=files)

    async def add(self, user_id: str, *, bytes: int, files: int) -> None:
        self._change(user_id, used_bytes=bytes, used_files=files)

    async def set_used(self, user_id: str, *, bytes: int, files: int) -> None:
        held = self.usage.get(user_id, Usage())
        self.usage[user_id] = Usage(bytes, files, held.reserved_bytes, held.reserved_files)

    async def set_overrides(self, user_id: str, overrides: Limits) -> Account:
        self.overrides[user_id] = overrides
        return await self.account(user_id)

    async def release_expired(self, now: datetime, *, dry_run: bool = False) -> list[Reservation]:
        return []

    async def user_ids(self) -> list[str]:
        return sorted(self.usage.keys() | self.overrides.keys())
