"""Downloads: `HEAD`, one `Range` (206/416) on files, `application/zip` for folders."""

import io
import zipfile

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]
CONTENT = bytes(range(256)) * 40  # 10,240 bytes
URL = "/files/data/run/frames.bin/download"


@pytest.fixture
async def alice(client: Client, headers_for: HeadersFor) -> dict[str, str]:
    headers = await headers_for("alice")
    uploaded = await client.post(
        "/files/data/run/upload", headers=headers, files={"file": ("frames.bin", CONTENT)}
    )
    assert uploaded.status_code == 201
    return headers


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=100-5099", 100, 5100),
        ("bytes=10000-", 10000, len(CONTENT)),
        ("bytes=-240", len(CONTENT) - 240, len(CONTENT)),
        ("bytes=10000-99999", 10000, len(CONTENT)),  # the end is clipped to the file
    ],
)
async def test_one_range_of_a_file(
    client: Client, alice: dict[str, str], header: str, start: int, end: int
) -> None:
    response = await client.get(URL, headers={**alice, "Range": header})
    assert response.status_code == 206
    assert response.content == CONTENT[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(CONTENT)}"
    assert response.headers["content-length"] == str(end - start)


async def test_a_range_past_the_end_is_416(client: Client, alice: dict[str, str]) -> None:
    response = await client.get(URL, headers={**alice, "Range": f"bytes={len(CONTENT)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert "detail" in response.json()


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=9-2"])
async def test_other_ranges_get_the_whole_file(
    client: Client, alice: dict[str, str], header: str
) -> None:
    response = await client.get(URL, headers={**alice, "Range": header})
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["accept-ranges"] == "bytes"


async def test_head_tells_size_and_type_without_bytes(
    client: Client, alice: dict[str, str]
) -> None:
    response = await client.head(URL, headers=alice)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["accept-ranges"] == "bytes"
    ranged = await client.head(URL, headers={**alice, "Range": "bytes=5-9"})
    assert ranged.status_code == 206
    assert ranged.headers["content-length"] == "5"
    missing = await client.head("/files/data/nothing.bin/download", headers=alice)
    assert missing.status_code == 404
    assert (await client.head("/files/data/", headers=alice)).status_code == 405


async def test_folders_come_as_application_zip(client: Client, alice: dict[str, str]) -> None:
    response = await client.get("/files/data/run/download", headers={**alice, "Range": "bytes=0-9"})
    assert response.status_code == 200  # a zip is streamed whole
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["accept-ranges"] == "none"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.read("frames.bin") == CONTENT
    head = await client.head("/files/data/run/download", headers=alice)
    assert head.headers["content-length"] == str(len(response.content))
