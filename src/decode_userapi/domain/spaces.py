"""A user's private space: where it lives in the storage, and how paths map in and out."""

import msgspec

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import FileEntry, FileRef


class UserSpace(msgspec.Struct, frozen=True):
    """One user's folder in the storage: user paths in, storage paths out, and back.

    Build it with `UserSpace.of(user_id)`.
    """

    root: FileRef

    @classmethod
    def of(cls, user_id: str) -> "UserSpace":
        """The space of `user_id`: `InvalidInput` unless the id is one safe folder name
        that does not start with '.' (the storage keeps its own folders there)."""
        try:
            root = FileRef.parse(user_id)
        except InvalidInput:
            root = FileRef(())
        if root.parts != (user_id,) or user_id.startswith("."):
            raise InvalidInput(f"The user id {user_id!r} cannot name a folder.")
        return cls(root)

    def ref(self, path: FileRef) -> FileRef:
        """The storage path of a user path."""
        return FileRef((*self.root.parts, *path.parts))

    def entry(self, stored: FileEntry) -> FileEntry:
        """A storage entry as the user sees it (relative to their space)."""
        return FileEntry(
            FileRef(stored.ref.parts[len(self.root.parts) :]), stored.kind, stored.size_bytes
        )
