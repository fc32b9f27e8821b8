import pytest

from decode_userapi.entrypoints.settings import SettingsError, load_settings


def load(**env: str):  # type: ignore[no-untyped-def]
    return load_settings(env, env_file=None)


def test_embedded_default_needs_nothing() -> None:
    settings = load()
    assert settings.filesystem == "local"
    assert settings.identity == "local"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.self_registration
    assert settings.sign_in_routes


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///./sql_app.db", "sqlite+aiosqlite:///./sql_app.db"),
        ("postgresql://u:p@db:5432/x", "postgresql+asyncpg://u:p@db:5432/x"),
        ("postgres://u:p@db/x", "postgresql+asyncpg://u:p@db/x"),
        ("postgresql+asyncpg://u:p@db/x", "postgresql+asyncpg://u:p@db/x"),
    ],
)
def test_sync_urls_map_to_async_drivers(url: str, expected: str) -> None:
    assert load(DATABASE_URL=url).database_url == expected


def test_placeholder_filled_from_json_secret() -> None:
    settings = load(
        DATABASE_URL="postgresql://postgres:{}@db:5432/x",
        DATABASE_SECRET='{"username": "postgres", "password": "s3cr3t"}',
    )
    assert settings.database_url == "postgresql+asyncpg://postgres:s3cr3t@db:5432/x"


def test_placeholder_without_secret_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="DATABASE_SECRET"):
        load(DATABASE_URL="postgresql://postgres:{}@db/x")


def test_plain_and_json_secrets() -> None:
    assert load(INTERNAL_API_KEY_SECRET="abc").internal_api_key == "abc"
    assert load(INTERNAL_API_KEY_SECRET='{"password": "xyz"}').internal_api_key == "xyz"


def test_json_secret_without_password_is_refused() -> None:
    with pytest.raises(SettingsError, match="INTERNAL_API_KEY_SECRET"):
        load(INTERNAL_API_KEY_SECRET='{"user": "x"}')


def test_arn_secrets_are_fetched() -> None:
    fetched: list[str] = []

    def fetch(arn: str) -> str:
        fetched.append(arn)
        return '{"password": "from-store"}'

    arn = "arn:aws:secretsmanager:eu-central-1:1:secret:key"
    settings = load_settings({"INTERNAL_API_KEY_SECRET": arn}, env_file=None, fetch_secret=fetch)
    assert settings.internal_api_key == "from-store"
    assert fetched == [arn]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"FILESYSTEM": "s3"}, "S3_BUCKET"),
        ({"FILESYSTEM": "ftp"}, "FILESYSTEM"),
        ({"AUTH": "maybe"}, "AUTH"),
        ({"PORT": "http"}, "PORT"),
        ({"MAX_UPLOAD_BYTES": "0"}, "MAX_UPLOAD_BYTES"),
        ({"COGNITO_USER_POOL_ID": "pool"}, "COGNITO_CLIENT_ID"),
        ({"EMAIL_SENDER_SERVICE": "mailjet"}, "EMAIL_SENDER_ADDRESS"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"APPLICATION_CONFIG_FILE": "s3://bucket"}, "APPLICATION_CONFIG_FILE"),
        ({"APPLICATION_CONFIG_FILE": "s3:///registry.yaml"}, "APPLICATION_CONFIG_FILE"),
        ({"APPLICATION_CONFIG_FILE": "s3://bucket/folder/"}, "APPLICATION_CONFIG_FILE"),
        ({"INTERNAL_API_KEY_SECRET": "arn:aws:secretsmanager:x"}, "INTERNAL_API_KEY_SECRET"),
        ({"QUOTA_BYTES": "500 apples"}, "QUOTA_BYTES"),
        ({"QUOTA_BYTES": "-5G"}, "QUOTA_BYTES"),
        ({"MAX_UPLOAD_BYTES": "ten GiB"}, "MAX_UPLOAD_BYTES"),
        ({"QUOTA_FILES": "many"}, "QUOTA_FILES"),
        ({"QUOTA_RUNNING_JOBS": "-1"}, "QUOTA_RUNNING_JOBS"),
        ({"JOB_RETENTION_DAYS": "a month"}, "JOB_RETENTION_DAYS"),
        ({"CLEANUP_INTERVAL_SECONDS": "0"}, "CLEANUP_INTERVAL_SECONDS"),
    ],
)
def test_invalid_combinations_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(env, env_file=None)


@pytest.mark.parametrize(
    ("written", "size"),
    [
        ("123", 123),
        ("500G", 500 * 1000**3),
        ("500GB", 500 * 1000**3),
        ("10GiB", 10 * 1024**3),
        ("1.5T", 1_500_000_000_000),
        ("64 MiB", 64 * 1024**2),
        ("2k", 2000),
    ],
)
def test_sizes_take_decimal_and_binary_units(written: str, size: int) -> None:
    settings = load(QUOTA_BYTES=written, MAX_UPLOAD_BYTES=written)
    assert (settings.quota_bytes, settings.max_upload_bytes) == (size, size)


def test_quotas_and_retention_are_off_by_default() -> None:
    settings = load()
    assert (settings.quota_bytes, settings.quota_files, settings.quota_running_jobs) == (
        None,
        None,
        None,
    )
    assert (settings.job_retention_days, settings.cleanup_interval_seconds) == (None, None)


def test_auth_flag_controls_sign_in_routes() -> None:
    assert not load(AUTH="0").self_registration
    assert load(AUTH="0").sign_in_routes
    cognito = {"COGNITO_USER_POOL_ID": "p", "COGNITO_CLIENT_ID": "c", "COGNITO_REGION": "r"}
    assert not load(**cognito).sign_in_routes
    assert load(AUTH="1", **cognito).self_registration


def test_env_file_is_read_and_environment_wins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9000\nHOST=0.0.0.0\n")
    settings = load_settings({"PORT": "9100"}, env_file=env_file)
    assert (settings.host, settings.port) == ("0.0.0.0", 9100)


def test_public_url_and_allowed_hosts() -> None:
    parsed = load_settings(
        {"PUBLIC_URL": "https://api.example.org/v1/", "ALLOWED_HOSTS": "API.example.org, [::1]"},
        env_file=None,
    )
    assert parsed.public_url == "https://api.example.org/v1"
    assert parsed.allowed_hosts == ("api.example.org", "::1")
    assert load_settings({}, env_file=None).allowed_hosts == ("localhost", "127.0.0.1", "::1")
    with pytest.raises(SettingsError, match="PUBLIC_URL"):
        load_settings({"PUBLIC_URL": "api.example.org"}, env_file=None)


def test_cors_defaults_to_the_frontends_dev_server_on_the_embedded_default() -> None:
    assert load().frontend_urls == ("http://localhost:8080",)


def test_cors_has_no_default_with_cognito() -> None:
    cognito = load(COGNITO_USER_POOL_ID="pool", COGNITO_CLIENT_ID="c", COGNITO_REGION="r")
    assert cognito.frontend_urls == ()


def test_frontend_url_is_a_list_of_origins() -> None:
    settings = load(FRONTEND_URL=" https://decode.example.org/, http://localhost:8081 ")
    assert settings.frontend_urls == ("https://decode.example.org", "http://localhost:8081")


@pytest.mark.parametrize("value", ["*", "decode.example.org", "https://x.org/app", "ftp://x.org"])
def test_frontend_url_that_is_no_origin_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="FRONTEND_URL"):
        load(FRONTEND_URL=value)


def test_operations_settings() -> None:
    default = load_settings({}, env_file=None)
    assert (default.workers, default.log_level, default.log_format) == (1, "INFO", None)
    assert (default.metrics, default.metrics_port) == (True, None)
    chosen = load_settings(
        {"WEB_CONCURRENCY": "3", "LOG_LEVEL": "Debug", "LOG_FORMAT": "json", "METRICS": "0"},
        env_file=None,
    )
    assert (chosen.workers, chosen.log_level, chosen.log_format) == (3, "DEBUG", "json")
    assert chosen.metrics is False
    both = load_settings({"WEB_CONCURRENCY": "3", "WORKERS": "2"}, env_file=None)
    assert both.workers == 2  # WORKERS wins
    for name, value in [("LOG_LEVEL", "loud"), ("LOG_FORMAT", "xml"), ("WORKERS", "0")]:
        with pytest.raises(SettingsError, match=name):
            load_settings({name: value}, env_file=None)


def test_live_stream_settings() -> None:
    default = load()
    assert (default.sse_keepalive_seconds, default.job_log_poll_seconds) == (15.0, 2.0)
    assert default.live_streams_max == 200
    chosen = load(SSE_KEEPALIVE_SECONDS="0.5", JOB_LOG_POLL_SECONDS="3", LIVE_STREAMS_MAX="7")
    assert (chosen.sse_keepalive_seconds, chosen.job_log_poll_seconds) == (0.5, 3.0)
    assert chosen.live_streams_max == 7
    for value in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(SettingsError, match="SSE_KEEPALIVE_SECONDS"):
            load(SSE_KEEPALIVE_SECONDS=value)
