"""Uploads that arrive in several requests: resumable (tus) and straight-to-storage
multipart uploads."""

from datetime import datetime

import msgspec

from decode_userapi.domain.files import FileRef


class Staging(msgspec.Struct, frozen=True):
    """Where the bytes of an unfinished upload wait, as the storage names them.

    Opaque to the core: `handle` names the staged bytes (a staging file, an S3 multipart
    upload id), `parts` lists what the storage needs to finish them (S3 part ETags).
    """

    handle: str
    parts: tuple[str, ...] = ()


class ResumableUpload(msgspec.Struct, frozen=True):
    """A file that arrives in pieces: `offset` of its `length` bytes are stored so far.

    `target` is the user path where the file appears once its last byte is stored.
    Past `expires_at` an upload that was not finished is aborted.
    """

    id: str
    user_id: str
    target: FileRef
    length: int
    offset: int
    expires_at: datetime
    staging: Staging
    reservation_id: int | None = None
    """The usage ledger's hold on the user's quota for `length` bytes and one file
    (None: an upload created before quotas applied to resumable uploads)."""

    @property
    def is_complete(self) -> bool:
        return self.offset == self.length


class AbortedUpload(msgspec.Struct, frozen=True):
    """An upload removed because it expired: whose it was and what it freed."""

    user_id: str
    target: FileRef
    bytes_freed: int


CHECKSUM_ALGORITHMS = ("sha1", "md5")


class Checksum(msgspec.Struct, frozen=True):
    """What the bytes of one request must hash to (tus `Upload-Checksum`)."""

    algorithm: str
    """One of `CHECKSUM_ALGORITHMS`."""
    digest: bytes
