"""`Notifier` that only writes to the log: the default when no email service is set."""

import logging

from decode_userapi.adapters.notifier.message import subject
from decode_userapi.domain.jobs import Job

log = logging.getLogger(__name__)


class LogNotifier:
    async def job_ended(self, job: Job) -> None:
        log.info("Not emailed (no EMAIL_SENDER_SERVICE) to %s: %s", job.user_email, subject(job))
