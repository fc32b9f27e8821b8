"""Request bodies are capped app-wide; only the upload route streams past the cap."""

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.http.app import MAX_REQUEST_BODY_BYTES
from tests.conftest import HeadersFor

OVERSIZED_JSON = b'{"job_name": "' + b"x" * MAX_REQUEST_BODY_BYTES + b'"}'


@pytest.mark.parametrize(("method", "path"), [("POST", "/jobs"), ("PUT", "/files/data/a.bin")])
async def test_a_json_body_over_the_cap_is_413(
    client: AsyncTestClient[Litestar], headers_for: HeadersFor, method: str, path: str
) -> None:
    headers = {**await headers_for("alice"), "Content-Type": "application/json"}
    response = await client.request(method, path, headers=headers, content=OVERSIZED_JSON)
    assert response.status_code == 413
    assert set(response.json()) == {"detail"}


async def test_an_upload_over_the_cap_passes(
    client: AsyncTestClient[Litestar], headers_for: HeadersFor
) -> None:
    alice = await headers_for("alice")
    content = b"x" * (2 * MAX_REQUEST_BODY_BYTES)
    response = await client.post(
        "/files/data/upload", headers=alice, files={"file": ("big.bin", content)}
    )
    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == len(content)
