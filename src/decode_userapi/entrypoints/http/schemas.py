"""Wire schemas: the JSON shapes of the contract, kept apart from the domain."""

from typing import Literal

import msgspec

from decode_userapi.domain.files import EntryKind, FileEntry, human_size
from decode_userapi.ports.file_storage import HttpRequestSpec


class FileInfo(msgspec.Struct, frozen=True, gc=False):
    """A file or folder of the caller's space; a folder's path ends with '/'."""

    path: str
    type: Literal["file", "directory"]
    size: str
    """Human readable, decimal units (`"19 Bytes"`, `"1.2 kB"`); `""` for folders."""
    size_bytes: int
    """The exact size in bytes; 0 for folders."""

    @classmethod
    def of(cls, entry: FileEntry) -> "FileInfo":
        # Positional arguments: a listing builds one per entry.
        if entry.kind is EntryKind.FILE:
            size = entry.size_bytes
            return cls(str(entry.ref), "file", human_size(size), size)
        return cls(entry.ref.as_folder(), "directory", "", 0)


class FileHTTPRequest(msgspec.Struct, frozen=True):
    """A request to send as is: `requests.request(**body, files={"file": ...})`."""

    method: Literal["get", "post"]
    url: str
    headers: dict[str, str]
    data: dict[str, str]

    @classmethod
    def of(cls, spec: HttpRequestSpec) -> "FileHTTPRequest":
        method: Literal["get", "post"] = "post" if spec.method.lower() == "post" else "get"
        return cls(method=method, url=spec.url, headers=dict(spec.headers), data=dict(spec.data))


class RenameRequest(msgspec.Struct, frozen=True):
    """The new path of a file or an empty folder."""

    path: str


class ErrorBody(msgspec.Struct, frozen=True):
    """Every error response: what went wrong, worded for the user."""

    detail: str
