"""Settings whose secrets are Secrets Manager ARNs, against moto's Secrets Manager."""

import json
from typing import Any

import boto3
import pytest

from decode_userapi.adapters.secrets.aws import fetch_secret
from decode_userapi.entrypoints.settings import SettingsError, load_settings
from tests.servers.moto import REGION


@pytest.fixture
def secrets(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Secrets Manager client; the code under test finds moto through the env."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws_endpoint)
    return boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name=REGION)


def test_plain_and_json_secrets_by_arn(secrets: Any) -> None:
    plain = secrets.create_secret(Name="internal-key", SecretString="k3y")["ARN"]
    database = secrets.create_secret(
        Name="db", SecretString=json.dumps({"username": "postgres", "password": "pa55"})
    )["ARN"]

    settings = load_settings(
        {
            "INTERNAL_API_KEY_SECRET": plain,
            "DATABASE_URL": "postgresql://postgres:{}@db.example.org:5432/app",
            "DATABASE_SECRET": database,
        },
        env_file=None,
        fetch_secret=fetch_secret,
    )

    assert settings.internal_api_key == "k3y"
    assert settings.database_url == "postgresql+asyncpg://postgres:pa55@db.example.org:5432/app"


def test_a_missing_secret_stops_the_start_naming_the_variable(secrets: Any) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:nothing-here-AbCdEf"
    with pytest.raises(SettingsError, match="COGNITO_SECRET") as raised:
        load_settings({"COGNITO_SECRET": arn}, env_file=None, fetch_secret=fetch_secret)
    assert "ResourceNotFoundException" in str(raised.value)


def test_a_malformed_arn_is_named(secrets: Any) -> None:
    with pytest.raises(SettingsError, match=r"EMAIL_SENDER_SECRET_KEY.*not a Secrets Manager ARN"):
        load_settings(
            {"EMAIL_SENDER_SECRET_KEY": "arn:aws:s3:::bucket"},
            env_file=None,
            fetch_secret=fetch_secret,
        )
