"""A user's view of the storage: which user ids can have one, and that nothing outside
the user's folder can be reached through it."""

from collections.abc import AsyncIterator

import pytest

from decode_userapi.adapters.memory.storage import InMemoryFileStorage
from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.services.files.space import UserFiles, UserSpaces

ALICE = User(id="0b1c-uuid", email=None, groups=("users",))


def user(user_id: str) -> User:
    return User(id=user_id, email=None, groups=("users",))


async def chunks(content: bytes) -> AsyncIterator[bytes]:
    yield content


@pytest.fixture
async def storage() -> InMemoryFileStorage:
    """Alice's neighbour `bob` has a file, and so has the storage root."""
    storage = InMemoryFileStorage()
    for path in ("bob/data/secret.txt", "top.txt"):
        await storage.make_folder(FileRef.parse(path).parent)
        await storage.write(FileRef.parse(path), chunks(b"not alice's"), max_bytes=100)
    return storage


@pytest.mark.parametrize("user_id", ["", ".", "..", ".staging", "a/b", "/a", "a\\b", "a\x00", " a"])
def test_a_user_id_that_is_not_one_safe_folder_name_is_refused(user_id: str) -> None:
    with pytest.raises(InvalidInput, match="cannot name a folder"):
        UserFiles(InMemoryFileStorage(), user(user_id))


async def test_paths_map_into_the_space_and_back(storage: InMemoryFileStorage) -> None:
    files = UserFiles(storage, ALICE)
    await files.write(FileRef.parse("data/a.tif"), chunks(b"abc"), max_bytes=10)
    assert FileRef(("0b1c-uuid", "data", "a.tif")) in storage.files
    seen = FileEntry(FileRef.parse("data/a.tif"), EntryKind.FILE, 3)
    assert await files.stat(FileRef.parse("data/a.tif")) == seen
    listed = await files.list_folder(FileRef.parse("data"), recursive=True)
    assert listed == [seen]
    assert files.uri(FileRef.parse("data/a.tif")) == "memory://0b1c-uuid/data/a.tif"


@pytest.mark.parametrize("raw", ["/bob/data/secret.txt", "bob/data/secret.txt", "/top.txt"])
async def test_an_absolute_or_foreign_path_names_something_inside_the_space(
    storage: InMemoryFileStorage, raw: str
) -> None:
    files = UserFiles(storage, ALICE)
    assert await files.stat(FileRef.parse(raw)) is None
    assert files.uri(FileRef.parse(raw)) == f"memory://0b1c-uuid/{raw.lstrip('/')}"


@pytest.mark.parametrize(
    "parts", [("..", "bob"), ("data", "..", "..", "bob"), (".",), ("",), ("../bob",), ("a\x00",)]
)
async def test_a_hand_built_path_that_could_climb_out_is_refused(
    storage: InMemoryFileStorage, parts: tuple[str, ...]
) -> None:
    files = UserFiles(storage, ALICE)
    escaping = FileRef(parts)
    with pytest.raises(InvalidInput, match="not a path inside your space"):
        await files.stat(escaping)
    with pytest.raises(InvalidInput):
        await files.delete(escaping)
    with pytest.raises(InvalidInput):
        files.read(escaping)
    with pytest.raises(InvalidInput):
        await files.rename(FileRef.parse("data"), escaping)
    assert FileRef.parse("bob/data/secret.txt") in storage.files


async def test_deleting_the_whole_space_leaves_the_neighbours_alone(
    storage: InMemoryFileStorage,
) -> None:
    files = await UserSpaces(storage).open(ALICE)
    await files.delete(FileRef(()))
    assert set(storage.files) == {FileRef.parse("bob/data/secret.txt"), FileRef.parse("top.txt")}


async def test_opening_a_space_makes_its_predefined_folders_once(
    storage: InMemoryFileStorage,
) -> None:
    spaces = UserSpaces(storage)
    files = await spaces.open(ALICE)
    listed = await files.list_folder(FileRef(()), recursive=False)
    assert sorted(entry.wire_path for entry in listed) == [
        "artifact/",
        "config/",
        "data/",
        "log/",
        "output/",
    ]
    await files.delete(FileRef.parse("config"))
    await spaces.open(ALICE)
    assert await files.stat(FileRef.parse("config")) is None
