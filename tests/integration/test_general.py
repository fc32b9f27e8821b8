from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]


async def test_welcome(client: Client) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == "Welcome to the DECODE OpenCloud User-facing API"


async def test_health(client: Client) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"database": "ok", "storage": "ok"}


async def test_docs_work_offline(client: Client) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text
    asset = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000


async def test_openapi_document_at_both_paths(client: Client) -> None:
    docs = await client.get("/docs/openapi.json")
    root = await client.get("/openapi.json")
    assert docs.status_code == root.status_code == 200
    assert root.json()["info"]["title"] == docs.json()["info"]["title"]


async def test_unknown_route_is_json_404(client: Client) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert "detail" in response.json()
