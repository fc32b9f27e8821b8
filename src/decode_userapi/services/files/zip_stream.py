"""A zip archive written while it is sent: constant memory, any size.

Members are STORED (microscopy data barely compresses, and storing is fastest). Each
member's CRC is computed while its bytes pass through and written after them in a data
descriptor (flag bit 3), so nothing is buffered. ZIP64 records are written where a size,
an offset or the member count passes the classic format's limits.
"""

import struct
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

ZIP32_LIMIT = 0xFFFFFFFF
"""Sizes and offsets at or over this need ZIP64 fields."""
COUNT32_LIMIT = 0xFFFF

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_END_RECORD = struct.Struct("<IHHHHIIH")
_ZIP64_END_RECORD = struct.Struct("<IQHHIIQQQQ")
_ZIP64_LOCATOR = struct.Struct("<IIQI")

_FLAGS = 0x0008 | 0x0800  # sizes and CRC in a data descriptor; UTF-8 names
_VERSION_CLASSIC = 20
_VERSION_ZIP64 = 45
_MADE_BY_UNIX = 3 << 8
_FILE_MODE = 0o100644 << 16
_FOLDER_MODE = (0o040755 << 16) | 0x10


class MemberSizeChanged(Exception):
    """A member's bytes did not match the size announced for it (it changed meanwhile)."""


@dataclass(frozen=True)
class ZipMember:
    """One archive entry. A folder's name ends with '/' and has no `chunks`."""

    name: str
    size: int = 0
    chunks: Callable[[], AsyncIterator[bytes]] | None = None


@dataclass(frozen=True)
class _Written:
    name: bytes
    is_folder: bool
    crc: int
    size: int
    offset: int


def _dos_time(moment: datetime) -> tuple[int, int]:
    year = min(max(moment.year, 1980), 2107)
    date = ((year - 1980) << 9) | (moment.month << 5) | moment.day
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    return time, date


def _local_header(name: bytes, zip64: bool, when: tuple[int, int]) -> bytes:
    extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0) if zip64 else b""
    size_field = ZIP32_LIMIT if zip64 else 0
    version = _VERSION_ZIP64 if zip64 else _VERSION_CLASSIC
    header = _LOCAL_HEADER.pack(
        0x04034B50, version, _FLAGS, 0, *when, 0, size_field, size_field, len(name), len(extra)
    )
    return header + name + extra


def _data_descriptor(crc: int, size: int, zip64: bool) -> bytes:
    if zip64:
        return struct.pack("<IIQQ", 0x08074B50, crc, size, size)
    return struct.pack("<IIII", 0x08074B50, crc, size, size)


def _central_header(entry: _Written, when: tuple[int, int]) -> bytes:
    big_size = entry.size >= ZIP32_LIMIT
    big_offset = entry.offset >= ZIP32_LIMIT
    zip64_values = [entry.size, entry.size] if big_size else []
    if big_offset:
        zip64_values.append(entry.offset)
    extra = (
        struct.pack(f"<HH{len(zip64_values)}Q", 0x0001, 8 * len(zip64_values), *zip64_values)
        if zip64_values
        else b""
    )
    version = _VERSION_ZIP64 if zip64_values else _VERSION_CLASSIC
    size_field = ZIP32_LIMIT if big_size else entry.size
    header = _CENTRAL_HEADER.pack(
        0x02014B50,
        _MADE_BY_UNIX | version,
        version,
        _FLAGS,
        0,
        *when,
        entry.crc,
        size_field,
        size_field,
        len(entry.name),
        len(extra),
        0,
        0,
        0,
        _FOLDER_MODE if entry.is_folder else _FILE_MODE,
        ZIP32_LIMIT if big_offset else entry.offset,
    )
    return header + entry.name + extra


def _end_records(count: int, directory_offset: int, directory_size: int) -> bytes:
    needs_zip64 = (
        count >= COUNT32_LIMIT or directory_offset >= ZIP32_LIMIT or directory_size >= ZIP32_LIMIT
    )
    records = b""
    if needs_zip64:
        zip64_end_offset = directory_offset + directory_size
        records += _ZIP64_END_RECORD.pack(
            0x06064B50,
            _ZIP64_END_RECORD.size - 12,
            _MADE_BY_UNIX | _VERSION_ZIP64,
            _VERSION_ZIP64,
            0,
            0,
            count,
            count,
            directory_size,
            directory_offset,
        )
        records += _ZIP64_LOCATOR.pack(0x07064B50, 0, zip64_end_offset, 1)
    records += _END_RECORD.pack(
        0x06054B50,
        0,
        0,
        min(count, COUNT32_LIMIT),
        min(count, COUNT32_LIMIT),
        min(directory_size, ZIP32_LIMIT),
        min(directory_offset, ZIP32_LIMIT),
        0,
    )
    return records


class ZipSize:
    """The exact length of `zip_stream(members)`, known before a byte is read: `add` the
    members in their order (in as many calls as convenient), then read `total`."""

    def __init__(self) -> None:
        self._offset = self._directory_size = self._count = 0

    def add(self, members: Iterable[ZipMember]) -> None:
        for member in members:
            name = member.name.encode()
            zip64 = member.size >= ZIP32_LIMIT
            entry = _Written(name, member.chunks is None, 0, member.size, self._offset)
            self._offset += len(_local_header(name, zip64, (0, 0))) + member.size
            self._offset += len(_data_descriptor(0, member.size, zip64))
            self._directory_size += len(_central_header(entry, (0, 0)))
            self._count += 1

    @property
    def total(self) -> int:
        end = _end_records(self._count, self._offset, self._directory_size)
        return self._offset + self._directory_size + len(end)


def zip_size(members: Iterable[ZipMember]) -> int:
    """The exact length of `zip_stream(members)`, known before a byte is read."""
    size = ZipSize()
    size.add(members)
    return size.total


async def zip_stream(
    members: Iterable[ZipMember], *, modified: datetime
) -> AsyncGenerator[bytes, None]:
    """The archive's bytes, member after member; a member's bytes are read only when
    its turn comes. Every entry carries the timestamp `modified`.

    Raises `MemberSizeChanged` when a member yields more or fewer bytes than its `size`.
    """
    when = _dos_time(modified)
    written: list[_Written] = []
    offset = 0
    for member in members:
        name = member.name.encode()
        zip64 = member.size >= ZIP32_LIMIT
        header = _local_header(name, zip64, when)
        yield header
        crc = size = 0
        if member.chunks is not None:
            async for chunk in member.chunks():
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                yield chunk
        if size != member.size:
            raise MemberSizeChanged(
                f"'{member.name}' changed while it was being zipped "
                f"({member.size} bytes announced, {size} read)."
            )
        descriptor = _data_descriptor(crc, size, zip64)
        yield descriptor
        written.append(_Written(name, member.chunks is None, crc, size, offset))
        offset += len(header) + size + len(descriptor)
    directory = b"".join(_central_header(entry, when) for entry in written)
    yield directory
    yield _end_records(len(written), offset, len(directory))
