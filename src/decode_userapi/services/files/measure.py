"""What a file or folder takes in the storage."""

from typing import Protocol

import msgspec

from decode_userapi.domain.files import EntryKind, FileEntry, FileRef


class Listable(Protocol):
    """What `footprint` reads: a `FileStorage`, or one user's `UserFiles`."""

    async def stat(self, ref: FileRef, /) -> FileEntry | None: ...

    async def list_folder(self, folder: FileRef, /, *, recursive: bool) -> list[FileEntry]: ...


class Footprint(msgspec.Struct, frozen=True):
    bytes: int = 0
    files: int = 0

    def __add__(self, other: "Footprint") -> "Footprint":
        return Footprint(self.bytes + other.bytes, self.files + other.files)


async def footprint(storage: Listable, ref: FileRef) -> Footprint:
    """The bytes and files at `ref` (a file, or everything under a folder); nothing there
    takes nothing."""
    entry = await storage.stat(ref)
    if entry is None:
        return Footprint()
    if entry.kind is EntryKind.FILE:
        return Footprint(entry.size_bytes, 1)
    entries = await storage.list_folder(ref, recursive=True)
    files = [item.size_bytes for item in entries if item.kind is EntryKind.FILE]
    return Footprint(sum(files), len(files))
