"""`Notifier` that records the jobs it was told about (`EMAIL_SENDER_SERVICE=memory`)."""

from decode_userapi.domain.errors import UpstreamUnavailable
from decode_userapi.domain.jobs import Job


class RecordingNotifier:
    """Fails with `UpstreamUnavailable` `failures_left` times, then records the job."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures_left = failures
        self.error = error or UpstreamUnavailable("rate limited")
        self.attempts = 0
        self.sent: list[Job] = []

    async def job_ended(self, job: Job) -> None:
        self.attempts += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            raise self.error
        self.sent.append(job)
