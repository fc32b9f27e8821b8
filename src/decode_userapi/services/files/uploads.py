"""Putting files and folders into the user's space."""

from collections.abc import AsyncIterable

from decode_userapi.domain.errors import AlreadyExists, InvalidInput
from decode_userapi.domain.files import UPLOAD_FOLDERS, EntryKind, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.ports.file_storage import HttpRequestSpec
from decode_userapi.services.files.space import UserSpaces

_FILE_IN_THE_WAY = "A file stands where a folder of '{path}' should be; rename or delete it."


def _check_upload_folder(folder: FileRef) -> None:
    if folder.top not in UPLOAD_FOLDERS:
        allowed = ", ".join(f"{name}/" for name in UPLOAD_FOLDERS)
        raise InvalidInput(f"Uploads go into {allowed}; '{folder.as_folder()}' is not one of them.")


def _file_name(raw: str) -> str:
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
    """

    def __init__(self, spaces: UserSpaces, max_bytes: int) -> None:
        self._spaces = spaces
        self._max_bytes = max_bytes

    async def __call__(
        self, user: User, folder: FileRef, filename: str, chunks: AsyncIterable[bytes]
    ) -> FileEntry:
        _check_upload_folder(folder)
        path = folder.child(_file_name(filename))
        files = await self._spaces.open(user)
        existing = await files.stat(path)
        if existing is not None and existing.kind is EntryKind.DIRECTORY:
            raise AlreadyExists(f"'{path.as_folder()}' is a folder; choose another file name.")
        try:
            size = await files.write(path, chunks, max_bytes=self._max_bytes)
        except AlreadyExists:
            raise AlreadyExists(_FILE_IN_THE_WAY.format(path=path)) from None
        return FileEntry(path, EntryKind.FILE, size)


class CreateFolder:
    """Create a folder (and its parents) under `config/`, `data/` or `artifact/`.

    An existing folder is fine; `AlreadyExists` when a file has that name.
    """

    def __init__(self, spaces: UserSpaces) -> None:
        self._spaces = spaces

    async def __call__(self, user: User, folder: FileRef) -> FileEntry:
        _check_upload_folder(folder)
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
    API's own upload route, which the caller builds.
    """

    def __init__(self, spaces: UserSpaces, max_bytes: int) -> None:
        self._spaces = spaces
        self._max_bytes = max_bytes

    async def __call__(
        self, user: User, folder: FileRef, api_request: HttpRequestSpec
    ) -> HttpRequestSpec:
        _check_upload_folder(folder)
        files = await self._spaces.open(user)
        presigned = await files.upload_request(folder, max_bytes=self._max_bytes)
        return presigned or api_request
