"""The files use cases on an in-memory storage: rules about paths, not about bytes."""

from collections.abc import AsyncIterator

import pytest

from decode_userapi.adapters.memory.storage import InMemoryFileStorage
from decode_userapi.adapters.memory.usage import InMemoryUsageLedger
from decode_userapi.domain.errors import AlreadyExists, InvalidInput, NotAllowed, NotFound, TooLarge
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.ports.file_storage import HttpRequestSpec
from decode_userapi.services.files.changes import DeleteFile, RenameFile
from decode_userapi.services.files.downloads import DownloadFile, GetDownloadUrl
from decode_userapi.services.files.listing import ListFiles
from decode_userapi.services.files.quota import StorageQuota
from decode_userapi.services.files.space import UserSpaces
from decode_userapi.services.files.uploads import CreateFolder, GetUploadUrl, UploadFile

ALICE = User(id="alice-id", email="alice@example.org", groups=("users",))
API_REQUEST = HttpRequestSpec("get", "http://api/files/x/download")


def ref(raw: str) -> FileRef:
    return FileRef.parse(raw)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.fixture
def storage() -> InMemoryFileStorage:
    return InMemoryFileStorage(presigned_url_base="https://storage.example/")


@pytest.fixture
def spaces(storage: InMemoryFileStorage) -> UserSpaces:
    return UserSpaces(storage)


async def upload(spaces: UserSpaces, folder: str, name: str, content: bytes = b"data") -> None:
    await UploadFile(spaces, StorageQuota(InMemoryUsageLedger()), max_bytes=100)(
        ALICE, ref(folder), name, chunks(content)
    )


async def listing(spaces: UserSpaces, path: str = "", *, show_dirs: bool = True) -> list[str]:
    entries = await ListFiles(spaces)(ALICE, ref(path), show_dirs=show_dirs, recursive=True)
    return [entry.wire_path for entry in entries]


async def test_a_new_space_has_the_predefined_folders(
    spaces: UserSpaces, storage: InMemoryFileStorage
) -> None:
    assert await listing(spaces) == ["artifact/", "config/", "data/", "log/", "output/"]
    assert ref("alice-id/config") in storage.folders


async def test_listing_is_sorted_and_can_leave_folders_out(spaces: UserSpaces) -> None:
    await upload(spaces, "data/b", "2.tif")
    await upload(spaces, "data", "a.tif")
    assert await listing(spaces, "data") == ["data/a.tif", "data/b/", "data/b/2.tif"]
    assert await listing(spaces, "data", show_dirs=False) == ["data/a.tif", "data/b/2.tif"]
    flat = await ListFiles(spaces)(ALICE, ref("data"), show_dirs=True, recursive=False)
    assert [entry.wire_path for entry in flat] == ["data/a.tif", "data/b/"]


@pytest.mark.parametrize("path", ["data/a.tif", "data/missing"])
async def test_listing_what_is_not_a_folder_is_not_found(spaces: UserSpaces, path: str) -> None:
    await upload(spaces, "data", "a.tif")
    with pytest.raises(NotFound, match=f"'{path}/' is not a folder"):
        await listing(spaces, path)


@pytest.mark.parametrize("user_id", ["", "a/b", "..", ".staging", "a\\b", "a\x00"])
async def test_a_user_id_that_cannot_be_a_folder_is_refused(
    spaces: UserSpaces, user_id: str
) -> None:
    with pytest.raises(InvalidInput):
        await spaces.open(User(id=user_id, email=None, groups=("users",)))


@pytest.mark.parametrize("folder", ["output", "log/x", "", "mine"])
async def test_uploads_only_go_into_upload_folders(spaces: UserSpaces, folder: str) -> None:
    with pytest.raises(InvalidInput, match="Uploads go into config/, data/, artifact/"):
        await upload(spaces, folder, "a.txt")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "x\ny"])
async def test_a_file_name_must_be_one_safe_segment(spaces: UserSpaces, name: str) -> None:
    with pytest.raises(InvalidInput):
        await upload(spaces, "data", name)


async def test_an_upload_over_the_limit_stores_nothing(
    spaces: UserSpaces, storage: InMemoryFileStorage
) -> None:
    with pytest.raises(TooLarge):
        await upload(spaces, "data", "big.bin", b"x" * 101)
    assert storage.files == {}


async def test_an_upload_cannot_replace_a_folder(spaces: UserSpaces) -> None:
    await CreateFolder(spaces)(ALICE, ref("data/frames"))
    with pytest.raises(AlreadyExists, match="'data/frames/' is a folder"):
        await upload(spaces, "data", "frames")


async def test_an_upload_replaces_a_file(spaces: UserSpaces) -> None:
    await upload(spaces, "data", "a.txt", b"old")
    await upload(spaces, "data", "a.txt", b"newer")
    download = await DownloadFile(spaces)(ALICE, ref("data/a.txt"))
    assert download.size == 5
    assert b"".join([chunk async for chunk in download.chunks]) == b"newer"


async def test_a_folder_cannot_be_made_over_a_file(spaces: UserSpaces) -> None:
    await upload(spaces, "data", "a.txt")
    with pytest.raises(AlreadyExists, match=r"'data/a\.txt' is a file"):
        await CreateFolder(spaces)(ALICE, ref("data/a.txt"))
    with pytest.raises(AlreadyExists, match=r"A file stands where a folder of 'data/a\.txt/b'"):
        await CreateFolder(spaces)(ALICE, ref("data/a.txt/b"))


async def test_download_of_nothing_is_not_found(spaces: UserSpaces) -> None:
    with pytest.raises(NotFound):
        await DownloadFile(spaces)(ALICE, ref("data/none"))
    with pytest.raises(NotFound):
        await GetDownloadUrl(spaces)(ALICE, ref("data/none"), API_REQUEST)


async def test_a_folder_downloads_as_a_zip_named_after_it(spaces: UserSpaces) -> None:
    await upload(spaces, "data/run", "a.txt")
    download = await DownloadFile(spaces)(ALICE, ref("data/run"))
    content = b"".join([chunk async for chunk in download.chunks])
    assert (download.filename, download.size) == ("run.zip", len(content))
    root = await DownloadFile(spaces)(ALICE, ref(""))
    assert root.filename == "files.zip"


async def test_urls_prefer_the_storage_and_fall_back_to_the_api(spaces: UserSpaces) -> None:
    await upload(spaces, "data/run", "a.txt")
    file_url = await GetDownloadUrl(spaces)(ALICE, ref("data/run/a.txt"), API_REQUEST)
    assert file_url.url == "https://storage.example/alice-id/data/run/a.txt"
    assert await GetDownloadUrl(spaces)(ALICE, ref("data/run"), API_REQUEST) == API_REQUEST
    upload_url = await GetUploadUrl(spaces, StorageQuota(InMemoryUsageLedger()), max_bytes=10)(
        ALICE, ref("data/run"), API_REQUEST
    )
    assert upload_url.data == {"key": "alice-id/data/run/"}
    with pytest.raises(InvalidInput):
        await GetUploadUrl(spaces, StorageQuota(InMemoryUsageLedger()), max_bytes=10)(
            ALICE, ref("output"), API_REQUEST
        )


async def test_rename_moves_a_file_and_creates_parents(spaces: UserSpaces) -> None:
    await upload(spaces, "data", "a.txt", b"abc")
    moved = await RenameFile(spaces)(ALICE, ref("data/a.txt"), ref("artifact/new/b.txt"))
    assert (moved.wire_path, moved.kind, moved.size_bytes) == (
        "artifact/new/b.txt",
        EntryKind.FILE,
        3,
    )
    assert "data/a.txt" not in await listing(spaces)
    assert "artifact/new/b.txt" in await listing(spaces)


@pytest.mark.parametrize(
    ("source", "target", "error"),
    [
        ("", "data/x", NotAllowed),
        ("config", "data/x", NotAllowed),
        ("data/full", "data/x", NotAllowed),
        ("data/none", "data/x", NotFound),
        ("data/a.txt", "data/full/b.txt", AlreadyExists),
        ("data/a.txt", "data/full", AlreadyExists),
        ("data/a.txt", "config", InvalidInput),
        ("data/a.txt", "toplevel.txt", InvalidInput),
        ("data/a.txt", "", InvalidInput),
        ("data/empty", "data/empty/inside", InvalidInput),
    ],
)
async def test_rename_rules(
    spaces: UserSpaces, source: str, target: str, error: type[Exception]
) -> None:
    await upload(spaces, "data", "a.txt")
    await upload(spaces, "data/full", "b.txt")
    await CreateFolder(spaces)(ALICE, ref("data/empty"))
    with pytest.raises(error):
        await RenameFile(spaces)(ALICE, ref(source), ref(target))


async def test_an_empty_folder_can_be_renamed(spaces: UserSpaces) -> None:
    await CreateFolder(spaces)(ALICE, ref("data/empty"))
    moved = await RenameFile(spaces)(ALICE, ref("data/empty"), ref("config/moved"))
    assert moved.wire_path == "config/moved/"


async def test_delete_is_idempotent_and_keeps_predefined_folders(spaces: UserSpaces) -> None:
    await upload(spaces, "data/run", "a.txt")
    await upload(spaces, "config", "c.yaml")
    delete = DeleteFile(spaces, InMemoryUsageLedger())
    await delete(ALICE, ref("data/run/a.txt"))
    await delete(ALICE, ref("data/run/a.txt"))
    assert await listing(spaces, "data") == ["data/run/"]
    await delete(ALICE, ref("data"))
    assert await listing(spaces) == [
        "artifact/",
        "config/",
        "config/c.yaml",
        "data/",
        "log/",
        "output/",
    ]
    await delete(ALICE, ref(""))
    assert await listing(spaces) == ["artifact/", "config/", "data/", "log/", "output/"]


class VanishingStorage(InMemoryFileStorage):
    """Another request deletes what is being renamed or downloaded right after it was seen."""

    async def rename(self, source: FileRef, target: FileRef) -> None:
        await self.delete(source)
        await super().rename(source, target)

    async def read(
        self, ref: FileRef, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        await self.delete(ref)
        async for chunk in super().read(ref, start=start, end=end):
            yield chunk

    async def list_folder(self, folder: FileRef, *, recursive: bool) -> list[FileEntry]:
        if folder.name == "run":
            await self.delete(folder)
        return await super().list_folder(folder, recursive=recursive)


async def test_a_race_lost_to_a_delete_is_a_404_naming_the_users_path() -> None:
    spaces = UserSpaces(VanishingStorage())
    await upload(spaces, "data/run", "a.txt")
    with pytest.raises(NotFound) as renamed:
        await RenameFile(spaces)(ALICE, ref("data/run/a.txt"), ref("data/b.txt"))
    await upload(spaces, "data/run", "a.txt")
    with pytest.raises(NotFound) as downloaded:
        await DownloadFile(spaces)(ALICE, ref("data/run/a.txt"))
    await upload(spaces, "data/run", "a.txt")
    with pytest.raises(NotFound) as zipped:
        await DownloadFile(spaces)(ALICE, ref("data/run"))
    for raised in (renamed, downloaded, zipped):
        assert ALICE.id not in raised.value.message
        assert "data/run" in raised.value.message
