"""Idempotency keys: a client names a request so that a retry of it does it only once."""

import hashlib

import msgspec

from decode_userapi.domain.errors import InvalidInput

MAX_KEY_LENGTH = 255


def check_idempotency_key(key: str) -> str:
    """1 to 255 printable ASCII characters (space to `~`), as an HTTP header carries them."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."
        )
    return key


class Once(msgspec.Struct, frozen=True):
    """A request named by the client's key; `fingerprint` tells one request from another."""

    key: str
    fingerprint: str

    @classmethod
    def of(cls, key: str, request: object) -> "Once":
        """`request` (any msgspec-encodable value) in its canonical form, hashed: field and
        key order, spacing and a `null` written or left out do not change it."""
        canonical = msgspec.json.encode(request, order="sorted")
        return cls(check_idempotency_key(key), hashlib.sha256(canonical).hexdigest())


class KeyUse(msgspec.Struct, frozen=True):
    """What a key was used for: the request's fingerprint and the job it made."""

    fingerprint: str
    job_id: int | None
