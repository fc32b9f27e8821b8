"""Opening a user's space in the storage, with its predefined folders."""

from decode_userapi.domain.files import PREDEFINED_FOLDERS, FileRef
from decode_userapi.domain.spaces import UserSpace
from decode_userapi.domain.users import User
from decode_userapi.ports.file_storage import FileStorage


class UserSpaces:
    """Opens users' spaces and makes sure their predefined folders exist.

    One instance per process: it remembers which spaces it already prepared, so the
    check costs nothing after a user's first request.
    """

    def __init__(self, storage: FileStorage) -> None:
        self.storage = storage
        self._prepared: set[str] = set()

    async def open(self, user: User) -> UserSpace:
        space = UserSpace.of(user.id)
        if user.id not in self._prepared:
            await self.make_predefined_folders(space)
            self._prepared.add(user.id)
        return space

    async def make_predefined_folders(self, space: UserSpace) -> None:
        for name in PREDEFINED_FOLDERS:
            await self.storage.make_folder(space.ref(FileRef((name,))))
