import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from decode_userapi.domain.errors import UpstreamUnavailable
from decode_userapi.domain.jobs import Job
from decode_userapi.ports.notifier import Notifier

log = logging.getLogger(__name__)


class NotifyJobEnded:
    """Tell a job's owner that it ended; never raises.

    Runs in the background after the status update was answered. A failure that may
    pass (`UpstreamUnavailable`, e.g. rate limited) is retried after each of
    `retry_delays` seconds; the final failure, or any other, is logged.
    """

    def __init__(
        self,
        notifier: Notifier,
        retry_delays: Sequence[float] = (1.0, 4.0),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._notifier = notifier
        self._retry_delays = retry_delays
        self._sleep = sleep

    async def __call__(self, job: Job) -> bool:
        """True when the message was sent."""
        for delay in self._retry_delays:
            sent = await self._attempt(job)
            if sent is not None:
                return sent
            await self._sleep(delay)
        sent = await self._attempt(job)
        if sent is None:
            log.error("Gave up notifying about job %s", job.id)
            return False
        return sent

    async def _attempt(self, job: Job) -> bool | None:
        """True: sent; False: failed for good; None: failed, worth another try."""
        try:
            await self._notifier.job_ended(job)
        except UpstreamUnavailable as exc:
            log.warning("Notifying about job %s failed: %s", job.id, exc.message)
            return None
        except Exception:
            log.exception("Could not notify about job %s", job.id)
            return False
        return True
