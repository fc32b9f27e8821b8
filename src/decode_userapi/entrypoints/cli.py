"""`decode-userapi serve`, `decode-userapi migrate` and `decode-userapi user ...`."""

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable

import uvicorn
from dotenv import load_dotenv
from litestar import Litestar

from decode_userapi.adapters.persistence.database import upgrade
from decode_userapi.adapters.secrets.aws import fetch_secret
from decode_userapi.domain.errors import DomainError
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.container import Container, build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    """The settings of the process; `.env` is loaded into the environment first (without
    overriding it), so that what reads the environment itself (boto3's credential
    chain, `AWS_*`) sees it too."""
    load_dotenv(".env", override=False)
    try:
        return load_settings(env_file=None, fetch_secret=fetch_secret)
    except SettingsError as exc:
        print(f"decode-userapi: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def serve(args: argparse.Namespace) -> None:
    settings = _settings()
    host, port = args.host or settings.host, args.port or settings.port
    if args.workers > 1:
        upgrade(settings.database_url)
        run_server(
            "decode_userapi.entrypoints.cli:app_from_environment",
            host=host,
            port=port,
            workers=args.workers,
        )
        return
    run_server(create_app(build_container(settings)), host=host, port=port)


def run_server(app: Litestar | str, *, host: str, port: int, workers: int = 1) -> None:
    """The ASGI server: uvicorn on uvloop with the httptools parser (measured fastest
    here, see `benchmarks.throughput`; uvloop also keeps `TCP_NODELAY` on the
    connections of `--workers` > 1, which asyncio's loop loses and then answers every
    keep-alive request after ~40 ms). A string names a factory of the app."""
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        host=host,
        port=port,
        workers=workers if isinstance(app, str) else None,
        loop="uvloop",
        http="httptools",
    )


def app_from_environment() -> object:
    """Used by uvicorn's worker processes (`--workers` > 1); migrations already ran."""
    return create_app(build_container(_settings()), migrate=False)


def migrate(_: argparse.Namespace) -> None:
    upgrade(_settings().database_url)
    print("decode-userapi: database is up to date")


def _run_on_accounts(action: Callable[[Container], Awaitable[User]]) -> None:
    """Migrate, run `action` with a container, print the account it returns."""
    settings = _settings()
    upgrade(settings.database_url)
    container = build_container(settings)

    async def run() -> User:
        try:
            return await action(container)
        finally:
            await container.engine().dispose()

    try:
        user = asyncio.run(run())
    except DomainError as exc:
        print(f"decode-userapi: {exc.message}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"{user.email}: groups {', '.join(user.groups) or '(none)'}")


def add_user(args: argparse.Namespace) -> None:
    password = args.password or getpass.getpass(f"Password for {args.email}: ")
    _run_on_accounts(lambda c: c.register_user()(args.email, password, args.group or []))


def change_groups(args: argparse.Namespace) -> None:
    _run_on_accounts(
        lambda c: c.change_groups()(args.email, add=args.add or [], remove=args.remove or [])
    )


def _add_user_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    user_parser = commands.add_parser("user", help="manage accounts (sign-up and groups)")
    user_commands = user_parser.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create an account (default group: users)")
    add.add_argument("email")
    add.add_argument("--password", help="the password (asked for when not given)")
    add.add_argument(
        "--group", action="append", help="a group (users, workers, cloud); repeat for several"
    )
    add.set_defaults(run=add_user)
    groups = user_commands.add_parser(
        "groups", help="add an account to groups or remove it (approve a user: --add users)"
    )
    groups.add_argument("email")
    groups.add_argument("--add", action="append", help="a group to add; repeat for several")
    groups.add_argument("--remove", action="append", help="a group to remove; repeat for several")
    groups.set_defaults(run=change_groups)


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
    _add_user_commands(commands)
    args = parser.parse_args(argv)
    args.run(args)
