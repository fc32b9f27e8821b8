"""Password hashes: Argon2id at OWASP's parameters, and the scrypt hashes stored before.

New hashes are Argon2id PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<digest>`):
19 MiB of memory, 2 passes, 1 lane, OWASP's password storage recommendation. Hashes of
the first version read `scrypt$<n>$<r>$<p>$<salt>$<digest>` (base64); they still verify,
and `needs_rehash` tells the caller to replace them (and Argon2id hashes of other
parameters) at the next successful sign-in.

A hash costs tens of milliseconds of CPU and 19 MiB: `HashingPool` runs hashing on a
few threads of its own and refuses work beyond a bounded queue, so memory stays bounded
and file transfers keep their worker threads whatever the number of sign-ins.
"""

import asyncio
import base64
import hashlib
import hmac
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from decode_userapi.domain.errors import Overloaded

T = TypeVar("T")

ARGON2ID = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
SCRYPT = "scrypt"


def hash_password(password: str) -> str:
    """A salted Argon2id hash of `password` (blocking: run it in a `HashingPool`)."""
    return ARGON2ID.hash(password)


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` produces `stored` (Argon2id or scrypt), in constant time."""
    if stored.startswith(f"{SCRYPT}$"):
        return _scrypt_matches(password, stored)
    try:
        return ARGON2ID.verify(stored, password)
    except VerifyMismatchError:
        return False
    except InvalidHashError:
        raise ValueError("Unknown password hash format.") from None


def needs_rehash(stored: str) -> bool:
    """Whether `stored` is weaker than a new hash (scrypt, or other Argon2 parameters)."""
    return stored.startswith(f"{SCRYPT}$") or ARGON2ID.check_needs_rehash(stored)


def _scrypt_matches(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        maxmem=256 * int(n) * int(r) * int(p),
        dklen=len(base64.b64decode(digest)),
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


class HashingPool:
    """`workers` threads for password hashing, and room for `queue` more waiting; work
    beyond that is refused at once with `Overloaded` (503, retry after a second)."""

    def __init__(self, *, workers: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pw-hash")
        self._capacity = workers + queue
        self._taken = 0
        self._lock = threading.Lock()

    async def run(self, function: Callable[..., T], *args: object) -> T:
        with self._lock:
            if self._taken >= self._capacity:
                raise Overloaded("Too many sign-ins at once; try again in a second.", 1)
            self._taken += 1
        # The slot is freed when the work ends, also when the caller stops waiting.
        future: Future[T] = self._executor.submit(function, *args)
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: object) -> None:
        with self._lock:
            self._taken -= 1
