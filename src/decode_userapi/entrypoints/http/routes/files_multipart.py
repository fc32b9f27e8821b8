"""`POST /files/{type}/{path}/multipart` and `…/multipart/{upload_id}/complete|abort`:
multipart uploads the client sends straight to S3 through presigned part URLs.

The files router has one POST handler for every path (Litestar cannot route a segment
after a path parameter); it hands these suffixes here.
"""

from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from decode_userapi.domain.errors import InvalidInput, TooLarge
from decode_userapi.domain.files import FileRef
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.http.schemas import FileInfo
from decode_userapi.services.files.direct import DirectMultipartUploads

MULTIPART = "multipart"
ACTIONS = ("complete", "abort")
MAX_BODY = 1024 * 1024
_Body = TypeVar("_Body")


class StartMultipart(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The file to upload into the folder of the URL."""

    filename: str
    size: int


class PartUrl(msgspec.Struct, frozen=True):
    part_number: int
    url: str
    """PUT the part's bytes here; keep the answer's `ETag` header."""


class MultipartStarted(msgspec.Struct, frozen=True):
    upload_id: str
    part_size: int
    """Every part but the last has exactly this many bytes."""
    parts: list[PartUrl]


class CompletedPart(msgspec.Struct, frozen=True):
    part_number: int
    etag: str


class CompleteMultipart(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    parts: list[CompletedPart]


class MultipartPath(msgspec.Struct, frozen=True):
    folder: str
    action: str
    """`start`, `complete` or `abort`."""
    upload_id: str = ""


def multipart_path(path: str) -> MultipartPath | None:
    """The folder and action of a multipart URL's path, None for any other path."""
    parts = path.strip("/").split("/")
    if parts[-1] == MULTIPART:
        return MultipartPath("/".join(parts[:-1]), "start")
    if len(parts) >= 3 and parts[-3] == MULTIPART and parts[-1] in ACTIONS:
        return MultipartPath("/".join(parts[:-3]), parts[-1], parts[-2])
    return None


async def _json(request: Request[Any, Any, Any], kind: type[_Body]) -> _Body:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise TooLarge(f"The request body is over {MAX_BODY} bytes.")
    try:
        return msgspec.json.decode(bytes(body), type=kind)
    except msgspec.DecodeError as error:
        reason = str(error).replace("`", "'")
        raise InvalidInput(f"The request body is not what this route takes: {reason}.") from None


async def handle_multipart(
    request: Request[Any, Any, Any],
    user: User,
    uploads: DirectMultipartUploads,
    where: MultipartPath,
) -> Response[Any]:
    folder = FileRef.parse(where.folder)
    if where.action == "start":
        wanted = await _json(request, StartMultipart)
        started = await uploads.start(user, folder, wanted.filename, wanted.size)
        parts = [PartUrl(number, url) for number, url in enumerate(started.part_urls, start=1)]
        body = MultipartStarted(started.upload_id, started.part_size, parts)
        return Response(body, status_code=HTTP_201_CREATED)
    if where.action == "complete":
        done = await _json(request, CompleteMultipart)
        etags = [(part.part_number, part.etag) for part in done.parts]
        entry = await uploads.complete(user, folder, where.upload_id, etags)
        return Response(FileInfo.of(entry), status_code=HTTP_201_CREATED)
    await uploads.abort(user, folder, where.upload_id)
    return Response(None, status_code=HTTP_204_NO_CONTENT)
