"""Storage quotas through HTTP on both stacks: uploads refused before they start or
stopped when they cross the quota, parallel uploads on a real server, usage in `GET /user`
and the operator's commands."""

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import HeadersFor
from tests.integration.cli_run import cli
from tests.integration.live_app import serve_in_thread

Client = AsyncTestClient[Litestar]
QUOTA = 1000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, quota_bytes=QUOTA, quota_files=3)


@pytest.fixture
async def alice(headers_for: HeadersFor) -> dict[str, str]:
    return await headers_for("alice")


async def upload(client: Client, headers: dict[str, str], name: str, size: int) -> httpx.Response:
    return await client.post(
        "/files/data/upload", headers=headers, files={"file": (name, b"x" * size)}
    )


async def listing(client: Client, headers: dict[str, str]) -> list[str]:
    response = await client.get("/files/data?recursive=1", headers=headers)
    return [entry["path"] for entry in response.json()]


async def usage(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/user", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


BOUNDARY = "quota-test-boundary"


def form_parts(name: str, parts: list[bytes]) -> tuple[dict[str, str], list[bytes]]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, [head, *parts, tail]


async def post_without_length(
    client: Client, headers: dict[str, str], name: str, parts: list[bytes]
) -> httpx.Response:
    """A multipart upload with no `Content-Length` (its size is unknown), through the
    in-process test client, which reads a body from a stream that is sync and async."""
    form_headers, body = form_parts(name, parts)
    request = httpx.Request(
        "POST",
        client.base_url.join("/files/data/upload"),
        headers=headers | form_headers | {"Transfer-Encoding": "chunked"},
        stream=httpx.ByteStream(b"".join(body)),
    )
    assert "content-length" not in request.headers
    return await client.send(request)


def slow_chunked_form(name: str, parts: list[bytes]) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    """A form with no `Content-Length`, sent to a real server a chunk every 10 ms."""
    headers, chunks = form_parts(name, parts)

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            await asyncio.sleep(0.01)
            yield chunk

    return headers, body()


async def test_get_user_reports_usage_and_limits(client: Client, alice: dict[str, str]) -> None:
    assert (await upload(client, alice, "a.bin", 300)).status_code == 201
    body = await usage(client, alice)
    assert body["email"] == "alice@example.org"
    assert body["groups"] == ["users"]
    assert body["usage"] == {"bytes": 300, "files": 1, "running_jobs": 0}
    assert body["limits"] == {"bytes": QUOTA, "files": 3, "running_jobs": None}


async def test_an_upload_declaring_more_than_the_room_left_is_refused_before_it_starts(
    client: Client, alice: dict[str, str]
) -> None:
    assert (await upload(client, alice, "first.bin", 600)).status_code == 201
    refused = await upload(client, alice, "second.bin", 600)
    assert refused.status_code == 413, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("Storage quota 1.0 kB would be exceeded: 600 Bytes used, upload")
    assert "upload declares" in detail
    assert await listing(client, alice) == ["data/first.bin"]
    assert (await usage(client, alice))["usage"] == {"bytes": 600, "files": 1, "running_jobs": 0}


async def test_an_upload_of_unknown_size_stops_where_it_crosses_the_quota(
    client: Client, alice: dict[str, str]
) -> None:
    refused = await post_without_length(client, alice, "big.bin", [b"y" * 400] * 3)
    assert refused.status_code == 413, refused.text
    assert "nothing of it was kept" in refused.json()["detail"]
    assert await listing(client, alice) == []
    assert (await usage(client, alice))["usage"]["bytes"] == 0
    fits = await post_without_length(client, alice, "fits.bin", [b"y" * 400] * 2)
    assert fits.status_code == 201, fits.text
    assert (await usage(client, alice))["usage"] == {"bytes": 800, "files": 1, "running_jobs": 0}


async def test_the_file_quota_counts_new_files_not_replacements(
    client: Client, alice: dict[str, str]
) -> None:
    for name in ("a", "b", "c"):
        assert (await upload(client, alice, name, 10)).status_code == 201
    refused = await upload(client, alice, "d", 10)
    assert refused.status_code == 413
    assert refused.json()["detail"].startswith("File quota of 3 files would be exceeded: 3 files")
    replaced = await upload(client, alice, "a", 50)
    assert replaced.status_code == 201, replaced.text
    assert (await usage(client, alice))["usage"] == {"bytes": 70, "files": 3, "running_jobs": 0}


async def test_deleting_gives_the_room_back(client: Client, alice: dict[str, str]) -> None:
    await client.post("/files/data/run/upload", headers=alice, files={"file": ("a", b"1" * 400)})
    await client.post("/files/data/run/upload", headers=alice, files={"file": ("b", b"2" * 300)})
    assert (await client.delete("/files/data/run/a", headers=alice)).status_code == 204
    assert (await usage(client, alice))["usage"]["bytes"] == 300
    assert (await client.delete("/files/data/run/", headers=alice)).status_code == 204
    assert (await usage(client, alice))["usage"] == {"bytes": 0, "files": 0, "running_jobs": 0}
    assert (await upload(client, alice, "again.bin", 700)).status_code == 201


async def test_the_upload_url_offers_the_room_left_and_none_once_full(
    client: Client, alice: dict[str, str], settings: Settings
) -> None:
    assert (await upload(client, alice, "a.bin", 400)).status_code == 201
    offered = await client.post("/files/data/url", headers=alice)
    assert offered.status_code == 201, offered.text
    if settings.filesystem == "s3":
        policy = json.loads(base64.b64decode(offered.json()["data"]["policy"]))
        assert ["content-length-range", 0, QUOTA - 400] in policy["conditions"]
    assert (await upload(client, alice, "b.bin", 350)).status_code == 201
    for name in ("c", "d"):
        await client.post("/files/data/upload", headers=alice, files={"file": (name, b"")})
    full = await client.post("/files/data/url", headers=alice)
    assert full.status_code == 413, full.text
    assert full.json()["detail"].startswith("File quota of 3 files would be exceeded")


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "unknown-size"])
async def test_parallel_uploads_over_the_quota_on_a_real_server(
    settings: Settings, client: Client, alice: dict[str, str], declared: bool
) -> None:
    """Two uploads of 600 bytes each, at once, through uvicorn: at most one completes,
    and the usage is what is stored."""
    with serve_in_thread(build_container(settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def send(name: str) -> int:
                if declared:
                    files = {"file": (name, b"z" * 600)}
                    try:
                        answer = await http.post("/files/data/upload", headers=alice, files=files)
                    except httpx.TransportError:  # refused before the body was all sent
                        return 413
                    return answer.status_code
                headers, body = slow_chunked_form(name, [b"z" * 100] * 6)
                try:
                    answer = await http.post(
                        "/files/data/upload", headers={**alice, **headers}, content=body
                    )
                except httpx.TransportError:
                    return 413
                return answer.status_code

            statuses = await asyncio.gather(send("one.bin"), send("two.bin"))
    assert sorted(statuses) in ([201, 413], [413, 413]), statuses
    stored = await listing(client, alice)
    assert len(stored) == statuses.count(201)
    assert (await usage(client, alice))["usage"] == {
        "bytes": 600 * len(stored),
        "files": len(stored),
        "running_jobs": 0,
    }


async def test_an_operator_sets_shows_and_resets_a_users_quota(
    client: Client, alice: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    assert (await upload(client, alice, "a.bin", 700)).status_code == 201
    changed = cli(settings, tmp_path, "user", "quota", "alice@example.org", "--bytes", "2k")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith(
        "alice@example.org: storage 700 Bytes of 2.0 kB (set for this user), files 1 of 3 "
        "(default), running jobs 0 of unlimited (default)"
    )
    assert (await usage(client, alice))["limits"]["bytes"] == 2000
    assert (await upload(client, alice, "b.bin", 900)).status_code == 201
    lifted = cli(settings, tmp_path, "user", "quota", "alice@example.org", "--files", "unlimited")
    assert "files 2 of unlimited (set for this user)" in lifted.stdout, lifted.stderr
    reset = cli(settings, tmp_path, "user", "quota", "alice@example.org", "--reset")
    assert "storage 1.6 kB of 1.0 kB (default), files 2 of 3 (default)" in reset.stdout
    assert (await upload(client, alice, "c.bin", 1)).status_code == 413
    unknown = cli(settings, tmp_path, "user", "quota", "nobody@example.org")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "decode-userapi: No user has the email nobody@example.org."
    bad = cli(settings, tmp_path, "user", "quota", "alice@example.org", "--bytes", "5 apples")
    assert bad.returncode == 2
    assert "'5 apples' is not a size" in bad.stderr


def write_beside_the_api(root: Path, path: str, size: int) -> None:
    """Writes into the one user space under `root` as a worker would."""
    [space] = [folder for folder in root.iterdir() if not folder.name.startswith(".")]
    (space / path).write_bytes(b"d" * size)


async def test_recompute_counts_files_that_did_not_pass_through_the_api(
    client: Client, alice: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    assert (await upload(client, alice, "a.bin", 100)).status_code == 201
    offered = (await client.post("/files/config/url", headers=alice)).json()
    if settings.filesystem == "s3":  # straight to S3, as a browser with a presigned POST
        async with httpx.AsyncClient() as outside:
            sent = await outside.post(
                offered["url"], data=offered["data"], files={"file": ("direct.bin", b"d" * 250)}
            )
        assert sent.status_code in (200, 204), sent.text
    else:  # a worker writing results into the shared folder
        write_beside_the_api(Path(settings.user_data_root_path), "config/direct.bin", 250)
    assert (await usage(client, alice))["usage"]["bytes"] == 100
    recounted = cli(settings, tmp_path, "user", "usage", "--recompute", "alice@example.org")
    assert recounted.returncode == 0, recounted.stderr
    assert recounted.stdout == (
        "alice@example.org: 350 Bytes in 2 files (tracked before: 100 Bytes in 1 files)\n"
    )
    assert (await usage(client, alice))["usage"] == {"bytes": 350, "files": 2, "running_jobs": 0}
