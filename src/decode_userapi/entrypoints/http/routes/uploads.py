"""`/uploads/`: resumable uploads by the tus protocol 1.0 (core, creation,
creation-with-upload, termination, expiration, checksum with sha1 or md5).

The target comes in `Upload-Metadata`: `path`, the folder (as in
`POST /files/{type}/{path}/upload`: inside `config/`, `data/` or `artifact/`), and
`filename`, the file's name. A resumable upload never replaces a file (409).
"""

import base64
import binascii
import re
from collections.abc import AsyncIterator
from email.utils import format_datetime
from typing import Any

from litestar import Request, Response, Router, delete, head, patch, post, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException, InternalServerException
from litestar.params import FromPath
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import FileRef
from decode_userapi.domain.uploads import CHECKSUM_ALGORITHMS, Checksum, ResumableUpload
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.http.docs import bearer_router, error_doc
from decode_userapi.entrypoints.http.origins import Origins
from decode_userapi.entrypoints.settings import Settings
from decode_userapi.services.files.resumable import ResumableUploads

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
OFFSET_STREAM = "application/offset+octet-stream"
PATHS = ["/", "/{upload_id:str}"]
EXPOSED_HEADERS = (
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Tus-Checksum-Algorithm",
)
"""Response headers a browser tus client (on a frontend's origin) must be able to read."""
_NUMBER = re.compile(r"[0-9]{1,19}")
_KEY = re.compile(r"[!-+\--~]+")  # printable ASCII without space and comma


_NO_TUS_VERSION = error_doc(f"No `Tus-Resumable: {TUS_VERSION}`.")
_NO_SUCH_UPLOAD = error_doc("No such upload of yours (or it expired, or it finished).")


def _check_version(request: Request[Any, Any, Any]) -> None:
    """412 unless the client speaks the protocol version this server does."""
    sent = request.headers.get("tus-resumable")
    if sent != TUS_VERSION:
        raise HTTPException(
            status_code=412,
            detail=f"Send 'Tus-Resumable: {TUS_VERSION}' (got {str(sent)[:40]!r}).",
            headers={"Tus-Version": TUS_VERSION, "Tus-Resumable": TUS_VERSION},
        )


def _number(request: Request[Any, Any, Any], name: str) -> int:
    raw = request.headers.get(name)
    if raw is None:
        raise InvalidInput(f"The {name} header is missing.")
    if not _NUMBER.fullmatch(raw.strip()):
        raise InvalidInput(f"The {name} header must be a non-negative integer, not {raw[:40]!r}.")
    return int(raw)


def parse_metadata(raw: str) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (the value optional)."""
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        key, _, encoded = item.strip().partition(" ")
        if not _KEY.fullmatch(key):
            raise InvalidInput(
                f"Upload-Metadata: {key[:40]!r} is not a key (printable ASCII, no space or comma)."
            )
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidInput(
                f"Upload-Metadata: the value of {key!r} is not base64 of UTF-8 text."
            ) from None
    return pairs


def _target(request: Request[Any, Any, Any]) -> tuple[FileRef, str]:
    metadata = parse_metadata(request.headers.get("upload-metadata", ""))
    missing = [key for key in ("path", "filename") if not metadata.get(key)]
    if missing:
        raise InvalidInput(
            "Upload-Metadata must carry 'path' (the folder, e.g. data/run1) and 'filename';"
            f" missing: {', '.join(missing)}."
        )
    return FileRef.parse(metadata["path"]), metadata["filename"]


def _checksum(request: Request[Any, Any, Any]) -> Checksum | None:
    """`Upload-Checksum: <algorithm> <base64 digest>`, if sent."""
    raw = request.headers.get("upload-checksum")
    if raw is None:
        return None
    algorithm, _, encoded = raw.strip().partition(" ")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise InvalidInput("Upload-Checksum: the digest is not base64.") from None
    return Checksum(algorithm.lower(), digest)


def _has_body(request: Request[Any, Any, Any]) -> bool:
    length = request.headers.get("content-length")
    return "chunked" in request.headers.get("transfer-encoding", "") or (
        length is not None and length.strip() not in ("", "0")
    )


def _check_stream(request: Request[Any, Any, Any]) -> None:
    sent = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if sent != OFFSET_STREAM:
        raise HTTPException(
            status_code=415, detail=f"Send the bytes as 'Content-Type: {OFFSET_STREAM}'."
        )


async def _body(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """The request's bytes; a client that goes away ends the stream early, so that what
    arrived is kept (the point of a resumable upload)."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except InternalServerException:  # the client disconnected
        return


def _state(upload: ResumableUpload) -> dict[str, str]:
    return {
        "Tus-Resumable": TUS_VERSION,
        "Upload-Offset": str(upload.offset),
        "Upload-Expires": format_datetime(upload.expires_at, usegmt=True),
        "Cache-Control": "no-store",
    }


@route(
    PATHS,
    http_method=[HttpMethod.OPTIONS],
    summary="What this tus server offers (no sign-in needed)",
    status_code=HTTP_204_NO_CONTENT,
    security=[],
)
async def discover(settings: NamedDependency[Settings]) -> Response[None]:
    """`Tus-Version`, `Tus-Extension` and `Tus-Max-Size` (`MAX_UPLOAD_BYTES`)."""
    return Response(
        None,
        status_code=HTTP_204_NO_CONTENT,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(settings.max_upload_bytes),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


@post(
    "/",
    summary="Start a resumable upload (tus creation; the first bytes may come along)",
    status_code=HTTP_201_CREATED,
    request_max_body_size=None,  # the upload's length is checked against MAX_UPLOAD_BYTES
    responses={
        400: error_doc("Upload-Length or Upload-Metadata (`path`, `filename`) missing or invalid."),
        409: error_doc("A file or folder stands at the target already."),
        412: _NO_TUS_VERSION,
        413: error_doc("Upload-Length is over `MAX_UPLOAD_BYTES`."),
        415: error_doc("Bytes sent along without `Content-Type: application/offset+octet-stream`."),
    },
)
async def create(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    origins: NamedDependency[Origins],
    resumable_uploads: NamedDependency[ResumableUploads],
) -> Response[None]:
    """Headers: `Upload-Length` (bytes), `Upload-Metadata` with `path` (the folder, under
    `config/`, `data/` or `artifact/`) and `filename`, base64-encoded. 201 with
    `Location` (the upload's URL), `Upload-Offset` and `Upload-Expires`."""
    _check_version(request)
    if "upload-defer-length" in request.headers:
        raise InvalidInput("Upload-Defer-Length is not supported: send Upload-Length.")
    length = _number(request, "Upload-Length")
    folder, filename = _target(request)
    with_bytes = _has_body(request)
    if with_bytes:
        _check_stream(request)
    location = f"{origins.base_url(request)}/uploads/"
    upload = await resumable_uploads.create(user, folder, filename, length)
    if with_bytes and not upload.is_complete:
        upload = await resumable_uploads.append(
            user, upload.id, 0, _body(request), _checksum(request)
        )
    headers = {**_state(upload), "Location": location + upload.id}
    return Response(None, status_code=HTTP_201_CREATED, headers=headers)


@head(
    "/{upload_id:str}",
    summary="How far an upload got (tus `Upload-Offset`)",
    responses={404: _NO_SUCH_UPLOAD},
)
async def offset(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    resumable_uploads: NamedDependency[ResumableUploads],
    upload_id: FromPath[str],
) -> Response[None]:
    _check_version(request)
    upload = await resumable_uploads.get(user, upload_id)
    return Response(None, headers={**_state(upload), "Upload-Length": str(upload.length)})


@patch(
    "/{upload_id:str}",
    summary="Append bytes at `Upload-Offset` (tus core)",
    status_code=HTTP_204_NO_CONTENT,
    request_max_body_size=None,  # bounded by the upload's length
    responses={
        400: error_doc(
            "Upload-Offset missing, more bytes than the upload's length, or a checksum"
            " algorithm other than sha1 and md5."
        ),
        404: _NO_SUCH_UPLOAD,
        409: error_doc(
            "Upload-Offset is not the upload's offset, another request is writing"
            " to it, or on the last byte: a file stands at the target."
        ),
        412: _NO_TUS_VERSION,
        415: error_doc("Not `Content-Type: application/offset+octet-stream`."),
        460: error_doc("The bytes do not match `Upload-Checksum`; none were kept."),
        507: error_doc(
            "The server's disk is full: the offset stays where it was; resume once space is freed."
        ),
    },
)
async def append(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    resumable_uploads: NamedDependency[ResumableUploads],
    upload_id: FromPath[str],
) -> Response[None]:
    """204 with the new `Upload-Offset`; on the last byte the file is at its target.
    With `Upload-Checksum` (sha1 or md5), the bytes are kept only if they match."""
    _check_version(request)
    _check_stream(request)
    at = _number(request, "Upload-Offset")
    upload = await resumable_uploads.append(user, upload_id, at, _body(request), _checksum(request))
    return Response(None, status_code=HTTP_204_NO_CONTENT, headers=_state(upload))


@delete(
    "/{upload_id:str}",
    summary="Stop an upload and drop its bytes (tus termination)",
    status_code=HTTP_204_NO_CONTENT,
    responses={
        404: error_doc("No such upload of yours."),
        409: error_doc("A request is writing to it."),
        412: _NO_TUS_VERSION,
    },
)
async def terminate(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    resumable_uploads: NamedDependency[ResumableUploads],
    upload_id: FromPath[str],
) -> Response[None]:
    _check_version(request)
    await resumable_uploads.terminate(user, upload_id)
    return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Tus-Resumable": TUS_VERSION})


def router() -> Router:
    return bearer_router("uploads", [discover, create, offset, append, terminate])
