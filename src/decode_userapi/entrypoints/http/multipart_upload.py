"""The `file` field of a multipart/form-data body, streamed as it arrives.

The body is parsed with `multipart`'s push parser straight from the request stream: no
temporary file and no buffering beyond one chunk.
"""

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeAlias

from litestar import Request
from litestar.exceptions import InternalServerException
from multipart import (
    MultipartError,
    MultipartSegment,
    PushMultipartParser,
    parse_options_header,
)

from decode_userapi.domain.errors import InvalidInput

FILE_FIELD = "file"

Event: TypeAlias = Any
"""A `MultipartSegment`, a chunk of its body (`bytes`), or None at its end."""


async def file_field(request: Request[Any, Any, Any]) -> tuple[str, AsyncGenerator[bytes, None]]:
    """The file name and the bytes of the form field `file`.

    The bytes iterator raises `InvalidInput` when the body turns out malformed or the
    client goes away, so a consumer that stores them all-or-nothing stores nothing.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != "multipart/form-data" or not options.get("boundary"):
        raise InvalidInput("Send the file as multipart/form-data with a field named 'file'.")
    events = _events(request, PushMultipartParser(options["boundary"]))
    async for event in events:
        if isinstance(event, MultipartSegment) and event.name == FILE_FIELD:
            if not event.filename:
                raise InvalidInput("The form field 'file' must be a file with a file name.")
            return event.filename, _segment_bytes(events)
    raise InvalidInput("The form has no field named 'file'.")


async def _events(
    request: Request[Any, Any, Any], parser: PushMultipartParser
) -> AsyncIterator[Event]:
    try:
        async for chunk in request.stream():
            for event in parser.parse(chunk):
                yield event
        for event in parser.parse(b""):
            yield event
    except MultipartError as exc:  # malformed, or over a limit (header size or count)
        raise InvalidInput(f"The multipart body is malformed: {exc}") from None
    except InternalServerException:
        raise InvalidInput("The connection closed before the upload finished.") from None


async def _segment_bytes(events: AsyncIterator[Event]) -> AsyncGenerator[bytes, None]:
    async for event in events:
        if event is None:
            break
        if isinstance(event, bytes | bytearray):
            yield bytes(event)
    async for _ in events:  # the rest of the form, to be sure the body is complete
        pass
