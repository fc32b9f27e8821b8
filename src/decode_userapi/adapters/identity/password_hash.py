"""Password hashes with the standard library's scrypt.

A hash reads `scrypt$<n>$<r>$<p>$<salt>$<digest>` (base64), so the cost can be raised
later without invalidating the hashes already stored.
"""

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
COST = 2**15
BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16
DIGEST_BYTES = 32


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r * p,
        dklen=DIGEST_BYTES,
    )


def hash_password(
    password: str, *, n: int = COST, r: int = BLOCK_SIZE, p: int = PARALLELISM
) -> str:
    """A salted hash of `password` (blocking for tens of milliseconds: run it in a thread)."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p)
    return "$".join(
        (
            SCHEME,
            str(n),
            str(r),
            str(p),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        )
    )


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` produces `stored`, compared in constant time."""
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != SCHEME:
        raise ValueError(f"Unknown password hash scheme {scheme!r}.")
    candidate = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(candidate, base64.b64decode(digest))
