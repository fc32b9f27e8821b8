"""`decode-userapi serve`, `migrate`, `cleanup` and `user ...`."""

import argparse
import asyncio
import atexit
import functools
import gc
import getpass
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any, TypeVar

import uvicorn
from dependency_injector import providers
from dotenv import load_dotenv
from prometheus_client import start_http_server
from sqlalchemy.exc import DBAPIError

from decode_userapi.adapters.persistence.database import upgrade
from decode_userapi.adapters.secrets.aws import fetch_secret
from decode_userapi.domain.errors import DomainError, InvalidInput
from decode_userapi.domain.files import human_size
from decode_userapi.domain.quotas import UNLIMITED, Limits, parse_size
from decode_userapi.domain.users import User
from decode_userapi.entrypoints.connections import ConnectionLimits, GuardedHttpToolsProtocol
from decode_userapi.entrypoints.container import (
    Container,
    build_container,
    close_resources,
    open_resources,
)
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.logs import configure_logging, secrets_of, settings_summary
from decode_userapi.entrypoints.metrics import MULTIPROCESS_DIR, exposition_registry
from decode_userapi.entrypoints.settings import Settings, SettingsError, load_settings
from decode_userapi.services.retention import CleanupSummary
from decode_userapi.services.usage import UsageReport, user_named

log = logging.getLogger("decode_userapi")
T = TypeVar("T")


def _settings(*, quiet: bool = False) -> Settings:
    """The settings of the process; `.env` is loaded into the environment first (without
    overriding it), so that what reads the environment itself (boto3's credential
    chain, `AWS_*`) sees it too. Logging is set up from them (`quiet`: warnings only)."""
    load_dotenv(".env", override=False)
    try:
        settings = load_settings(env_file=None, fetch_secret=fetch_secret)
    except SettingsError as exc:
        print(f"decode-userapi: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    level = "WARNING" if quiet else settings.log_level
    configure_logging(level, settings.log_format, secrets_of(settings))
    return settings


def _migrate(settings: Settings) -> None:
    """Apply migrations; an unreachable database stops the command with one line."""
    try:
        upgrade(settings.database_url)
    except (OSError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        database = settings_summary(settings)["database"]
        print(f"decode-userapi: cannot use the database {database}: {reason}", file=sys.stderr)
        raise SystemExit(2) from None


def _start_up_line(settings: Settings, host: str, port: int) -> str:
    line = f"Serving on http://{host}:{port}"
    if settings.auth is True:
        line += " in development mode (AUTH=1: POST /user grants the groups asked for)"
    return line


def _connection_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for slow and idle connections (see `connections`)."""
    limits = ConnectionLimits(
        header_timeout_seconds=settings.http_header_timeout_seconds,
        body_idle_timeout_seconds=settings.http_body_idle_timeout_seconds,
        max_connections=settings.http_max_connections,
    )
    return {
        "http": functools.partial(GuardedHttpToolsProtocol, limits=limits),
        "timeout_keep_alive": settings.http_keep_alive_seconds,
    }


def serve(args: argparse.Namespace) -> None:
    settings = _settings()
    workers = args.workers or settings.workers
    host, port = args.host or settings.host, args.port or settings.port
    log.info(
        "%s with %s worker(s)",
        _start_up_line(settings, host, port),
        workers,
        extra={**settings_summary(settings), "log_level": settings.log_level},
    )
    _migrate(settings)
    if workers > 1 and not os.environ.get(MULTIPROCESS_DIR):
        samples = tempfile.mkdtemp(prefix="decode-metrics-")  # the workers' metric files
        atexit.register(shutil.rmtree, samples, ignore_errors=True)
        os.environ[MULTIPROCESS_DIR] = samples
    _serve_metrics_port(settings)
    uvicorn.run(
        "decode_userapi.entrypoints.cli:app_from_environment"  # one import per worker
        if workers > 1
        else _frozen(create_app(build_container(settings), migrate=False)),
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_config=None,  # uvicorn's lines go through our pipeline (entrypoints/logs.py)
        access_log=False,  # the access line is ours: it has the duration and the user
        # uvloop: measured faster here (benchmarks.throughput), and it keeps TCP_NODELAY on
        # the connections of --workers > 1, which asyncio's loop loses (every keep-alive
        # request after the first then waits ~40 ms for a delayed ACK).
        loop="uvloop",
        **_connection_options(settings),
    )


def _serve_metrics_port(settings: Settings) -> None:
    """`METRICS_PORT`: a separate listener (a thread of this process) for the metrics."""
    if settings.metrics and settings.metrics_port is not None:
        registry = exposition_registry(settings.database_url)
        start_http_server(settings.metrics_port, addr=settings.host, registry=registry)
        log.info("Metrics on http://%s:%s/metrics", settings.host, settings.metrics_port)


def app_from_environment() -> object:
    """Used by uvicorn's worker processes (`--workers` > 1); migrations already ran."""
    return _frozen(create_app(build_container(_settings()), migrate=False))


def _frozen(app: T) -> T:
    """`app`, once every object made so far (modules, the app, its routes) is moved out
    of the garbage collector's sight: its full collections, which requests that make
    many objects (a listing of 2,000 entries) trigger, no longer walk them. Measured: the
    recursive listing of 2,000 entries took a third less time."""
    gc.freeze()
    return app


def migrate(_: argparse.Namespace) -> None:
    _migrate(_settings())
    print("decode-userapi: database is up to date")


def _on_accounts(
    action: Callable[[Container], Awaitable[T]],
    *,
    quiet: bool = True,
    prepare: Callable[[Container], None] = lambda _: None,
) -> T:
    """Migrate (quietly), run `action` with a container, return what it returns; a
    domain error is one line on standard error and exit code 1. `quiet`: log warnings
    only. `prepare` adjusts the container before its resources open."""
    settings = _settings(quiet=quiet)
    _migrate(settings)
    container = build_container(settings)
    prepare(container)

    async def run() -> T:
        await open_resources(container)
        try:
            return await action(container)
        finally:
            await close_resources(container)

    try:
        return asyncio.run(run())
    except DomainError as exc:
        print(f"decode-userapi: {exc.message}", file=sys.stderr)
        raise SystemExit(1) from None


def _describe(user: User) -> str:
    return f"{user.email}: groups {', '.join(user.groups) or '(none)'}"


def _new_password(email: str, given: str | None) -> str:
    return given or getpass.getpass(f"Password for {email}: ")


def add_user(args: argparse.Namespace) -> None:
    password = _new_password(args.email, args.password)
    print(
        _describe(_on_accounts(lambda c: c.register_user()(args.email, password, args.group or [])))
    )


def change_groups(args: argparse.Namespace) -> None:
    print(
        _describe(
            _on_accounts(
                lambda c: c.change_groups()(
                    args.email, add=args.add or [], remove=args.remove or []
                )
            )
        )
    )


def list_users(_: argparse.Namespace) -> None:
    for user in _on_accounts(lambda c: c.list_users()()):
        print(_describe(user))


def delete_user(args: argparse.Namespace) -> None:
    _on_accounts(lambda c: c.delete_user()(args.email))
    print(f"{args.email}: deleted")


def set_password(args: argparse.Namespace) -> None:
    password = _new_password(args.email, args.password)
    _on_accounts(lambda c: c.set_password()(args.email, password))
    print(f"{args.email}: password changed")


_QUOTA_FIELDS = {"bytes": "storage", "files": "files", "jobs": "running jobs"}


def _limit(text: str, *, size: bool) -> int | None:
    """An override from the command line: `default` (None), `unlimited`, or a number
    (a size such as 500G for bytes)."""
    word = text.strip().lower()
    if word == "default":
        return None
    if word == "unlimited":
        return UNLIMITED
    try:
        value = parse_size(text) if size else int(text)
    except (InvalidInput, ValueError):
        kind = "a size such as 500G or 10GiB" if size else "a whole number"
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {kind}, 'unlimited' or 'default'"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is below 0")
    return value


def _shown(value: int | None, *, size: bool) -> str:
    if value is None:
        return "unlimited"
    return human_size(value) if size else str(value)


def _describe_quota(email: str, report: UsageReport) -> str:
    account = report.account
    usage, limits, overrides = account.usage, account.limits, account.overrides
    used = {
        "bytes": human_size(usage.used_bytes + usage.reserved_bytes),
        "files": str(usage.used_files + usage.reserved_files),
        "jobs": str(report.running_jobs),
    }
    parts = []
    for field, label in _QUOTA_FIELDS.items():
        attribute = "running_jobs" if field == "jobs" else field
        limit = getattr(limits, attribute)
        origin = "default" if getattr(overrides, attribute) is None else "set for this user"
        parts.append(f"{label} {used[field]} of {_shown(limit, size=field == 'bytes')} ({origin})")
    return f"{email}: " + ", ".join(parts)


def set_quota(args: argparse.Namespace) -> None:
    async def run(container: Container) -> str:
        user, account = await container.set_quota()(args.email, None)
        if args.reset or any(v is not False for v in (args.bytes, args.files, args.jobs)):
            current = Limits() if args.reset else account.overrides
            changed = Limits(
                bytes=current.bytes if args.bytes is False else args.bytes,
                files=current.files if args.files is False else args.files,
                running_jobs=current.running_jobs if args.jobs is False else args.jobs,
            )
            await container.set_quota()(args.email, changed)
        return _describe_quota(user.email or args.email, await container.describe_usage()(user.id))

    print(_on_accounts(run))


def show_usage(args: argparse.Namespace) -> None:
    async def run(container: Container) -> list[str]:
        users = await container.account_directory().list_users()
        emails = {user.id: user.email or user.id for user in users}
        if args.email:
            ids = [(await user_named(container.account_directory(), args.email)).id]
        else:
            ids = await container.recount_usage().user_ids()
        lines = []
        for user_id in ids:
            name = emails.get(user_id, user_id)
            if args.recompute:
                found, before = await container.recount_usage()(user_id)
                lines.append(
                    f"{name}: {human_size(found.bytes)} in {found.files} files (tracked "
                    f"before: {human_size(before.usage.used_bytes)} in "
                    f"{before.usage.used_files} files)"
                )
            else:
                lines.append(_describe_quota(name, await container.describe_usage()(user_id)))
        return lines

    for line in _on_accounts(run):
        print(line)


def cleanup(args: argparse.Namespace) -> None:
    def no_silent_staging_cleanup(container: Container) -> None:
        # The cleanup's own sweep of the staging folder logs what it removes (and a dry
        # run removes nothing): the storage does not clean it silently when it opens.
        container.staging_cleaned_at_open.override(providers.Object(False))

    async def run(container: Container) -> CleanupSummary:
        return await container.cleanup()(dry_run=args.dry_run)

    summary = _on_accounts(run, quiet=False, prepare=no_silent_staging_cleanup)
    verb = "would remove" if summary.dry_run else "removed"
    kinds = dict.fromkeys(["job", *(removal.kind for removal in summary.removals)])
    counted = []
    for kind in kinds:  # jobs first, then each kind of removal in the order met
        count, freed = summary.count(kind)
        counted.append(f"{count} {kind}(s) ({human_size(freed)})")
    print(
        f"decode-userapi cleanup: {verb} {', '.join(counted)}; usage of "
        f"{summary.users_recounted} user(s) recounted, {summary.usage_corrected} "
        f"{'would be ' if summary.dry_run else ''}corrected"
    )


def _add_quota_commands(
    user_commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    quota = user_commands.add_parser(
        "quota",
        help="show a user's quotas and usage, or set them (each option: a value, "
        "'unlimited', or 'default' for QUOTA_BYTES/QUOTA_FILES/QUOTA_RUNNING_JOBS)",
    )
    quota.add_argument("email")
    quota.add_argument(
        "--bytes",
        type=functools.partial(_limit, size=True),
        default=False,
        help="storage quota: bytes or a size such as 500G (decimal) or 10GiB (binary)",
    )
    quota.add_argument(
        "--files", type=functools.partial(_limit, size=False), default=False, help="files"
    )
    quota.add_argument(
        "--jobs",
        type=functools.partial(_limit, size=False),
        default=False,
        help="jobs not finished or failed",
    )
    quota.add_argument("--reset", action="store_true", help="back to the defaults (all three)")
    quota.set_defaults(run=set_quota)
    usage = user_commands.add_parser(
        "usage", help="usage and quotas of one user (EMAIL) or of every user"
    )
    usage.add_argument("email", nargs="?")
    usage.add_argument(
        "--recompute",
        action="store_true",
        help="recount what the storage holds and make it the tracked usage",
    )
    usage.set_defaults(run=show_usage)


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
    listing = user_commands.add_parser("list", help="every account with its groups")
    listing.set_defaults(run=list_users)
    delete = user_commands.add_parser("delete", help="remove an account")
    delete.add_argument("email")
    delete.set_defaults(run=delete_user)
    passwd = user_commands.add_parser("passwd", help="set an account's password")
    passwd.add_argument("email")
    passwd.add_argument("--password", help="the new password (asked for when not given)")
    passwd.set_defaults(run=set_password)
    _add_quota_commands(user_commands)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="decode-userapi", description=__doc__)
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version('decode-userapi')}"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP API (reads .env)")
    serve_parser.add_argument("--host", help="interface to bind (default HOST or 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, help="port (default PORT or 8000)")
    serve_parser.add_argument(
        "--workers", type=int, help="worker processes (default WORKERS, WEB_CONCURRENCY or 1)"
    )
    serve_parser.set_defaults(run=serve)
    migrate_parser = commands.add_parser("migrate", help="apply database migrations")
    migrate_parser.set_defaults(run=migrate)
    _add_user_commands(commands)
    cleanup_parser = commands.add_parser(
        "cleanup",
        help="remove expired jobs (JOB_RETENTION_DAYS) with their results, abandoned "
        "uploads, and recount every user's usage",
    )
    cleanup_parser.add_argument(
        "--dry-run", action="store_true", help="only report what would be removed"
    )
    cleanup_parser.set_defaults(run=cleanup)
    args = parser.parse_args(argv)
    args.run(args)
