"""Where idempotency keys are kept."""

from datetime import datetime
from typing import Protocol

from decode_userapi.domain.idempotency import KeyUse


class IdempotencyKeys(Protocol):
    """Each user's keys, inside one unit of work; the store keeps a key once per user."""

    async def find(self, user_id: str, key: str, *, since: datetime) -> KeyUse | None:
        """The use of `key` by the user, if made at `since` or later."""
        ...

    async def claim(
        self, user_id: str, key: str, fingerprint: str, *, now: datetime, since: datetime
    ) -> bool:
        """Record the key for this unit of work (a use older than `since` is dropped
        first); False when another use of it is kept, in which case the unit of work
        can do nothing more and must be left. Call it before anything else in the unit
        of work: it waits for a concurrent claim of the same key to commit or roll back.
        """
        ...

    async def attach(self, user_id: str, key: str, job_id: int) -> None:
        """The job that the claimed key made; deleting the job deletes the key."""
        ...
