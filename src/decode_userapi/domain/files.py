"""Paths inside a user's private space, and what a listing shows."""

import enum
import unicodedata

import msgspec

from decode_userapi.domain.errors import InvalidInput

UPLOAD_FOLDERS = ("config", "data", "artifact")
"""Top-level folders users upload into."""

RESULT_FOLDERS = ("output", "log")
"""Top-level folders jobs write into (jobs also write under `artifact/`)."""

PREDEFINED_FOLDERS = (*UPLOAD_FOLDERS, *RESULT_FOLDERS)

MAX_SEGMENT_LENGTH = 255
MAX_PATH_LENGTH = 1024


class FileRef(msgspec.Struct, frozen=True):
    """A path relative to a user's space that cannot escape it.

    Build it with `FileRef.parse`. `parts` is empty for the root. Whether it
    names a file or a folder is a property of the stored thing, not of the path.
    """

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, raw: str) -> "FileRef":
        """Validate and normalise a user-supplied path.

        The path is put in Unicode normal form NFC, so two names that look the same
        (`é` as one code point or as `e` and a combining accent) are one name. Repeated
        and leading/trailing slashes are folded; `.` segments are dropped. Rejected:
        `..`, backslashes, NUL and other control characters, over-long segments or paths.
        """
        raw = unicodedata.normalize("NFC", raw)
        if len(raw) > MAX_PATH_LENGTH:
            raise InvalidInput(f"Path is longer than {MAX_PATH_LENGTH} characters.")
        if "\\" in raw:
            raise InvalidInput("Path may not contain a backslash; use '/' between folders.")
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in raw):
            raise InvalidInput("Path may not contain control characters.")
        parts = tuple(part for part in raw.split("/") if part not in ("", "."))
        for part in parts:
            if part == "..":
                raise InvalidInput("Path may not contain '..' segments.")
            if len(part.encode()) > MAX_SEGMENT_LENGTH:
                raise InvalidInput(
                    f"Path segment '{part[:20]}…' is longer than {MAX_SEGMENT_LENGTH} bytes."
                )
            if part.strip() != part or part.endswith("."):
                raise InvalidInput(
                    f"Path segment '{part}' may not start or end with a space or end with '.'."
                )
        return cls(parts)

    @property
    def is_root(self) -> bool:
        return not self.parts

    @property
    def is_predefined_folder(self) -> bool:
        """A top-level folder that always exists (`config/`, `output/`, …)."""
        return len(self.parts) == 1 and self.parts[0] in PREDEFINED_FOLDERS

    @property
    def top(self) -> str | None:
        return self.parts[0] if self.parts else None

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else ""

    @property
    def parent(self) -> "FileRef":
        return FileRef(self.parts[:-1])

    def child(self, name: str) -> "FileRef":
        """The path of `name` inside this folder; `name` may hold several segments."""
        return FileRef.parse("/".join((*self.parts, name)))

    def is_within(self, other: "FileRef") -> bool:
        """True when this path is `other` or lies below it."""
        return self.parts[: len(other.parts)] == other.parts

    def relative_to(self, other: "FileRef") -> str:
        if not self.is_within(other):
            raise ValueError(f"{self} is not within {other}")
        return "/".join(self.parts[len(other.parts) :])

    def __str__(self) -> str:
        return "/".join(self.parts)

    def as_folder(self) -> str:
        """The wire form of a folder: ends with '/', the root is ''."""
        return "".join(f"{part}/" for part in self.parts)


class EntryKind(enum.Enum):
    FILE = "file"
    DIRECTORY = "directory"


class FileEntry(msgspec.Struct, frozen=True):
    """One thing in a listing."""

    ref: FileRef
    kind: EntryKind
    size_bytes: int = 0

    @property
    def wire_path(self) -> str:
        return self.ref.as_folder() if self.kind is EntryKind.DIRECTORY else str(self.ref)


def human_size(size_bytes: int) -> str:
    """Decimal units, as the original API shows them: `19 Bytes`, `1.2 kB`."""
    if size_bytes == 1:
        return "1 Byte"
    if size_bytes < 1000:
        return f"{size_bytes} Bytes"
    value = float(size_bytes)
    for unit in ("kB", "MB", "GB", "TB", "PB", "EB"):
        value /= 1000
        if value < 1000 or unit == "EB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")
