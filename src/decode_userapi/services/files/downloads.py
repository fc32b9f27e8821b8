"""Getting files and folders out of the user's space."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from decode_userapi.domain.errors import NotFound
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.ports.file_storage import HttpRequestSpec
from decode_userapi.services.files.batches import mapped_in_slices
from decode_userapi.services.files.space import UserFiles, UserSpaces
from decode_userapi.services.files.zip_stream import ZipMember, ZipSize, zip_stream

ROOT_ARCHIVE_NAME = "files"


@dataclass(frozen=True)
class Download:
    """Bytes to send, `size` of them; nothing is read before `chunks` is iterated."""

    filename: str
    size: int
    chunks: AsyncIterator[bytes]
    part: Callable[[int, int], AsyncIterator[bytes]] | None = None
    """A file's bytes `[start, end)`, for ranged requests; None for a zip."""

    @property
    def is_archive(self) -> bool:
        return self.part is None


class DownloadFile:
    """A file's bytes, or a folder as a zip archive streamed while it is read.

    `NotFound` (before any byte is read) when nothing is at `path`. The zip holds the
    folder's content with paths relative to it and is named `<folder>.zip`; its size
    is known in advance (members are stored), so clients can tell a cut transfer. The
    member list and the size are worked out in slices (`batches`): a folder of 100,000s
    of files does not hold up other requests.
    """

    def __init__(self, spaces: UserSpaces) -> None:
        self._spaces = spaces

    async def __call__(self, user: User, path: FileRef) -> Download:
        files = await self._spaces.open(user)
        entry = await files.stat(path)
        if entry is None:
            raise NotFound(f"'{path}' does not exist.")
        if entry.kind is EntryKind.FILE:
            chunks = await _started(files.read(path), path)
            return Download(
                path.name,
                entry.size_bytes,
                chunks,
                part=lambda start, end: files.read(path, start=start, end=end),
            )
        try:
            stored = await files.list_folder(path, recursive=True)
        except NotFound:
            raise NotFound(f"'{path.as_folder()}' does not exist.") from None
        size = ZipSize()

        def members_of(batch: list[FileEntry]) -> list[ZipMember]:
            members = _zip_members(files, path, batch)
            size.add(members)
            return members

        members = await mapped_in_slices(stored, members_of)
        archive = zip_stream(members, modified=datetime.now(UTC))
        return Download(f"{path.name or ROOT_ARCHIVE_NAME}.zip", size.total, archive)


def _zip_members(files: UserFiles, folder: FileRef, entries: list[FileEntry]) -> list[ZipMember]:
    members = []
    for entry in entries:
        name = entry.ref.relative_to(folder)
        if entry.kind is EntryKind.DIRECTORY:
            members.append(ZipMember(f"{name}/"))
        else:
            members.append(ZipMember(name, entry.size_bytes, _reader(files, entry.ref)))
    return members


async def _started(chunks: AsyncIterator[bytes], path: FileRef) -> AsyncIterator[bytes]:
    """`chunks` with its first chunk already read, so a file that vanished since it was
    seen is a `NotFound` (naming the user's path) before any byte is sent."""
    try:
        first = await anext(chunks, None)
    except NotFound:
        raise NotFound(f"'{path}' does not exist.") from None
    return _prepend(first, chunks)


async def _prepend(first: bytes | None, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first is not None:
            yield first
            async for chunk in rest:
                yield chunk
    finally:  # a client that hangs up must not leave the file open until collected
        close = getattr(rest, "aclose", None)
        if close is not None:
            await close()


def _reader(files: UserFiles, path: FileRef) -> Callable[[], AsyncIterator[bytes]]:
    return lambda: files.read(path)


class GetDownloadUrl:
    """A request that downloads `path`: the storage's presigned GET for a file when it
    offers one, else `api_request` (the API's own download route, built by the caller;
    always for folders, which come as a zip). `NotFound` when nothing is there."""

    def __init__(self, spaces: UserSpaces) -> None:
        self._spaces = spaces

    async def __call__(
        self, user: User, path: FileRef, api_request: HttpRequestSpec
    ) -> HttpRequestSpec:
        files = await self._spaces.open(user)
        entry = await files.stat(path)
        if entry is None:
            raise NotFound(f"'{path}' does not exist.")
        if entry.kind is EntryKind.DIRECTORY:
            return api_request
        presigned = await files.download_request(path)
        return presigned or api_request
