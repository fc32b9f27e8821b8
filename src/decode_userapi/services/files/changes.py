"""Renaming and deleting in the user's space."""

from decode_userapi.domain.errors import AlreadyExists, InvalidInput, NotAllowed, NotFound
from decode_userapi.domain.files import PREDEFINED_FOLDERS, EntryKind, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.ports.usage_ledger import UsageLedger
from decode_userapi.services.files.measure import footprint
from decode_userapi.services.files.space import UserSpaces


class RenameFile:
    """Move a file or an empty folder to `new_path`; returns it at its new place.

    `NotFound` when nothing is at `path`. `NotAllowed` for the root, a predefined
    folder or a folder that is not empty. The target must lie inside a predefined
    folder (`InvalidInput` otherwise, so the top level keeps its fixed shape) and
    must not exist (`AlreadyExists`); missing parent folders are created. Renaming
    onto the same path changes nothing and returns it.
    """

    def __init__(self, spaces: UserSpaces) -> None:
        self._spaces = spaces

    async def __call__(self, user: User, path: FileRef, new_path: FileRef) -> FileEntry:
        if path.is_root or path.is_predefined_folder:
            raise NotAllowed(f"'{path.as_folder()}' always exists and cannot be renamed.")
        files = await self._spaces.open(user)
        entry = await files.stat(path)
        if entry is None:
            raise NotFound(f"'{path}' does not exist.")
        if new_path == path:
            return FileEntry(path, entry.kind, entry.size_bytes)
        if entry.kind is EntryKind.DIRECTORY and await files.list_folder(path, recursive=False):
            raise NotAllowed(f"'{path.as_folder()}' is not empty; only empty folders move.")
        if len(new_path.parts) < 2 or new_path.top not in PREDEFINED_FOLDERS:
            folders = ", ".join(f"{name}/" for name in PREDEFINED_FOLDERS)
            raise InvalidInput(f"The new path '{new_path}' must lie inside one of {folders}.")
        if new_path.is_within(path):
            raise InvalidInput(f"'{path}' cannot move inside itself.")
        if await files.stat(new_path) is not None:
            raise AlreadyExists(f"'{new_path}' already exists; delete it first or pick another.")
        try:
            await files.rename(path, new_path)
        except AlreadyExists:
            raise AlreadyExists(
                f"'{new_path}' already exists, or a file stands in its way."
            ) from None
        except NotFound:  # moved or deleted meanwhile
            raise NotFound(f"'{path}' does not exist.") from None
        except NotAllowed:  # filled meanwhile
            raise NotAllowed(
                f"'{path.as_folder()}' is not empty; only empty folders move."
            ) from None
        return FileEntry(new_path, entry.kind, entry.size_bytes)


class DeleteFile:
    """Remove a file or a folder with everything in it; a missing path is fine.

    A predefined folder is emptied, and deleting the root empties the whole space:
    the predefined folders are there again afterwards. What it held no longer counts
    against the user's quota.
    """

    def __init__(self, spaces: UserSpaces, ledger: UsageLedger) -> None:
        self._spaces = spaces
        self._ledger = ledger

    async def __call__(self, user: User, path: FileRef) -> None:
        files = await self._spaces.open(user)
        freed = await footprint(files, path)
        await files.delete(path)
        if freed.files:
            await self._ledger.add(user.id, bytes=-freed.bytes, files=-freed.files)
        if path.is_root or path.is_predefined_folder:
            await files.make_predefined_folders()
