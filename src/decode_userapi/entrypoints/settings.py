"""Configuration from environment variables (and a `.env` file), checked once at start.

Every variable of the contract is read here. A wrong or missing value stops the start
with `SettingsError`, whose message names the variable.
"""

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import msgspec
from dotenv import dotenv_values

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.quotas import parse_size

GIB = 1024**3
DEV_FRONTEND_ORIGIN = "http://localhost:8080"
"""Where the browser frontend's development server runs (`npm run serve`)."""
_ORIGIN = re.compile(r"https?://[^/\s,]+")


class SettingsError(Exception):
    """A configuration problem, worded for the operator."""


SecretFetcher = Callable[[str], str]
"""Turns a secret's ARN into its value (Secrets Manager); injected so parsing stays pure."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # Deployment
    auth: bool | None = None
    """`AUTH`: None when unset (the identity back-end then picks its default)."""
    host: str = "127.0.0.1"
    port: int = 8000
    http_header_timeout_seconds: int = 10
    """A request's headers must arrive within this, trickled or not."""
    http_body_idle_timeout_seconds: int = 30
    """A request body that stops arriving for this long closes the connection."""
    http_keep_alive_seconds: int = 5
    """An idle connection between requests is closed after this."""
    http_max_connections: int = 500
    """Open connections per process; above it the longest idle ones are closed."""
    sse_keepalive_seconds: float = 15.0
    """`SSE_KEEPALIVE_SECONDS`: an event stream with nothing to say sends a comment this
    often (so proxies keep it open) and reads the events table again."""
    live_streams_max: int = 200
    """`LIVE_STREAMS_MAX`: open event streams and log follows per process; keep it well
    below `HTTP_MAX_CONNECTIONS`, since an open stream is never closed to make room."""
    job_log_poll_seconds: float = 2.0
    """`JOB_LOG_POLL_SECONDS`: how often `GET /jobs/{id}/log?follow=true` looks for new
    log bytes in the storage."""
    public_url: str | None = None
    """`PUBLIC_URL`: this API's address as clients reach it (`https://api.example.org`);
    the base of the URLs `/files/.../url` answers. None: taken from the request."""
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
    """`ALLOWED_HOSTS`: `Host` names the request may be trusted with when `PUBLIC_URL` is
    unset (to build URLs, and as this API's own origin); `*` trusts any."""
    frontend_urls: tuple[str, ...] = (DEV_FRONTEND_ORIGIN,)
    """`FRONTEND_URL`: the browser origins CORS allows, with credentials. Unset: the
    frontend's development server on the embedded default, none with Cognito."""
    workers: int = 1
    """`WORKERS` or `WEB_CONCURRENCY`: server processes (`serve --workers` overrides)."""
    # Operations
    log_level: str = "INFO"
    log_format: Literal["console", "json"] | None = None
    """`LOG_FORMAT`: None (unset) means text on a terminal, JSON otherwise."""
    metrics: bool = True
    """`METRICS=0` turns `/metrics` off."""
    metrics_port: int | None = None
    """`METRICS_PORT`: serve metrics on this port instead of the API's `/metrics`."""
    # Data
    filesystem: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    user_data_root_path: str = "./data/user_data"
    max_upload_bytes: int = 10 * GIB
    presigned_url_expiry_seconds: int = 600
    # Quotas and retention (None: unlimited, or off)
    quota_bytes: int | None = None
    """`QUOTA_BYTES`: default storage quota per user (`500G`, `10GiB` or bytes)."""
    quota_files: int | None = None
    """`QUOTA_FILES`: default number of files per user."""
    quota_running_jobs: int | None = None
    """`QUOTA_RUNNING_JOBS`: default number of jobs per user not yet finished or failed."""
    job_retention_days: int | None = None
    """`JOB_RETENTION_DAYS`: `cleanup` deletes jobs that ended longer ago, with their
    results."""
    cleanup_interval_seconds: int | None = None
    """`CLEANUP_INTERVAL_SECONDS`: `serve` runs the cleanup this often (off when unset)."""
    staging_grace_seconds: int = 3600
    """`STAGING_GRACE_SECONDS`: a staged upload untouched this long is abandoned."""
    resumable_upload_expiry_seconds: int = 24 * 3600
    """`RESUMABLE_UPLOAD_EXPIRY_SECONDS`: a resumable or multipart upload idle this long is
    aborted and its bytes removed."""
    # Database
    database_url: str = "sqlite+aiosqlite:///./data/sql_app.db"
    database_pool_size: int = 5
    """PostgreSQL connections kept open per process."""
    database_max_overflow: int = 10
    """Extra PostgreSQL connections opened under load, closed when idle."""
    # Worker-facing API
    workerfacing_api_url: str = "http://127.0.0.1:8001"
    internal_api_key: str | None = None
    # Identity
    identity: Literal["local", "cognito"] = "local"
    local_identity_key_path: str = "./data/identity_key.pem"
    local_identity_issuer: str = "decode-userapi-local"
    local_identity_audience: str = "decode-userapi"
    token_lifetime_seconds: int = 3600
    password_hash_workers: int = 2
    """Threads that hash passwords (each hash holds 19 MiB while it runs)."""
    password_hash_queue: int = 16
    """Hashes that may wait for a thread; beyond it sign-ins get 503 with Retry-After."""
    sign_in_failure_window_seconds: int = 900
    sign_in_max_failures_per_account: int = 10
    sign_in_max_failures_per_address: int = 100
    idempotency_key_ttl: int = 86400
    """Seconds an `Idempotency-Key` of `POST /jobs` is kept (then the key may be reused)."""
    cognito_client_id: str | None = None
    cognito_secret: str | None = None
    cognito_user_pool_id: str | None = None
    cognito_region: str | None = None
    cognito_endpoint_url: str | None = None
    # Applications
    application_config_file: str = "./application_config.yaml"
    # Email
    email_sender_service: Literal["mailjet"] | None = None
    email_sender_address: str | None = None
    email_sender_api_key: str | None = None
    email_sender_secret_key: str | None = None
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
    return _parse(_Reader(values, fetch_secret))


class _Reader:
    def __init__(self, values: Mapping[str, str], fetch_secret: SecretFetcher | None) -> None:
        self._values = values
        self._fetch_secret = fetch_secret

    def text(self, name: str) -> str | None:
        value = self._values.get(name, "").strip()
        return value or None

    def required(self, name: str, why: str) -> str:
        value = self.text(name)
        if value is None:
            raise SettingsError(f"{name} must be set {why}.")
        return value

    def flag(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be 1 or 0, not {value!r}.")

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not {value!r}.") from None
        if number < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, not {number}.")
        return number

    def seconds(self, name: str, default: float) -> float:
        """A duration above 0, in seconds (fractions allowed)."""
        value = self.text(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise SettingsError(f"{name} must be a number of seconds, not {value!r}.") from None
        if not 0 < number < float("inf"):
            raise SettingsError(f"{name} must be a number of seconds above 0, not {value!r}.")
        return number

    def size(self, name: str) -> int | None:
        """Bytes, given as a whole number or with a unit (`500G`, `500GB`, `10GiB`)."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return parse_size(value)
        except InvalidInput:
            raise SettingsError(
                f"{name} must be a size in bytes or with a unit such as 500G or 10GiB, "
                f"not {value!r}."
            ) from None

    def optional_integer(self, name: str, *, minimum: int = 0) -> int | None:
        if self.text(name) is None:
            return None
        return self.integer(name, 0, minimum=minimum)

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
        return value.lower()

    def secret(self, name: str) -> str | None:
        """A secret given as is, as JSON `{"password": ...}`, or as a Secrets Manager ARN."""
        value = self.text(name)
        if value is None:
            return None
        if value.startswith("arn:"):
            if self._fetch_secret is None:
                raise SettingsError(f"{name} is a secret ARN, but no secret store is configured.")
            try:
                value = self._fetch_secret(value)
            except SettingsError:
                raise
            except Exception as exc:
                raise SettingsError(f"{name}: could not fetch the secret {value}: {exc}") from None
        return unwrap_secret(name, value)


def unwrap_secret(name: str, value: str) -> str:
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


def async_database_url(raw: str, secret: str | None) -> str:
    """Fill the `{}` placeholder and map sync driver URLs to their async drivers."""
    url = raw
    if "{}" in url:
        if secret is None:
            raise SettingsError("DATABASE_URL has a {} placeholder but DATABASE_SECRET is not set.")
        url = url.replace("{}", secret)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise SettingsError(f"DATABASE_URL must look like scheme://..., not {raw!r}.")
    drivers = {
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+psycopg2": "postgresql+asyncpg",
        "postgresql+asyncpg": "postgresql+asyncpg",
    }
    if scheme not in drivers:
        raise SettingsError(
            f"DATABASE_URL must be a sqlite:// or postgresql:// URL, not {scheme}://."
        )
    return f"{drivers[scheme]}://{rest}"


def frontend_origins(value: str | None, *, cognito: bool) -> tuple[str, ...]:
    """`FRONTEND_URL`: comma-separated origins such as `https://decode.example.org`."""
    if value is None:
        return () if cognito else (DEV_FRONTEND_ORIGIN,)
    origins = tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                "FRONTEND_URL must be origins like https://decode.example.org (scheme and "
                f"host, optional port, no path), separated by commas; {origin!r} is not one."
            )
    return origins


def registry_location(location: str) -> str:
    """`APPLICATION_CONFIG_FILE`: a local path, or an S3 object as `s3://bucket/key`."""
    if location.startswith("s3://"):
        bucket, _, key = location.removeprefix("s3://").partition("/")
        if not bucket or not key or key.endswith("/"):
            raise SettingsError(
                f"APPLICATION_CONFIG_FILE must look like s3://bucket/key, not {location}."
            )
    return location


def public_url(raw: str | None) -> str | None:
    """`PUBLIC_URL`: an http(s) URL without query, kept without its trailing slash."""
    if raw is None:
        return None
    parsed = urlsplit(raw)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query:
        raise SettingsError(f"PUBLIC_URL must look like https://host[:port][/path], not {raw!r}.")
    return raw.rstrip("/")


def host_names(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """`ALLOWED_HOSTS`: comma-separated host names (no port), lower-cased."""
    if raw is None:
        return default
    return tuple(name.strip().lower().strip("[]") for name in raw.split(",") if name.strip())


def _at_least_one(name: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise SettingsError(f"{name} must be at least 1 byte, not {value}.")
    return value


_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _parse(env: _Reader) -> Settings:
    log_format = env.choice("LOG_FORMAT", ("console", "json"), None)
    filesystem = env.choice("FILESYSTEM", ("local", "s3"), "local")
    s3_bucket = env.text("S3_BUCKET")
    if filesystem == "s3" and s3_bucket is None:
        raise SettingsError("S3_BUCKET must be set when FILESYSTEM=s3.")
    pool_id = env.text("COGNITO_USER_POOL_ID")
    if pool_id is not None:
        env.required("COGNITO_CLIENT_ID", "when COGNITO_USER_POOL_ID is set")
        env.required("COGNITO_REGION", "when COGNITO_USER_POOL_ID is set")
    email_service = env.choice("EMAIL_SENDER_SERVICE", ("mailjet",), None)
    if email_service == "mailjet":
        env.required("EMAIL_SENDER_ADDRESS", "when EMAIL_SENDER_SERVICE=mailjet")
        env.required("EMAIL_SENDER_API_KEY", "when EMAIL_SENDER_SERVICE=mailjet")
        env.required("EMAIL_SENDER_SECRET_KEY", "when EMAIL_SENDER_SERVICE=mailjet")
    defaults = Settings()
    application_config_file = registry_location(
        env.text("APPLICATION_CONFIG_FILE") or defaults.application_config_file
    )
    database_url = env.text("DATABASE_URL") or defaults.database_url
    data_root = env.text("USER_DATA_ROOT_PATH") or defaults.user_data_root_path
    return Settings(
        auth=env.flag("AUTH"),
        host=env.text("HOST") or defaults.host,
        port=env.integer("PORT", defaults.port, minimum=1),
        http_header_timeout_seconds=env.integer(
            "HTTP_HEADER_TIMEOUT_SECONDS", defaults.http_header_timeout_seconds, minimum=1
        ),
        http_body_idle_timeout_seconds=env.integer(
            "HTTP_BODY_IDLE_TIMEOUT_SECONDS", defaults.http_body_idle_timeout_seconds, minimum=1
        ),
        http_keep_alive_seconds=env.integer(
            "HTTP_KEEP_ALIVE_SECONDS", defaults.http_keep_alive_seconds, minimum=1
        ),
        http_max_connections=env.integer(
            "HTTP_MAX_CONNECTIONS", defaults.http_max_connections, minimum=1
        ),
        sse_keepalive_seconds=env.seconds("SSE_KEEPALIVE_SECONDS", defaults.sse_keepalive_seconds),
        live_streams_max=env.integer("LIVE_STREAMS_MAX", defaults.live_streams_max, minimum=1),
        job_log_poll_seconds=env.seconds("JOB_LOG_POLL_SECONDS", defaults.job_log_poll_seconds),
        public_url=public_url(env.text("PUBLIC_URL")),
        allowed_hosts=host_names(env.text("ALLOWED_HOSTS"), defaults.allowed_hosts),
        frontend_urls=frontend_origins(env.text("FRONTEND_URL"), cognito=pool_id is not None),
        workers=env.integer(
            "WORKERS", env.integer("WEB_CONCURRENCY", defaults.workers, minimum=1), minimum=1
        ),
        log_level=(env.choice("LOG_LEVEL", _LOG_LEVELS, None) or "info").upper(),
        log_format="json" if log_format == "json" else "console" if log_format else None,
        metrics=env.flag("METRICS") is not False,
        metrics_port=env.integer("METRICS_PORT", 0, minimum=1) or None,
        filesystem="s3" if filesystem == "s3" else "local",
        s3_bucket=s3_bucket,
        s3_region=env.text("S3_REGION"),
        s3_endpoint_url=env.text("S3_ENDPOINT_URL"),
        user_data_root_path=data_root,
        max_upload_bytes=_at_least_one("MAX_UPLOAD_BYTES", env.size("MAX_UPLOAD_BYTES"))
        or defaults.max_upload_bytes,
        presigned_url_expiry_seconds=env.integer(
            "PRESIGNED_URL_EXPIRY_SECONDS", defaults.presigned_url_expiry_seconds, minimum=1
        ),
        quota_bytes=env.size("QUOTA_BYTES"),
        quota_files=env.optional_integer("QUOTA_FILES"),
        quota_running_jobs=env.optional_integer("QUOTA_RUNNING_JOBS"),
        job_retention_days=env.optional_integer("JOB_RETENTION_DAYS"),
        cleanup_interval_seconds=env.optional_integer("CLEANUP_INTERVAL_SECONDS", minimum=1),
        staging_grace_seconds=env.integer(
            "STAGING_GRACE_SECONDS", defaults.staging_grace_seconds, minimum=1
        ),
        resumable_upload_expiry_seconds=env.integer(
            "RESUMABLE_UPLOAD_EXPIRY_SECONDS", defaults.resumable_upload_expiry_seconds, minimum=1
        ),
        database_url=async_database_url(database_url, env.secret("DATABASE_SECRET")),
        database_pool_size=env.integer(
            "DATABASE_POOL_SIZE", defaults.database_pool_size, minimum=1
        ),
        database_max_overflow=env.integer("DATABASE_MAX_OVERFLOW", defaults.database_max_overflow),
        workerfacing_api_url=(
            env.text("WORKERFACING_API_URL") or defaults.workerfacing_api_url
        ).rstrip("/"),
        internal_api_key=env.secret("INTERNAL_API_KEY_SECRET"),
        identity="cognito" if pool_id else "local",
        local_identity_key_path=env.text("LOCAL_IDENTITY_KEY_PATH")
        or defaults.local_identity_key_path,
        local_identity_issuer=env.text("LOCAL_IDENTITY_ISSUER") or defaults.local_identity_issuer,
        local_identity_audience=env.text("LOCAL_IDENTITY_AUDIENCE")
        or defaults.local_identity_audience,
        token_lifetime_seconds=env.integer(
            "TOKEN_LIFETIME_SECONDS", defaults.token_lifetime_seconds, minimum=60
        ),
        password_hash_workers=env.integer(
            "PASSWORD_HASH_WORKERS", defaults.password_hash_workers, minimum=1
        ),
        password_hash_queue=env.integer("PASSWORD_HASH_QUEUE", defaults.password_hash_queue),
        sign_in_failure_window_seconds=env.integer(
            "SIGN_IN_FAILURE_WINDOW_SECONDS", defaults.sign_in_failure_window_seconds, minimum=1
        ),
        sign_in_max_failures_per_account=env.integer(
            "SIGN_IN_MAX_FAILURES_PER_ACCOUNT", defaults.sign_in_max_failures_per_account, minimum=1
        ),
        sign_in_max_failures_per_address=env.integer(
            "SIGN_IN_MAX_FAILURES_PER_ADDRESS", defaults.sign_in_max_failures_per_address, minimum=1
        ),
        idempotency_key_ttl=env.integer(
            "IDEMPOTENCY_KEY_TTL", defaults.idempotency_key_ttl, minimum=1
        ),
        cognito_client_id=env.text("COGNITO_CLIENT_ID"),
        cognito_secret=env.secret("COGNITO_SECRET"),
        cognito_user_pool_id=pool_id,
        cognito_region=env.text("COGNITO_REGION"),
        cognito_endpoint_url=env.text("COGNITO_ENDPOINT_URL"),
        application_config_file=application_config_file,
        email_sender_service="mailjet" if email_service == "mailjet" else None,
        email_sender_address=env.text("EMAIL_SENDER_ADDRESS"),
        email_sender_api_key=env.text("EMAIL_SENDER_API_KEY"),
        email_sender_secret_key=env.secret("EMAIL_SENDER_SECRET_KEY"),
        mailjet_api_url=env.text("MAILJET_API_URL"),
    )
