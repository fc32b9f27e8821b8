"""OpenAPI document and a Swagger UI that works without internet access."""

from pathlib import Path

import swagger_ui_bundle
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

ASSETS_PATH = "/docs/assets"
_ASSETS_DIR = Path(swagger_ui_bundle.swagger_ui_path)

DESCRIPTION = """\
The user-facing API of DECODE OpenCloud: upload calibration files, configurations and
microscopy frames into your private space, start training and fitting jobs, follow their
status and download the results.

Every route except `/`, `/access_info`, the docs, the health probes and the sign-in routes
needs `Authorization: Bearer <ID token>`: 401 when the token is missing or invalid, 403 when
the account is not (yet) in the group `users`.
"""


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        path="/",
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="DECODE OpenCloud User-facing API",
        version="1.0.0",
        description=DESCRIPTION,
        path="/docs",
        render_plugins=[swagger],
    )


def swagger_assets() -> ControllerRouterHandler:
    return create_static_files_router(
        path=ASSETS_PATH, directories=[_ASSETS_DIR], include_in_schema=False
    )
