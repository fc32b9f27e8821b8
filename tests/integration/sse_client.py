"""A small Server-Sent Events reader over a real HTTP connection (httpx streaming)."""

from collections.abc import AsyncIterator

import httpx
import msgspec


class Sse(msgspec.Struct):
    """One message: an event (`id`, `event`, `data`), or comment and `retry:` lines."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    comments: list[str] = []
    retry: int | None = None

    def json(self) -> dict[str, object]:
        assert self.data is not None, self
        decoded: dict[str, object] = msgspec.json.decode(self.data)
        return decoded


class SseReader:
    """Messages as the server sends them; `None` when the stream ended."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines: AsyncIterator[str] = response.aiter_lines()

    async def next(self) -> Sse | None:
        message = Sse()
        started = False
        async for line in self._lines:
            if line == "":
                if started:
                    return message
                continue
            started = True
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "":
                message.comments.append(value)
            elif field == "id":
                message.id = value
            elif field == "event":
                message.event = value
            elif field == "data":
                message.data = value if message.data is None else f"{message.data}\n{value}"
            elif field == "retry":
                message.retry = int(value)
        return message if started else None

    async def next_event(self) -> Sse | None:
        """The next message that is an event (skips comments and `retry:`)."""
        while True:
            message = await self.next()
            if message is None or message.event is not None:
                return message
