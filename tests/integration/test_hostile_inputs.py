"""Inputs built to break the jobs routes get a 4xx, never a 500, on both stacks."""

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]
KEY = {"x-api-key": "internal-test-key"}

OUT_OF_RANGE_IDS = [2**31, 2**63, 10**30]
"""Beyond PostgreSQL's `integer`, beyond a 64-bit integer, beyond anything."""


async def test_a_job_id_out_of_the_databases_range_is_404(
    client: Client, headers_for: HeadersFor
) -> None:
    alice = await headers_for("alice")
    for job_id in [*OUT_OF_RANGE_IDS, 0, -1]:
        assert (await client.get(f"/jobs/{job_id}", headers=alice)).status_code == 404, job_id
        assert (await client.delete(f"/jobs/{job_id}", headers=alice)).status_code == 404, job_id


async def test_a_status_update_for_an_id_out_of_range_is_404(client: Client) -> None:
    for job_id in OUT_OF_RANGE_IDS:
        body = {"job_id": job_id, "status": "running"}
        response = await client.put("/_job_status", json=body, headers=KEY)
        assert response.status_code == 404, response.text


async def test_a_huge_page_query_is_answered(client: Client, headers_for: HeadersFor) -> None:
    alice = await headers_for("alice")
    for query in ["offset=100000000000000000000000", "limit=10000000000000000000"]:
        response = await client.get(f"/jobs?{query}", headers=alice)
        assert response.status_code == 200, response.text
        assert response.json() == []


DEEP = b"[" * 200_000 + b"]" * 200_000
HOSTILE_BODIES = [
    (DEEP, "nested too deeply"),
    (b'{"job_name": ' + DEEP + b"}", "nested too deeply"),
    (b'{"job_name": "caf\xe9", "application": {"application": "\xff\xfe"}}', "not valid UTF-8"),
]


async def test_hostile_json_bodies_are_400(client: Client, headers_for: HeadersFor) -> None:
    headers = {**await headers_for("alice"), **KEY, "Content-Type": "application/json"}
    for method, path in [("POST", "/jobs"), ("PUT", "/_job_status")]:
        for body, fragment in HOSTILE_BODIES:
            response = await client.request(method, path, content=body, headers=headers)
            assert response.status_code == 400, (method, path, response.text)
            assert fragment in response.json()["detail"]
