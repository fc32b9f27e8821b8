"""Counts of failed sign-ins, shared by every replica of the service."""

from collections.abc import Collection, Mapping
from typing import Protocol


class SignInThrottle(Protocol):
    """Attempts counted per key (an account, a client address) in fixed windows: a
    key's count starts again at its first attempt after its window has passed."""

    async def count(self, limits: Mapping[str, int]) -> int | None:
        """Count one attempt under each key of `limits` (key → most attempts allowed per
        window). None when every key is within its limit, else the seconds until the
        window of a key over its limit ends."""
        ...

    async def forgive(self, keys: Collection[str]) -> None:
        """Take back one attempt under each key (it succeeded, or was not tried)."""
        ...
