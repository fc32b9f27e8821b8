"""`WorkerGateway` over HTTP: `POST {WORKERFACING_API_URL}/_jobs` with `x-api-key`."""

import asyncio
import logging

import httpx
import msgspec

from decode_userapi.domain.errors import UpstreamRejected, UpstreamUnavailable
from decode_userapi.ports.worker_gateway import QueuedJob

log = logging.getLogger(__name__)

NOT_QUEUED = "The job was not queued"


class HttpWorkerGateway:
    """Retries only when the connection could not be made (the request was surely not
    received); any answer, success or not, is final."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 10.0,
        connect_attempts: int = 3,
        retry_delay: float = 0.2,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"x-api-key": api_key or ""},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        )
        self._connect_attempts = connect_attempts
        self._retry_delay = retry_delay

    async def enqueue(self, job: QueuedJob) -> None:
        body = msgspec.json.encode(job)
        response = await self._post(body)
        if not response.is_success:
            detail = response.text[:500]
            log.warning(
                "Worker-facing API refused job %s: %s %s",
                job.job.meta.job_id,
                response.status_code,
                detail,
            )
            raise UpstreamRejected(
                f"{NOT_QUEUED}: the worker-facing API answered HTTP {response.status_code}"
                f" ({detail or 'no detail'})."
            )

    async def _post(self, body: bytes) -> httpx.Response:
        headers = {"content-type": "application/json"}
        for attempt in range(1, self._connect_attempts + 1):
            try:
                return await self._client.post("/_jobs", content=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                log.warning("Worker-facing API unreachable (attempt %s): %s", attempt, exc)
                if attempt < self._connect_attempts:
                    await asyncio.sleep(self._retry_delay * attempt)
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(
                    f"{NOT_QUEUED}: the worker-facing API did not answer ({type(exc).__name__})."
                ) from None
        raise UpstreamUnavailable(
            f"{NOT_QUEUED}: the worker-facing API cannot be reached; try again later."
        )

    async def aclose(self) -> None:
        await self._client.aclose()
