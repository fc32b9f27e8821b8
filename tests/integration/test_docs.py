"""The OpenAPI document says what the service does (the browser test shows it renders)."""

from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.testing import AsyncTestClient

from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]


async def _document(client: Client) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    return document


async def test_errors_are_documented_as_the_service_sends_them(
    embedded_only: None, client: Client
) -> None:
    document = await _document(client)
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["detail"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method)
    assert (await client.get("/docs/openapi.json")).json() == document


async def test_no_shared_schema_holds_a_fields_default(embedded_only: None, client: Client) -> None:
    """A struct used as a field's default (`= FilesDownSchema()`) put that default into the
    struct's shared schema, for whichever field Litestar met first: the document changed
    from one start to the next. Such defaults are factories now."""
    schemas = (await _document(client))["components"]["schemas"]
    assert [name for name, schema in schemas.items() if "default" in schema] == []


async def test_protected_routes_ask_for_a_bearer_token(embedded_only: None, client: Client) -> None:
    document = await _document(client)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, method in [("/jobs", "get"), ("/files/{path}", "post"), ("/user", "get")]:
        operation = document["paths"][path][method]
        assert operation["security"] == [{"bearer": []}]
        assert {"401", "403"} <= operation["responses"].keys()
    assert document["paths"]["/_job_status"]["put"]["security"] == [{"apiKey": []}]
    for public in ["/", "/access_info", "/token"]:
        assert all("security" not in op for op in document["paths"][public].values())


async def test_the_upload_body_is_documented(embedded_only: None, client: Client) -> None:
    body = (await _document(client))["paths"]["/files/{path}"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"]["format"] == "binary"


async def test_descriptions_come_from_one_source(
    embedded_only: None, app: Litestar, client: Client
) -> None:
    """Route docs are the handlers' docstrings (never `description=`), and reach the document."""
    handlers = [
        handler
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if isinstance(handler, HTTPRouteHandler) and handler.include_in_schema
    ]
    assert handlers
    for handler in handlers:
        assert handler.description is None, handler.handler_name
    paths = (await _document(client))["paths"]
    assert "409" in paths["/jobs"]["post"]["description"]
    assert "x-api-key" in paths["/_job_status"]["put"]["description"]
    assert "`local`" in paths["/access_info"]["get"]["description"]


async def test_a_bad_query_parameter_names_it_without_internals(
    embedded_only: None, client: Client, headers_for: HeadersFor
) -> None:
    response = await client.get("/jobs?limit=0", headers=await headers_for("alice"))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "limit" in detail
    assert "ParamType" not in detail
    assert "<" not in detail
