"""`Notifier` by email through Mailjet's Send API v3.1 (mailjet-rest, which is synchronous:
each send runs in a worker thread)."""

import logging

import anyio.to_thread
from mailjet_rest import Client
from mailjet_rest.config import Config
from mailjet_rest.errors import ApiError, MailjetApiError

from decode_userapi.adapters.notifier.message import body, subject
from decode_userapi.domain.errors import UpstreamRejected, UpstreamUnavailable
from decode_userapi.domain.jobs import Job

log = logging.getLogger(__name__)

MAILJET_API_URL = "https://api.mailjet.com/"
RETRYABLE = frozenset({429, 500, 502, 503, 504})


class MailjetNotifier:
    def __init__(
        self,
        sender: str,
        api_key: str,
        secret_key: str,
        api_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        config = Config(version="v3.1", api_url=api_url or MAILJET_API_URL, timeout=timeout)
        self._client = Client(auth=(api_key, secret_key), config=config)
        self._sender = sender

    async def job_ended(self, job: Job) -> None:
        if not job.user_email:
            log.warning("Job %s has no owner email; nothing sent.", job.id)
            return
        message: dict[str, object] = {
            "Messages": [
                {
                    "From": {"Email": self._sender, "Name": "DECODE OpenCloud"},
                    "To": [{"Email": job.user_email}],
                    "Subject": subject(job),
                    "TextPart": body(job),
                }
            ]
        }
        await anyio.to_thread.run_sync(self._send, message)

    def _send(self, message: dict[str, object]) -> None:
        try:
            self._client.send.create(data=message)
        except MailjetApiError as exc:
            raise _failure(exc.status_code, str(exc)) from None
        except ApiError as exc:
            # Statuses the library has no class for, and network errors (no response).
            response = getattr(exc.__cause__, "response", None)
            raise _failure(getattr(response, "status_code", None), str(exc)) from None


def _failure(status: int | None, detail: str) -> UpstreamUnavailable | UpstreamRejected:
    if status is None or status in RETRYABLE:
        return UpstreamUnavailable(f"Mailjet did not take the email ({status}): {detail}")
    return UpstreamRejected(f"Mailjet refused the email ({status}): {detail}")
