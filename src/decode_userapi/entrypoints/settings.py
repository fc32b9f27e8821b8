"""Configuration from environment variables (and a `.env` file), checked once at start.

Each setting is one field of `Settings`: its name in capitals is its variable (the few
exceptions are in `_VARIABLES`), its type and `Meta` constraints say what it accepts, a
`parsed(...)` marker gives the rare one its own parser. `load_settings` resolves secrets,
converts the environment in one `msgspec.convert`, then applies the rules that tie
settings together (`_checked`). A wrong or missing value stops the start with
`SettingsError`, whose one-line message names the variable.
"""

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from dotenv import dotenv_values
from msgspec import Meta, inspect

from decode_userapi.adapters.catalog.sources import S3_SCHEME, parse_s3_location
from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.quotas import parse_size

GIB = 1024**3
DEV_FRONTEND_ORIGIN = "http://localhost:8080"
"""Where the browser frontend's development server runs (`npm run serve`)."""
DEFAULT_PORTS = {"http": 80, "https": 443}


class SettingsError(Exception):
    """A configuration problem, worded for the operator."""


SecretFetcher = Callable[[str], str]
"""Turns a secret's ARN into its value (Secrets Manager); injected so parsing stays pure."""


def parsed(parse: Callable[[str], object], **constraints: Any) -> Meta:
    """A field whose variable needs its own parser: `parse` gets the stripped text and
    raises ValueError with a sentence saying what is wrong."""
    return Meta(extra={"parse": parse}, **constraints)


SECRET = Meta(extra={"secret": True})
"""A secret: given as is, as JSON `{"password": ...}`, or as a Secrets Manager ARN."""
DERIVED = Meta(extra={"derived": True})
"""Not read from a variable of its own: set from others by `_checked`."""
Positive = Annotated[int, Meta(ge=1)]
Count = Annotated[int, Meta(ge=0)]


def _seconds(text: str) -> float:
    """A duration above 0 in seconds, fractions allowed (not `inf` or `nan`)."""
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not 0 < number < float("inf"):
        raise ValueError(f"must be a number of seconds above 0, not {text!r}.")
    return number


Seconds = Annotated[float, parsed(_seconds)]
Secret = Annotated[str | None, SECRET]


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of `url`, lower-cased, without a default port; None when
    `url` has no http(s) scheme and host (e.g. the `null` origin)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = "" if port in (None, DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{shown_port}"


def _origins(text: str) -> tuple[str, ...]:
    """Comma-separated origins such as `https://decode.example.org`, normalised."""
    origins = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        origin, parts = origin_of(item), urlsplit(item)
        if origin is None or parts.path not in ("", "/") or parts.query or parts.username:
            raise ValueError(
                "must be origins like https://decode.example.org (scheme and host, optional "
                f"port, no path), separated by commas; {item!r} is not one."
            )
        origins.append(origin)
    return tuple(origins)


def frontend_origins(value: str | None, *, cognito: bool) -> tuple[str, ...]:
    """`FRONTEND_URL`; unset, the frontend's development server, but none with Cognito."""
    if value is None:
        return () if cognito else (DEV_FRONTEND_ORIGIN,)
    try:
        return _origins(value)
    except ValueError as exc:
        raise SettingsError(f"FRONTEND_URL {exc}") from None


def _public_url(raw: str) -> str:
    """An http(s) URL without query, kept without its trailing slash."""
    parts = urlsplit(raw)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.query:
        raise ValueError(f"must look like https://host[:port][/path], not {raw!r}.")
    return raw.rstrip("/")


def _size(text: str) -> int:
    """Bytes, as a whole number or with a unit (`500G`, `500GB`, `10GiB`)."""
    try:
        return parse_size(text)
    except InvalidInput:
        raise ValueError(
            f"must be a size in bytes or with a unit such as 500G or 10GiB, not {text!r}."
        ) from None


Size = Annotated[int, parsed(_size, ge=1)]


def _host_names(raw: str) -> tuple[str, ...]:
    """Comma-separated host names (no port), lower-cased."""
    return tuple(name.strip().lower().strip("[]") for name in raw.split(",") if name.strip())


def _registry_location(location: str) -> str:
    """A local path, or an S3 object as `s3://bucket/key`."""
    if location.startswith(S3_SCHEME):
        try:
            parse_s3_location(location)
        except ValueError:
            raise ValueError(f"must look like s3://bucket/key, not {location}.") from None
    return location


_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def _async_driver(url: str) -> str:
    """Sync driver URLs mapped to their async drivers (the `{}` placeholder stays)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"must look like scheme://..., not {url!r}.")
    if scheme not in _DRIVERS:
        raise ValueError(f"must be a sqlite:// or postgresql:// URL, not {scheme}://.")
    return f"{_DRIVERS[scheme]}://{rest}"


_VARIABLES = {"internal_api_key": "INTERNAL_API_KEY_SECRET", "frontend_urls": "FRONTEND_URL"}
"""Settings whose variable is not their name in capitals."""


def _variable(name: str) -> str:
    return _VARIABLES.get(name, name.upper())


class Settings(msgspec.Struct, frozen=True, kw_only=True, rename=_variable):
    # Deployment
    auth: bool | None = None
    """`AUTH`: None when unset (the identity back-end then picks its default)."""
    host: str = "127.0.0.1"
    port: Positive = 8000
    http_header_timeout_seconds: Positive = 10
    """A request's headers must arrive within this, trickled or not."""
    http_body_idle_timeout_seconds: Positive = 30
    """A request body that stops arriving for this long closes the connection."""
    http_keep_alive_seconds: Positive = 5
    """An idle connection between requests is closed after this."""
    http_max_connections: Positive = 500
    """Open connections per process; above it the longest idle ones are closed."""
    sse_keepalive_seconds: Seconds = 15.0
    """An event stream with nothing to say sends a comment this often (so proxies keep it
    open) and reads the events table again."""
    live_streams_max: Positive = 200
    """Open event streams and log follows per process; keep it well below
    `HTTP_MAX_CONNECTIONS`, since an open stream is never closed to make room."""
    job_log_poll_seconds: Seconds = 2.0
    """How often `GET /jobs/{id}/log?follow=true` looks for new log bytes in the storage."""
    public_url: Annotated[str | None, parsed(_public_url)] = None
    """`PUBLIC_URL`: this API's address as clients reach it (`https://api.example.org`);
    the base of the URLs `/files/.../url` answers. None: taken from the request."""
    allowed_hosts: Annotated[tuple[str, ...], parsed(_host_names)] = (
        "localhost",
        "127.0.0.1",
        "::1",
    )
    """`ALLOWED_HOSTS`: `Host` names the request may be trusted with when `PUBLIC_URL` is
    unset (to build URLs, and as this API's own origin); `*` trusts any."""
    frontend_urls: Annotated[tuple[str, ...], DERIVED] = (DEV_FRONTEND_ORIGIN,)
    """`FRONTEND_URL`: the browser origins CORS allows, with credentials. Unset: the
    frontend's development server on the embedded default, none with Cognito."""
    workers: Annotated[int, Meta(ge=1, extra={"or": "WEB_CONCURRENCY"})] = 1
    """`WORKERS` or `WEB_CONCURRENCY`: server processes (`serve --workers` overrides)."""
    # Operations
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["console", "json"] | None = None
    """`LOG_FORMAT`: None (unset) means text on a terminal, JSON otherwise."""
    metrics: bool = True
    """`METRICS=0` turns `/metrics` off."""
    metrics_port: Positive | None = None
    """`METRICS_PORT`: serve metrics on this port instead of the API's `/metrics`."""
    # Data
    filesystem: Literal["local", "s3", "memory"] = "local"
    """`memory`: files in this process's memory, lost when it ends (tests)."""
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    user_data_root_path: str = "./data/user_data"
    max_upload_bytes: Size = 10 * GIB
    """Bytes, or a size such as `10GiB`."""
    presigned_url_expiry_seconds: Positive = 600
    resumable_upload_expiry_seconds: Positive = 24 * 3600
    """A resumable or multipart upload idle this long is aborted and its bytes removed."""
    # Quotas and retention (None: unlimited, or off)
    quota_bytes: Size | None = None
    """Default storage quota per user (`500G`, `10GiB` or bytes)."""
    quota_files: Count | None = None
    """Default number of files per user."""
    quota_running_jobs: Count | None = None
    """Default number of jobs per user not yet finished or failed."""
    job_retention_days: Count | None = None
    """`cleanup` deletes jobs that ended longer ago, with their results."""
    cleanup_interval_seconds: Positive | None = None
    """`serve` runs the cleanup this often (off when unset)."""
    staging_grace_seconds: Positive = 3600
    """A staged upload untouched this long is abandoned."""
    # Database
    database_url: Annotated[str, parsed(_async_driver)] = "sqlite+aiosqlite:///./data/sql_app.db"
    """`DATABASE_URL`, on its async driver; a `{}` in it is filled from `DATABASE_SECRET`."""
    database_secret: Secret = None
    database_pool_size: Positive = 5
    """PostgreSQL connections kept open per process."""
    database_max_overflow: Count = 10
    """Extra PostgreSQL connections opened under load, closed when idle."""
    # Worker-facing API
    workerfacing_api_url: Annotated[str, parsed(lambda url: url.rstrip("/"))] = (
        "http://127.0.0.1:8001"
    )
    """`memory://`: jobs are kept in a list instead of being sent (tests)."""
    internal_api_key: Secret = None
    """`INTERNAL_API_KEY_SECRET`."""
    # Identity
    identity: Annotated[Literal["local", "cognito"], DERIVED] = "local"
    """`cognito` when `COGNITO_USER_POOL_ID` is set."""
    local_identity_key_path: str = "./data/identity_key.pem"
    local_identity_issuer: str = "decode-userapi-local"
    local_identity_audience: str = "decode-userapi"
    token_lifetime_seconds: Annotated[int, Meta(ge=60)] = 3600
    password_hash_workers: Positive = 2
    """Threads that hash passwords (each hash holds 19 MiB while it runs)."""
    password_hash_queue: Count = 16
    """Hashes that may wait for a thread; beyond it sign-ins get 503 with Retry-After."""
    sign_in_failure_window_seconds: Positive = 900
    sign_in_max_failures_per_account: Positive = 10
    sign_in_max_failures_per_address: Positive = 100
    idempotency_key_ttl: Positive = 86400
    """Seconds an `Idempotency-Key` of `POST /jobs` is kept (then the key may be reused)."""
    cognito_client_id: str | None = None
    cognito_secret: Secret = None
    cognito_user_pool_id: str | None = None
    cognito_region: str | None = None
    cognito_endpoint_url: str | None = None
    # Applications
    application_config_file: Annotated[str, parsed(_registry_location)] = (
        "./application_config.yaml"
    )
    # Email
    email_sender_service: Literal["mailjet", "memory"] | None = None
    """Unset: a log line; `memory`: kept in a list (tests)."""
    email_sender_address: str | None = None
    email_sender_api_key: str | None = None
    email_sender_secret_key: Secret = None
    mailjet_api_url: str | None = None

    @property
    def self_registration(self) -> bool:
        """Whether `POST /user` is mounted.

        With the local identity provider sign-in routes are how people log in, so
        they are on unless `AUTH=0`; with Cognito they are development-only (`AUTH=1`).
        """
        if self.identity == "local":
            return self.auth is not False
        return self.auth is True

    @property
    def sign_up_chooses_groups(self) -> bool:
        """Whether `POST /user` grants the groups asked for (default `users`): only in
        development (`AUTH=1`). Otherwise a new account has no group until an operator
        approves it."""
        return self.auth is True

    @property
    def sign_in_routes(self) -> bool:
        """Whether `POST /token` and `POST /login` are mounted."""
        return self.identity == "local" or self.auth is True

    @property
    def worker_gateway(self) -> Literal["http", "memory"]:
        return "memory" if self.workerfacing_api_url.startswith("memory:") else "http"

    def secrets(self) -> list[str | None]:
        """The values of the secret settings (never to be logged)."""
        return [getattr(self, field.name) for field in _FIELDS if field.secret]


def _checked(settings: Settings, env: Mapping[str, str]) -> Settings:
    """The rules that tie settings together, and the settings set from others."""

    def required(*names: str, why: str) -> None:
        for name in names:
            if name not in env:
                raise SettingsError(f"{name} must be set {why}.")

    if settings.filesystem == "s3":
        required("S3_BUCKET", why="when FILESYSTEM=s3")
    cognito = settings.cognito_user_pool_id is not None
    if cognito:
        required("COGNITO_CLIENT_ID", "COGNITO_REGION", why="when COGNITO_USER_POOL_ID is set")
    if settings.email_sender_service == "mailjet":
        required(
            "EMAIL_SENDER_ADDRESS",
            "EMAIL_SENDER_API_KEY",
            "EMAIL_SENDER_SECRET_KEY",
            why="when EMAIL_SENDER_SERVICE=mailjet",
        )
    database_url = settings.database_url
    if "{}" in database_url:
        if settings.database_secret is None:
            raise SettingsError("DATABASE_URL has a {} placeholder but DATABASE_SECRET is not set.")
        database_url = database_url.replace("{}", settings.database_secret)
    return msgspec.structs.replace(
        settings,
        identity="cognito" if cognito else "local",
        frontend_urls=frontend_origins(env.get("FRONTEND_URL"), cognito=cognito),
        database_url=database_url,
    )


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | Path | None = ".env",
    fetch_secret: SecretFetcher | None = None,
) -> Settings:
    """Read settings from `environ` (default: the process environment) over `env_file`."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    env = {name: value.strip() for name, value in values.items() if name in VARIABLES}
    env = {name: value for name, value in env.items() if value}
    for field in _FIELDS:
        if field.secret and field.variable in env:
            env[field.variable] = _secret(field.variable, env[field.variable], fetch_secret)
    return _checked(_convert(env), env)


class _Field:
    """What `load_settings` needs to know of a field: its variable(s) and how its text
    is turned into what `msgspec.convert` takes."""

    def __init__(self, field: inspect.Field) -> None:
        self.name = field.name
        self.type, extra = _unwrap(field.type)
        self.variable = field.encode_name
        self.variables = (field.encode_name, *([extra["or"]] if "or" in extra else []))
        self.parse: Callable[[str], object] | None = extra.get("parse")
        self.secret = bool(extra.get("secret"))
        self.derived = bool(extra.get("derived"))

    def decoded(self, text: str) -> object:
        if self.parse is not None:
            return self.parse(text)
        if isinstance(self.type, inspect.BoolType):
            return _FLAGS.get(text.lower(), text)
        if isinstance(self.type, inspect.LiteralType):
            return next((v for v in self.type.values if str(v).lower() == text.lower()), text)
        return text

    def problem(self, variable: str, text: str) -> str:
        """Why `text` is not a value of this field (one line, naming `variable`)."""
        kind = self.type
        if isinstance(kind, inspect.BoolType):
            return f"{variable} must be 1 or 0, not {text!r}."
        if isinstance(kind, inspect.LiteralType):
            allowed = ", ".join(str(value).lower() for value in kind.values)
            return f"{variable} must be one of {allowed}, not {text!r}."
        if isinstance(kind, inspect.IntType):
            if not re.fullmatch(r"[+-]?\d+", text):
                return f"{variable} must be a whole number, not {text!r}."
            return f"{variable} must be at least {kind.ge}, not {int(text)}."
        return f"{variable} is not valid: {text!r}."


_FLAGS = dict.fromkeys(("1", "true", "yes", "on"), True) | dict.fromkeys(
    ("0", "false", "no", "off"), False
)


def _unwrap(kind: inspect.Type) -> tuple[inspect.Type, dict[str, Any]]:
    """The type under `Annotated` metadata and `| None`, and the metadata's `extra`."""
    extra: dict[str, Any] = {}
    while True:
        if isinstance(kind, inspect.Metadata):
            extra |= kind.extra or {}
            kind = kind.type
        elif isinstance(kind, inspect.UnionType):
            kind = next(t for t in kind.types if not isinstance(t, inspect.NoneType))
        else:
            return kind, extra


_STRUCT = inspect.type_info(Settings)
assert isinstance(_STRUCT, inspect.StructType)
_FIELDS = [_Field(field) for field in _STRUCT.fields]
VARIABLES = frozenset(
    [
        *(name for field in _FIELDS if not field.derived for name in field.variables),
        *_VARIABLES.values(),
    ]
)
"""Every variable the settings are read from."""


def _convert(env: Mapping[str, str]) -> Settings:
    """`Settings` from the variables, in one `msgspec.convert` (strings to numbers in its
    lax mode); a value that does not fit is named."""
    given: dict[str, object] = {}
    read_from: dict[str, tuple[str, str]] = {}
    for field in _FIELDS:
        variable = next((name for name in field.variables if name in env), None)
        if field.derived or variable is None:
            continue
        try:
            given[field.variable] = field.decoded(env[variable])
        except ValueError as exc:
            raise SettingsError(f"{variable} {exc}") from None
        read_from[field.variable] = (variable, env[variable])
    try:
        return msgspec.convert(given, Settings, strict=False)
    except msgspec.ValidationError as exc:
        at = re.search(r"at `\$\.(\w+)`", str(exc))
        field = next(f for f in _FIELDS if at and f.variable == at.group(1))
        raise SettingsError(field.problem(*read_from[field.variable])) from None


def _secret(name: str, value: str, fetch_secret: SecretFetcher | None) -> str:
    """A secret given as is, as JSON `{"password": ...}`, or as a Secrets Manager ARN."""
    if value.startswith("arn:"):
        if fetch_secret is None:
            raise SettingsError(f"{name} is a secret ARN, but no secret store is configured.")
        try:
            value = fetch_secret(value)
        except Exception as exc:
            raise SettingsError(f"{name}: could not fetch the secret {value}: {exc}") from None
    return _unwrap_secret(name, value)


def _unwrap_secret(name: str, value: str) -> str:
    """Secrets Manager hands JSON secrets to containers as `{"password": "..."}`."""
    if not value.lstrip().startswith("{"):
        return value
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    if not isinstance(decoded, dict) or not isinstance(decoded.get("password"), str):
        raise SettingsError(f'{name} is JSON but has no string "password" field.')
    password: str = decoded["password"]
    return password
