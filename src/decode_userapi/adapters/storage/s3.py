"""An S3 bucket (or an S3-compatible store such as MinIO) under a key prefix.

Bytes stream through obstore's `S3Store` (multipart uploads, ranged streaming reads,
presigned GETs). Folders are key prefixes; an empty folder is kept by a zero-byte marker
object `<prefix>/`, as the AWS console makes them. obstore cannot address keys that end
with `/`, so listing, markers, copies and batched deletes go through boto3, which is also
the only one of the two that signs POST policies. Both use boto3's credential chain.

A name is a file or a folder, never both: a write or a new folder is refused while a file
stands at one of its parent folders. Renames never replace: the target is written with
`If-None-Match: *` (a conditional PUT for folder markers and empty files, otherwise a
multipart copy whose completion carries the condition), so of parallel renames onto one
target, from any number of replicas, exactly one wins and the others leave their source.

A resumable upload is an S3 multipart upload at the file's key, invisible until completed
(with `If-None-Match: *`: it never replaces). Appended bytes are cut into parts of exactly
`PART_SIZE` as they arrive, one part in memory at a time; what is left at the end of a
request (less than a part) is kept as a temporary object under `.uploads/` beside the users'
folders and put in front of the next request's bytes. The last part may be shorter.
"""

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import boto3
import obstore
from botocore.config import Config
from botocore.exceptions import ClientError
from obstore.auth.boto3 import Boto3CredentialProvider
from obstore.store import S3Store

from decode_userapi.adapters.storage.streams import SizeLimited
from decode_userapi.domain.errors import AlreadyExists, InvalidInput, NotAllowed, NotFound, TooLarge
from decode_userapi.domain.files import EntryKind, FileEntry, FileRef
from decode_userapi.domain.uploads import Staging
from decode_userapi.ports.direct_uploads import DirectUpload
from decode_userapi.ports.file_storage import HttpRequestSpec

if TYPE_CHECKING:
    from obstore import GetOptions

PART_SIZE = 5 * 1024 * 1024
"""Multipart part size, and the smallest chunk a read yields."""
PART_CONCURRENCY = 2
"""Parts in flight per upload: memory per upload stays near PART_SIZE * (this + 1)."""
DELETE_BATCH = 1000
"""S3's DeleteObjects limit."""
COPY_PART_SIZE = 1024**3
"""Parts of a server-side copy (S3 allows up to 5 GiB a part and 10,000 parts)."""
_TARGET_TAKEN = ("PreconditionFailed", "ConditionalRequestConflict")
"""S3's answers to `If-None-Match: *` when the key exists, or is being written meanwhile."""

UPLOADS = ".uploads"
"""Where the tails of resumable uploads wait (beside the users' folders, in none)."""

DIRECT_PART_SIZE = 16 * 1024 * 1024
"""Part size of direct uploads (larger for files that would need over `MAX_PARTS`)."""
MAX_PARTS = 10_000
"""S3's limit of parts per multipart upload."""

T = TypeVar("T")


class S3FileStorage:
    def __init__(
        self,
        *,
        bucket: str,
        root: str = "",
        region: str | None = None,
        endpoint_url: str | None = None,
        presigned_url_expiry_seconds: int = 600,
    ) -> None:
        self._bucket = bucket
        self._root = "/".join(part for part in root.split("/") if part not in ("", "."))
        self._expiry = presigned_url_expiry_seconds
        session = boto3.session.Session(region_name=region)
        self._client: Any = session.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"} if endpoint_url else {},
            ),
        )
        options: dict[str, Any] = {}
        if region:
            options["region"] = region
        if endpoint_url:
            options["endpoint"] = endpoint_url
            options["allow_http"] = endpoint_url.startswith("http://")
        try:
            credentials = Boto3CredentialProvider(session)
        except ValueError:
            raise RuntimeError(
                "No AWS credentials for S3: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "or AWS_PROFILE, or run with an instance or task role."
            ) from None
        self._store = S3Store(
            bucket, prefix=self._root or None, credential_provider=credentials, **options
        )

    def _key(self, ref: FileRef) -> str:
        return "/".join((self._root, *ref.parts) if self._root else ref.parts)

    def _folder_prefix(self, ref: FileRef) -> str:
        key = self._key(ref)
        return f"{key}/" if key else ""

    async def _sync(self, call: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(call)

    async def stat(self, ref: FileRef) -> FileEntry | None:
        if ref.is_root:
            return FileEntry(ref, EntryKind.DIRECTORY)
        try:
            meta = await obstore.head_async(self._store, str(ref))
        except FileNotFoundError:
            pass
        else:
            return FileEntry(ref, EntryKind.FILE, meta["size"])
        if await self._sync(lambda: self._any_key_under(ref)):
            return FileEntry(ref, EntryKind.DIRECTORY)
        return None

    def _any_key_under(self, ref: FileRef) -> bool:
        page = self._client.list_objects_v2(
            Bucket=self._bucket, Prefix=self._folder_prefix(ref), MaxKeys=1
        )
        return bool(page.get("KeyCount", 0) > 0)

    def _pages(self, prefix: str, *, delimiter: bool) -> Iterator[Any]:
        paginator = self._client.get_paginator("list_objects_v2")
        extra = {"Delimiter": "/"} if delimiter else {}
        yield from paginator.paginate(Bucket=self._bucket, Prefix=prefix, **extra)

    async def list_folder(self, folder: FileRef, *, recursive: bool) -> list[FileEntry]:
        return await self._sync(lambda: self._list(folder, recursive))

    def _list(self, folder: FileRef, recursive: bool) -> list[FileEntry]:
        prefix = self._folder_prefix(folder)
        folders: set[tuple[str, ...]] = set()
        files: dict[tuple[str, ...], int] = {}
        found = False
        for page in self._pages(prefix, delimiter=not recursive):
            for common in page.get("CommonPrefixes", ()):
                found = True
                folders.add(tuple(common["Prefix"][len(prefix) :].rstrip("/").split("/")))
            for item in page.get("Contents", ()):
                found = True
                parts = tuple(item["Key"][len(prefix) :].split("/"))
                if parts[-1] == "":
                    parts = parts[:-1]
                    if parts:
                        folders.add(parts)
                else:
                    files[parts] = item["Size"]
                folders.update(parts[:depth] for depth in range(1, len(parts)))
        if not found and not folder.is_root:
            raise NotFound(f"Folder '{folder.as_folder()}' does not exist.")
        usable = [parts for parts in folders | files.keys() if "" not in parts]
        entries = [
            FileEntry(FileRef((*folder.parts, *parts)), EntryKind.FILE, files[parts])
            if parts in files
            else FileEntry(FileRef((*folder.parts, *parts)), EntryKind.DIRECTORY)
            for parts in usable
        ]
        entries.sort(key=lambda entry: entry.wire_path)
        return entries

    async def _refuse_files_on_the_way(self, ref: FileRef, *, including: bool) -> None:
        """`AlreadyExists` when a file stands at a folder above `ref` (or at `ref`)."""
        depths = range(1, len(ref.parts) + (1 if including else 0))
        paths = [FileRef(ref.parts[:depth]) for depth in depths]
        found = await asyncio.gather(*(self._is_file(path) for path in paths))
        for path, is_file in zip(paths, found, strict=True):
            if is_file:
                raise AlreadyExists(f"'{path}' is a file, so it cannot hold '{ref}'.")

    async def _is_file(self, ref: FileRef) -> bool:
        try:
            await obstore.head_async(self._store, str(ref))
        except FileNotFoundError:
            return False
        return True

    async def make_folder(self, ref: FileRef) -> None:
        await self._refuse_files_on_the_way(ref, including=True)
        await self._put_markers(ref)

    async def _put_markers(self, ref: FileRef) -> None:
        markers = [
            self._folder_prefix(FileRef(ref.parts[:depth]))
            for depth in range(1, len(ref.parts) + 1)
        ]

        def put_markers() -> None:
            for marker in markers:
                self._client.put_object(Bucket=self._bucket, Key=marker, Body=b"")

        await self._sync(put_markers)

    async def read(
        self, ref: FileRef, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if ref.is_root:
            raise NotFound("The root is a folder, not a file.")
        ranged: GetOptions = {}
        if end is not None:
            ranged["range"] = (start, end)
        elif start:
            ranged["range"] = {"offset": start}
        try:
            result = await obstore.get_async(self._store, str(ref), options=ranged)
        except FileNotFoundError:
            raise NotFound(f"File '{ref}' does not exist.") from None
        async for chunk in result.stream(min_chunk_size=PART_SIZE):
            yield bytes(chunk)

    async def write(self, ref: FileRef, chunks: AsyncIterable[bytes], *, max_bytes: int) -> int:
        await self._refuse_files_on_the_way(ref, including=False)
        if await self._sync(lambda: self._any_key_under(ref)):
            raise AlreadyExists(f"'{ref}' is a folder.")
        upload = SizeLimited(chunks, max_bytes)
        await obstore.put_async(
            self._store,
            str(ref),
            upload.chunks(),
            chunk_size=PART_SIZE,
            max_concurrency=PART_CONCURRENCY,
        )
        await self._put_markers(ref.parent)
        return upload.written

    async def rename(self, source: FileRef, target: FileRef) -> None:
        found = await self.stat(source)
        if found is None:
            raise NotFound(f"'{source}' does not exist.")
        if await self.stat(target) is not None:
            raise AlreadyExists(f"'{target}' already exists.")
        if found.kind is EntryKind.DIRECTORY and await self.list_folder(source, recursive=False):
            raise NotAllowed(
                f"Folder '{source.as_folder()}' is not empty; only empty folders can be renamed."
            )
        await self.make_folder(target.parent)
        try:
            if found.kind is EntryKind.FILE:
                await self._sync(
                    lambda: self._copy_if_absent(
                        self._key(source), self._key(target), found.size_bytes
                    )
                )
            else:
                await self._sync(lambda: self._put_if_absent(self._folder_prefix(target)))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in _TARGET_TAKEN:
                raise AlreadyExists(f"'{target}' already exists.") from None
            if code in ("NoSuchKey", "404"):  # the source went while it was being copied
                raise NotFound(f"'{source}' does not exist.") from None
            raise
        source_key = (
            self._key(source) if found.kind is EntryKind.FILE else self._folder_prefix(source)
        )
        await self._sync(lambda: self._delete_keys([source_key]))

    def _put_if_absent(self, key: str) -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=b"", IfNoneMatch="*")

    def _copy_if_absent(self, source_key: str, target_key: str, size: int) -> None:
        """Copy server-side unless `target_key` exists: a multipart copy (CopyObject's
        destination condition is not honoured everywhere; a completion's is) that is
        aborted when the condition fails."""
        if size == 0:
            self._put_if_absent(target_key)
            return
        upload_id = self._client.create_multipart_upload(Bucket=self._bucket, Key=target_key)[
            "UploadId"
        ]
        try:
            parts = []
            for number, start in enumerate(range(0, size, COPY_PART_SIZE), start=1):
                end = min(start + COPY_PART_SIZE, size) - 1
                copied = self._client.upload_part_copy(
                    Bucket=self._bucket,
                    Key=target_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self._bucket, "Key": source_key},
                    CopySourceRange=f"bytes={start}-{end}",
                )
                parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=target_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=target_key, UploadId=upload_id
            )
            raise

    async def delete(self, ref: FileRef) -> None:
        def remove() -> None:
            if not ref.is_root:
                self._delete_keys([self._key(ref)])
            for page in self._pages(self._folder_prefix(ref), delimiter=False):
                self._delete_keys([item["Key"] for item in page.get("Contents", ())])

        await self._sync(remove)

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            answer = self._client.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise OSError(f"S3 refused to delete {first.get('Key')}: {first.get('Message')}")

    def uri(self, ref: FileRef) -> str:
        return f"s3://{self._bucket}/{self._key(ref)}"

    async def download_request(self, ref: FileRef) -> HttpRequestSpec | None:
        url = await obstore.sign_async(
            self._store, "GET", str(ref), timedelta(seconds=self._expiry)
        )
        return HttpRequestSpec(method="get", url=url)

    async def upload_request(self, folder: FileRef, *, max_bytes: int) -> HttpRequestSpec | None:
        prefix = self._folder_prefix(folder)
        post = await self._sync(
            lambda: self._client.generate_presigned_post(
                Bucket=self._bucket,
                Key=prefix + "${filename}",
                Conditions=[
                    ["starts-with", "$key", prefix],
                    ["content-length-range", 0, max_bytes],
                ],
                ExpiresIn=self._expiry,
            )
        )
        return HttpRequestSpec(method="post", url=post["url"], data=dict(post["fields"]))

    async def begin(self, ref: FileRef) -> Staging:
        answer = await self._sync(
            lambda: self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key(ref))
        )
        return Staging(answer["UploadId"])

    @staticmethod
    def _tail(staging: Staging) -> FileRef:
        return FileRef((UPLOADS, hashlib.sha256(staging.handle.encode()).hexdigest()))

    async def append(
        self, ref: FileRef, staging: Staging, offset: int, chunks: AsyncIterable[bytes], size: int
    ) -> tuple[Staging, int]:
        parts = list(staging.parts)
        tail = self._tail(staging)
        pending = bytearray()
        if offset > len(parts) * PART_SIZE:
            pending += await (await obstore.get_async(self._store, str(tail))).bytes_async()
            del pending[offset - len(parts) * PART_SIZE :]  # bytes never recorded
        async for chunk in chunks:
            pending += chunk
            while len(pending) >= PART_SIZE:
                part = bytes(pending[:PART_SIZE])
                del pending[:PART_SIZE]
                parts.append(await self._upload_part(ref, staging, len(parts) + 1, part))
        offset = len(parts) * PART_SIZE + len(pending)
        if offset == size and pending:
            parts.append(await self._upload_part(ref, staging, len(parts) + 1, bytes(pending)))
        elif pending:
            await obstore.put_async(self._store, str(tail), bytes(pending))
        return Staging(staging.handle, tuple(parts)), offset

    async def _upload_part(self, ref: FileRef, staging: Staging, number: int, body: bytes) -> str:
        answer = await self._sync(
            lambda: self._client.upload_part(
                Bucket=self._bucket,
                Key=self._key(ref),
                UploadId=staging.handle,
                PartNumber=number,
                Body=body,
            )
        )
        return str(answer["ETag"])

    async def finish(self, ref: FileRef, staging: Staging, size: int) -> None:
        await self._refuse_files_on_the_way(ref, including=False)
        if await self._sync(lambda: self._any_key_under(ref)):
            raise AlreadyExists(f"'{ref}' is a folder.")
        key = self._key(ref)
        parts = [
            {"PartNumber": number, "ETag": etag}
            for number, etag in enumerate(staging.parts, start=1)
        ]
        try:
            if parts:
                await self._sync(
                    lambda: self._client.complete_multipart_upload(
                        Bucket=self._bucket,
                        Key=key,
                        UploadId=staging.handle,
                        MultipartUpload={"Parts": parts},
                        IfNoneMatch="*",
                    )
                )
            else:  # S3 completes no upload without parts: an empty file is one PUT
                await self._sync(lambda: self._put_if_absent(key))
                await self.abort(ref, staging)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _TARGET_TAKEN:
                raise AlreadyExists(f"'{ref}' already exists.") from None
            raise
        await self._put_markers(ref.parent)
        await self._sync(lambda: self._delete_keys([self._key(self._tail(staging))]))

    async def abort(self, ref: FileRef, staging: Staging) -> None:
        def abort() -> None:
            try:
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._key(ref), UploadId=staging.handle
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise
            self._delete_keys([self._key(self._tail(staging))])

        await self._sync(abort)

    async def start_direct(self, ref: FileRef, size: int) -> DirectUpload:
        await self._refuse_files_on_the_way(ref, including=False)
        mib = 1024 * 1024
        part_size = max(DIRECT_PART_SIZE, -(-size // MAX_PARTS // mib) * mib)
        count = max(1, -(-size // part_size))
        key = self._key(ref)

        def start() -> DirectUpload:
            upload_id = self._client.create_multipart_upload(Bucket=self._bucket, Key=key)[
                "UploadId"
            ]
            urls = tuple(
                self._client.generate_presigned_url(
                    "upload_part",
                    Params={
                        "Bucket": self._bucket,
                        "Key": key,
                        "UploadId": upload_id,
                        "PartNumber": number,
                    },
                    ExpiresIn=self._expiry,
                )
                for number in range(1, count + 1)
            )
            return DirectUpload(upload_id, part_size, urls)

        return await self._sync(start)

    def _direct_key(self, folder: FileRef, upload_id: str) -> str:
        """The key of the multipart upload `upload_id` directly inside `folder`."""
        prefix = self._folder_prefix(folder)
        paginator = self._client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for upload in page.get("Uploads", ()):
                name = upload["Key"][len(prefix) :]
                if upload["UploadId"] == upload_id and name and "/" not in name:
                    return str(upload["Key"])
        raise NotFound(f"There is no upload {upload_id[:60]!r} into '{folder.as_folder()}'.")

    async def complete_direct(
        self, folder: FileRef, upload_id: str, etags: list[tuple[int, str]], *, max_bytes: int
    ) -> FileEntry:
        key = await self._sync(lambda: self._direct_key(folder, upload_id))
        ref = folder.child(key.rsplit("/", 1)[-1])
        parts = [{"PartNumber": number, "ETag": etag} for number, etag in sorted(etags)]
        try:
            await self._sync(
                lambda: self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    IfNoneMatch="*",
                )
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in _TARGET_TAKEN:
                raise AlreadyExists(f"'{ref}' already exists.") from None
            if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload"):
                message = error.response.get("Error", {}).get("Message", code)
                raise InvalidInput(f"S3 refused the parts: {message}") from None
            raise
        size = (await obstore.head_async(self._store, str(ref)))["size"]
        if size > max_bytes:
            await self._sync(lambda: self._delete_keys([key]))
            raise TooLarge(f"The file of {size} bytes is over the limit of {max_bytes} bytes.")
        await self._put_markers(ref.parent)
        return FileEntry(ref, EntryKind.FILE, size)

    async def abort_direct(self, folder: FileRef, upload_id: str) -> None:
        def abort() -> None:
            key = self._direct_key(folder, upload_id)
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)

        await self._sync(abort)

    async def check(self) -> None:
        await self._sync(
            lambda: self._client.list_objects_v2(
                Bucket=self._bucket, Prefix=self._folder_prefix(FileRef(())), MaxKeys=1
            )
        )
