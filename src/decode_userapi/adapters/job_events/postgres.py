"""Wake-ups of job event readers across server processes: PostgreSQL `LISTEN/NOTIFY`.

Each process holds one connection of its own (not from the pool) that listens on the
`job_events` channel; a notification, sent by the transaction that recorded events and
delivered on its commit only, names the user, whose readers in this process are woken
and read the table. The connection is opened with the first reader, and opened again
after it is lost; readers are woken then too, since a notification may have been missed
while it was down (they also read the table after every keep-alive wait).
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from decode_userapi.adapters.job_events.local import EventWaiter, InProcessJobEventFeed
from decode_userapi.adapters.persistence.job_events import CHANNEL

log = logging.getLogger(__name__)


def asyncpg_dsn(database_url: str) -> str:
    """The `postgresql://` DSN asyncpg takes, from the SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresJobEventFeed:
    def __init__(self, database_url: str, *, reconnect_seconds: float = 1.0) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._reconnect_seconds = reconnect_seconds
        self._local = InProcessJobEventFeed()
        self._listener: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def listen(self, user_id: str) -> AsyncIterator[EventWaiter]:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen_forever())
        async with self._local.listen(user_id) as wait:
            yield wait

    def committed(self, user_ids: set[str]) -> None:
        """Readers in this process are woken at once; the others by the notification."""
        self._local.committed(user_ids)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None

    def _notified(self, _connection: Any, _pid: int, _channel: str, user_id: str) -> None:
        self._local.committed({user_id})

    async def _listen_forever(self) -> None:
        while True:
            try:
                connection = await asyncpg.connect(self._dsn)
            except (TimeoutError, OSError, asyncpg.PostgresError) as error:
                log.warning("Cannot listen for job events (%s); retrying", error)
                await asyncio.sleep(self._reconnect_seconds)
                continue
            try:
                await self._listen_on(connection)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("Listening for job events failed (%s); retrying", error)
            finally:
                self._local.wake_everyone()  # a notification may have been missed
                if not connection.is_closed():
                    await connection.close(timeout=5)
            await asyncio.sleep(self._reconnect_seconds)

    async def _listen_on(self, connection: asyncpg.Connection) -> None:
        """Until the connection is lost."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        await connection.add_listener(CHANNEL, self._notified)
        self._local.wake_everyone()  # what was committed before LISTEN took hold
        await lost.wait()
        log.warning("Lost the connection that listens for job events; reopening")
