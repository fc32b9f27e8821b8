"""Resumable uploads (the model of the tus protocol): a file that arrives in pieces over
several requests, possibly from several replicas, and appears at its place in the user's
space, all at once, when its last byte is stored.

The place follows the rules of `UploadFile` (inside `config/`, `data/` or `artifact/`, one
valid file name), except that a resumable upload never replaces a file: `AlreadyExists` at
creation, and again on the last byte if a file appeared there meanwhile.
"""

import hashlib
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime, timedelta

import msgspec

from decode_userapi.domain.errors import (
    AlreadyExists,
    ChecksumMismatch,
    InvalidInput,
    NotFound,
    TooLarge,
)
from decode_userapi.domain.files import FileRef
from decode_userapi.domain.uploads import (
    CHECKSUM_ALGORITHMS,
    AbortedUpload,
    Checksum,
    ResumableUpload,
)
from decode_userapi.domain.users import User
from decode_userapi.ports.resumable_storage import ResumableStorage
from decode_userapi.ports.sweeper import Removal
from decode_userapi.ports.upload_repository import UploadRepository
from decode_userapi.ports.usage_ledger import Reservation, UsageLedger
from decode_userapi.services.clock import Clock, utc_now
from decode_userapi.services.files.space import UserSpaces, stored_ref
from decode_userapi.services.files.uploads import check_upload_folder, file_name

LEASE = timedelta(seconds=60)
"""How long a writer holds an upload without showing progress before another may take it."""

RESERVATION_HORIZON = timedelta(days=3650)
"""A resumable upload's quota reservation lives as long as the upload (each PATCH moves
the upload's expiry, so it has no maximum life): whoever forgets the upload (its last
byte, termination, the expiry sweep) settles or releases the reservation. Its own expiry
is set this far ahead so the ledger's sweep of abandoned reservations never takes it from
a live upload."""


def upload_target(folder: FileRef, filename: str) -> FileRef:
    """Where an upload into `folder` named `filename` goes, by `UploadFile`'s rules."""
    check_upload_folder(folder)
    return folder.child(file_name(filename))


async def new_upload_target(
    spaces: UserSpaces,
    user: User,
    folder: FileRef,
    filename: str,
    size: int,
    *,
    max_bytes: int,
    size_name: str,
) -> FileRef:
    """Where a new upload of `size` bytes (declared as `size_name`) into `folder` named
    `filename` goes: `InvalidInput` for a negative size, `TooLarge` over `max_bytes`,
    `AlreadyExists` when a file or folder is there (an upload never replaces one)."""
    if size < 0:
        raise InvalidInput(f"{size_name} may not be negative.")
    if size > max_bytes:
        raise TooLarge(f"{size_name} of {size} bytes is over the limit of {max_bytes} bytes.")
    target = upload_target(folder, filename)
    files = await spaces.open(user)
    if await files.stat(target) is not None:
        raise AlreadyExists(f"'{target}' already exists; an upload never replaces it.")
    return target


def _storage_ref(upload: ResumableUpload) -> FileRef:
    return stored_ref(upload.user_id, upload.target)


def _reservation(upload: ResumableUpload) -> Reservation | None:
    if upload.reservation_id is None:
        return None
    return Reservation(upload.reservation_id, upload.user_id, upload.length, 1)


async def _release(ledger: UsageLedger, upload: ResumableUpload) -> None:
    """Give the upload's hold back (fine when it was given back already)."""
    reservation = _reservation(upload)
    if reservation is not None:
        await ledger.release(reservation)


class ResumableUploads:
    """Create, append to, inspect and terminate the caller's resumable uploads.

    `max_bytes` bounds an upload's declared length (`TooLarge`), and so does the
    user's storage quota: creation reserves the length and one file in `ledger`
    (`StorageQuotaExceeded` before anything is stored), the last byte settles it,
    termination and expiry release it. An upload expires `expiry` after its creation
    or its last append. Another user's upload, an expired
    or finished one, is `NotFound`.
    """

    def __init__(
        self,
        spaces: UserSpaces,
        storage: ResumableStorage,
        uploads: UploadRepository,
        ledger: UsageLedger,
        *,
        max_bytes: int,
        expiry_seconds: int,
        clock: Clock = utc_now,
    ) -> None:
        self._spaces, self._storage, self._uploads = spaces, storage, uploads
        self._ledger, self._max_bytes, self._clock = ledger, max_bytes, clock
        self._expiry = timedelta(seconds=expiry_seconds)

    async def create(
        self, user: User, folder: FileRef, filename: str, length: int
    ) -> ResumableUpload:
        """A new upload of `length` bytes to `{folder}/{filename}`; an empty file is
        stored at once."""
        target = await new_upload_target(
            self._spaces,
            user,
            folder,
            filename,
            length,
            max_bytes=self._max_bytes,
            size_name="Upload-Length",
        )
        await AbortExpiredUploads(self._storage, self._uploads, self._ledger, self._clock)()
        now = self._clock()
        reservation = await self._ledger.reserve(
            user.id, bytes=length, files=1, expires_at=now + RESERVATION_HORIZON
        )
        try:
            upload = ResumableUpload(
                id=secrets.token_hex(16),
                user_id=user.id,
                target=target,
                length=length,
                offset=0,
                expires_at=now + self._expiry,
                staging=await self._storage.begin(stored_ref(user.id, target)),
                reservation_id=reservation.id,
            )
            await self._uploads.add(upload)
        except BaseException:
            await self._ledger.release(reservation)
            raise
        if length == 0:
            await self._finish(upload)
        return upload

    async def get(self, user: User, upload_id: str) -> ResumableUpload:
        upload = await self._uploads.get(upload_id, user.id)
        if upload is None or upload.expires_at <= self._clock():
            raise NotFound(f"There is no upload {upload_id[:40]!r} (or it expired).")
        return upload

    async def append(
        self,
        user: User,
        upload_id: str,
        offset: int,
        chunks: AsyncIterable[bytes],
        checksum: Checksum | None = None,
    ) -> ResumableUpload:
        """Store `chunks` at `offset`, which must be the upload's offset (`AlreadyExists`
        otherwise, or while another request writes to it). When the stream ends early
        (the client went away), what arrived is kept and counted, unless a `checksum`
        came with it: then all the bytes must match it, or none is kept
        (`ChecksumMismatch`). On the last byte the file appears at its target."""
        if checksum is not None:
            if checksum.algorithm not in CHECKSUM_ALGORITHMS:
                raise InvalidInput(
                    f"The checksum algorithm {checksum.algorithm[:20]!r} is not one of "
                    f"{', '.join(CHECKSUM_ALGORITHMS)}."
                )
            chunks = _verified(chunks, checksum)
        upload = await self.get(user, upload_id)
        if offset != upload.offset:
            raise AlreadyExists(
                f"The upload is at byte {upload.offset}, not {offset}; resume from there."
            )
        now = self._clock()
        if not await self._uploads.claim(upload.id, user.id, offset, now, now + LEASE):
            raise AlreadyExists("Another request is writing to this upload; try again shortly.")
        try:
            staging, new_offset = await self._storage.append(
                _storage_ref(upload),
                upload.staging,
                offset,
                self._leased(upload.id, _at_most(chunks, upload.length - offset)),
                upload.length,
            )
        except BaseException:
            await self._uploads.release(upload.id)
            raise
        updated = msgspec.structs.replace(
            upload, offset=new_offset, staging=staging, expires_at=self._clock() + self._expiry
        )
        recorded = await self._uploads.record(
            upload.id,
            previous_offset=offset,
            offset=new_offset,
            staging=staging,
            expires_at=updated.expires_at,
        )
        if not recorded:
            raise AlreadyExists("The upload changed while this request wrote to it.")
        if updated.is_complete:
            await self._finish(updated)
        return updated

    async def terminate(self, user: User, upload_id: str) -> None:
        """Stop the upload and drop its bytes (`AlreadyExists` while a request writes)."""
        upload = await self.get(user, upload_id)
        now = self._clock()
        if not await self._uploads.claim(upload.id, user.id, upload.offset, now, now + LEASE):
            raise AlreadyExists("A request is writing to this upload; try again shortly.")
        await self._storage.abort(_storage_ref(upload), upload.staging)
        await _release(self._ledger, upload)
        await self._uploads.remove(upload.id)

    async def _finish(self, upload: ResumableUpload) -> None:
        ref = _storage_ref(upload)
        try:
            await self._storage.finish(ref, upload.staging, upload.length)
        except AlreadyExists:
            await self._storage.abort(ref, upload.staging)
            await _release(self._ledger, upload)
            await self._uploads.remove(upload.id)
            raise AlreadyExists(
                f"'{upload.target}' appeared while the upload ran; the upload was dropped."
            ) from None
        reservation = _reservation(upload)
        if reservation is None:
            await self._ledger.add(upload.user_id, bytes=upload.length, files=1)
        else:
            await self._ledger.settle(reservation, bytes=upload.length, files=1)
        await self._uploads.remove(upload.id)

    async def _leased(self, upload_id: str, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """`chunks`, extending the lease on the upload while they flow."""
        renewed = time.monotonic()
        async for chunk in chunks:
            if time.monotonic() - renewed > LEASE.total_seconds() / 3:
                await self._uploads.extend(upload_id, self._clock() + LEASE)
                renewed = time.monotonic()
            yield chunk


async def _at_most(chunks: AsyncIterable[bytes], limit: int) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in chunks:
        sent += len(chunk)
        if sent > limit:
            raise InvalidInput(
                f"The request carries more bytes than the {limit} the upload still expects."
            )
        yield chunk


async def _verified(chunks: AsyncIterable[bytes], checksum: Checksum) -> AsyncIterator[bytes]:
    """`chunks`; at their end `ChecksumMismatch` unless they hash to `checksum` (the
    storage records nothing when its stream fails)."""
    digest = hashlib.new(checksum.algorithm, usedforsecurity=False)
    async for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.digest() != checksum.digest:
        raise ChecksumMismatch(
            f"The bytes do not match their {checksum.algorithm} checksum; none were kept."
        )


class AbortExpiredUploads:
    """Abort every upload past its expiry that no request is writing to: its staged
    bytes are dropped (S3: `AbortMultipartUpload`), its quota reservation released and
    it is forgotten. Returns what was removed (with `dry_run`, what would be, removing
    and releasing nothing)."""

    def __init__(
        self,
        storage: ResumableStorage,
        uploads: UploadRepository,
        ledger: UsageLedger,
        clock: Clock = utc_now,
    ) -> None:
        self._storage, self._uploads, self._ledger, self._clock = storage, uploads, ledger, clock

    async def __call__(
        self, *, now: datetime | None = None, dry_run: bool = False
    ) -> list[AbortedUpload]:
        removed = []
        for upload in await self._uploads.expired(now or self._clock()):
            if not dry_run:
                await self._storage.abort(_storage_ref(upload), upload.staging)
                await _release(self._ledger, upload)
                await self._uploads.remove(upload.id)
            removed.append(AbortedUpload(upload.user_id, upload.target, upload.offset))
        return removed


class ExpiredUploadsSweeper:
    """`cleanup`'s part of the resumable uploads: those past their expiry, aborted by
    `AbortExpiredUploads` (a dry run lists them, removing and releasing nothing)."""

    def __init__(self, abort: AbortExpiredUploads) -> None:
        self._abort = abort

    async def sweep(self, now: datetime, *, dry_run: bool) -> list[Removal]:
        return [
            Removal("expired upload", str(aborted.target), aborted.user_id, aborted.bytes_freed)
            for aborted in await self._abort(now=now, dry_run=dry_run)
        ]
