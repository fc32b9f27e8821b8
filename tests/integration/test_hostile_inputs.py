"""Inputs built to break the jobs routes get a 4xx, never a 500, on both stacks."""

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]
KEY = {"x-api-key": "internal-test-key"}

OUT_OF_RANGE_IDS = [2**31, 2**63, 10**30]
"""Beyond PostgreSQL's `integer`, beyond a 64-bit integer, beyond anything."""


@pytest.mark.parametrize("job_id", [*OUT_OF_RANGE_IDS, 0, -1])
async def test_a_job_id_out_of_the_databases_range_is_404(
    client: Client, headers_for: HeadersFor, job_id: int
) -> None:
    alice = await headers_for("alice")
    assert (await client.get(f"/jobs/{job_id}", headers=alice)).status_code == 404
    assert (await client.delete(f"/jobs/{job_id}", headers=alice)).status_code == 404


@pytest.mark.parametrize("job_id", OUT_OF_RANGE_IDS)
async def test_a_status_update_for_an_id_out_of_range_is_4xx(client: Client, job_id: int) -> None:
    body = {"job_id": job_id, "status": "running"}
    response = await client.put("/_job_status", json=body, headers=KEY)
    assert response.status_code in (400, 404), response.text


@pytest.mark.parametrize("query", ["offset=100000000000000000000000", "limit=10000000000000000000"])
async def test_a_huge_page_query_is_answered(
    client: Client, headers_for: HeadersFor, query: str
) -> None:
    response = await client.get(f"/jobs?{query}", headers=await headers_for("alice"))
    assert response.status_code == 200, response.text
    assert response.json() == []


DEEP = b"[" * 200_000 + b"]" * 200_000
INVALID_UTF8 = b'{"job_name": "caf\xe9", "application": {"application": "\xff\xfe"}}'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (DEEP, "nested too deeply"),
        (b'{"job_name": ' + DEEP + b"}", "nested too deeply"),
        (INVALID_UTF8, "not valid UTF-8"),
    ],
    ids=["deep", "deep-field", "invalid-utf8"],
)
@pytest.mark.parametrize(("method", "path"), [("POST", "/jobs"), ("PUT", "/_job_status")])
async def test_hostile_json_bodies_are_400(
    client: Client, headers_for: HeadersFor, body: bytes, fragment: str, method: str, path: str
) -> None:
    headers = {**await headers_for("alice"), **KEY, "Content-Type": "application/json"}
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["detail"]
