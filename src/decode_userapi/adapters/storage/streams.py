"""Byte streams shared by the storage adapters."""

from collections.abc import AsyncIterable, AsyncIterator

from decode_userapi.domain.errors import TooLarge


class SizeLimited:
    """Passes `source` through `chunks()`, counting into `written`; `TooLarge` as soon as
    more than `max_bytes` went by, so an oversized upload stops without being read whole."""

    def __init__(self, source: AsyncIterable[bytes], max_bytes: int) -> None:
        self._source = source
        self._max_bytes = max_bytes
        self.written = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._source:
            self.written += len(chunk)
            if self.written > self._max_bytes:
                raise TooLarge(f"The file is larger than the limit of {self._max_bytes} bytes.")
            yield chunk
