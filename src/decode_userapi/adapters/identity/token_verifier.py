"""The one verifier of ID tokens shaped like AWS Cognito's, for every identity back-end.

A back-end supplies the expected issuer and audience and a `KeySource` that maps a
token's `kid` to a public key (a fixed key for the local provider, a JWKS fetched and
cached for Cognito). A token verified once is remembered (`VerifiedTokens`) until it
expires, as long as the key source still hands out the key that verified it.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from decode_userapi.domain.errors import NotAuthenticated
from decode_userapi.domain.users import User

ALGORITHMS = ("RS256",)
REQUIRED_CLAIMS = ("cognito:username", "exp", "iat", "iss", "aud", "token_use")
LEEWAY_SECONDS = 30
ID_TOKEN_USE = "id"  # noqa: S105  (a claim value, not a secret)


class KeySource(Protocol):
    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        """The public key named `kid`, or None when there is no such key."""
        ...


class StaticKeys:
    """A fixed set of public keys (a JWKS document)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = {key["kid"]: jwt.PyJWK.from_dict(key) for key in jwks["keys"]}

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)


@dataclass(frozen=True, slots=True)
class Verified:
    """What verifying a token established, and until when it holds."""

    user: User
    kid: str
    key: jwt.PyJWK
    valid_until: float
    """The token's `exp` plus the verifier's leeway, in seconds since the epoch."""


class VerifiedTokens:
    """Tokens verified before, at most `max_entries` (least recently used go first),
    each forgotten once its `valid_until` has passed on `clock`."""

    def __init__(self, max_entries: int = 4096, clock: Callable[[], float] = time.time) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, Verified] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Verified | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if self._clock() >= entry.valid_until:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return entry

    def add(self, token: str, entry: Verified) -> None:
        self._entries[token] = entry
        self._entries.move_to_end(token)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def discard(self, token: str) -> None:
        self._entries.pop(token, None)


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: KeySource,
        algorithms: tuple[str, ...] = ALGORITHMS,
        leeway_seconds: int = LEEWAY_SECONDS,
        verified: VerifiedTokens | None = None,
        published_jwks: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """`published_jwks`: the keys the service serves itself (the local provider's)."""
        self._issuer = issuer
        self._audience = audience
        self._keys = keys
        self._algorithms = list(algorithms)
        self._leeway = leeway_seconds
        self._verified = VerifiedTokens() if verified is None else verified
        self._published_jwks = published_jwks

    def jwks(self) -> dict[str, list[dict[str, Any]]] | None:
        return self._published_jwks

    async def verify(self, token: str) -> User:
        """The user a valid ID token speaks for; `NotAuthenticated` with a short reason
        for anything else.

        A token verified before is not checked again while it has not expired and its
        key source still answers its `kid` with the very key that verified it (a key
        removed from the source, or replaced, sends the token through the full check).
        """
        cached = self._verified.get(token)
        if cached is not None:
            if await self._keys.key_for(cached.kid) is cached.key:
                return cached.user
            self._verified.discard(token)
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, TypeError):
            raise NotAuthenticated("The token is not a JWT.") from None
        if header.get("alg") not in self._algorithms:
            raise NotAuthenticated("The token is not signed with an accepted algorithm.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise NotAuthenticated("The token names no signing key ('kid').")
        key = await self._keys.key_for(kid)
        if key is None:
            raise NotAuthenticated("The token is signed by an unknown key.")
        claims = self._decode(token, key)
        if claims["token_use"] != ID_TOKEN_USE:
            raise NotAuthenticated("The token is not an ID token (token_use must be 'id').")
        user = _user(claims)
        self._verified.add(token, Verified(user, kid, key, float(claims["exp"]) + self._leeway))
        return user

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("The token has expired; sign in again.") from None
        except jwt.InvalidAudienceError:
            raise NotAuthenticated("The token was issued for another audience.") from None
        except jwt.InvalidIssuerError:
            raise NotAuthenticated("The token was issued by another issuer.") from None
        except jwt.InvalidSignatureError:
            raise NotAuthenticated("The token's signature is invalid.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise NotAuthenticated(f"The token lacks the claim '{exc.claim}'.") from None
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise NotAuthenticated(f"The token is invalid: {exc}") from None
        return claims


def _user(claims: Mapping[str, Any]) -> User:
    user_id = claims["cognito:username"]
    email = claims.get("email")
    groups = claims.get("cognito:groups") or []
    if not isinstance(user_id, str) or not user_id:
        raise NotAuthenticated("The token's 'cognito:username' is not a name.")
    if email is not None and not isinstance(email, str):
        raise NotAuthenticated("The token's 'email' is not a string.")
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        raise NotAuthenticated("The token's 'cognito:groups' is not a list of names.")
    return User(id=user_id, email=email, groups=tuple(sorted(groups)))
