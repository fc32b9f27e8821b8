"""Imports every ORM model so that `Base.metadata` knows all tables (used by Alembic)."""

from decode_userapi.adapters.persistence.idempotency import IdempotencyKeyRow
from decode_userapi.adapters.persistence.job_events import JobEventRow
from decode_userapi.adapters.persistence.jobs import JobRow
from decode_userapi.adapters.persistence.sign_in_attempts import SignInAttemptRow
from decode_userapi.adapters.persistence.uploads import UploadRow
from decode_userapi.adapters.persistence.usage import ReservationRow, UsageRow
from decode_userapi.adapters.persistence.users import UserRow

__all__ = [
    "IdempotencyKeyRow",
    "JobEventRow",
    "JobRow",
    "ReservationRow",
    "SignInAttemptRow",
    "UploadRow",
    "UsageRow",
    "UserRow",
]
