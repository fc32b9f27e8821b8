"""Where the registry document comes from.

A source reports a cheap version tag (file modification time and size, an S3 ETag, …)
and reads the bytes only when the tag changed, so checking for a new version costs
one `stat` or one conditional GET answered "not modified".
"""

from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

S3_SCHEME = "s3://"


class RegistryMissing(Exception):
    """There is no registry document at the configured location."""


class RegistryUnreadable(Exception):
    """The location could not be read (network, permissions, no such bucket)."""


class RegistrySource(Protocol):
    location: str

    async def fetch(self, known_tag: str | None) -> tuple[str, bytes] | None:
        """`(tag, bytes)` of the document, or None when its tag is still `known_tag`.

        Raises `RegistryMissing` when there is no document, `RegistryUnreadable` when
        the location cannot be read.
        """
        ...


class LocalFileSource:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self.location = str(self._path)

    async def fetch(self, known_tag: str | None) -> tuple[str, bytes] | None:
        return await anyio.to_thread.run_sync(self._fetch, known_tag)

    def _fetch(self, known_tag: str | None) -> tuple[str, bytes] | None:
        try:
            stat = self._path.stat()
            tag = f"{stat.st_mtime_ns}-{stat.st_size}"
            if tag == known_tag:
                return None
            return tag, self._path.read_bytes()
        except FileNotFoundError:
            raise RegistryMissing(f"No application registry at {self._path}.") from None


def parse_s3_location(location: str) -> tuple[str, str]:
    """`(bucket, key)` of `s3://bucket/key`; ValueError when either is missing."""
    bucket, _, key = location.removeprefix(S3_SCHEME).partition("/")
    if not location.startswith(S3_SCHEME) or not bucket or not key or key.endswith("/"):
        raise ValueError(f"{location!r} is not an S3 object location: use s3://bucket/key.")
    return bucket, key


class S3RegistrySource:
    """A check is one conditional GET (`If-None-Match: <ETag>`): S3 answers 304 with no
    body while the object is unchanged."""

    def __init__(
        self, location: str, *, region: str | None = None, endpoint_url: str | None = None
    ) -> None:
        self._bucket, self._key = parse_s3_location(location)
        self.location = location
        self._client: Any = boto3.session.Session(region_name=region).client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                # A check runs inside a request: fail fast and keep the last good
                # registry; the next check, an interval later, is the retry.
                connect_timeout=2,
                read_timeout=5,
                retries={"mode": "standard", "max_attempts": 1},
                s3={"addressing_style": "path"} if endpoint_url else {},
            ),
        )

    async def fetch(self, known_tag: str | None) -> tuple[str, bytes] | None:
        return await anyio.to_thread.run_sync(self._fetch, known_tag)

    def _fetch(self, known_tag: str | None) -> tuple[str, bytes] | None:
        conditions = {"IfNoneMatch": known_tag} if known_tag else {}
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._key, **conditions)
            return str(answer["ETag"]), bytes(answer["Body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "304":
                return None
            if code == "NoSuchKey":
                raise RegistryMissing(f"No application registry at {self.location}.") from None
            raise RegistryUnreadable(f"Cannot read {self.location}: {exc}") from None
        except BotoCoreError as exc:
            raise RegistryUnreadable(f"Cannot read {self.location}: {exc}") from None


def open_source(
    location: str, *, s3_region: str | None = None, s3_endpoint_url: str | None = None
) -> RegistrySource:
    """The source for `APPLICATION_CONFIG_FILE`: `s3://bucket/key` or a local path."""
    if location.startswith(S3_SCHEME):
        return S3RegistrySource(location, region=s3_region, endpoint_url=s3_endpoint_url)
    return LocalFileSource(location)
