"""Where job events are kept, and how a reader learns that new ones were committed."""

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from decode_userapi.domain.job_events import JobEvent

MAX_EVENTS_PER_READ = 500


class JobEventLog(Protocol):
    """Job events inside one unit of work: recorded in the same transaction as the change
    they describe, so a rollback drops them with it."""

    async def record(self, event: JobEvent) -> None:
        """Store `event`. Ids grow in commit order among the events of one user, so a
        reader that saw event N never later finds a new event of that user below N."""
        ...

    async def after(
        self, user_id: str, last_id: int, *, job_id: int | None = None
    ) -> list[JobEvent]:
        """The user's events with an id above `last_id` (of one job when `job_id` is
        given), oldest first, at most `MAX_EVENTS_PER_READ`."""
        ...


class EventWait(Protocol):
    async def wait(self, up_to_seconds: float) -> bool:
        """Until events of the user may have been committed since the last call (True),
        or `up_to_seconds` passed (False). Wake-ups may be spurious; none is missed."""
        ...


class JobEventFeed(Protocol):
    """Wake-ups for readers waiting for a user's new events, from any server process."""

    def listen(self, user_id: str) -> AbstractAsyncContextManager[EventWait]:
        """Listen for `user_id`'s events from now on; read the log after entering, then
        `wait`, so that nothing committed in between is missed."""
        ...

    def committed(self, user_ids: set[str]) -> None:
        """Called after a commit that recorded events of `user_ids` in this process."""
        ...
