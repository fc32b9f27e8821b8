import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from decode_userapi.adapters.identity.signing_key import SigningKey
from decode_userapi.adapters.identity.token_verifier import (
    LEEWAY_SECONDS,
    StaticKeys,
    TokenVerifier,
    VerifiedTokens,
)
from decode_userapi.domain.errors import NotAuthenticated
from decode_userapi.domain.users import User

ISSUER = "https://issuer.example"
AUDIENCE = "client-id"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture
def verifier(key: SigningKey) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=StaticKeys(key.jwks))


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "cognito:username": "0f3a",
        "email": "alice@example.org",
        "cognito:groups": ["users"],
        "token_use": "id",
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: SigningKey, payload: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(
        payload, key.private_key, algorithm="RS256", headers={"kid": key.kid, **headers}
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value).encode())


async def test_valid_token_gives_the_user(key: SigningKey, verifier: TokenVerifier) -> None:
    user = await verifier.verify(sign(key, claims()))
    assert user == User(id="0f3a", email="alice@example.org", groups=("users",))


async def test_missing_groups_claim_means_no_groups(
    key: SigningKey, verifier: TokenVerifier
) -> None:
    user = await verifier.verify(sign(key, claims(**{"cognito:groups": None})))
    assert user.groups == ()
    assert not user.is_confirmed


def alg_none(key: SigningKey) -> str:
    return f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{segment(claims())}."


def hs256_with_public_pem(key: SigningKey) -> str:
    pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{segment(claims())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def tampered(key: SigningKey) -> str:
    header, _, signature = sign(key, claims()).split(".")
    forged = segment(claims(**{"cognito:username": "someone-else"}))
    return f"{header}.{forged}.{signature}"


def foreign_key(key: SigningKey) -> str:
    other = SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return jwt.encode(claims(), other.private_key, algorithm="RS256", headers={"kid": key.kid})


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda k: sign(k, claims(exp=int(time.time()) - 120)), "expired"),
        (lambda k: sign(k, claims(aud="another-client")), "audience"),
        (lambda k: sign(k, claims(iss="https://evil.example")), "issuer"),
        (lambda k: sign(k, claims(token_use="access")), "ID token"),
        (alg_none, "algorithm"),
        (hs256_with_public_pem, "algorithm"),
        (lambda k: sign(k, claims(), kid="unknown-kid"), "unknown key"),
        (lambda k: jwt.encode(claims(), k.private_key, algorithm="RS256"), "kid"),
        (tampered, "signature"),
        (foreign_key, "signature"),
        (lambda k: sign(k, claims(**{"cognito:username": None})), "cognito:username"),
        (lambda k: sign(k, claims(token_use=None)), "token_use"),
        (lambda k: sign(k, claims(iat=None)), "iat"),
        (lambda k: sign(k, claims(**{"cognito:username": 42})), "cognito:username"),
        (lambda k: sign(k, claims(**{"cognito:groups": "users"})), "cognito:groups"),
        (lambda k: sign(k, claims(email=["a@b.c"])), "email"),
        (lambda k: sign(k, claims(exp="tomorrow")), "invalid"),
        (lambda k: sign(k, claims(aud=[AUDIENCE, "other"])), "audience"),
    ],
    ids=[
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "access-token",
        "alg-none",
        "hs256-with-public-pem",
        "unknown-kid",
        "no-kid",
        "tampered-payload",
        "signed-by-another-key",
        "missing-username",
        "missing-token-use",
        "missing-iat",
        "username-not-a-string",
        "groups-not-a-list",
        "email-not-a-string",
        "exp-not-a-number",
        "several-audiences",
    ],
)
async def test_rejects(
    make_token: Any, reason: str, key: SigningKey, verifier: TokenVerifier
) -> None:
    with pytest.raises(NotAuthenticated, match=reason):
        await verifier.verify(make_token(key))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not-a-jwt",
        "a.b.c",
        "a.b",
        "....",
        "!!!.!!!.!!!",
        f"{segment([1, 2])}.{segment({})}.x",
        f"{segment({'alg': 'RS256', 'kid': 7})}.{segment({})}.x",
        f"{segment({'alg': 'RS256', 'kid': 'k'})}.{segment([1])}.x",
        "eyJhbGciOiJSUzI1NiJ9.\udcff.x",
        "Bearer eyJ",
    ],
)
async def test_garbage_is_not_authenticated(garbage: str, verifier: TokenVerifier) -> None:
    with pytest.raises(NotAuthenticated):
        await verifier.verify(garbage)


async def test_payload_that_is_not_an_object(key: SigningKey, verifier: TokenVerifier) -> None:
    header = segment({"alg": "RS256", "typ": "JWT", "kid": key.kid})
    signing_input = f"{header}.{segment(['not', 'an', 'object'])}"
    signature = key.private_key.sign(
        signing_input.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    with pytest.raises(NotAuthenticated):
        await verifier.verify(f"{signing_input}.{b64(signature)}")


class Keys:
    """A key source whose keys can be removed or replaced between verifications."""

    def __init__(self, key: SigningKey) -> None:
        self.keys = {jwk["kid"]: jwt.PyJWK.from_dict(jwk) for jwk in key.jwks["keys"]}

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        return self.keys.get(kid)


def remembering(keys: Any, verified: VerifiedTokens, leeway: int = LEEWAY_SECONDS) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=keys, leeway_seconds=leeway, verified=verified
    )


async def test_a_verified_token_is_remembered_until_it_expires(key: SigningKey) -> None:
    verified = VerifiedTokens()
    verifier = remembering(StaticKeys(key.jwks), verified, leeway=0)
    expires = int(time.time()) + 2
    token = sign(key, claims(exp=expires))

    assert (await verifier.verify(token)).id == "0f3a"
    assert (await verifier.verify(token)).id == "0f3a"
    assert len(verified) == 1

    await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(NotAuthenticated, match="expired"):
        await verifier.verify(token)
    assert len(verified) == 0


async def test_a_remembered_token_fails_once_its_key_leaves_the_key_source(
    key: SigningKey,
) -> None:
    keys = Keys(key)
    verifier = remembering(keys, VerifiedTokens())
    token = sign(key, claims())
    await verifier.verify(token)

    del keys.keys[key.kid]

    with pytest.raises(NotAuthenticated, match="unknown key"):
        await verifier.verify(token)


async def test_a_remembered_token_fails_once_its_kid_names_another_key(key: SigningKey) -> None:
    keys = Keys(key)
    verifier = remembering(keys, VerifiedTokens())
    token = sign(key, claims())
    await verifier.verify(token)

    other = SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    keys.keys[key.kid] = jwt.PyJWK.from_dict({**other.jwks["keys"][0], "kid": key.kid})

    with pytest.raises(NotAuthenticated, match="signature"):
        await verifier.verify(token)


async def test_the_least_recently_used_token_is_forgotten_first(key: SigningKey) -> None:
    verified = VerifiedTokens(max_entries=2)
    verifier = remembering(StaticKeys(key.jwks), verified)
    first, second, third = (sign(key, claims(**{"cognito:username": n})) for n in "abc")

    await verifier.verify(first)
    await verifier.verify(second)
    await verifier.verify(first)
    await verifier.verify(third)

    assert len(verified) == 2
    assert verified.get(second) is None
    assert verified.get(first) is not None
    assert verified.get(third) is not None


async def test_a_refused_token_is_not_remembered(key: SigningKey) -> None:
    verified = VerifiedTokens()
    with pytest.raises(NotAuthenticated):
        await remembering(StaticKeys(key.jwks), verified).verify(tampered(key))
    assert len(verified) == 0
