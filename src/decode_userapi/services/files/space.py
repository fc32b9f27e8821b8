"""Where a user's space lives in the storage, and its predefined folders."""

from dataclasses import dataclass

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import PREDEFINED_FOLDERS, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.ports.file_storage import FileStorage


@dataclass(frozen=True)
class UserSpace:
    """One user's folder in the storage: user paths in, storage paths out, and back."""

    root: FileRef

    def ref(self, path: FileRef) -> FileRef:
        """The storage path of a user path."""
        return FileRef((*self.root.parts, *path.parts))

    def entry(self, stored: FileEntry) -> FileEntry:
        """A storage entry as the user sees it (relative to their space)."""
        return FileEntry(
            FileRef(stored.ref.parts[len(self.root.parts) :]), stored.kind, stored.size_bytes
        )


class UserSpaces:
    """Opens users' spaces and makes sure their predefined folders exist.

    One instance per process: it remembers which spaces it already prepared, so the
    check costs nothing after a user's first request.
    """

    def __init__(self, storage: FileStorage) -> None:
        self.storage = storage
        self._prepared: set[str] = set()

    async def open(self, user: User) -> UserSpace:
        space = UserSpace(_user_root(user))
        if user.id not in self._prepared:
            await self.make_predefined_folders(space)
            self._prepared.add(user.id)
        return space

    async def make_predefined_folders(self, space: UserSpace) -> None:
        for name in PREDEFINED_FOLDERS:
            await self.storage.make_folder(space.ref(FileRef((name,))))


def _user_root(user: User) -> FileRef:
    try:
        root = FileRef.parse(user.id)
    except InvalidInput:
        root = FileRef(())
    if root.parts != (user.id,) or user.id.startswith("."):
        raise InvalidInput(f"The user id {user.id!r} cannot name a folder.")
    return root
