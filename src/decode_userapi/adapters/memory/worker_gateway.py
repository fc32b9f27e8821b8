"""`WorkerGateway` that records what it was sent (`WORKERFACING_API_URL=memory://`)."""

from decode_userapi.ports.worker_gateway import QueuedJob


class RecordingWorkerGateway:
    """Records what it queued; `failure` makes every enqueue raise it."""

    def __init__(self) -> None:
        self.queued: list[QueuedJob] = []
        self.failure: Exception | None = None
        self.closed = False

    async def enqueue(self, job: QueuedJob) -> None:
        if self.failure is not None:
            raise self.failure
        self.queued.append(job)

    async def aclose(self) -> None:
        self.closed = True
