"""Uploads a client sends straight to the storage, in parts, through presigned URLs."""

from typing import Protocol

import msgspec

from decode_userapi.domain.files import FileEntry, FileRef


class DirectUpload(msgspec.Struct, frozen=True):
    """A started upload: PUT part `n` (from 1) of `part_size` bytes (the last may be
    shorter) to `part_urls[n - 1]`, keep each answer's ETag, then complete."""

    upload_id: str
    part_size: int
    part_urls: tuple[str, ...]


class DirectUploads(Protocol):
    """`NotAllowed` from every method when the storage takes no direct uploads."""

    async def start_direct(self, ref: FileRef, size: int) -> DirectUpload:
        """Presigned part URLs for a file of `size` bytes that will be at `ref`."""
        ...

    async def complete_direct(
        self, folder: FileRef, upload_id: str, etags: list[tuple[int, str]], *, max_bytes: int
    ) -> FileEntry:
        """Join the parts into the file; never replaces (`AlreadyExists`). `NotFound`
        when no such upload goes into `folder`; `TooLarge` (the file removed) when the
        joined file is over `max_bytes`."""
        ...

    async def abort_direct(self, folder: FileRef, upload_id: str) -> None:
        """Drop the parts; `NotFound` when no such upload goes into `folder`."""
        ...
