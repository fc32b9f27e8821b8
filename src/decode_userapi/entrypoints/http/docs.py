"""OpenAPI document and a Swagger UI 5 that works without internet access.

Route descriptions come from one source: the handler's docstring
(`use_handler_docstrings`), or `description=` on handlers that have no docstring.
"""

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from litestar import Litestar, Request, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from decode_userapi.entrypoints.http.schemas import ErrorBody

ASSETS_PATH = "/docs/assets"
_ASSETS_DIR = Path(str(swagger_ui_bundle.swagger_ui_path))
_DOCUMENT = "openapi_document"

BEARER: list[SecurityRequirement] = [{"bearer": []}]
"""Routes that need `Authorization: Bearer <ID token>`."""
API_KEY: list[SecurityRequirement] = [{"apiKey": []}]
"""Internal routes, called by the worker-facing API with `x-api-key`."""


def bearer_router(name: str, route_handlers: list[ControllerRouterHandler]) -> Router:
    """The routes under `/{name}`, tagged `name`, that need a bearer token."""
    return Router(path=f"/{name}", tags=[name], security=BEARER, route_handlers=route_handlers)


def error_doc(description: str) -> ResponseSpec:
    """An error answer (`{"detail": ...}`) in a route's `responses`."""
    return ResponseSpec(ErrorBody, description=description, generate_examples=False)


DESCRIPTION = """\
The user-facing API of DECODE OpenCloud: upload calibration files, configurations and
microscopy frames into your private space, start training and fitting jobs, follow their
status and download the results.

Every route except `/`, `/access_info`, the docs, the health probes and the sign-in routes
needs `Authorization: Bearer <ID token>` (get one from `POST /token`, then press
**Authorize**): 401 when the token is missing or invalid, 403 when the account is not (yet)
in the group `users`. Every error answers `{"detail": "<what went wrong>"}`.
"""

ERROR_SCHEMA = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "What went wrong."}},
    "description": "Every error response: what went wrong, worded for the user.",
}
_INVALID = "The request is not valid; `detail` names the parameter and the problem."
_AUTH_ERRORS = {
    "401": "The token is missing, malformed, expired or not signed by the identity provider.",
    "403": "The account is not (yet) in the group `users`.",
}


class _SwaggerUI(SwaggerRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, openapi_document(request.app))


class _Json(JsonRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, openapi_document(request.app))


def openapi_config() -> OpenAPIConfig:
    swagger = _SwaggerUI(
        path="/",
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )
    schemes: dict[str, Any] = {
        "bearer": SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description="An ID token from `POST /token` (local sign-in) or Cognito.",
        ),
        "apiKey": SecurityScheme(
            type="apiKey",
            name="x-api-key",
            security_scheme_in="header",
            description="`INTERNAL_API_KEY_SECRET`, for the worker-facing API only.",
        ),
    }
    return OpenAPIConfig(
        title="DECODE OpenCloud User-facing API",
        version="1.0.0",
        description=DESCRIPTION,
        path="/docs",
        render_plugins=[swagger, _Json()],
        components=Components(security_schemes=schemes),
        use_handler_docstrings=True,
    )


def swagger_assets() -> ControllerRouterHandler:
    return create_static_files_router(
        path=ASSETS_PATH, directories=[_ASSETS_DIR], include_in_schema=False
    )


def openapi_document(app: Litestar) -> dict[str, Any]:
    """The app's OpenAPI document as served, built once per app."""
    document: dict[str, Any] | None = app.state.get(_DOCUMENT)
    if document is None:
        document = _with_real_errors(app.openapi_schema.to_schema())
        app.state[_DOCUMENT] = document
    return document


def _with_real_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Litestar documents its own error body (`status_code`, `detail`, `extra`) for
    validation errors; the service answers `{"detail"}` (errors.py). Routes that need a
    token also answer 401 and 403."""
    document.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            for response in responses.values():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if "status_code" in schema.get("properties", {}):
                    response["content"] = error
                    response["description"] = _INVALID
            if {"bearer": []} in operation.get("security", []):
                for code, why in _AUTH_ERRORS.items():
                    responses.setdefault(code, {"description": why, "content": error})
    return document
