"""Listing a folder of the user's space."""

import bisect
from dataclasses import dataclass

from decode_userapi.domain.errors import NotFound
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.services.files.batches import mapped_in_slices
from decode_userapi.services.files.space import UserSpaces


@dataclass(frozen=True)
class ListingPage:
    """Entries of one page, and the wire path to continue after (None on the last page)."""

    entries: list[FileEntry]
    next_after: str | None


class ListFiles:
    """The entries of a folder, sorted by their wire path (folders end with '/'), as the
    storage lists them.

    `show_dirs=False` leaves folders out; `recursive=True` includes everything below.
    Raises `NotFound` when `path` is not a folder (a file, or nothing). Entries are
    mapped and sorted in slices (`batches`), so a folder of 100,000s of entries does not
    hold up other requests.
    """

    def __init__(self, spaces: UserSpaces) -> None:
        self._spaces = spaces

    async def __call__(
        self, user: User, path: FileRef, *, show_dirs: bool, recursive: bool
    ) -> list[FileEntry]:
        files = await self._spaces.open(user)
        try:
            entries = await files.list_folder(path, recursive=recursive)
        except NotFound:
            raise NotFound(f"'{path.as_folder()}' is not a folder.") from None
        if not show_dirs:
            return await mapped_in_slices(entries, _files_only)
        return entries

    async def page(
        self,
        user: User,
        path: FileRef,
        *,
        show_dirs: bool,
        recursive: bool,
        limit: int,
        after: str | None,
    ) -> ListingPage:
        """At most `limit` entries of the listing, those whose wire path sorts after `after`
        (from the start when None)."""
        entries = await self(user, path, show_dirs=show_dirs, recursive=recursive)
        start = (
            0
            if after is None
            else bisect.bisect_right(entries, after, key=lambda entry: entry.wire_path)
        )
        chunk = entries[start : start + limit]
        more = start + limit < len(entries)
        return ListingPage(chunk, chunk[-1].wire_path if more and chunk else None)


def _files_only(entries: list[FileEntry]) -> list[FileEntry]:
    return [entry for entry in entries if entry.kind is EntryKind.FILE]
