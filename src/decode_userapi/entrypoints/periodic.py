"""`CLEANUP_INTERVAL_SECONDS`: the cleanup as a background task of each server process.

Several processes or replicas may run it at once: every step of a cleanup is idempotent.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("decode_userapi.cleanup")


class PeriodicTask:
    """Runs `action` every `interval_seconds` (first after one interval) until stopped;
    a failed run is logged and the next one comes at its time."""

    def __init__(self, action: Callable[[], Awaitable[object]], interval_seconds: float) -> None:
        self._action = action
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="periodic cleanup")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._action()
            except Exception:
                log.exception(
                    "The periodic cleanup failed; the next run is in %s s", self._interval
                )
