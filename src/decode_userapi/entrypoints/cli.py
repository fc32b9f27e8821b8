"""`decode-userapi serve` and `decode-userapi migrate`."""

import argparse
import logging
import sys

import uvicorn

from decode_userapi.adapters.persistence.database import upgrade
from decode_userapi.adapters.secrets.aws import fetch_secret
from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    try:
        return load_settings(fetch_secret=fetch_secret)
    except SettingsError as exc:
        print(f"decode-userapi: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def serve(args: argparse.Namespace) -> None:
    settings = _settings()
    if args.workers > 1:
        upgrade(settings.database_url)
        uvicorn.run(
            "decode_userapi.entrypoints.cli:app_from_environment",
            factory=True,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=args.workers,
        )
        return
    app = create_app(build_container(settings))
    uvicorn.run(app, host=args.host or settings.host, port=args.port or settings.port)


def app_from_environment() -> object:
    """Used by uvicorn's worker processes (`--workers` > 1); migrations already ran."""
    return create_app(build_container(_settings()), migrate=False)


def migrate(_: argparse.Namespace) -> None:
    upgrade(_settings().database_url)
    print("decode-userapi: database is up to date")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="decode-userapi", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP API (reads .env)")
    serve_parser.add_argument("--host", help="interface to bind (default HOST or 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, help="port (default PORT or 8000)")
    serve_parser.add_argument("--workers", type=int, default=1, help="worker processes")
    serve_parser.set_defaults(run=serve)
    migrate_parser = commands.add_parser("migrate", help="apply database migrations")
    migrate_parser.set_defaults(run=migrate)
    args = parser.parse_args(argv)
    args.run(args)
