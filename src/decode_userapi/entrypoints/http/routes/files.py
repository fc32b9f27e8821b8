"""`/files`: the caller's private space (list, upload, download, rename, delete).

Litestar cannot route a segment after a `{path:path}` parameter, so each method has one
handler that reads the contract's suffixes (`/download`, `/url`, `/upload`) off the path.
Suffixes win: `GET /files/config/x/url` is the download URL of `config/x`. A trailing
slash marks a folder path without suffix (`GET /files/data/url/` lists folder `data/url`).
"""

import base64
import binascii
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple
from urllib.parse import quote

import msgspec
from litestar import MediaType, Request, Response, Router, delete, get, head, post, put
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_204_NO_CONTENT,
    HTTP_206_PARTIAL_CONTENT,
    HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
)

from decode_userapi.domain.errors import InvalidInput, NotAllowed
from decode_userapi.domain.files import FileEntry, FileRef
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.http.docs import bearer_router, error_doc
from decode_userapi.entrypoints.http.multipart_upload import file_field
from decode_userapi.entrypoints.http.origins import Origins
from decode_userapi.entrypoints.http.query_flags import flag_parameter, read_flag
from decode_userapi.entrypoints.http.ranges import Unsatisfiable, byte_range
from decode_userapi.entrypoints.http.routes.files_multipart import (
    MultipartStarted,
    handle_multipart,
    multipart_path,
)
from decode_userapi.entrypoints.http.schemas import (
    FileHTTPRequest,
    FileInfo,
    RenameRequest,
)
from decode_userapi.ports.file_storage import HttpRequestSpec
from decode_userapi.services.files.batches import mapped_in_slices
from decode_userapi.services.files.changes import DeleteFile, RenameFile
from decode_userapi.services.files.direct import DirectMultipartUploads
from decode_userapi.services.files.downloads import Download, DownloadFile, GetDownloadUrl
from decode_userapi.services.files.listing import ListFiles, ListingPage
from decode_userapi.services.files.uploads import CreateFolder, GetUploadUrl, UploadFile

PATHS = ["/", "/{path:path}"]
DOWNLOAD, URL, UPLOAD = "download", "url", "upload"
_TOKEN = re.compile(r"[A-Za-z0-9!#$&+.^_`|~-]+")
NEXT_CURSOR = "X-Next-Cursor"
MAX_PAGE = 100_000


def _body(data: Any, description: str) -> ResponseSpec:
    return ResponseSpec(data, description=description, generate_examples=False)


def _split(
    request: Request[Any, Any, Any], path: str, suffixes: tuple[str, ...]
) -> tuple[str, str]:
    """(path without suffix, suffix or ''). A trailing slash in the URL means no suffix."""
    if request.scope.get("raw_path", b"").endswith(b"/"):
        return path, ""
    head, _, last = path.rstrip("/").rpartition("/")
    if last in suffixes:
        return head, last
    return path, ""


def _own_url(
    origins: Origins, request: Request[Any, Any, Any], ref: FileRef, suffix: str
) -> HttpRequestSpec:
    """This API's `/files/{ref}/{suffix}` route, sent with the caller's `authorization`;
    its base is `PUBLIC_URL`, or the request's URL when its host is allowed."""
    base = origins.base_url(request)
    path = "".join(f"{quote(part, safe='')}/" for part in ref.parts)
    authorization = request.headers.get("authorization")
    return HttpRequestSpec(
        method="post" if suffix == UPLOAD else "get",
        url=f"{base}/files/{path}{suffix}",
        headers={"authorization": authorization} if authorization else {},
    )


def _declared_length(request: Request[Any, Any, Any]) -> int | None:
    """The request's `Content-Length` (an upper bound of the file's size), if any."""
    length = request.headers.get("content-length", "")
    return int(length) if length.isdigit() else None


def content_disposition(filename: str) -> str:
    """`attachment; filename=...`, with an RFC 5987 `filename*` for names that need it."""
    if _TOKEN.fullmatch(filename):
        return f"attachment; filename={filename}"
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _cursor(after: str) -> str:
    return base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")


def _after(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(f"The cursor {cursor[:40]!r} is not one this API gave.") from None


def _encoded(entries: list[FileEntry]) -> list[bytes]:
    """The entries as JSON array items, without the brackets."""
    return [msgspec.json.encode([FileInfo.of(entry) for entry in entries])[1:-1]]


async def _listing(entries: list[FileEntry], headers: dict[str, str]) -> Response[bytes]:
    """The JSON listing, encoded in slices (100,000s of entries take a while)."""
    items = await mapped_in_slices(entries, _encoded)
    body = b"[" + b",".join(items) + b"]"
    return Response(body, media_type=MediaType.JSON, headers=headers)


class _Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]


def _answer(download: Download, range_header: str | None) -> _Answer:
    """Status, headers and bytes of a download: the whole file or zip (200), or one
    range of a file (206; 416 when it starts past the end)."""
    headers = {
        "Content-Disposition": content_disposition(download.filename),
        "Content-Type": "application/zip" if download.is_archive else "application/octet-stream",
        "Accept-Ranges": "none" if download.part is None else "bytes",
    }
    span = byte_range(range_header, download.size) if download.part is not None else None
    if download.part is None or span is None:
        headers["Content-Length"] = str(download.size)
        return _Answer(HTTP_200_OK, headers, download.chunks)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{download.size}"
    headers["Content-Length"] = str(end - start)
    return _Answer(HTTP_206_PARTIAL_CONTENT, headers, download.part(start, end))


def _send(download: Download, range_header: str | None) -> Response[Any]:
    try:
        answer = _answer(download, range_header)
    except Unsatisfiable:
        return Response(
            {"detail": f"The range is outside the file ({download.size} bytes)."},
            status_code=HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
            headers={"Content-Range": f"bytes */{download.size}"},
        )
    return Stream(answer.chunks, status_code=answer.status, headers=answer.headers)


@get(
    PATHS,
    summary="List a folder, download a file or folder (`…/download`), or get a download URL"
    " (`…/url`)",
    responses={
        200: _body(
            list[FileInfo] | FileHTTPRequest | bytes,
            "The listing; the file's bytes (`application/octet-stream`; a folder as a zip,"
            " `application/zip`); or the download request (`…/url`).",
        ),
        206: _body(bytes, "One range of a file (`Range: bytes=start-end`, `Content-Range`)."),
        400: error_doc("The path is not a valid path."),
        404: error_doc("Nothing there, or (listing) not a folder."),
        416: error_doc("The requested range starts past the end of the file."),
    },
    response_headers=[
        ResponseHeader(
            name=NEXT_CURSOR,
            description="With `limit`, when more entries follow: the `cursor` of the next page.",
            required=False,
            documentation_only=True,
        )
    ],
)
async def read(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    origins: NamedDependency[Origins],
    list_files: NamedDependency[ListFiles],
    download_file: NamedDependency[DownloadFile],
    get_download_url: NamedDependency[GetDownloadUrl],
    path: FromPath[str] = "",
    show_dirs: Annotated[str, flag_parameter("Include folders", default=True)] = "true",
    recursive: Annotated[str, flag_parameter("Include everything below", default=False)] = "false",
    limit: Annotated[
        int | None,
        QueryParameter(
            description="Listing in pages of at most this many entries (default: all at once);"
            f" the `{NEXT_CURSOR}` response header is the `cursor` of the next page.",
            ge=1,
            le=MAX_PAGE,
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        QueryParameter(
            description=f"The next page of a paged listing: the `{NEXT_CURSOR}` header of the"
            " previous page.",
            max_length=8192,
        ),
    ] = None,
) -> Response[Any]:
    """`GET /files/{path}`: `[FileInfo]` sorted by path (404 when not a folder).
    `GET /files/{path}/download`: the file's bytes, or a folder as `<folder>.zip`.
    `GET /files/{path}/url`: a `FileHTTPRequest` that downloads it."""
    target, suffix = _split(request, path, (DOWNLOAD, URL))
    ref = FileRef.parse(target)
    if suffix == DOWNLOAD:
        return _send(await download_file(user, ref), request.headers.get("range"))
    if suffix == URL:
        spec = await get_download_url(user, ref, _own_url(origins, request, ref, DOWNLOAD))
        return Response(FileHTTPRequest.of(spec))
    flags = {
        "show_dirs": read_flag("show_dirs", show_dirs),
        "recursive": read_flag("recursive", recursive),
    }
    if limit is None and cursor is None:
        return await _listing(await list_files(user, ref, **flags), {})
    page: ListingPage = await list_files.page(
        user,
        ref,
        **flags,
        limit=limit or MAX_PAGE,
        after=None if cursor is None else _after(cursor),
    )
    more = {} if page.next_after is None else {NEXT_CURSOR: _cursor(page.next_after)}
    return await _listing(page.entries, more)


@dataclass
class _WriteOperation(Operation):
    """The upload's multipart body, which the handler parses itself (streaming)."""

    def __post_init__(self) -> None:
        file = Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="The file; its name is kept.",
        )
        form = Schema(type=OpenAPIType.OBJECT, properties={"file": file}, required=["file"])
        self.request_body = RequestBody(
            content={"multipart/form-data": OpenAPIMediaType(schema=form)},
            description="Only for `…/upload`: the file in the multipart field `file`.",
        )


@head(
    PATHS,
    summary="Size and type of a download (`…/download`) without its bytes",
    responses={
        206: _body(None, "Headers of the requested range (`Range: bytes=…`)."),
        404: error_doc("Nothing there."),
        405: error_doc("HEAD is only for `…/download`."),
        416: error_doc("The range is outside the file."),
    },
)
async def peek(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    download_file: NamedDependency[DownloadFile],
    path: FromPath[str] = "",
) -> Response[None]:
    """The headers `GET …/download` answers (`Content-Length`, `Content-Type`,
    `Accept-Ranges`, `Content-Range`), with no body."""
    target, suffix = _split(request, path, (DOWNLOAD,))
    if suffix != DOWNLOAD:
        raise NotAllowed("HEAD is only for '…/download'.")
    try:
        answer = _answer(
            await download_file(user, FileRef.parse(target)), request.headers.get("range")
        )
    except Unsatisfiable:
        return Response(None, status_code=HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE)
    return Response(None, status_code=answer.status, headers=answer.headers)


@post(
    PATHS,
    operation_class=_WriteOperation,
    summary="Upload into a folder (`…/upload`, multipart field `file`), get an upload URL"
    " (`…/url`), create a folder (trailing `/`), or upload straight to S3 in parts"
    " (`…/multipart`, `…/multipart/{upload_id}/complete`, `…/multipart/{upload_id}/abort`)",
    status_code=HTTP_201_CREATED,
    request_max_body_size=None,  # uploads stream; UploadFile enforces MAX_UPLOAD_BYTES
    responses={
        201: _body(
            FileInfo | FileHTTPRequest | MultipartStarted,
            "The uploaded file or created folder; the upload request (`…/url`); the upload"
            " id and presigned part URLs (`…/multipart`, body `{filename, size}`); or the"
            " file (`…/multipart/{upload_id}/complete`, body `{parts: [{part_number, etag}]}`).",
        ),
        204: _body(None, "The multipart upload was aborted (`…/multipart/{upload_id}/abort`)."),
        400: error_doc("Not under config/, data/ or artifact/, a bad name, or no `file` field."),
        409: error_doc(
            "A folder stands where the file goes, or a file where a folder goes; a multipart"
            " upload never replaces a file."
        ),
        413: error_doc(
            "The file is over the upload limit (`MAX_UPLOAD_BYTES`), or would take you past"
            " your storage quota (bytes or files): refused before it starts when the request"
            " declares its length, stopped when it crosses the quota otherwise; nothing of"
            " it is kept. `…/url`: no room is left in your quota."
        ),
        404: error_doc("No such multipart upload into that folder."),
        507: error_doc("The server's disk is full; nothing of the file was kept."),
        405: error_doc(
            "Multipart uploads straight to storage need S3; this server stores locally."
        ),
    },
)
async def write(
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    origins: NamedDependency[Origins],
    upload_file: NamedDependency[UploadFile],
    create_folder: NamedDependency[CreateFolder],
    get_upload_url: NamedDependency[GetUploadUrl],
    direct_uploads: NamedDependency[DirectMultipartUploads],
    path: FromPath[str] = "",
) -> Response[Any]:
    """The folder must start with `config`, `data` or `artifact`.
    `POST /files/{type}/{path}/upload`: 201 `FileInfo` of `{type}/{path}/{filename}`.
    `POST /files/{type}/{path}/url`: 201 `FileHTTPRequest` that uploads into the folder.
    `POST /files/{type}/{path}/`: 201 `FileInfo` of the created folder.
    `POST /files/{type}/{path}/multipart` (S3 only): 201 upload id and part URLs."""
    multipart = None if request.scope.get("raw_path", b"").endswith(b"/") else multipart_path(path)
    if multipart is not None:
        return await handle_multipart(request, user, direct_uploads, multipart)
    target, suffix = _split(request, path, (UPLOAD, URL))
    folder = FileRef.parse(target)
    if suffix == UPLOAD:
        filename, chunks = await file_field(request)
        try:
            entry = await upload_file(
                user, folder, filename, chunks, declared_bytes=_declared_length(request)
            )
        finally:
            await chunks.aclose()
        return Response(FileInfo.of(entry), status_code=HTTP_201_CREATED)
    if suffix == URL:
        spec = await get_upload_url(user, folder, _own_url(origins, request, folder, UPLOAD))
        return Response(FileHTTPRequest.of(spec), status_code=HTTP_201_CREATED)
    return Response(FileInfo.of(await create_folder(user, folder)), status_code=HTTP_201_CREATED)


@put(
    PATHS,
    summary="Rename a file or an empty folder",
    status_code=HTTP_200_OK,
    responses={
        400: error_doc("The new path is not inside a predefined folder, or not valid."),
        404: error_doc("Nothing to rename."),
        405: error_doc("The root, a predefined folder, or a folder that is not empty."),
        409: error_doc("The new path exists."),
    },
)
async def rename(
    user: NamedDependency[User],
    rename_file: NamedDependency[RenameFile],
    data: JSONBody[RenameRequest],
    path: FromPath[str] = "",
) -> FileInfo:
    """405 for the root, a predefined folder or a non-empty folder; 404 when missing;
    409 when the new path exists; 400 when it is not inside a predefined folder."""
    entry = await rename_file(user, FileRef.parse(path), FileRef.parse(data.path))
    return FileInfo.of(entry)


@delete(PATHS, summary="Delete a file or a folder", status_code=HTTP_204_NO_CONTENT)
async def remove(
    user: NamedDependency[User], delete_file: NamedDependency[DeleteFile], path: FromPath[str] = ""
) -> None:
    """Missing is not an error. A predefined folder is emptied; deleting the root
    empties the space and re-creates the predefined folders."""
    await delete_file(user, FileRef.parse(path))


def router() -> Router:
    return bearer_router("files", [read, peek, write, rename, remove])
