"""Serve the app under uvicorn with the fake identity provider, for tests that need a
real server in a subprocess: `python -m tests.integration.fake_identity_server PORT`.

Settings come from the environment (no `.env`). Bound to 127.0.0.1 only.
"""

import sys

import uvicorn

from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import load_settings
from tests.fakes import FakeIdentityProvider


def main() -> None:
    container = build_container(load_settings(env_file=None))
    container.identity_provider.override(FakeIdentityProvider())
    uvicorn.run(create_app(container), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
