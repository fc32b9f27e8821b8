"""AWS Cognito user pools: ID tokens checked against the pool's JWKS
(`cognito_token_verifier`); accounts via boto3 (`CognitoAccounts`).

The account calls (`register`, `issue_token`) back the development-only sign-in routes.
boto3 is synchronous, so its calls run in worker threads.
"""

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
import boto3
from botocore.exceptions import BotoCoreError, ClientError

from decode_userapi.adapters.identity.jwks import JwksKeySource
from decode_userapi.adapters.identity.token_verifier import TokenVerifier
from decode_userapi.domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidInput,
    NotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from decode_userapi.domain.users import User
from decode_userapi.ports.account_directory import IssuedToken

T = TypeVar("T")


@dataclass(frozen=True)
class CognitoUserPool:
    """A user pool and one of its app clients; `endpoint_url` for a test or compatible
    server instead of AWS."""

    user_pool_id: str
    client_id: str
    region: str
    endpoint_url: str | None = None

    def verifier(self) -> TokenVerifier:
        """Verifies the pool's ID tokens for the app client."""
        issuer = f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"
        # A test or compatible endpoint serves the keys at <endpoint>/<pool>/...; tokens
        # still name the AWS issuer.
        keys_base = (
            f"{self.endpoint_url.rstrip('/')}/{self.user_pool_id}" if self.endpoint_url else issuer
        )
        return TokenVerifier(
            issuer=issuer,
            audience=self.client_id,
            keys=JwksKeySource(f"{keys_base}/.well-known/jwks.json"),
        )


class CognitoAccounts:
    def __init__(self, pool: CognitoUserPool, *, client_secret: str | None = None) -> None:
        self._pool = pool.user_pool_id
        self._client_id = pool.client_id
        self._secret = client_secret
        self._cognito: Any = boto3.session.Session(region_name=pool.region).client(
            "cognito-idp", endpoint_url=pool.endpoint_url
        )

    async def register(self, email: str, password: str, groups: Sequence[str]) -> User:
        def create() -> User:
            created = self._cognito.admin_create_user(
                UserPoolId=self._pool,
                Username=email,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                ],
                MessageAction="SUPPRESS",
            )
            username: str = created["User"]["Username"]
            try:
                self._cognito.admin_set_user_password(
                    UserPoolId=self._pool, Username=username, Password=password, Permanent=True
                )
                for group in groups:
                    self._cognito.admin_add_user_to_group(
                        UserPoolId=self._pool, Username=username, GroupName=group
                    )
            except Exception:
                # No half-made account: the same email can be registered again.
                self._cognito.admin_delete_user(UserPoolId=self._pool, Username=username)
                raise
            return User(id=username, email=email, groups=tuple(groups))

        return await self._call(create, email)

    async def issue_token(self, email: str, password: str) -> IssuedToken:
        parameters = {"USERNAME": email, "PASSWORD": password}
        if self._secret is not None:
            parameters["SECRET_HASH"] = secret_hash(email, self._client_id, self._secret)
        answer = await self._call(
            lambda: self._cognito.initiate_auth(
                ClientId=self._client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters=parameters,
            )
        )
        result = answer.get("AuthenticationResult")
        if result is None:
            raise InvalidInput(
                f"Cognito asks for another sign-in step ({answer.get('ChallengeName')}); "
                "finish it in the hosted login page."
            )
        return IssuedToken(id_token=result["IdToken"], expires_in=int(result["ExpiresIn"]))

    async def change_groups(self, email: str, *, add: Sequence[str], remove: Sequence[str]) -> User:
        def change() -> User:
            for group in add:
                self._cognito.admin_add_user_to_group(
                    UserPoolId=self._pool, Username=email, GroupName=group
                )
            for group in remove:
                self._cognito.admin_remove_user_from_group(
                    UserPoolId=self._pool, Username=email, GroupName=group
                )
            found = self._cognito.admin_get_user(UserPoolId=self._pool, Username=email)
            username: str = found["Username"]
            listed = self._cognito.admin_list_groups_for_user(
                UserPoolId=self._pool, Username=username
            )
            groups = sorted(group["GroupName"] for group in listed["Groups"])
            return User(id=username, email=email, groups=tuple(groups))

        return await self._call(change, email)

    async def list_users(self) -> list[User]:
        def list_all() -> list[User]:
            users = []
            for page in self._cognito.get_paginator("list_users").paginate(UserPoolId=self._pool):
                for found in page["Users"]:
                    attributes = {a["Name"]: a["Value"] for a in found.get("Attributes", [])}
                    listed = self._cognito.admin_list_groups_for_user(
                        UserPoolId=self._pool, Username=found["Username"]
                    )
                    groups = tuple(sorted(group["GroupName"] for group in listed["Groups"]))
                    users.append(User(found["Username"], attributes.get("email"), groups))
            return users

        return await self._call(list_all)

    async def delete_user(self, email: str) -> None:
        await self._call(
            lambda: self._cognito.admin_delete_user(UserPoolId=self._pool, Username=email), email
        )

    async def set_password(self, email: str, password: str) -> None:
        await self._call(
            lambda: self._cognito.admin_set_user_password(
                UserPoolId=self._pool, Username=email, Password=password, Permanent=True
            ),
            email,
        )

    async def _call(self, call: Callable[[], T], email: str | None = None) -> T:
        """`call` in a worker thread, Cognito's errors as domain errors naming `email`."""
        try:
            return await anyio.to_thread.run_sync(call)
        except ClientError as exc:
            raise domain_error(exc, email) from None
        except BotoCoreError as exc:
            raise UpstreamUnavailable(f"Cannot reach Cognito: {exc}") from None


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """Cognito's SECRET_HASH for app clients that have a secret."""
    digest = hmac.new(
        client_secret.encode(), (username + client_id).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def domain_error(exc: ClientError, email: str | None = None) -> DomainError:
    """Cognito's error codes, as the HTTP contract wants them; `email` names the account."""
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message") or ""
    if code == "UsernameExistsException":
        return AlreadyExists(
            f"A user with the email {email} already exists."
            if email
            else "A user with this email already exists."
        )
    if code in ("InvalidPasswordException", "InvalidParameterException"):
        return InvalidInput(message or "The password does not meet the password policy.")
    if code == "UserNotFoundException":
        return NotFound(f"No user has the email {email}." if email else "No user with this email.")
    if code == "NotAuthorizedException" and (not message or "password" in message.lower()):
        return InvalidInput("Wrong password.")
    if code == "UserNotConfirmedException":
        return InvalidInput("The account is not confirmed yet.")
    if code in ("TooManyRequestsException", "InternalErrorException"):
        return UpstreamUnavailable(f"Cognito is busy; try again later ({code}).")
    return UpstreamRejected(f"Cognito refused the request: {code}: {message}")
