"""Resumable uploads (`/uploads/`, tus 1.0) with a stock tus client (tuspy) against the app
served for real, on both stacks: a socket cut half-way and a resume, termination,
expiry, isolation between users, and bad requests."""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from io import BytesIO
from pathlib import Path

import boto3
import httpx
import msgspec
import pytest
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.uploader.uploader import Uploader

from decode_userapi.adapters.storage.local import UPLOADS, LocalFileStorage
from decode_userapi.domain.files import FileRef
from decode_userapi.entrypoints.container import Container, build_container
from decode_userapi.entrypoints.settings import Settings
from tests.integration.cli_run import cli
from tests.integration.live_app import serve_in_thread
from tests.servers.fixtures import signed_in_headers
from tests.servers.moto import REGION

MIB = 1024**2
TUS = {"Tus-Resumable": "1.0.0"}
SIZE = 12 * MIB + 12345
"""Two full S3 parts and a short last one."""


class Live(msgspec.Struct):
    url: str
    settings: Settings
    container: Container
    """A container of the test's own loop, on the server's settings."""


@pytest.fixture
def overrides() -> dict[str, int]:
    """Settings the server of a test changes (parametrise to change them)."""
    return {}


@pytest.fixture
def live(settings: Settings, overrides: dict[str, int]) -> Iterator[Live]:
    served = msgspec.structs.replace(settings, allowed_hosts=("127.0.0.1",), **overrides)
    with serve_in_thread(build_container(served)) as url:
        yield Live(url, served, build_container(served))


@pytest.fixture
async def alice(live: Live) -> dict[str, str]:
    return await signed_in_headers(live.container.account_directory())("alice")


def _metadata(path: str, filename: str) -> dict[str, str]:
    return {"path": path, "filename": filename}


def _download(live: Live, headers: dict[str, str], path: str) -> bytes:
    response = httpx.get(f"{live.url}/files/{path}/download", headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


def _staged_uploads(live: Live) -> list[str]:
    """What waits in the storage for unfinished uploads: staging files or S3 multipart
    uploads."""
    if live.settings.filesystem == "local":
        return os.listdir(Path(live.settings.user_data_root_path) / UPLOADS)
    s3 = boto3.client("s3", endpoint_url=live.settings.s3_endpoint_url, region_name=REGION)
    found = s3.list_multipart_uploads(Bucket=live.settings.s3_bucket)
    return [upload["UploadId"] for upload in found.get("Uploads", [])]


class CuttingProxy:
    """A TCP proxy to `upstream` that closes a connection once `cut_after` bytes went
    from the client to the server: a real network break in the middle of a request."""

    def __init__(self, upstream: str, cut_after: int) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self._upstream = (host, int(port))
        self._cut_after = cut_after
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        sent = 0
        try:
            while data := source.recv(64 * 1024):
                if counted and sent + len(data) > self._cut_after:
                    sink.sendall(data[: self._cut_after - sent])
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for end in (source, sink):  # shutdown first: a close alone waits for the other pump
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self._listener.close()


def _url(uploader: Uploader) -> str:
    url = uploader.url
    assert isinstance(url, str)
    return url


def _offset(url: str, headers: dict[str, str]) -> int:
    response = httpx.head(url, headers={**headers, **TUS})
    assert response.status_code == 200, response.status_code
    return int(response.headers["upload-offset"])


def test_an_upload_cut_half_way_resumes_and_stores_the_same_bytes(
    live: Live, alice: dict[str, str]
) -> None:
    content = os.urandom(SIZE)
    # The request's headers and about half of the file reach the server, then the cut.
    proxy = CuttingProxy(live.url, cut_after=SIZE // 2)
    try:
        uploader = tus.TusClient(f"{proxy.url}/uploads/", headers=alice).uploader(
            file_stream=BytesIO(content), metadata=_metadata("data/run1", "frames.bin")
        )
        with pytest.raises((TusUploadFailed, TusCommunicationError)):
            uploader.upload()
    finally:
        proxy.close()
    url = _url(uploader).replace(proxy.url, live.url)
    deadline = time.monotonic() + 30
    while (reached := _offset(url, alice)) == 0:  # the server notices the cut, keeps the bytes
        assert time.monotonic() < deadline, "the bytes before the cut were not kept"
        time.sleep(0.05)
    assert SIZE // 3 < reached < SIZE
    assert httpx.get(f"{live.url}/files/data", headers=alice).json() == []

    resumed = tus.TusClient(f"{live.url}/uploads/", headers=alice).uploader(
        file_stream=BytesIO(content), url=url
    )
    assert resumed.offset == reached
    resumed.upload()

    stored = _download(live, alice, "data/run1/frames.bin")
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(content).hexdigest()
    assert httpx.head(url, headers={**alice, **TUS}).status_code == 404
    assert _staged_uploads(live) == []


def test_chunks_with_checksums_and_creation_with_upload_make_the_file(
    live: Live, alice: dict[str, str]
) -> None:
    content = os.urandom(6 * MIB + 7)
    first = content[: 2 * MIB]
    created = httpx.post(
        f"{live.url}/uploads/",
        content=first,
        headers={
            **alice,
            **TUS,
            "Upload-Length": str(len(content)),
            "Upload-Metadata": "path ZGF0YQ==,filename "
            + base64.b64encode("résumé.bin".encode()).decode(),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["upload-offset"] == str(len(first))
    assert "GMT" in created.headers["upload-expires"]
    url = created.headers["location"]
    stream = {**alice, **TUS, "Content-Type": "application/offset+octet-stream"}
    rest = content[len(first) :]
    wrong = base64.b64encode(hashlib.sha1(b"other bytes", usedforsecurity=False).digest()).decode()
    refused = httpx.patch(
        url,
        content=rest,
        headers={**stream, "Upload-Offset": str(len(first)), "Upload-Checksum": f"sha1 {wrong}"},
    )
    assert refused.status_code == 460, refused.text
    assert _offset(url, alice) == len(first)
    unknown = httpx.patch(
        url,
        content=rest,
        headers={**stream, "Upload-Offset": str(len(first)), "Upload-Checksum": "crc32 AAAA"},
    )
    assert unknown.status_code == 400, unknown.text
    assert "sha1, md5" in unknown.json()["detail"]
    md5 = base64.b64encode(hashlib.md5(rest[:MIB], usedforsecurity=False).digest()).decode()
    accepted = httpx.patch(
        url,
        content=rest[:MIB],
        headers={**stream, "Upload-Offset": str(len(first)), "Upload-Checksum": f"md5 {md5}"},
    )
    assert accepted.status_code == 204, accepted.text
    uploader = tus.TusClient(f"{live.url}/uploads/", headers=alice).uploader(
        file_stream=BytesIO(content), url=url, chunk_size=MIB, upload_checksum=True
    )
    assert uploader.offset == len(first) + MIB
    uploader.upload()
    assert _download(live, alice, "data/résumé.bin") == content


def test_termination_drops_the_bytes(live: Live, alice: dict[str, str]) -> None:
    uploader = tus.TusClient(f"{live.url}/uploads/", headers=alice).uploader(
        file_stream=BytesIO(os.urandom(SIZE)),
        metadata=_metadata("artifact", "model.pt"),
        chunk_size=6 * MIB,
    )
    uploader.upload(stop_at=6 * MIB)
    assert len(_staged_uploads(live)) == 1
    gone = httpx.delete(_url(uploader), headers={**alice, **TUS})
    assert gone.status_code == 204, gone.text
    assert httpx.head(_url(uploader), headers={**alice, **TUS}).status_code == 404
    assert _staged_uploads(live) == []
    assert httpx.get(f"{live.url}/files/artifact", headers=alice).json() == []


@pytest.mark.parametrize("overrides", [{"resumable_upload_expiry_seconds": 1}])
async def test_an_idle_upload_expires_and_the_abort_removes_its_bytes(
    live: Live, alice: dict[str, str]
) -> None:
    uploader = tus.TusClient(f"{live.url}/uploads/", headers=alice).uploader(
        file_stream=BytesIO(os.urandom(SIZE)),
        metadata=_metadata("data", "late.bin"),
        chunk_size=6 * MIB,
    )
    uploader.upload(stop_at=6 * MIB)
    async with httpx.AsyncClient(headers={**alice, **TUS}) as http:
        assert "GMT" in (await http.head(_url(uploader))).headers["upload-expires"]
        await asyncio.sleep(1.2)
        assert (await http.head(_url(uploader))).status_code == 404

    abort = live.container.abort_expired_uploads()
    listed = await abort(dry_run=True)
    assert len(_staged_uploads(live)) == 1
    removed = await abort()
    assert removed == listed
    assert [(str(item.target), item.bytes_freed) for item in removed] == [
        ("data/late.bin", 6 * MIB)
    ]
    assert _staged_uploads(live) == []
    assert await abort() == []


@pytest.fixture
async def bob(live: Live) -> dict[str, str]:
    return await signed_in_headers(live.container.account_directory())("bob")


def test_another_users_upload_is_not_found(
    live: Live, alice: dict[str, str], bob: dict[str, str]
) -> None:
    uploader = tus.TusClient(f"{live.url}/uploads/", headers=alice).uploader(
        file_stream=BytesIO(b"x" * 100), metadata=_metadata("config", "a.yaml"), chunk_size=10
    )
    uploader.upload(stop_at=10)
    stream = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "10"}
    assert httpx.head(_url(uploader), headers={**bob, **TUS}).status_code == 404
    assert (
        httpx.patch(_url(uploader), headers={**bob, **stream}, content=b"y" * 90).status_code == 404
    )
    assert httpx.delete(_url(uploader), headers={**bob, **TUS}).status_code == 404
    assert _offset(_url(uploader), alice) == 10


def _create(live: Live, headers: dict[str, str], **extra: str) -> httpx.Response:
    return httpx.post(f"{live.url}/uploads/", headers={**headers, **extra})


def _meta(path: str, filename: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("path", path), ("filename", filename))
    )


@pytest.mark.parametrize("overrides", [{"max_upload_bytes": 1000}])
def test_bad_requests_are_4xx_naming_the_problem(live: Live, alice: dict[str, str]) -> None:
    ok = {**TUS, "Upload-Length": "10", "Upload-Metadata": _meta("data", "a.bin")}
    cases = [
        ({"Upload-Length": "10", "Upload-Metadata": _meta("data", "a.bin")}, 412, "Tus-Resumable"),
        ({**ok, "Upload-Length": "ten"}, 400, "Upload-Length"),
        ({**TUS, "Upload-Metadata": _meta("data", "a.bin")}, 400, "Upload-Length"),
        ({**ok, "Upload-Length": "1001"}, 413, "1000"),
        ({**ok, "Upload-Metadata": "path ZGF0YQ=="}, 400, "filename"),
        ({**ok, "Upload-Metadata": "path %%%,filename YQ=="}, 400, "base64"),
        ({**ok, "Upload-Metadata": _meta("output", "a.bin")}, 400, "config/"),
        ({**ok, "Upload-Metadata": _meta("data/../..", "a.bin")}, 400, ".."),
        ({**ok, "Upload-Metadata": _meta("data", "x/y")}, 400, "file name"),
        ({**ok, "Upload-Defer-Length": "1"}, 400, "Upload-Length"),
    ]
    for headers, status, named in cases:
        response = _create(live, alice, **headers)
        assert response.status_code == status, (headers, response.text)
        assert named in response.json()["detail"], (headers, response.text)

    created = _create(live, alice, **ok)
    assert created.status_code == 201
    url = created.headers["location"]
    stream = {**TUS, "Content-Type": "application/offset+octet-stream"}
    answers = [
        httpx.patch(url, headers={**alice, **TUS, "Upload-Offset": "0"}, content=b"abc"),
        httpx.patch(url, headers={**alice, **stream, "Upload-Offset": "3"}, content=b"abc"),
        httpx.patch(url, headers={**alice, **stream}, content=b"abc"),
        httpx.patch(url, headers={**alice, **stream, "Upload-Offset": "0"}, content=b"x" * 11),
    ]
    assert [answer.status_code for answer in answers] == [415, 409, 400, 400]
    assert "byte 0" in answers[1].json()["detail"]
    assert _offset(url, alice) == 0

    done = httpx.patch(url, headers={**alice, **stream, "Upload-Offset": "0"}, content=b"x" * 10)
    assert done.status_code == 204, done.text
    again = _create(live, alice, **ok)
    assert again.status_code == 409
    assert "data/a.bin" in again.json()["detail"]


def test_options_tells_what_the_server_offers(live: Live) -> None:
    response = httpx.options(f"{live.url}/uploads/")
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    extensions = set(response.headers["tus-extension"].split(","))
    assert {"creation", "creation-with-upload", "termination", "expiration"} <= extensions
    assert "checksum" in extensions
    assert set(response.headers["tus-checksum-algorithm"].split(",")) == {"sha1", "md5"}
    assert response.headers["tus-max-size"] == str(live.settings.max_upload_bytes)


async def test_local_staging_survives_a_restart(tmp_path: Path) -> None:
    """The start-up cleaning of the staging folder leaves resumable uploads alone."""
    ref = FileRef(("u1", "data", "f.bin"))
    storage = LocalFileStorage(tmp_path)
    staging = await storage.begin(ref)

    async def chunks(data: bytes) -> AsyncIterator[bytes]:
        yield data

    staging, offset = await storage.append(ref, staging, 0, chunks(b"abc"), 6)
    old = time.time() - 7200
    os.utime(tmp_path / UPLOADS / staging.handle, (old, old))
    restarted = LocalFileStorage(tmp_path)
    staging, offset = await restarted.append(ref, staging, offset, chunks(b"def"), 6)
    await restarted.finish(ref, staging, offset)
    assert (tmp_path / "u1" / "data" / "f.bin").read_bytes() == b"abcdef"
    assert os.listdir(tmp_path / UPLOADS) == []


QUOTA = {"quota_bytes": 1000}


def _create_sized(live: Live, headers: dict[str, str], length: int, name: str) -> httpx.Response:
    return _create(
        live,
        headers,
        **TUS,
        **{"Upload-Length": str(length), "Upload-Metadata": _meta("data", name)},
    )


def _patch(url: str, headers: dict[str, str], offset: int, content: bytes) -> httpx.Response:
    return httpx.patch(
        url,
        headers={
            **headers,
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
        content=content,
    )


def _used(live: Live, headers: dict[str, str]) -> dict[str, int]:
    body = httpx.get(f"{live.url}/user", headers=headers).json()
    return {key: body["usage"][key] for key in ("bytes", "files")}


@pytest.mark.parametrize("overrides", [QUOTA])
def test_an_upload_declaring_more_than_the_quota_is_refused_before_any_byte(
    live: Live, alice: dict[str, str]
) -> None:
    refused = _create_sized(live, alice, 1001, "big.bin")
    assert refused.status_code == 413, refused.text
    assert refused.json()["detail"].startswith("Storage quota 1.0 kB would be exceeded"), (
        refused.text
    )
    assert _staged_uploads(live) == []
    assert _used(live, alice) == {"bytes": 0, "files": 0}


@pytest.mark.parametrize("overrides", [QUOTA])
def test_a_finished_upload_counts_and_a_terminated_one_gives_its_room_back(
    live: Live, alice: dict[str, str]
) -> None:
    first = _create_sized(live, alice, 600, "first.bin")
    assert first.status_code == 201, first.text
    assert _create_sized(live, alice, 600, "second.bin").status_code == 413  # 600 held
    gone = httpx.delete(first.headers["location"], headers={**alice, **TUS})
    assert gone.status_code == 204, gone.text

    second = _create_sized(live, alice, 600, "second.bin")
    assert second.status_code == 201, second.text
    assert _patch(second.headers["location"], alice, 0, b"s" * 600).status_code == 204
    assert _used(live, alice) == {"bytes": 600, "files": 1}
    assert _create_sized(live, alice, 401, "third.bin").status_code == 413


@pytest.mark.parametrize("overrides", [QUOTA])
async def test_parallel_creations_over_the_quota_accept_at_most_one(
    live: Live, alice: dict[str, str]
) -> None:
    async with httpx.AsyncClient(headers={**alice, **TUS}) as http:
        statuses = await asyncio.gather(
            *(
                http.post(
                    f"{live.url}/uploads/",
                    headers={"Upload-Length": "600", "Upload-Metadata": _meta("data", name)},
                )
                for name in ("one.bin", "two.bin")
            )
        )
    assert sorted(answer.status_code for answer in statuses) in ([201, 413], [413, 413]), statuses


@pytest.mark.parametrize("overrides", [{**QUOTA, "resumable_upload_expiry_seconds": 1}])
def test_cleanup_removes_an_expired_upload_and_gives_its_room_back(
    live: Live, alice: dict[str, str], tmp_path: Path
) -> None:
    created = _create_sized(live, alice, 1000, "late.bin")
    assert created.status_code == 201, created.text
    assert _patch(created.headers["location"], alice, 0, b"l" * 300).status_code == 204
    time.sleep(1.2)

    dry = cli(live.settings, tmp_path, "cleanup", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "1 expired upload(s) (300 Bytes)" in dry.stdout, dry.stdout
    assert len(_staged_uploads(live)) == 1
    plain = {"file": ("plain.bin", b"p" * 500)}
    refused = httpx.post(f"{live.url}/files/data/upload", headers=alice, files=plain)
    assert refused.status_code == 413, refused.text  # the dry run released nothing

    done = cli(live.settings, tmp_path, "cleanup")
    assert "removed 0 job(s) (0 Bytes), 1 expired upload(s) (300 Bytes)" in done.stdout, done.stdout
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    removals = [line for line in logged if line.get("removal") == "expired upload"]
    assert [(line["user_id"] is not None, line["bytes_freed"]) for line in removals] == [
        (True, 300)
    ]
    assert _staged_uploads(live) == []
    stored = httpx.post(f"{live.url}/files/data/upload", headers=alice, files=plain)
    assert stored.status_code == 201, stored.text
