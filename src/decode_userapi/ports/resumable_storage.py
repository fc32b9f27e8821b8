"""Where the bytes of a resumable upload wait until its last byte has arrived."""

from collections.abc import AsyncIterable
from typing import Protocol

from decode_userapi.domain.files import FileRef
from decode_userapi.domain.uploads import Staging


class ResumableStorage(Protocol):
    """Staged bytes that survive a restart of the process and are visible to every
    replica; they become the file at `ref` (a storage path) only in `finish`.

    `ref` is the file's final place: the same for every call on one upload.
    """

    async def begin(self, ref: FileRef) -> Staging:
        """Make room for a new upload that will end at `ref`."""
        ...

    async def append(
        self, ref: FileRef, staging: Staging, offset: int, chunks: AsyncIterable[bytes], size: int
    ) -> tuple[Staging, int]:
        """Store `chunks` after the first `offset` staged bytes; return the new staging
        and offset once every chunk is durable. Bytes past `offset` from an earlier call
        that was never recorded are overwritten. `size` is the upload's full length:
        when the new offset reaches it, the bytes are ready for `finish`. If the stream
        fails nothing is recorded: the caller keeps the previous staging and offset."""
        ...

    async def finish(self, ref: FileRef, staging: Staging, size: int) -> None:
        """Put the staged bytes at `ref` at once, never replacing anything: `AlreadyExists`
        when a file or folder stands at `ref` or a file at one of its parents (the
        staging is then left for `abort`)."""
        ...

    async def abort(self, ref: FileRef, staging: Staging) -> None:
        """Drop the staged bytes; an upload already gone is fine."""
        ...
