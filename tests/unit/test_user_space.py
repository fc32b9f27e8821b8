"""A user's space: which user ids can name one, and how paths map in and out of it."""

import pytest

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.domain.spaces import UserSpace


@pytest.mark.parametrize("user_id", ["", ".", "..", ".staging", "a/b", "/a", "a\\b", "a\x00", " a"])
def test_a_user_id_that_is_not_one_safe_folder_name_is_refused(user_id: str) -> None:
    with pytest.raises(InvalidInput, match="cannot name a folder"):
        UserSpace.of(user_id)


def test_paths_map_into_the_space_and_back() -> None:
    space = UserSpace.of("0b1c-uuid")
    stored = space.ref(FileRef.parse("data/a.tif"))
    assert stored == FileRef(("0b1c-uuid", "data", "a.tif"))
    seen = space.entry(FileEntry(stored, EntryKind.FILE, 3))
    assert seen == FileEntry(FileRef.parse("data/a.tif"), EntryKind.FILE, 3)
