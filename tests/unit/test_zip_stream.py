import io
import os
import shutil
import subprocess
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from decode_userapi.services.files.zip_stream import (
    ZIP32_LIMIT,
    MemberSizeChanged,
    ZipMember,
    zip_size,
    zip_stream,
)

MOMENT = datetime(2026, 3, 4, 5, 6, 8, tzinfo=UTC)


def chunks_of(*parts: bytes) -> Callable[[], AsyncIterator[bytes]]:
    async def chunks() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    return chunks


async def archive(members: list[ZipMember]) -> bytes:
    """The archive's bytes, checked to be as long as `zip_size` announced."""
    content = b"".join([chunk async for chunk in zip_stream(members, modified=MOMENT)])
    assert len(content) == zip_size(members)
    return content


async def test_python_reads_what_it_writes() -> None:
    members = [
        ZipMember("empty/"),
        ZipMember("frames/a.tif", 11, chunks_of(b"hello", b" ", b"world")),
        ZipMember("frames/über café.txt", 3, chunks_of(b"abc")),
        ZipMember("zero.bin", 0, chunks_of()),
    ]
    with zipfile.ZipFile(io.BytesIO(await archive(members))) as opened:
        assert opened.testzip() is None
        assert opened.namelist() == ["empty/", "frames/a.tif", "frames/über café.txt", "zero.bin"]
        assert opened.read("frames/a.tif") == b"hello world"
        assert opened.read("frames/über café.txt") == b"abc"
        assert opened.read("zero.bin") == b""
        assert opened.getinfo("empty/").is_dir()
        assert opened.getinfo("frames/a.tif").compress_type == zipfile.ZIP_STORED
        assert opened.getinfo("frames/a.tif").date_time == (2026, 3, 4, 5, 6, 8)


async def test_an_empty_archive_is_valid() -> None:
    with zipfile.ZipFile(io.BytesIO(await archive([]))) as opened:
        assert opened.namelist() == []


async def test_reads_a_member_only_when_its_turn_comes() -> None:
    opened: list[str] = []

    def tracked(name: str) -> Callable[[], AsyncIterator[bytes]]:
        async def chunks() -> AsyncIterator[bytes]:
            opened.append(name)
            yield b"x"

        return chunks

    stream = zip_stream([ZipMember(n, 1, tracked(n)) for n in ("a", "b")], modified=MOMENT)
    await anext(stream)  # the first local header
    assert opened == []
    await anext(stream)
    assert opened == ["a"]
    await stream.aclose()


@pytest.mark.parametrize("actual", [b"abc", b"abcde"])
async def test_a_member_whose_size_changed_stops_the_archive(actual: bytes) -> None:
    with pytest.raises(MemberSizeChanged, match="changed while it was being zipped"):
        await archive([ZipMember("a", 4, chunks_of(actual))])


async def test_many_members_need_zip64_end_records() -> None:
    members = [ZipMember(f"{index}.txt", 1, chunks_of(b"x")) for index in range(70_000)]
    with zipfile.ZipFile(io.BytesIO(await archive(members))) as opened:
        names = opened.namelist()
        assert len(names) == 70_000
        assert opened.read("69999.txt") == b"x"


@pytest.mark.slow
async def test_members_over_4_gib_use_zip64(tmp_path: Path) -> None:
    """A 4 GiB + 1 member of zeros, then a small one at an offset past 4 GiB. Zeros
    become holes in a sparse file, so this needs neither 4 GiB of memory nor disk."""
    zeros = bytes(16 * 1024 * 1024)
    big_size = ZIP32_LIMIT + 1

    async def big() -> AsyncIterator[bytes]:
        left = big_size
        while left:
            step = min(left, len(zeros))
            yield zeros[:step]
            left -= step

    members = [ZipMember("big.bin", big_size, big), ZipMember("after.txt", 5, chunks_of(b"tail!"))]
    target = tmp_path / "large.zip"
    with target.open("wb") as out:
        async for chunk in zip_stream(members, modified=MOMENT):
            if len(chunk) == len(zeros) or (chunk == zeros[: len(chunk)] and len(chunk) > 1024):
                out.seek(len(chunk), os.SEEK_CUR)
            else:
                out.write(chunk)
    assert target.stat().st_size == zip_size(members)
    with zipfile.ZipFile(target) as opened:
        big_info, after_info = opened.infolist()
        assert big_info.file_size == big_size
        assert (
            zlib.crc32(bytes(big_size % len(zeros)), _crc_of_zeros(zeros, big_size)) == big_info.CRC
        )
        assert after_info.header_offset > ZIP32_LIMIT
        assert opened.read("after.txt") == b"tail!"
        with opened.open("big.bin") as member:
            assert member.read(1024) == bytes(1024)
    _check_with_unzip(target)


def _check_with_unzip(archive_path: Path) -> None:
    """Info-ZIP's `unzip` (not Python) tests every member's CRC and reads the member
    stored past 4 GiB."""
    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("Info-ZIP unzip is not installed (apt-get install unzip; .ci/run does)")
    tested = subprocess.run([unzip, "-tq", archive_path], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "No errors detected" in tested.stdout
    after = subprocess.run([unzip, "-p", archive_path, "after.txt"], capture_output=True)
    assert after.stdout == b"tail!"


def _crc_of_zeros(block: bytes, size: int) -> int:
    crc = 0
    for _ in range(size // len(block)):
        crc = zlib.crc32(block, crc)
    return crc
