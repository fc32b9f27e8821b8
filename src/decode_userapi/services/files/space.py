"""One user's space on the storage: the only way the use cases reach files.

Use cases never hold a `FileStorage`: they get a `UserFiles` from `UserSpaces.open(user)`,
whose methods take and return paths relative to the user's space. The user's folder is
put in front of every path here and nowhere else, so no use case can forget it.
"""

from collections.abc import AsyncIterable, AsyncIterator

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import PREDEFINED_FOLDERS, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.ports.file_storage import FileStorage, HttpRequestSpec
from decode_userapi.services.files.batches import mapped_in_slices

_ESCAPES = frozenset(("", ".", ".."))


def _space_root(user_id: str) -> FileRef:
    """`InvalidInput` unless the id is one safe folder name that does not start with '.'
    (the storage keeps its own folders there)."""
    try:
        root = FileRef.parse(user_id)
    except InvalidInput:
        root = FileRef(())
    if root.parts != (user_id,) or user_id.startswith("."):
        raise InvalidInput(f"The user id {user_id!r} cannot name a folder.")
    return root


def stored_ref(user_id: str, path: FileRef) -> FileRef:
    """The storage's name of `path` in the user's space: the one place the user's folder is
    put in front. For storage ports beyond `FileStorage` (resumable and direct uploads);
    use cases reach `FileStorage` through `UserFiles` only.

    `InvalidInput` for a path with a segment that could climb out or fold away (`..`, `.`,
    empty, holding `/` or NUL), as a `FileRef` built by hand could have.
    """
    return _joined(_space_root(user_id), path)


def _joined(root: FileRef, path: FileRef) -> FileRef:
    if any(part in _ESCAPES or "/" in part or "\0" in part for part in path.parts):
        raise InvalidInput(f"'{path}' is not a path inside your space.")
    return FileRef((*root.parts, *path.parts))


def seen_ref(stored: FileRef) -> FileRef:
    """The inverse of `stored_ref`: `stored`'s path relative to its user's space (whose
    root is always one folder)."""
    return FileRef(stored.parts[1:])


class UserFiles:
    """The `FileStorage` methods, on paths relative to one user's space.

    A path with a segment that could climb out or fold away (`..`, `.`, empty, holding
    `/` or NUL), as a `FileRef` built by hand could have, is an `InvalidInput`: nothing
    outside the space can be named. Entries come back relative to the space.
    """

    def __init__(self, storage: FileStorage, user: User) -> None:
        self._storage = storage
        self._root = _space_root(user.id)

    def _stored(self, path: FileRef) -> FileRef:
        return _joined(self._root, path)

    def seen(self, stored: FileEntry) -> FileEntry:
        """An entry the storage returned, relative to the space."""
        return FileEntry(seen_ref(stored.ref), stored.kind, stored.size_bytes)

    async def stat(self, path: FileRef) -> FileEntry | None:
        stored = await self._storage.stat(self._stored(path))
        return None if stored is None else self.seen(stored)

    async def list_folder(self, folder: FileRef, *, recursive: bool) -> list[FileEntry]:
        """Mapped in slices (`batches`): a folder may hold 100,000s of entries."""
        stored = await self._storage.list_folder(self._stored(folder), recursive=recursive)
        return await mapped_in_slices(stored, self._seen_all)

    def _seen_all(self, batch: list[FileEntry]) -> list[FileEntry]:
        return [self.seen(entry) for entry in batch]

    async def make_folder(self, folder: FileRef) -> None:
        await self._storage.make_folder(self._stored(folder))

    def read(
        self, path: FileRef, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        return self._storage.read(self._stored(path), start=start, end=end)

    async def write(self, path: FileRef, chunks: AsyncIterable[bytes], *, max_bytes: int) -> int:
        return await self._storage.write(self._stored(path), chunks, max_bytes=max_bytes)

    async def rename(self, source: FileRef, target: FileRef) -> None:
        await self._storage.rename(self._stored(source), self._stored(target))

    async def delete(self, path: FileRef) -> None:
        await self._storage.delete(self._stored(path))

    def uri(self, path: FileRef) -> str:
        return self._storage.uri(self._stored(path))

    async def download_request(self, path: FileRef) -> HttpRequestSpec | None:
        return await self._storage.download_request(self._stored(path))

    async def upload_request(self, folder: FileRef, *, max_bytes: int) -> HttpRequestSpec | None:
        return await self._storage.upload_request(self._stored(folder), max_bytes=max_bytes)

    async def make_predefined_folders(self) -> None:
        for name in PREDEFINED_FOLDERS:
            await self.make_folder(FileRef((name,)))


class UserSpaces:
    """Opens users' spaces and makes sure their predefined folders exist.

    One instance per process: it remembers which spaces it already prepared, so the
    check costs nothing after a user's first request.
    """

    def __init__(self, storage: FileStorage) -> None:
        self._storage = storage
        self._prepared: set[str] = set()

    async def open(self, user: User) -> UserFiles:
        files = UserFiles(self._storage, user)
        if user.id not in self._prepared:
            await files.make_predefined_folders()
            self._prepared.add(user.id)
        return files
