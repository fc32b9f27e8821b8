"""Where the registry document comes from.

A source reports a cheap version tag (file modification time and size, an S3 ETag, …)
and reads the bytes only when the tag changed, so checking for a new version costs
one `stat` or `HEAD`.
"""

from pathlib import Path
from typing import Protocol

import anyio.to_thread


class RegistryMissing(Exception):
    """There is no registry document at the configured location."""


class RegistrySource(Protocol):
    location: str

    async def fetch(self, known_tag: str | None) -> tuple[str, bytes] | None:
        """`(tag, bytes)` of the document, or None when its tag is still `known_tag`.

        Raises `RegistryMissing` when there is no document.
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


def open_source(location: str) -> RegistrySource:
    """The source for `APPLICATION_CONFIG_FILE`: a local path (`s3://bucket/key` to come)."""
    if location.startswith("s3://"):
        raise NotImplementedError(
            "APPLICATION_CONFIG_FILE on S3 needs the S3 registry source, not built yet."
        )
    return LocalFileSource(location)
