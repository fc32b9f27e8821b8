"""Wake-ups of job event readers within one server process."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class EventWaiter:
    """One reader's wake-up flag: set by a wake-up, cleared when the reader sees it."""

    def __init__(self) -> None:
        self._flag = asyncio.Event()

    def wake(self) -> None:
        self._flag.set()

    async def wait(self, up_to_seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._flag.wait(), up_to_seconds)
        except TimeoutError:
            return False
        self._flag.clear()
        return True


class InProcessJobEventFeed:
    """Enough on SQLite, where every writer is a process on this machine and, with one
    server process, this one: a commit wakes the readers of its users at once. With
    several processes on one SQLite file, the readers of another process see new events
    at their next keep-alive (they read the table after every wait)."""

    def __init__(self) -> None:
        self._waits: dict[str, set[EventWaiter]] = {}

    @asynccontextmanager
    async def listen(self, user_id: str) -> AsyncIterator[EventWaiter]:
        wait = EventWaiter()
        self._waits.setdefault(user_id, set()).add(wait)
        try:
            yield wait
        finally:
            waits = self._waits.get(user_id, set())
            waits.discard(wait)
            if not waits:
                self._waits.pop(user_id, None)

    def committed(self, user_ids: set[str]) -> None:
        for user_id in user_ids:
            for wait in self._waits.get(user_id, ()):
                wait.wake()

    def wake_everyone(self) -> None:
        for waits in self._waits.values():
            for wait in waits:
                wait.wake()

    async def aclose(self) -> None:
        """Nothing to release; here so both feeds close alike."""
