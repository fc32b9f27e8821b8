"""`Range: bytes=...` (RFC 9110 §14): one range of a file; several ranges are not served."""

import re

_SINGLE = re.compile(r"bytes=(\d*)-(\d*)")


class Unsatisfiable(Exception):
    """The range lies outside the file (416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`(start, end)` with `end` exclusive, or None to send the whole file (no header, a
    header this server ignores: several ranges or bad syntax, as RFC 9110 allows).
    `Unsatisfiable` when the range starts past the end (or the file is empty)."""
    if not header:
        return None
    match = _SINGLE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if last and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable
    return start, end
