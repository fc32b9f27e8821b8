"""Secret values from AWS Secrets Manager, by ARN, read once at start.

Credentials come from boto3's standard chain; the region from the ARN. For tests or a
compatible service, boto3 itself honours `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
"""

import boto3
from botocore.exceptions import BotoCoreError, ClientError


class SecretUnavailable(Exception):
    """The secret could not be read; the message says why."""


def fetch_secret(arn: str) -> str:
    """The `SecretString` of the secret `arn`."""
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[2] != "secretsmanager" or not parts[3]:
        raise SecretUnavailable(
            "not a Secrets Manager ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)"
        )
    client = boto3.session.Session().client("secretsmanager", region_name=parts[3])
    try:
        answer = client.get_secret_value(SecretId=arn)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise SecretUnavailable(f"{error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise SecretUnavailable(str(exc)) from None
    value = answer.get("SecretString")
    if not isinstance(value, str):
        raise SecretUnavailable("the secret holds binary data, not text")
    return value
