"""Putting files and folders into the user's space."""

from collections.abc import AsyncIterable

from decode_userapi.domain.errors import AlreadyExists, InvalidInput
from decode_userapi.domain.files import UPLOAD_FOLDERS, EntryKind, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.ports.file_storage import HttpRequestSpec
from decode_userapi.services.files.quota import StorageQuota
from decode_userapi.services.files.space import UserSpaces

_FILE_IN_THE_WAY = "A file stands where a folder of '{path}' should be; rename or delete it."


def check_upload_folder(folder: FileRef) -> None:
    """`InvalidInput` unless `folder` is inside `config/`, `data/` or `artifact/`."""
    if folder.top not in UPLOAD_FOLDERS:
        allowed = ", ".join(f"{name}/" for name in UPLOAD_FOLDERS)
        raise InvalidInput(f"Uploads go into {allowed}; '{folder.as_folder()}' is not one of them.")


def file_name(raw: str) -> str:
    """`raw` when it is one valid file name (no folders), else `InvalidInput`."""
    if "/" in raw or "\\" in raw:
        raise InvalidInput(f"The file name {raw!r} may not contain '/' or '\\'.")
    parsed = FileRef.parse(raw)
    if len(parsed.parts) != 1:
        raise InvalidInput(f"The file name {raw!r} is not a valid name.")
    return parsed.name


class UploadFile:
    """Store a streamed file as `{folder}/{filename}`, replacing a file of that name.

    `folder` starts with `config`, `data` or `artifact`; missing folders are created.
    All or nothing: over `max_bytes` raises `TooLarge`, and a failed stream leaves
    nothing behind. `AlreadyExists` when a folder has that name.

    Held against the user's storage quota: `declared_bytes` (an upper bound of the file's
    size, e.g. the request's length) is reserved before the first byte is stored
    (`StorageQuotaExceeded` when it does not fit); beyond it, or when it is unknown, the
    upload holds more as bytes arrive and stops (`StorageQuotaExceeded`, nothing kept) at
    the first chunk that does not fit.
    """

    def __init__(self, spaces: UserSpaces, quota: StorageQuota, max_bytes: int) -> None:
        self._spaces = spaces
        self._quota = quota
        self._max_bytes = max_bytes

    async def __call__(
        self,
        user: User,
        folder: FileRef,
        filename: str,
        chunks: AsyncIterable[bytes],
        *,
        declared_bytes: int | None = None,
    ) -> FileEntry:
        check_upload_folder(folder)
        path = folder.child(file_name(filename))
        files = await self._spaces.open(user)
        existing = await files.stat(path)
        if existing is not None and existing.kind is EntryKind.DIRECTORY:
            raise AlreadyExists(f"'{path.as_folder()}' is a folder; choose another file name.")
        async with self._quota.hold(
            user.id, declared_bytes=declared_bytes, new_file=existing is None
        ) as held:
            try:
                size = await files.write(path, held.metered(chunks), max_bytes=self._max_bytes)
            except AlreadyExists:
                raise AlreadyExists(_FILE_IN_THE_WAY.format(path=path)) from None
            replaced = 0 if existing is None else existing.size_bytes
            await held.settle(bytes=size - replaced, files=0 if existing else 1)
        return FileEntry(path, EntryKind.FILE, size)


class CreateFolder:
    """Create a folder (and its parents) under `config/`, `data/` or `artifact/`.

    An existing folder is fine; `AlreadyExists` when a file has that name.
    """

    def __init__(self, spaces: UserSpaces) -> None:
        self._spaces = spaces

    async def __call__(self, user: User, folder: FileRef) -> FileEntry:
        check_upload_folder(folder)
        files = await self._spaces.open(user)
        existing = await files.stat(folder)
        if existing is not None and existing.kind is EntryKind.FILE:
            raise AlreadyExists(f"'{folder}' is a file; choose another folder name.")
        try:
            await files.make_folder(folder)
        except AlreadyExists:
            raise AlreadyExists(_FILE_IN_THE_WAY.format(path=folder)) from None
        return FileEntry(folder, EntryKind.DIRECTORY)


class GetUploadUrl:
    """A request that uploads a file (multipart field `file`) into `folder`.

    The storage's presigned form POST when it offers one, else `api_request`: the
    API's own upload route, which the caller builds. `StorageQuotaExceeded` when the
    user's quota has no room left; a presigned POST allows at most the room left (bytes
    sent straight to the storage are counted at the next recount, see `RecountUsage`).
    """

    def __init__(self, spaces: UserSpaces, quota: StorageQuota, max_bytes: int) -> None:
        self._spaces = spaces
        self._quota = quota
        self._max_bytes = max_bytes

    async def __call__(
        self, user: User, folder: FileRef, api_request: HttpRequestSpec
    ) -> HttpRequestSpec:
        check_upload_folder(folder)
        room = await self._quota.room(user.id)
        files = await self._spaces.open(user)
        presigned = await files.upload_request(
            folder, max_bytes=self._max_bytes if room is None else min(room, self._max_bytes)
        )
        return presigned or api_request
