"""Multipart uploads straight to S3 (`POST /files/{type}/{path}/multipart`, `…/complete`,
`…/abort`): the parts go by real HTTP PUTs to the presigned URLs, on moto's S3 server;
the embedded stack (local files) refuses them clearly."""

import hashlib
import os
from typing import Any

import boto3
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import HeadersFor
from tests.integration.live_app import serve_in_thread
from tests.servers.moto import REGION

Client = AsyncTestClient[Litestar]
MIB = 1024**2
LIMIT = 20 * MIB


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, max_upload_bytes=LIMIT)


@pytest.fixture
async def alice(headers_for: HeadersFor) -> dict[str, str]:
    return await headers_for("alice")


def _put(url: str, content: bytes) -> str:
    """PUT a part to its presigned URL; its ETag."""
    answer = httpx.put(url, content=content)
    assert answer.status_code == 200, answer.text
    return answer.headers["etag"]


def _put_parts(started: dict[str, Any], content: bytes) -> list[dict[str, Any]]:
    size = started["part_size"]
    return [
        {
            "part_number": part["part_number"],
            "etag": _put(part["url"], content[(part["part_number"] - 1) * size :][:size]),
        }
        for part in started["parts"]
    ]


def _open_uploads(settings: Settings) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=REGION)
    found = s3.list_multipart_uploads(Bucket=settings.s3_bucket)
    return [upload["Key"] for upload in found.get("Uploads", [])]


@pytest.fixture
def s3_only(stack: str) -> None:
    if stack != "production":
        pytest.skip("direct uploads need S3")


@pytest.mark.usefixtures("s3_only")
async def test_parts_put_to_presigned_urls_become_the_file(
    client: Client, alice: dict[str, str]
) -> None:
    content = os.urandom(16 * MIB + 100)
    started = await client.post(
        "/files/data/run1/multipart",
        headers=alice,
        json={"filename": "frames.bin", "size": len(content)},
    )
    assert started.status_code == 201, started.text
    plan = started.json()
    assert plan["part_size"] == 16 * MIB
    assert [part["part_number"] for part in plan["parts"]] == [1, 2]
    parts = _put_parts(plan, content)
    assert (await client.get("/files/data", headers=alice)).json() == []

    done = await client.post(
        f"/files/data/run1/multipart/{plan['upload_id']}/complete",
        headers=alice,
        json={"parts": parts},
    )
    assert done.status_code == 201, done.text
    assert done.json()["path"] == "data/run1/frames.bin"
    assert done.json()["size_bytes"] == len(content)
    stored = await client.get("/files/data/run1/frames.bin/download", headers=alice)
    assert hashlib.sha256(stored.content).digest() == hashlib.sha256(content).digest()

    again = await client.post(
        "/files/data/run1/multipart", headers=alice, json={"filename": "frames.bin", "size": 1}
    )
    assert again.status_code == 409, again.text


@pytest.mark.usefixtures("s3_only")
async def test_sizes_are_checked_at_start_and_on_completion(
    client: Client, alice: dict[str, str], settings: Settings
) -> None:
    over = await client.post(
        "/files/data/multipart", headers=alice, json={"filename": "a.bin", "size": LIMIT + 1}
    )
    assert over.status_code == 413, over.text
    assert str(LIMIT) in over.json()["detail"]

    plan = (
        await client.post(
            "/files/data/multipart", headers=alice, json={"filename": "a.bin", "size": 10}
        )
    ).json()
    etag = _put(plan["parts"][0]["url"], os.urandom(LIMIT + 1))  # more than declared
    parts = [{"part_number": 1, "etag": etag}]
    done = await client.post(
        f"/files/data/multipart/{plan['upload_id']}/complete", headers=alice, json={"parts": parts}
    )
    assert done.status_code == 413, done.text
    assert (await client.get("/files/data", headers=alice)).json() == []
    assert _open_uploads(settings) == []


@pytest.mark.usefixtures("s3_only")
async def test_abort_drops_the_parts_and_others_cannot_touch_an_upload(
    client: Client, alice: dict[str, str], headers_for: HeadersFor, settings: Settings
) -> None:
    plan = (
        await client.post(
            "/files/config/multipart", headers=alice, json={"filename": "c.yaml", "size": 3}
        )
    ).json()
    upload = plan["upload_id"]
    parts = _put_parts(plan, b"abc")
    bob = await headers_for("bob")
    for action in ("complete", "abort"):
        other = await client.post(
            f"/files/config/multipart/{upload}/{action}", headers=bob, json={"parts": parts}
        )
        assert other.status_code == 404, other.text
    assert len(_open_uploads(settings)) == 1

    aborted = await client.post(f"/files/config/multipart/{upload}/abort", headers=alice)
    assert aborted.status_code == 204, aborted.text
    assert _open_uploads(settings) == []
    late = await client.post(
        f"/files/config/multipart/{upload}/complete", headers=alice, json={"parts": parts}
    )
    assert late.status_code == 404, late.text


async def test_bad_multipart_requests_are_4xx(client: Client, alice: dict[str, str]) -> None:
    cases = [
        ("/files/output/multipart", {"filename": "a", "size": 1}),
        ("/files/data/multipart", {"filename": "a/b", "size": 1}),
        ("/files/data/multipart", {"filename": "a", "size": -1}),
        ("/files/data/multipart", {"filename": "a"}),
        ("/files/data/multipart/x/complete", {"parts": []}),
    ]
    for url, body in cases:
        response = await client.post(url, headers=alice, json=body)
        assert response.status_code == 400, (url, body, response.text)


async def test_local_storage_says_it_takes_no_direct_uploads(
    client: Client, alice: dict[str, str], embedded_only: None
) -> None:
    response = await client.post(
        "/files/data/multipart", headers=alice, json={"filename": "a.bin", "size": 5}
    )
    assert response.status_code == 405, response.text
    assert "/uploads/" in response.json()["detail"]


@pytest.mark.usefixtures("s3_only")
def test_the_storage_quota_applies_at_start_and_on_completion(
    settings: Settings, alice: dict[str, str]
) -> None:
    """Over the quota at start: 413 at once. Two uploads that each fit but not together
    both start (nothing is held while the parts go to S3); the one completed last is
    refused and its file removed."""
    quota = msgspec.structs.replace(settings, quota_bytes=1000)
    with serve_in_thread(build_container(quota)) as url, httpx.Client(base_url=url) as http:
        over = http.post(
            "/files/data/multipart", headers=alice, json={"filename": "a.bin", "size": 1001}
        )
        assert over.status_code == 413, over.text
        assert over.json()["detail"].startswith("Storage quota 1.0 kB would be exceeded")

        plans = [
            http.post(
                "/files/data/multipart", headers=alice, json={"filename": name, "size": 600}
            ).json()
            for name in ("one.bin", "two.bin")
        ]
        done = [
            http.post(
                f"/files/data/multipart/{plan['upload_id']}/complete",
                headers=alice,
                json={"parts": _put_parts(plan, b"m" * 600)},
            )
            for plan in plans
        ]
        assert [answer.status_code for answer in done] == [201, 413], done[1].text
        assert [entry["path"] for entry in http.get("/files/data", headers=alice).json()] == [
            "data/one.bin"
        ]
        assert http.get("/user", headers=alice).json()["usage"]["bytes"] == 600
    assert _open_uploads(settings) == []
