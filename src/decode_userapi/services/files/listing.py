"""Listing a folder of the user's space."""

from decode_userapi.domain.errors import NotFound
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.services.files.space import UserSpaces


class ListFiles:
    """The entries of a folder, sorted by their wire path (folders end with '/').

    `show_dirs=False` leaves folders out; `recursive=True` includes everything below.
    Raises `NotFound` when `path` is not a folder (a file, or nothing).
    """

    def __init__(self, spaces: UserSpaces) -> None:
        self._spaces = spaces

    async def __call__(
        self, user: User, path: FileRef, *, show_dirs: bool, recursive: bool
    ) -> list[FileEntry]:
        space = await self._spaces.open(user)
        try:
            stored = await self._spaces.storage.list_folder(space.ref(path), recursive=recursive)
        except NotFound:
            raise NotFound(f"'{path.as_folder()}' is not a folder.") from None
        entries = [space.entry(entry) for entry in stored]
        if not show_dirs:
            entries = [entry for entry in entries if entry.kind is EntryKind.FILE]
        return sorted(entries, key=lambda entry: entry.wire_path)
