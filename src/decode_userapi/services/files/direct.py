"""Multipart uploads a client sends straight to the storage (S3), bypassing the API."""

from decode_userapi.domain.errors import (
    InvalidInput,
    StorageQuotaExceeded,
)
from decode_userapi.domain.files import FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.ports.direct_uploads import DirectUpload, DirectUploads
from decode_userapi.services.files.quota import StorageQuota
from decode_userapi.services.files.resumable import new_upload_target
from decode_userapi.services.files.space import UserSpaces, seen_ref, stored_ref
from decode_userapi.services.files.uploads import check_upload_folder


class DirectMultipartUploads:
    """Start, complete and abort direct multipart uploads into the caller's space.

    The target follows `UploadFile`'s rules and is never replaced (`AlreadyExists`). The
    declared size must be within `max_bytes` (`TooLarge`), and so must the real size when
    the parts are joined (else the file is removed and `TooLarge`).

    The user's storage quota applies the same way: the declared size must fit in what
    is left at the start, and the joined file when it is completed (else it is removed
    and `StorageQuotaExceeded`). Nothing is held in between (the parts go straight to
    the storage, whose upload the ledger does not know): of parallel uploads that
    together pass the quota, the ones completed last are refused.
    """

    def __init__(
        self, spaces: UserSpaces, storage: DirectUploads, quota: StorageQuota, max_bytes: int
    ) -> None:
        self._spaces = spaces
        self._storage = storage
        self._quota = quota
        self._max_bytes = max_bytes

    async def start(self, user: User, folder: FileRef, filename: str, size: int) -> DirectUpload:
        target = await new_upload_target(
            self._spaces, user, folder, filename, size, max_bytes=self._max_bytes, size_name="size"
        )
        await self._quota.fits(user.id, bytes=size, files=1)
        return await self._storage.start_direct(stored_ref(user.id, target), size)

    async def complete(
        self, user: User, folder: FileRef, upload_id: str, etags: list[tuple[int, str]]
    ) -> FileEntry:
        check_upload_folder(folder)
        if not etags:
            raise InvalidInput("parts must list at least one part.")
        files = await self._spaces.open(user)
        stored = await self._storage.complete_direct(
            stored_ref(user.id, folder), upload_id, etags, max_bytes=self._max_bytes
        )
        entry = FileEntry(seen_ref(stored.ref), stored.kind, stored.size_bytes)
        try:
            await self._quota.count(user.id, bytes=entry.size_bytes, files=1)
        except StorageQuotaExceeded:
            await files.delete(entry.ref)
            raise
        return entry

    async def abort(self, user: User, folder: FileRef, upload_id: str) -> None:
        check_upload_folder(folder)
        await self._spaces.open(user)
        await self._storage.abort_direct(stored_ref(user.id, folder), upload_id)
