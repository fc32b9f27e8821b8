"""The local storage's writer threads and the descriptor they write to (`_WriteBehind`):
through a pipe, whose writes block until its other end reads."""

import asyncio
import contextlib
import os

import pytest

from decode_userapi.adapters.storage.local import _WriteBehind

MIB = 1024 * 1024


def _read_to_end(fd: int) -> int:
    """Bytes read from `fd` until every write end of its pipe is closed."""
    total = 0
    while chunk := os.read(fd, MIB):
        total += len(chunk)
    return total


async def test_a_cancelled_write_closes_the_descriptor_only_after_its_write() -> None:
    read_end, write_end = os.pipe()
    writer = _WriteBehind(write_end)
    await writer.write([b"x" * MIB, b"y" * MIB])  # the pipe takes 64 KiB: the write waits
    waiting = asyncio.create_task(writer.wait())
    await asyncio.sleep(0.05)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    writer.close()
    os.fstat(write_end)  # still open: its write goes on
    assert await asyncio.wait_for(asyncio.to_thread(_read_to_end, read_end), 10) == 2 * MIB
    os.close(read_end)


async def test_the_next_write_waits_for_the_one_in_flight_and_an_error_is_raised() -> None:
    read_end, write_end = os.pipe()
    writer = _WriteBehind(write_end)
    reading = asyncio.create_task(asyncio.to_thread(_read_to_end, read_end))
    await writer.write([b"a" * MIB])
    await writer.write([b"b" * MIB])
    await writer.wait()
    writer.close()
    assert await asyncio.wait_for(reading, 10) == 2 * MIB
    os.close(read_end)
    broken = _WriteBehind(os.open(os.devnull, os.O_RDONLY))
    await broken.write([b"z"])
    with pytest.raises(OSError, match="Bad file descriptor"):
        await broken.wait()
    broken.close()
