from datetime import UTC, datetime, timedelta

import pytest

from decode_userapi.domain.jobs import Job, JobState, next_state
from decode_userapi.domain.users import User
from tests.registry_examples import submitted_job

S = JobState
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (S.QUEUED, S.PULLED, S.PULLED),
        (S.PULLED, S.PREPROCESSING, S.PREPROCESSING),
        (S.PREPROCESSING, S.RUNNING, S.RUNNING),
        (S.RUNNING, S.POSTPROCESSING, S.POSTPROCESSING),
        (S.POSTPROCESSING, S.FINISHED, S.FINISHED),
        # skipping forward
        (S.QUEUED, S.RUNNING, S.RUNNING),
        (S.QUEUED, S.FINISHED, S.FINISHED),
        # error from any state that is not final
        (S.QUEUED, S.ERROR, S.ERROR),
        (S.PULLED, S.ERROR, S.ERROR),
        (S.RUNNING, S.ERROR, S.ERROR),
        (S.POSTPROCESSING, S.ERROR, S.ERROR),
        # repeated: no change
        (S.RUNNING, S.RUNNING, S.RUNNING),
        (S.QUEUED, S.QUEUED, S.QUEUED),
        # backwards: ignored
        (S.RUNNING, S.PULLED, S.RUNNING),
        (S.POSTPROCESSING, S.PREPROCESSING, S.POSTPROCESSING),
        # queued from a state that is not final: a re-queue
        (S.PULLED, S.QUEUED, S.QUEUED),
        (S.PREPROCESSING, S.QUEUED, S.QUEUED),
        (S.RUNNING, S.QUEUED, S.QUEUED),
        (S.POSTPROCESSING, S.QUEUED, S.QUEUED),
        # final states are never left
        (S.FINISHED, S.RUNNING, S.FINISHED),
        (S.FINISHED, S.ERROR, S.FINISHED),
        (S.ERROR, S.FINISHED, S.ERROR),
        (S.ERROR, S.QUEUED, S.ERROR),
        (S.FINISHED, S.QUEUED, S.FINISHED),
        # canceled from any state that is not final, and never left
        (S.QUEUED, S.CANCELED, S.CANCELED),
        (S.RUNNING, S.CANCELED, S.CANCELED),
        (S.FINISHED, S.CANCELED, S.FINISHED),
        (S.ERROR, S.CANCELED, S.ERROR),
        (S.CANCELED, S.RUNNING, S.CANCELED),
        (S.CANCELED, S.QUEUED, S.CANCELED),
        (S.CANCELED, S.FINISHED, S.CANCELED),
    ],
)
def test_next_state(current: JobState, reported: JobState, expected: JobState) -> None:
    assert next_state(current, reported) is expected


def job() -> Job:
    return submitted_job(User(id="u1", email=None, groups=("users",)), "j", T0)


def test_dates_are_set_once() -> None:
    subject = job()
    assert subject.report(S.PULLED, None, T0 + timedelta(seconds=1)) is False
    assert subject.report(S.RUNNING, None, T0 + timedelta(seconds=2)) is False
    assert subject.date_started == T0 + timedelta(seconds=1)
    assert subject.report(S.FINISHED, None, T0 + timedelta(seconds=3)) is True
    assert subject.report(S.RUNNING, None, T0 + timedelta(seconds=4)) is False
    assert subject.report(S.FINISHED, None, T0 + timedelta(seconds=5)) is False
    assert subject.status is S.FINISHED
    assert subject.date_finished == T0 + timedelta(seconds=3)


def test_a_requeue_keeps_the_first_start_and_appends_details() -> None:
    subject = job()
    subject.report(S.PULLED, None, T0 + timedelta(seconds=1))
    subject.report(S.RUNNING, "worker w", T0 + timedelta(seconds=2))
    assert (
        subject.report(S.QUEUED, "timeout 1 (workers tried: w)", T0 + timedelta(seconds=3)) is False
    )
    assert subject.status is S.QUEUED
    subject.report(S.PULLED, None, T0 + timedelta(seconds=4))
    subject.report(S.RUNNING, "worker v", T0 + timedelta(seconds=5))
    assert subject.report(S.FINISHED, None, T0 + timedelta(seconds=6)) is True
    assert subject.date_started == T0 + timedelta(seconds=1)
    assert subject.date_finished == T0 + timedelta(seconds=6)
    assert subject.runtime_details == "worker w\ntimeout 1 (workers tried: w)\nworker v"


def test_skipping_pulled_still_sets_date_started() -> None:
    subject = job()
    subject.report(S.RUNNING, None, T0)
    assert subject.date_started == T0


def test_error_before_start_ends_without_start_date() -> None:
    subject = job()
    assert subject.report(S.ERROR, "no GPU", T0) is True
    assert subject.date_started is None
    assert subject.date_finished == T0


def test_runtime_details_are_appended_on_new_lines() -> None:
    subject = job()
    subject.report(S.RUNNING, "epoch 1", T0)
    subject.report(S.RUNNING, None, T0)
    subject.report(S.ERROR, "out of memory", T0)
    assert subject.runtime_details == "epoch 1\nout of memory"


def test_paths_out() -> None:
    assert job().paths_out == {"output": "output/j", "log": "log/j", "artifact": "artifact/j"}


def test_cancel_before_start_ends_without_start_date() -> None:
    subject = job()
    assert subject.report(S.CANCELED, None, T0) is True
    assert (subject.status, subject.date_started, subject.date_finished) == (S.CANCELED, None, T0)
    assert subject.report(S.RUNNING, None, T0 + timedelta(seconds=1)) is False
    assert subject.status is S.CANCELED
