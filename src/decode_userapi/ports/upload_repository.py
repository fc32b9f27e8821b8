"""Resumable uploads in progress, shared by every replica of the service."""

from datetime import datetime
from typing import Protocol

from decode_userapi.domain.uploads import ResumableUpload, Staging


class UploadRepository(Protocol):
    """Uploads by id. A writer claims an upload before it appends (a lease that ends at
    `busy_until`), so two requests never write to one upload at once."""

    async def add(self, upload: ResumableUpload) -> None: ...

    async def get(self, upload_id: str, user_id: str) -> ResumableUpload | None:
        """The user's upload, or None (unknown, someone else's)."""
        ...

    async def claim(
        self, upload_id: str, user_id: str, offset: int, now: datetime, busy_until: datetime
    ) -> bool:
        """Take the lease on the user's upload if it is at `offset` and nobody holds a
        lease that runs past `now`."""
        ...

    async def extend(self, upload_id: str, busy_until: datetime) -> None:
        """Keep the lease while a long append goes on."""
        ...

    async def record(
        self,
        upload_id: str,
        *,
        previous_offset: int,
        offset: int,
        staging: Staging,
        expires_at: datetime,
    ) -> bool:
        """Store the progress of an append and end the lease; False (nothing stored)
        when the upload is no longer at `previous_offset` or is gone."""
        ...

    async def release(self, upload_id: str) -> None:
        """End the lease without progress (the append failed)."""
        ...

    async def remove(self, upload_id: str) -> None: ...

    async def expired(self, now: datetime) -> list[ResumableUpload]:
        """Uploads past their expiry that no writer holds."""
        ...
