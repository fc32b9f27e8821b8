"""Where the bytes and folders of every user's space live."""

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

import msgspec

from decode_userapi.domain.files import FileEntry, FileRef


class HttpRequestSpec(msgspec.Struct, frozen=True):
    """A request a client sends as is (`requests.request(**spec, files=...)`)."""

    method: str
    url: str
    headers: dict[str, str] = {}
    data: dict[str, str] = {}


class FileStorage(Protocol):
    """A tree of folders and files addressed by `FileRef` from the storage root.

    The services prefix every user path with the user's own folder, so an adapter
    never has to know about users. Folders exist on their own (they may be empty).
    Every method that is handed a missing path raises `NotFound`, except `delete`.
    """

    async def stat(self, ref: FileRef) -> FileEntry | None:
        """The file or folder at `ref`, or None when nothing is there."""
        ...

    async def list_folder(self, folder: FileRef, *, recursive: bool) -> list[FileEntry]:
        """Entries inside `folder` (not `folder` itself), sorted by their wire path
        (`FileEntry.wire_path`: a folder's with its trailing `/`), the order of a listing.

        Raises `NotFound` when `folder` is not a folder.
        """
        ...

    async def make_folder(self, ref: FileRef) -> None:
        """Create the folder and its parents; an existing folder is fine. A name is never
        both a file and a folder.

        Raises `AlreadyExists` when a file stands at `ref` or at one of its parents.
        """
        ...

    def read(self, ref: FileRef, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream the file's bytes `[start, end)` (`end` None: to the end) in chunks;
        raises `NotFound` on first iteration. The caller keeps the range inside the file."""
        ...

    async def write(self, ref: FileRef, chunks: AsyncIterable[bytes], *, max_bytes: int) -> int:
        """Store a file from a stream and return its size.

        All or nothing: the file appears at `ref` only once every chunk was
        written. If the stream fails or passes `max_bytes` (`TooLarge`), nothing
        is left behind and any previous file at `ref` is untouched. A previous file
        is replaced; `AlreadyExists` when a folder stands at `ref` or a file at one
        of its parents.
        """
        ...

    async def rename(self, source: FileRef, target: FileRef) -> None:
        """Move a file or an empty folder, creating `target`'s missing parents.

        Never replaces, even under concurrency: of parallel renames onto one target (from
        any number of processes) exactly one succeeds; the others raise `AlreadyExists`
        and leave their source where it was.
        `NotFound` when `source` is missing; `AlreadyExists` when `target` exists;
        `NotAllowed` for a folder that is not empty.
        """
        ...

    async def delete(self, ref: FileRef) -> None:
        """Remove a file, or a folder with everything in it. Missing is fine."""
        ...

    def uri(self, ref: FileRef) -> str:
        """Where the worker-facing API finds this path (absolute path or s3:// URI)."""
        ...

    async def download_request(self, ref: FileRef) -> HttpRequestSpec | None:
        """A presigned request that downloads the file directly, or None when
        the API itself must serve it."""
        ...

    async def upload_request(self, folder: FileRef, *, max_bytes: int) -> HttpRequestSpec | None:
        """A presigned form POST that uploads any file name into `folder`, or None
        when uploads must go through the API itself."""
        ...

    async def check(self) -> None:
        """Raise when the storage cannot be reached (readiness probe)."""
        ...
