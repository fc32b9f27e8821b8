"""Self-registration without `AUTH=1` (the embedded default): the new account has no
group and is refused until an operator approves it; the groups asked for are ignored."""

from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.container import Container

Client = AsyncTestClient[Litestar]
FORM = {"username": "mallory@example.org", "password": "Sunny-day-42"}


async def test_a_self_registered_account_waits_for_approval(
    embedded_only: None, client: Client, container: Container
) -> None:
    created = await client.post("/user?groups=cloud", data={**FORM, "groups": ["workers"]})
    assert created.status_code == 201
    assert created.json() == {"email": "mallory@example.org", "groups": []}

    token = (await client.post("/token", data=FORM)).json()["id_token"]
    refused = await client.get("/files/", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert "not confirmed" in refused.json()["detail"]

    await container.change_groups()("mallory@example.org", add=["users"])
    token = (await client.post("/token", data=FORM)).json()["id_token"]
    me = await client.get("/user", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["groups"] == ["users"]


async def test_unknown_groups_are_still_refused(embedded_only: None, client: Client) -> None:
    response = await client.post("/user", data={**FORM, "groups": ["admins"]})
    assert response.status_code == 400
    assert "admins" in response.json()["detail"]
