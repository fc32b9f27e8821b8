"""Quotas: how much a user may store and run, and what they use.

A limit of None is unlimited. An operator's per-user override replaces the default
(`QUOTA_BYTES`, `QUOTA_FILES`, `QUOTA_RUNNING_JOBS`); `UNLIMITED` as an override lifts a
default for one user.
"""

import re

import msgspec

from decode_userapi.domain.errors import InvalidInput, StorageQuotaExceeded
from decode_userapi.domain.files import human_size

UNLIMITED = -1
"""Stored as an override: no limit for this user, whatever the default."""

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_size(text: str) -> int:
    """Bytes from `123`, `500G`, `500GB` (decimal: 500 * 1000**3), `10GiB` (binary) or
    `1.5T`; `InvalidInput` naming the accepted forms otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a size: write bytes (123), or a number with a unit such as "
            "500G, 500GB (decimal) or 10GiB (binary)."
        )
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    if binary and not unit:
        raise InvalidInput(f"{text!r} is not a size: 'i' needs a unit before it (KiB, GiB).")
    return int(float(number) * base ** _POWERS[unit.lower()])


class Limits(msgspec.Struct, frozen=True):
    """What one user may use; None is unlimited."""

    bytes: int | None = None
    files: int | None = None
    running_jobs: int | None = None

    def over(self, overrides: "Limits") -> "Limits":
        """These defaults with `overrides` (None: keep the default; `UNLIMITED`: none)."""

        def pick(default: int | None, override: int | None) -> int | None:
            if override is None:
                return default
            return None if override == UNLIMITED else override

        return Limits(
            bytes=pick(self.bytes, overrides.bytes),
            files=pick(self.files, overrides.files),
            running_jobs=pick(self.running_jobs, overrides.running_jobs),
        )


class Usage(msgspec.Struct, frozen=True):
    """What a user's files take: settled (`used_*`) and held by uploads in flight
    (`reserved_*`)."""

    used_bytes: int = 0
    used_files: int = 0
    reserved_bytes: int = 0
    reserved_files: int = 0


class Account(msgspec.Struct, frozen=True):
    """A user's usage with their overrides (as the operator set them) and the limits in
    force (overrides over the defaults)."""

    user_id: str
    usage: Usage
    overrides: Limits
    limits: Limits


def storage_quota_exceeded(
    limits: Limits, usage: Usage, adding: int, *, declared: bool
) -> StorageQuotaExceeded:
    """The error for `adding` bytes that do not fit (`declared`: the size the upload
    announced, named in the message), or for a file too many."""
    taken = usage.used_bytes + usage.reserved_bytes
    if limits.bytes is not None and taken + max(adding, 1) > limits.bytes:
        announced = f", upload declares {human_size(adding)}" if declared else ""
        return StorageQuotaExceeded(
            f"Storage quota {human_size(limits.bytes)} would be exceeded: "
            f"{human_size(taken)} used{announced}. Delete files or ask for a larger quota."
        )
    return StorageQuotaExceeded(
        f"File quota of {limits.files} files would be exceeded: "
        f"{usage.used_files + usage.reserved_files} files stored. Delete files or ask for a "
        "larger quota."
    )
