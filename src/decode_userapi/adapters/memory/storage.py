"""`FileStorage` in dictionaries (`FILESYSTEM=memory`)."""

from collections.abc import AsyncIterable, AsyncIterator

from decode_userapi.domain.errors import AlreadyExists, NotAllowed, NotFound, TooLarge
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.ports.file_storage import HttpRequestSpec


class InMemoryFileStorage:
    """`FileStorage` in dictionaries: folders as a set, files as bytes.

    `presigned_url_base`: download and upload URLs under it, as S3 hands out presigned
    ones; None (default): the API serves downloads and uploads itself, as with local files.
    """

    def __init__(self, presigned_url_base: str | None = None) -> None:
        self._presigned = presigned_url_base
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
        entries = [entry for ref in below if (entry := await self.stat(ref)) is not None]
        return sorted(entries, key=lambda entry: entry.wire_path)

    async def make_folder(self, ref: FileRef) -> None:
        for depth in range(len(ref.parts) + 1):
            ancestor = FileRef(ref.parts[:depth])
            if ancestor in self.files:
                raise AlreadyExists(f"'{ancestor}' is a file.")
            self.folders.add(ancestor)

    async def read(
        self, ref: FileRef, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if ref not in self.files:
            raise NotFound(f"'{ref}' is not a file.")
        content = self.files[ref][start:end]
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
        if await self.stat(source) is None:
            raise NotFound(f"'{source}' does not exist.")
        if await self.stat(target) is not None:
            raise AlreadyExists(f"'{target}' exists.")
        if source in self.folders and await self.list_folder(source, recursive=False):
            raise NotAllowed(
                f"Folder '{source.as_folder()}' is not empty; only empty folders move."
            )
        await self.make_folder(target.parent)
        if source in self.files:
            self.files[target] = self.files.pop(source)
        else:
            self.folders.remove(source)
            self.folders.add(target)

    async def delete(self, ref: FileRef) -> None:
        self.files = {key: value for key, value in self.files.items() if not key.is_within(ref)}
        self.folders = {key for key in self.folders if not key.is_within(ref)} | {FileRef(())}

    def uri(self, ref: FileRef) -> str:
        return f"memory://{ref}"

    async def download_request(self, ref: FileRef) -> HttpRequestSpec | None:
        if self._presigned is None:
            return None
        return HttpRequestSpec("get", f"{self._presigned}{ref}")

    async def upload_request(self, folder: FileRef, *, max_bytes: int) -> HttpRequestSpec | None:
        if self._presigned is None:
            return None
        return HttpRequestSpec("post", self._presigned, data={"key": f"{folder}/"})

    async def check(self) -> None:
        return None
