from datetime import UTC, datetime

import msgspec

from decode_userapi.adapters.memory.notifier import RecordingNotifier
from decode_userapi.domain.errors import UpstreamRejected
from decode_userapi.domain.jobs import JobState
from decode_userapi.domain.users import User
from decode_userapi.services.jobs.notify import NotifyJobEnded
from tests.registry_examples import submitted_job

JOB = msgspec.structs.replace(
    submitted_job(
        User(id="u", email="u@example.org", groups=("users",)),
        "j",
        datetime(2026, 1, 1, tzinfo=UTC),
    ),
    id=4,
    status=JobState.FINISHED,
)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def test_retries_while_the_provider_may_recover() -> None:
    notifier, sleeps = RecordingNotifier(failures=2), Sleeps()
    assert await NotifyJobEnded(notifier, (1, 4), sleeps)(JOB) is True
    assert notifier.attempts == 3
    assert notifier.sent == [JOB]
    assert sleeps.delays == [1, 4]


async def test_gives_up_after_the_last_retry_without_raising() -> None:
    notifier, sleeps = RecordingNotifier(failures=10), Sleeps()
    assert await NotifyJobEnded(notifier, (1, 4), sleeps)(JOB) is False
    assert notifier.attempts == 3
    assert notifier.sent == []


async def test_a_refusal_is_not_retried() -> None:
    notifier, sleeps = RecordingNotifier(failures=1, error=UpstreamRejected("bad sender")), Sleeps()
    assert await NotifyJobEnded(notifier, (1, 4), sleeps)(JOB) is False
    assert notifier.attempts == 1
    assert sleeps.delays == []
