"""`decode-userapi ...` in a subprocess, on the stack a test's settings describe."""

import os
import subprocess
import sys
from pathlib import Path

from decode_userapi.entrypoints.settings import Settings

_VARIABLES = {
    "DATABASE_URL": "database_url",
    "FILESYSTEM": "filesystem",
    "S3_BUCKET": "s3_bucket",
    "S3_REGION": "s3_region",
    "S3_ENDPOINT_URL": "s3_endpoint_url",
    "USER_DATA_ROOT_PATH": "user_data_root_path",
    "LOCAL_IDENTITY_KEY_PATH": "local_identity_key_path",
    "COGNITO_USER_POOL_ID": "cognito_user_pool_id",
    "COGNITO_CLIENT_ID": "cognito_client_id",
    "COGNITO_REGION": "cognito_region",
    "COGNITO_ENDPOINT_URL": "cognito_endpoint_url",
    "APPLICATION_CONFIG_FILE": "application_config_file",
    "QUOTA_BYTES": "quota_bytes",
    "QUOTA_FILES": "quota_files",
    "QUOTA_RUNNING_JOBS": "quota_running_jobs",
    "JOB_RETENTION_DAYS": "job_retention_days",
    "STAGING_GRACE_SECONDS": "staging_grace_seconds",
}


def cli_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment (AWS credentials of the test servers included) with the
    variables that give the CLI these settings."""
    environment = dict(os.environ, LOG_FORMAT="json", **extra)
    for variable, field in _VARIABLES.items():
        value = getattr(settings, field)
        if value is not None:
            environment[variable] = str(value)
    return environment


def cli(
    settings: Settings, cwd: Path, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Runs the command to its end (from `cwd`, where no `.env` is)."""
    return subprocess.run(
        [sys.executable, "-m", "decode_userapi", *args],
        env=cli_environment(settings, **extra),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
