"""In-memory fakes of our own ports, for tests that are not about those ports."""

from collections.abc import AsyncIterable, AsyncIterator

from decode_userapi.domain.errors import (
    AlreadyExists,
    NotFound,
    TooLarge,
)
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.ports.file_storage import HttpRequestSpec


class InMemoryFileStorage:
    """`FileStorage` in dictionaries: folders as a set, files as bytes."""

    def __init__(self) -> None:
        self.folders: set[FileRef] = {FileRef(())}
        self.files: dict[FileRef, bytes] = {}

    async def stat(self, ref: FileRef) -> FileEntry | None:
        if ref in self.folders:
            return FileEntry(ref, EntryKind.DIRECTORY)
        if ref in self.files:
            return FileEntry(ref, EntryKind.FILE, len(self.files[ref]))
        return None

    async def list_folder(self, folder: FileRef, *, recursive: bool) -> list[FileEntry]:
        if folder not in self.folders:
            raise NotFound(f"'{folder}' is not a folder.")
        below = [ref for ref in (*self.folders, *self.files) if ref != folder]
        below = [ref for ref in below if ref.is_within(folder)]
        if not recursive:
            below = [ref for ref in below if ref.parent == folder]
        return [entry for ref in below if (entry := await self.stat(ref)) is not None]

    async def make_folder(self, ref: FileRef) -> None:
        for depth in range(len(ref.parts) + 1):
            ancestor = FileRef(ref.parts[:depth])
            if ancestor in self.files:
                raise AlreadyExists(f"'{ancestor}' is a file.")
            self.folders.add(ancestor)

    async def read(self, ref: FileRef) -> AsyncIterator[bytes]:
        if ref not in self.files:
            raise NotFound(f"'{ref}' is not a file.")
        content = self.files[ref]
        for start in range(0, len(content), 4):
            yield content[start : start + 4]

    async def write(self, ref: FileRef, chunks: AsyncIterable[bytes], *, max_bytes: int) -> int:
        content = b""
        async for chunk in chunks:
            content += chunk
            if len(content) > max_bytes:
                raise TooLarge("Too large.")
        if ref in self.folders:
            raise AlreadyExists(f"'{ref}' is a folder.")
        await self.make_folder(ref.parent)
        self.files[ref] = content
        return len(content)

    async def rename(self, source: FileRef, target: FileRef) -> None:
        if await self.stat(target) is not None:
            raise AlreadyExists(f"'{target}' exists.")
        await self.make_folder(target.parent)
        if source in self.files:
            self.files[target] = self.files.pop(source)
        elif source in self.folders:
            self.folders.remove(source)
            self.folders.add(target)
        else:
            raise NotFound(f"'{source}' does not exist.")

    async def delete(self, ref: FileRef) -> None:
        self.files = {key: value for key, value in self.files.items() if not key.is_within(ref)}
        self.folders = {key for key in self.folders if not key.is_within(ref)} | {FileRef(())}

    def uri(self, ref: FileRef) -> str:
        return f"memory://{ref}"

    async def download_request(self, ref: FileRef) -> HttpRequestSpec | None:
        return HttpRequestSpec("get", f"https://storage.example/{ref}")

    async def upload_request(self, folder: FileRef, *, max_bytes: int) -> HttpRequestSpec | None:
        return HttpRequestSpec("post", "https://storage.example/", data={"key": f"{folder}/"})

    async def check(self) -> None:
        return None
