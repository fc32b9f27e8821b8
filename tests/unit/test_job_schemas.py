from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from decode_userapi.services.jobs.documents import timestamp

OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])


@given(st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1), timezones=OFFSETS))
def test_a_timestamp_is_the_instant_in_utc_as_isoformat_writes_it(moment: datetime) -> None:
    assert timestamp(moment) == moment.astimezone(UTC).isoformat()


def test_a_whole_second_has_no_fraction() -> None:
    assert timestamp(datetime(2026, 12, 2, 10, 8, 12, tzinfo=UTC)) == "2026-12-02T10:08:12+00:00"
