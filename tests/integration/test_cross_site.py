"""What a page on another site can make a signed-in browser do, and the forged `Host`.

Browsers send the `Authorization` cookie (`POST /login`, SameSite=None) with requests any
site makes, and send `text/plain`, form and multipart bodies without a CORS preflight.
"""

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]
FRONTEND = "https://app.example.org"
OWN = "http://testserver.local"
EVIL = "https://evil.example"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, frontend_urls=(FRONTEND,))


async def cookie_of(headers_for: HeadersFor, name: str) -> dict[str, str]:
    """The `Cookie` header a browser signed in through `POST /login` sends."""
    bearer = (await headers_for(name))["Authorization"]
    return {"Cookie": f'Authorization="{bearer}"'}


async def cookie_upload(client: Client, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/files/data/upload", headers=headers, files={"file": ("a.txt", b"x")})


async def listing(client: Client, headers_for: HeadersFor, folder: str) -> list[str]:
    response = await client.get(f"/files/{folder}", headers=await headers_for("alice"))
    return [entry["path"] for entry in response.json()]


async def test_json_routes_refuse_other_content_types(
    client: Client, headers_for: HeadersFor
) -> None:
    alice = await headers_for("alice")
    await client.post("/files/config/upload", headers=alice, files={"file": ("a.yaml", b"x")})
    browser = {**await cookie_of(headers_for, "alice"), "Origin": OWN}
    for media_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = browser | ({"Content-Type": media_type} if media_type else {})
        renamed = await client.put(
            "/files/config/a.yaml", content=b'{"path": "config/b.yaml"}', headers=headers
        )
        assert renamed.status_code == 415, media_type
        assert "application/json" in renamed.json()["detail"]
        job = await client.post("/jobs", content=b'{"job_name": "x"}', headers=headers)
        assert job.status_code == 415, media_type
    assert await listing(client, headers_for, "config") == ["config/a.yaml"]
    assert (await client.get("/jobs", headers=alice)).json() == []
    as_json = await client.put(
        "/files/config/a.yaml", json={"path": "config/b.yaml"}, headers=browser
    )
    assert as_json.status_code == 200


@pytest.mark.parametrize(
    "sent_from",
    [{"Origin": EVIL}, {"Referer": f"{EVIL}/page"}, {}, {"Origin": "null"}],
    ids=["origin", "referer", "neither", "null"],
)
async def test_cookie_requests_from_other_sites_are_403(
    client: Client, headers_for: HeadersFor, sent_from: dict[str, str]
) -> None:
    cookie = await cookie_of(headers_for, "alice")
    upload = await cookie_upload(client, cookie | sent_from)
    assert upload.status_code == 403
    assert "cookie" in upload.json()["detail"]
    deleted = await client.delete("/files/data/", headers=cookie | sent_from)
    assert deleted.status_code == 403
    assert await listing(client, headers_for, "data") == []


@pytest.mark.parametrize(
    "sent_from",
    [{"Origin": FRONTEND}, {"Referer": f"{FRONTEND}/files"}, {"Origin": OWN}],
    ids=["frontend", "frontend-referer", "own"],
)
async def test_cookie_requests_from_allowed_origins_pass(
    client: Client, headers_for: HeadersFor, sent_from: dict[str, str]
) -> None:
    upload = await cookie_upload(client, await cookie_of(headers_for, "alice") | sent_from)
    assert upload.status_code == 201
    assert await listing(client, headers_for, "data") == ["data/a.txt"]


async def test_bearer_requests_are_unaffected_and_cookie_reads_need_no_origin(
    client: Client, headers_for: HeadersFor
) -> None:
    bearer = await headers_for("alice")
    upload = await client.post(
        "/files/data/upload", headers=bearer | {"Origin": EVIL}, files={"file": ("a.txt", b"x")}
    )
    assert upload.status_code == 201
    read = await client.get("/files/data", headers=await cookie_of(headers_for, "alice"))
    assert read.status_code == 200


async def test_a_forged_host_is_never_echoed_with_the_token(
    client: Client, headers_for: HeadersFor, settings: Settings
) -> None:
    alice = await headers_for("alice")
    await client.post("/files/data/upload", headers=alice, files={"file": ("a.txt", b"x")})
    forged = alice | {"Host": "evil.example"}
    for response in (
        await client.get("/files/data/a.txt/url", headers=forged),
        await client.post("/files/data/url", headers=forged),
    ):
        assert "evil.example" not in response.text
        if settings.filesystem == "local":
            assert response.status_code == 400
            assert "ALLOWED_HOSTS" in response.json()["detail"]


async def test_urls_are_built_from_public_url(
    embedded_only: None, headers_for: HeadersFor, settings: Settings
) -> None:
    public = msgspec.structs.replace(settings, public_url="https://api.example.org/v1")
    async with AsyncTestClient(create_app(build_container(public))) as client:
        alice = await headers_for("alice")
        await client.post("/files/data/upload", headers=alice, files={"file": ("a.txt", b"x")})
        response = await client.get(
            "/files/data/a.txt/url", headers=alice | {"Host": "evil.example"}
        )
    assert response.status_code == 200
    assert response.json()["url"] == "https://api.example.org/v1/files/data/a.txt/download"
