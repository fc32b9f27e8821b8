"""Telling users that a job ended."""

from typing import Protocol

from decode_userapi.domain.jobs import Job


class Notifier(Protocol):
    """Sends one message to the job's owner that the job reached a final state."""

    async def job_ended(self, job: Job) -> None:
        """Send the message once.

        Raises `UpstreamUnavailable` when sending may succeed if tried again later
        (unreachable, rate limited, server error) and `UpstreamRejected` when it
        will not (the provider refused the message).
        """
        ...
