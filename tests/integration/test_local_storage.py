"""LocalFileStorage on a real folder: all-or-nothing writes, links never followed."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from decode_userapi.adapters.storage import local
from decode_userapi.adapters.storage.local import STAGING, LocalFileStorage
from decode_userapi.domain.errors import AlreadyExists, NotFound, TooLarge
from decode_userapi.domain.files import EntryKind, FileRef
from tests.integration.test_storage_contract import race_renames_onto_one_target


def ref(raw: str) -> FileRef:
    return FileRef.parse(raw)


async def chunks(*parts: bytes, fail: bool = False) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if fail:
        raise ConnectionError("client went away")


async def read_all(storage: LocalFileStorage, raw: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(ref(raw))])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def storage(root: Path) -> LocalFileStorage:
    return LocalFileStorage(root)


async def test_write_read_and_stat(storage: LocalFileStorage) -> None:
    assert await storage.write(ref("u/data/a/b.txt"), chunks(b"ab", b"c"), max_bytes=3) == 3
    assert await read_all(storage, "u/data/a/b.txt") == b"abc"
    entry = await storage.stat(ref("u/data/a/b.txt"))
    assert entry is not None
    assert (entry.kind, entry.size_bytes) == (EntryKind.FILE, 3)


@pytest.mark.parametrize(
    ("stream", "error"),
    [
        (lambda: chunks(b"new", b"data!"), TooLarge),
        (lambda: chunks(b"new", fail=True), ConnectionError),
    ],
)
async def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(
    storage: LocalFileStorage,
    root: Path,
    stream: Callable[[], AsyncIterator[bytes]],
    error: type[Exception],
) -> None:
    await storage.write(ref("u/a.txt"), chunks(b"old"), max_bytes=10)
    with pytest.raises(error):
        await storage.write(ref("u/a.txt"), stream(), max_bytes=5)
    assert await read_all(storage, "u/a.txt") == b"old"
    assert list((root / STAGING).iterdir()) == []


async def test_a_write_cannot_replace_a_folder_or_pass_through_a_file(
    storage: LocalFileStorage, root: Path
) -> None:
    await storage.make_folder(ref("u/folder"))
    await storage.write(ref("u/file"), chunks(b"x"), max_bytes=10)
    with pytest.raises(AlreadyExists):
        await storage.write(ref("u/folder"), chunks(b"x"), max_bytes=10)
    with pytest.raises(AlreadyExists):
        await storage.write(ref("u/file/inside"), chunks(b"x"), max_bytes=10)
    with pytest.raises(AlreadyExists):
        await storage.make_folder(ref("u/file/sub"))
    assert list((root / STAGING).iterdir()) == []


async def test_links_are_never_followed(
    storage: LocalFileStorage, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    await storage.make_folder(ref("u/data"))
    (root / "u" / "data" / "folder-link").symlink_to(outside)
    (root / "u" / "data" / "file-link").symlink_to(outside / "secret.txt")

    assert await storage.list_folder(ref("u/data"), recursive=True) == []
    for raw in ("u/data/folder-link", "u/data/file-link", "u/data/folder-link/secret.txt"):
        assert await storage.stat(ref(raw)) is None
        with pytest.raises(NotFound):
            await read_all(storage, raw)
    with pytest.raises(NotFound):
        await storage.list_folder(ref("u/data/folder-link"), recursive=False)
    with pytest.raises((NotFound, AlreadyExists)):
        await storage.write(ref("u/data/folder-link/new.txt"), chunks(b"x"), max_bytes=10)
    with pytest.raises(NotFound):
        await storage.rename(ref("u/data/folder-link/secret.txt"), ref("u/data/stolen"))
    await storage.delete(ref("u/data/folder-link/secret.txt"))
    await storage.delete(ref("u/data/folder-link"))
    await storage.delete(ref("u/data/file-link"))

    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert list((root / "u" / "data").iterdir()) == []


async def test_the_staging_folder_is_not_a_user_folder(storage: LocalFileStorage) -> None:
    await storage.write(ref("u/a"), chunks(b"a"), max_bytes=10)
    listing = await storage.list_folder(ref("u"), recursive=True)
    assert [str(entry.ref) for entry in listing] == ["u/a"]


def test_a_start_cleans_what_crashed_uploads_left_in_staging(root: Path) -> None:
    """Staged files of dead processes of this host, and any untouched for an hour, go;
    those of live processes (here, this one) and fresh ones of other hosts stay."""
    LocalFileStorage(root)
    staging = root / STAGING
    host = socket.gethostname()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {
        "dead": f"{host}~{dead.pid}~abc#1",
        "alive": f"{host}~{os.getpid()}~def#1",
        "other-host-fresh": f"elsewhere~{os.getpid()}~ghi",
        "other-host-stale": f"elsewhere~{os.getpid()}~jkl#2",
        "old-format-stale": "0123456789abcdef#1",
    }
    for name in names.values():
        (staging / name).write_bytes(b"half an upload")
    an_hour_and_more_ago = time.time() - 3700
    for stale in ("other-host-stale", "old-format-stale"):
        os.utime(staging / names[stale], (an_hour_and_more_ago, an_hour_and_more_ago))

    LocalFileStorage(root)

    left = sorted(path.name for path in staging.iterdir())
    assert left == sorted([names["alive"], names["other-host-fresh"]])


async def test_renames_never_replace_without_renameat2_either(
    storage: LocalFileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the C library or the file system lacks `renameat2`, a hard link stands in."""
    monkeypatch.setattr(local, "_renameat2", None)
    await race_renames_onto_one_target(storage, "file", rounds=50)
