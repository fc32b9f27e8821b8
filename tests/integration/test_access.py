"""Every protected route: 401 without a valid token, 403 for an account not (yet) in `users`.

The frontend logs out on 401 and shows "not confirmed yet" on 403, so the two must never swap.
"""

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.container import Container
from tests.servers.fixtures import TEST_PASSWORD

Client = AsyncTestClient[Litestar]

PROTECTED = [
    ("GET", "/user"),
    ("GET", "/files/"),
    ("GET", "/files/config"),
    ("GET", "/files/config/a.yaml/download"),
    ("GET", "/files/config/a.yaml/url"),
    ("POST", "/files/config/exp1/upload"),
    ("POST", "/files/config/exp1/url"),
    ("POST", "/files/config/exp1/"),
    ("PUT", "/files/config/a.yaml"),
    ("DELETE", "/files/config/a.yaml"),
    ("GET", "/jobs/applications"),
    ("GET", "/jobs"),
    ("GET", "/jobs/1"),
    ("POST", "/jobs"),
    ("DELETE", "/jobs/1"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_no_or_bad_token_is_401(client: Client, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path, headers)
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_an_unconfirmed_account_is_403(
    client: Client, container: Container, method: str, path: str
) -> None:
    identity = container.account_directory()
    await identity.register("waiting@example.org", TEST_PASSWORD, ["workers"])
    token = await identity.issue_token("waiting@example.org", TEST_PASSWORD)

    response = await client.request(
        method, path, headers={"Authorization": f"Bearer {token.id_token}"}
    )

    assert response.status_code == 403, (method, path)
    assert "not confirmed" in response.json()["detail"]
