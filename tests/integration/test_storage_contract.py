"""The FileStorage contract, run against every adapter (local folder, S3 on moto) and the
in-memory fake the unit tests use."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import httpx
import obstore
import pytest
from obstore.store import S3Store

from decode_userapi.adapters.memory.storage import InMemoryFileStorage
from decode_userapi.adapters.storage.local import LocalFileStorage
from decode_userapi.adapters.storage.s3 import PART_SIZE, S3FileStorage
from decode_userapi.domain.errors import AlreadyExists, NotAllowed, NotFound, TooLarge
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.ports.file_storage import FileStorage
from tests.servers.moto import REGION

ROOT = "user_data"


@pytest.fixture(params=["local", "s3", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> FileStorage:
    if request.param == "local":
        return LocalFileStorage(tmp_path / ROOT)
    if request.param == "memory":
        return InMemoryFileStorage()
    endpoint: str = request.getfixturevalue("aws_endpoint")
    return S3FileStorage(
        bucket=request.getfixturevalue("s3_bucket"),
        root=ROOT,
        region=REGION,
        endpoint_url=endpoint,
    )


def ref(path: str) -> FileRef:
    return FileRef.parse(path)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read_all(storage: FileStorage, path: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(ref(path))])


def listing(entries: list[FileEntry]) -> list[tuple[str, EntryKind, int]]:
    return sorted((entry.wire_path, entry.kind, entry.size_bytes) for entry in entries)


async def test_write_read_stat(storage: FileStorage) -> None:
    size = await storage.write(ref("u/data/a.txt"), chunks(b"hello ", b"world"), max_bytes=100)
    assert size == 11
    assert await read_all(storage, "u/data/a.txt") == b"hello world"
    assert await storage.stat(ref("u/data/a.txt")) == FileEntry(
        ref("u/data/a.txt"), EntryKind.FILE, 11
    )
    assert await storage.stat(ref("u/data")) == FileEntry(ref("u/data"), EntryKind.DIRECTORY)
    assert await storage.stat(ref("u/data/missing")) is None
    assert await storage.stat(ref("u/dat")) is None


async def test_empty_file(storage: FileStorage) -> None:
    assert await storage.write(ref("u/empty"), chunks(), max_bytes=10) == 0
    assert await storage.stat(ref("u/empty")) == FileEntry(ref("u/empty"), EntryKind.FILE, 0)
    assert await read_all(storage, "u/empty") == b""


async def test_overwrite_replaces_the_file(storage: FileStorage) -> None:
    await storage.write(ref("u/f"), chunks(b"old content"), max_bytes=100)
    await storage.write(ref("u/f"), chunks(b"new"), max_bytes=100)
    assert await read_all(storage, "u/f") == b"new"


async def test_reading_a_missing_file_or_a_folder_is_not_found(storage: FileStorage) -> None:
    await storage.make_folder(ref("u/folder"))
    for path in ("u/missing", "u/folder"):
        with pytest.raises(NotFound):
            await read_all(storage, path)


async def test_folders_are_kept_when_empty(storage: FileStorage) -> None:
    await storage.make_folder(ref("u/a/b/c"))
    await storage.make_folder(ref("u/a/b/c"))
    for path in ("u", "u/a", "u/a/b", "u/a/b/c"):
        assert await storage.stat(ref(path)) == FileEntry(ref(path), EntryKind.DIRECTORY)
    assert await storage.list_folder(ref("u/a/b/c"), recursive=False) == []


async def test_a_file_keeps_its_folders_after_it_is_deleted(storage: FileStorage) -> None:
    await storage.write(ref("u/x/y/f"), chunks(b"1"), max_bytes=10)
    await storage.delete(ref("u/x/y/f"))
    assert await storage.stat(ref("u/x/y")) == FileEntry(ref("u/x/y"), EntryKind.DIRECTORY)


async def test_list_one_level_and_recursive(storage: FileStorage) -> None:
    await storage.write(ref("u/top.txt"), chunks(b"abc"), max_bytes=100)
    await storage.write(ref("u/d/inner.txt"), chunks(b"12345"), max_bytes=100)
    await storage.make_folder(ref("u/d/empty"))
    await storage.make_folder(ref("u/e"))

    assert listing(await storage.list_folder(ref("u"), recursive=False)) == [
        ("u/d/", EntryKind.DIRECTORY, 0),
        ("u/e/", EntryKind.DIRECTORY, 0),
        ("u/top.txt", EntryKind.FILE, 3),
    ]
    assert listing(await storage.list_folder(ref("u"), recursive=True)) == [
        ("u/d/", EntryKind.DIRECTORY, 0),
        ("u/d/empty/", EntryKind.DIRECTORY, 0),
        ("u/d/inner.txt", EntryKind.FILE, 5),
        ("u/e/", EntryKind.DIRECTORY, 0),
        ("u/top.txt", EntryKind.FILE, 3),
    ]


# Names whose wire paths sort apart from their names alone: `a-b` and `a.txt` come before
# the folder `a/` (`-` and `.` sort before `/`), `a0` and `a~` after everything below it.
ORDER_PATHS = ("a/x", "a/é/y", "a/B", "a-b", "a.txt", "a0", "a~/z", "A", "b", "é")


@pytest.mark.parametrize("recursive", [False, True])
async def test_entries_come_in_wire_path_order(storage: FileStorage, recursive: bool) -> None:
    for path in reversed(ORDER_PATHS):
        await storage.write(ref(f"u/{path}"), chunks(b"1"), max_bytes=10)
    await storage.make_folder(ref("u/a/empty"))
    entries = await storage.list_folder(ref("u"), recursive=recursive)
    paths = [entry.wire_path for entry in entries]
    assert paths == sorted(paths)
    assert len(paths) == (14 if recursive else 8)


async def test_listing_a_file_or_a_missing_folder_is_not_found(storage: FileStorage) -> None:
    await storage.write(ref("u/f"), chunks(b"1"), max_bytes=10)
    for path in ("u/f", "u/missing"):
        with pytest.raises(NotFound):
            await storage.list_folder(ref(path), recursive=False)


async def test_too_large_leaves_nothing_and_keeps_the_old_file(storage: FileStorage) -> None:
    await storage.write(ref("u/f"), chunks(b"old"), max_bytes=10)
    with pytest.raises(TooLarge):
        await storage.write(ref("u/f"), chunks(b"12345", b"67890", b"X"), max_bytes=10)
    with pytest.raises(TooLarge):
        await storage.write(ref("u/new/g"), chunks(b"12345678901"), max_bytes=10)
    assert await read_all(storage, "u/f") == b"old"
    assert await storage.stat(ref("u/new/g")) is None
    assert await storage.stat(ref("u/new")) is None


async def test_a_failing_stream_leaves_nothing(storage: FileStorage) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.write(ref("u/broken"), broken(), max_bytes=10_000)
    assert await storage.stat(ref("u/broken")) is None


async def test_a_multipart_sized_upload_round_trips(storage: FileStorage) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB
    count = PART_SIZE // len(block) * 2 + 1
    size = await storage.write(
        ref("u/big.bin"), chunks(*[block] * count), max_bytes=count * len(block)
    )
    assert size == count * len(block)
    period = bytes(range(256))
    read = 0
    async for chunk in storage.read(ref("u/big.bin")):
        start = read % len(period)
        expected = (period * (len(chunk) // len(period) + 2))[start : start + len(chunk)]
        assert chunk == expected
        read += len(chunk)
    assert read == size


async def test_rename_a_file(storage: FileStorage) -> None:
    await storage.write(ref("u/a/f.txt"), chunks(b"data"), max_bytes=10)
    await storage.rename(ref("u/a/f.txt"), ref("u/b/g.txt"))
    assert await storage.stat(ref("u/a/f.txt")) is None
    assert await read_all(storage, "u/b/g.txt") == b"data"
    assert await storage.stat(ref("u/a")) == FileEntry(ref("u/a"), EntryKind.DIRECTORY)


async def test_rename_an_empty_folder(storage: FileStorage) -> None:
    await storage.make_folder(ref("u/old"))
    await storage.rename(ref("u/old"), ref("u/new"))
    assert await storage.stat(ref("u/old")) is None
    assert await storage.stat(ref("u/new")) == FileEntry(ref("u/new"), EntryKind.DIRECTORY)


async def test_rename_refusals(storage: FileStorage) -> None:
    await storage.write(ref("u/full/f"), chunks(b"1"), max_bytes=10)
    await storage.write(ref("u/other"), chunks(b"2"), max_bytes=10)
    with pytest.raises(NotFound):
        await storage.rename(ref("u/missing"), ref("u/anything"))
    with pytest.raises(AlreadyExists):
        await storage.rename(ref("u/other"), ref("u/full/f"))
    with pytest.raises(NotAllowed):
        await storage.rename(ref("u/full"), ref("u/moved"))
    assert await read_all(storage, "u/full/f") == b"1"
    assert await read_all(storage, "u/other") == b"2"


async def test_delete_file_folder_and_missing(storage: FileStorage) -> None:
    await storage.write(ref("u/keep"), chunks(b"k"), max_bytes=10)
    await storage.write(ref("u/tree/a/b/f"), chunks(b"1"), max_bytes=10)
    await storage.make_folder(ref("u/tree/empty"))
    await storage.delete(ref("u/tree"))
    await storage.delete(ref("u/missing"))
    assert await storage.stat(ref("u/tree")) is None
    await storage.delete(ref("u/keep"))
    assert await storage.stat(ref("u/keep")) is None
    assert await storage.list_folder(ref("u"), recursive=True) == []


async def test_delete_keeps_siblings_sharing_a_name_prefix(storage: FileStorage) -> None:
    await storage.write(ref("u/ab/f"), chunks(b"1"), max_bytes=10)
    await storage.write(ref("u/abc/f"), chunks(b"2"), max_bytes=10)
    await storage.delete(ref("u/ab"))
    assert await read_all(storage, "u/abc/f") == b"2"


async def test_more_than_a_thousand_entries(
    storage: FileStorage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    count = 1100
    if isinstance(storage, S3FileStorage):
        bucket = S3Store(
            request.getfixturevalue("s3_bucket"),
            prefix=f"{ROOT}/u/many",
            endpoint=request.getfixturevalue("aws_endpoint"),
            region=REGION,
            allow_http=True,
        )
        for start in range(0, count, 100):
            await asyncio.gather(
                *(
                    obstore.put_async(bucket, f"f{index:04}", b"")
                    for index in range(start, start + 100)
                )
            )
    elif isinstance(storage, InMemoryFileStorage):
        await storage.make_folder(ref("u/many"))
        storage.files.update({ref(f"u/many/f{index:04}"): b"" for index in range(count)})
    else:
        folder = tmp_path / ROOT / "u" / "many"
        folder.mkdir(parents=True)
        for index in range(count):
            (folder / f"f{index:04}").touch()
    for recursive in (False, True):
        entries = await storage.list_folder(ref("u/many"), recursive=recursive)
        assert len(entries) == count
    await storage.delete(ref("u/many"))
    assert await storage.stat(ref("u/many")) is None


UNUSUAL_NAME = "a b#c%d{e}^f[g]~h+i=j&k'l;ü*|<>\"?.txt"


async def test_unusual_names_round_trip(storage: FileStorage) -> None:
    await storage.write(ref(f"u/{UNUSUAL_NAME}"), chunks(b"odd"), max_bytes=10)
    assert [entry.ref.name for entry in await storage.list_folder(ref("u"), recursive=True)] == [
        UNUSUAL_NAME
    ]
    await storage.rename(ref(f"u/{UNUSUAL_NAME}"), ref(f"u/d/{UNUSUAL_NAME}"))
    assert await read_all(storage, f"u/d/{UNUSUAL_NAME}") == b"odd"
    await storage.delete(ref("u/d"))
    assert await storage.list_folder(ref("u"), recursive=True) == []


async def test_check_passes(storage: FileStorage) -> None:
    await storage.check()


async def test_s3_uri_and_presigned_download(aws_endpoint: str, s3_bucket: str) -> None:
    storage = S3FileStorage(bucket=s3_bucket, root=ROOT, region=REGION, endpoint_url=aws_endpoint)
    await storage.write(ref(f"u/data/{UNUSUAL_NAME}"), chunks(b"presigned"), max_bytes=100)
    assert storage.uri(ref("u/data/f.txt")) == f"s3://{s3_bucket}/{ROOT}/u/data/f.txt"
    spec = await storage.download_request(ref(f"u/data/{UNUSUAL_NAME}"))
    assert spec is not None
    assert spec.method == "get"
    assert "X-Amz-Expires=600" in spec.url
    async with httpx.AsyncClient() as http:
        response = await http.request(spec.method, spec.url, headers=spec.headers)
    assert response.status_code == 200
    assert response.content == b"presigned"


async def test_s3_presigned_post_puts_the_file_in_the_folder(
    aws_endpoint: str, s3_bucket: str
) -> None:
    storage = S3FileStorage(bucket=s3_bucket, root=ROOT, region=REGION, endpoint_url=aws_endpoint)
    await storage.make_folder(ref("u/data/set"))
    spec = await storage.upload_request(ref("u/data/set"), max_bytes=1000)
    assert spec is not None
    assert spec.method == "post"
    assert spec.data["key"] == f"{ROOT}/u/data/set/${{filename}}"
    async with httpx.AsyncClient() as http:
        response = await http.post(
            spec.url, data=spec.data, files={"file": ("frames.tif", b"pixels")}
        )
    assert response.is_success, response.text
    assert await read_all(storage, "u/data/set/frames.tif") == b"pixels"


async def test_s3_aborted_upload_leaves_no_multipart_upload_behind(
    aws_endpoint: str, s3_bucket: str
) -> None:
    storage = S3FileStorage(bucket=s3_bucket, root=ROOT, region=REGION, endpoint_url=aws_endpoint)

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (PART_SIZE + 1)  # at least one part is sent
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.write(ref("u/big"), broken(), max_bytes=10 * PART_SIZE)
    client = boto3.client("s3", endpoint_url=aws_endpoint, region_name=REGION)
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_s3_without_credentials_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(RuntimeError, match="No AWS credentials"):
        S3FileStorage(bucket="bucket", region=REGION)


async def test_local_storage_serves_files_itself(tmp_path: Path) -> None:
    storage = LocalFileStorage(tmp_path)
    assert await storage.download_request(ref("u/f")) is None
    assert await storage.upload_request(ref("u"), max_bytes=10) is None
    assert storage.uri(ref("u/f")) == str(tmp_path / "u" / "f")


@pytest.mark.parametrize("kind", ["file", "folder"])
async def test_parallel_renames_onto_one_target_never_replace(
    storage: FileStorage, kind: str
) -> None:
    """Of 12 renames of different things onto one target, one wins and the others are
    refused with every source intact: nothing is overwritten, nothing is lost."""
    rounds = 100 if isinstance(storage, LocalFileStorage) else 3  # local races are rarer
    await race_renames_onto_one_target(storage, kind, rounds)


async def race_renames_onto_one_target(storage: FileStorage, kind: str, rounds: int) -> None:
    """`rounds` times, 12 things (files or folders) renamed at once onto `u/target`."""
    sources = [f"u/src/{index}" for index in range(12)]
    for index, source in enumerate(sources):
        if kind == "file":
            await storage.write(ref(source), chunks(f"content {index}".encode()), max_bytes=100)
        else:
            await storage.make_folder(ref(source))

    async def rename(source: str) -> str | None:
        try:
            await storage.rename(ref(source), ref("u/target"))
        except AlreadyExists:
            return None
        return source

    for _ in range(rounds):
        results = await asyncio.gather(*(rename(source) for source in sources))
        winners = [source for source in results if source is not None]
        assert len(winners) == 1, winners
        [winner] = winners
        left = {
            str(entry.ref) for entry in await storage.list_folder(ref("u/src"), recursive=False)
        }
        assert left == set(sources) - {winner}
        if kind == "file":
            assert (
                await read_all(storage, "u/target") == f"content {sources.index(winner)}".encode()
            )
        else:
            assert (await storage.stat(ref("u/target"))) == FileEntry(
                ref("u/target"), EntryKind.DIRECTORY
            )
        await storage.rename(ref("u/target"), ref(winner))


async def test_a_file_and_a_folder_never_share_a_name(storage: FileStorage) -> None:
    await storage.write(ref("u/a.txt"), chunks(b"file"), max_bytes=10)
    with pytest.raises(AlreadyExists):
        await storage.write(ref("u/a.txt/b.txt"), chunks(b"below a file"), max_bytes=100)
    with pytest.raises(AlreadyExists):
        await storage.make_folder(ref("u/a.txt/sub"))
    with pytest.raises(AlreadyExists):
        await storage.make_folder(ref("u/a.txt"))
    await storage.write(ref("u/folder/inside.txt"), chunks(b"in"), max_bytes=10)
    with pytest.raises(AlreadyExists):
        await storage.write(ref("u/folder"), chunks(b"over a folder"), max_bytes=100)
    assert listing(await storage.list_folder(ref("u"), recursive=True)) == [
        ("u/a.txt", EntryKind.FILE, 4),
        ("u/folder/", EntryKind.DIRECTORY, 0),
        ("u/folder/inside.txt", EntryKind.FILE, 2),
    ]
