"""The embedded identity provider: accounts in our database, tokens signed by our key.

Tokens carry the claims of AWS Cognito ID tokens, so clients and the verifier treat
both back-ends alike (`local_token_verifier`). The public key is served as a JWKS.
"""

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import jwt

from decode_userapi.adapters.identity.password_hash import (
    HashingPool,
    hash_password,
    needs_rehash,
    password_matches,
)
from decode_userapi.adapters.identity.signing_key import ALGORITHM, SigningKey
from decode_userapi.adapters.identity.token_verifier import StaticKeys, TokenVerifier
from decode_userapi.adapters.persistence.users import Account, SqlaAccounts
from decode_userapi.domain.errors import AlreadyExists, InvalidInput, NotFound
from decode_userapi.domain.passwords import check_password_policy
from decode_userapi.domain.users import User
from decode_userapi.ports.account_directory import IssuedToken


@dataclass(frozen=True)
class LocalTokens:
    """The ID tokens of the local provider: signed with `key`, for `audience`."""

    key: SigningKey
    issuer: str
    audience: str
    lifetime_seconds: int

    def verifier(self) -> TokenVerifier:
        """Verifies these tokens, and publishes their key."""
        return TokenVerifier(
            issuer=self.issuer,
            audience=self.audience,
            keys=StaticKeys(self.key.jwks),
            published_jwks=self.key.jwks,
        )

    def sign(self, account: Account) -> IssuedToken:
        now = int(time.time())
        claims = {
            "sub": account.id,
            "cognito:username": account.id,
            "cognito:groups": list(account.groups),
            "email": account.email,
            "token_use": "id",
            "aud": self.audience,
            "iss": self.issuer,
            "auth_time": now,
            "iat": now,
            "exp": now + self.lifetime_seconds,
        }
        signed = jwt.encode(
            claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid}
        )
        return IssuedToken(id_token=signed, expires_in=self.lifetime_seconds)


class LocalAccounts:
    def __init__(
        self, *, accounts: SqlaAccounts, hashing: HashingPool, tokens: LocalTokens
    ) -> None:
        self._accounts = accounts
        self._hashing = hashing
        self._tokens = tokens

    async def register(self, email: str, password: str, groups: Sequence[str]) -> User:
        check_password_policy(password)
        if await self._accounts.find(email) is not None:
            raise AlreadyExists(f"A user with the email {email} exists.")
        password_hash = await self._hashing.run(hash_password, password)
        account = Account(uuid.uuid4().hex, email, password_hash, tuple(groups))
        await self._accounts.add(account)
        return _user(account)

    async def issue_token(self, email: str, password: str) -> IssuedToken:
        account = await self._accounts.find(email)
        if account is None:
            raise NotFound(f"No user has the email {email}.")
        stored = account.password_hash
        if not await self._hashing.run(password_matches, password, stored):
            raise InvalidInput("Wrong password.")
        if needs_rehash(stored):
            new_hash = await self._hashing.run(hash_password, password)
            await self._accounts.replace_password_hash(account.id, stored, new_hash)
        return self._tokens.sign(account)

    async def change_groups(self, email: str, *, add: Sequence[str], remove: Sequence[str]) -> User:
        return _user(await self._accounts.change_groups(email, add=add, remove=remove))

    async def list_users(self) -> list[User]:
        return [_user(account) for account in await self._accounts.all()]

    async def delete_user(self, email: str) -> None:
        await self._accounts.delete(email)

    async def set_password(self, email: str, password: str) -> None:
        check_password_policy(password)
        if await self._accounts.find(email) is None:
            raise NotFound(f"No user has the email {email}.")
        password_hash = await self._hashing.run(hash_password, password)
        await self._accounts.set_password_hash(email, password_hash)


def _user(account: Account) -> User:
    return User(id=account.id, email=account.email, groups=account.groups)
