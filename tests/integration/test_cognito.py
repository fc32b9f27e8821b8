"""The Cognito accounts and token verifier against moto's Cognito over HTTP."""

import gzip
import json
import time
from importlib.resources import files

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from decode_userapi.adapters.identity.cognito import CognitoAccounts, CognitoUserPool
from decode_userapi.domain.errors import AlreadyExists, InvalidInput, NotAuthenticated, NotFound
from decode_userapi.domain.users import User
from tests.servers.fixtures import CognitoPool
from tests.servers.moto import REGION

PASSWORD = "Correct horse 1"
MOTO_KEY = "resources/jwks-private.json.gz"


class PoolClient(CognitoAccounts):
    """Both roles on one pool and app client, as the container builds them: the accounts,
    and `verify` of the token verifier."""

    def __init__(self, pool_id: str, client_id: str, endpoint: str, secret: str | None) -> None:
        pool = CognitoUserPool(pool_id, client_id, REGION, endpoint)
        super().__init__(pool, client_secret=secret)
        self.verify = pool.verifier().verify


def provider(pool: CognitoPool, *, with_secret: bool = False) -> PoolClient:
    if with_secret:
        return PoolClient(pool.pool_id, pool.secret_client_id, pool.endpoint, pool.client_secret)
    return PoolClient(pool.pool_id, pool.client_id, pool.endpoint, None)


@pytest.mark.parametrize("with_secret", [False, True])
async def test_register_sign_in_verify(cognito_pool: CognitoPool, with_secret: bool) -> None:
    cognito = provider(cognito_pool, with_secret=with_secret)
    registered = await cognito.register("ada@example.org", PASSWORD, ["users", "workers"])
    token = await cognito.issue_token("ada@example.org", PASSWORD)
    assert token.expires_in > 0

    user = await cognito.verify(token.id_token)

    assert user == User(id=registered.id, email="ada@example.org", groups=("users", "workers"))
    assert registered.groups == ("users", "workers")
    assert user.id != "ada@example.org"  # emails as usernames: the id is the `sub`


async def test_a_user_without_groups_is_not_confirmed(cognito_pool: CognitoPool) -> None:
    cognito = provider(cognito_pool)
    await cognito.register("new@example.org", PASSWORD, [])
    user = await cognito.verify((await cognito.issue_token("new@example.org", PASSWORD)).id_token)
    assert user.groups == ()
    assert not user.is_confirmed


async def test_sign_in_errors(cognito_pool: CognitoPool) -> None:
    cognito = provider(cognito_pool)
    await cognito.register("bob@example.org", PASSWORD, ["users"])
    with pytest.raises(InvalidInput, match="Wrong password"):
        await cognito.issue_token("bob@example.org", "wrong password 2")
    with pytest.raises(NotFound):
        await cognito.issue_token("nobody@example.org", PASSWORD)


async def test_registration_errors(cognito_pool: CognitoPool) -> None:
    cognito = provider(cognito_pool)
    await cognito.register("eve@example.org", PASSWORD, ["users"])
    with pytest.raises(AlreadyExists):
        await cognito.register("eve@example.org", PASSWORD, ["users"])
    with pytest.raises(InvalidInput):
        await cognito.register("weak@example.org", "short", ["users"])
    # The refused registration left nothing behind: the email can be used.
    await cognito.register("weak@example.org", PASSWORD, ["users"])


async def test_tokens_of_another_pool_or_client_are_refused(
    cognito_pool: CognitoPool, aws_endpoint: str
) -> None:
    issuer = provider(cognito_pool)
    await issuer.register("mia@example.org", PASSWORD, ["users"])
    token = (await issuer.issue_token("mia@example.org", PASSWORD)).id_token

    other_client = provider(cognito_pool, with_secret=True)
    with pytest.raises(NotAuthenticated):
        await other_client.verify(token)

    other_pool = PoolClient(f"{REGION}_otherpool", cognito_pool.client_id, aws_endpoint, None)
    with pytest.raises(NotAuthenticated):
        await other_pool.verify(token)


async def test_forged_and_malformed_tokens_are_refused(cognito_pool: CognitoPool) -> None:
    cognito = provider(cognito_pool)
    await cognito.register("sam@example.org", PASSWORD, ["users"])
    genuine = (await cognito.issue_token("sam@example.org", PASSWORD)).id_token
    claims = jwt.decode(genuine, options={"verify_signature": False})
    own_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = jwt.get_unverified_header(genuine)

    forged = jwt.encode({**claims, "cognito:groups": ["users", "cloud"]}, own_key, "RS256", header)
    header_only, payload, signature = genuine.split(".")
    tampered = ".".join((header_only, payload[:-4] + "AAAA", signature))
    for token in (forged, tampered, "not-a-jwt", genuine + "x"):
        with pytest.raises(NotAuthenticated):
            await cognito.verify(token)


async def test_well_signed_tokens_with_wrong_claims_are_refused(
    cognito_pool: CognitoPool,
) -> None:
    cognito = provider(cognito_pool)
    await cognito.register("kim@example.org", PASSWORD, ["users"])
    genuine = (await cognito.issue_token("kim@example.org", PASSWORD)).id_token
    claims = jwt.decode(genuine, options={"verify_signature": False})
    header = jwt.get_unverified_header(genuine)
    # moto signs every pool's tokens with the private key it ships.
    moto_key = jwt.PyJWK(
        json.loads(gzip.decompress(files("moto.cognitoidp").joinpath(MOTO_KEY).read_bytes()))
    )

    def signed(**changes: object) -> str:
        return jwt.encode({**claims, **changes}, moto_key, "RS256", header)

    assert (await cognito.verify(signed())).email == "kim@example.org"
    with pytest.raises(NotAuthenticated, match="expired"):
        await cognito.verify(signed(exp=int(time.time()) - 60))
    with pytest.raises(NotAuthenticated, match="not an ID token"):
        await cognito.verify(signed(token_use="access"))
    with pytest.raises(NotAuthenticated):
        await cognito.verify(signed(iss="https://example.org/evil"))
    with pytest.raises(NotAuthenticated):
        await cognito.verify(signed(aud="another-client"))


async def groups_in_token(cognito: PoolClient, email: str) -> tuple[str, ...]:
    return (await cognito.verify((await cognito.issue_token(email, PASSWORD)).id_token)).groups


async def test_change_groups_approves_and_withdraws(cognito_pool: CognitoPool) -> None:
    cognito = provider(cognito_pool)
    registered = await cognito.register("lea@example.org", PASSWORD, ["workers"])

    approved = await cognito.change_groups("lea@example.org", add=["users"], remove=[])
    assert approved == User(id=registered.id, email="lea@example.org", groups=("users", "workers"))
    assert await groups_in_token(cognito, "lea@example.org") == ("users", "workers")

    withdrawn = await cognito.change_groups(
        "lea@example.org", add=["cloud"], remove=["users", "workers"]
    )
    assert withdrawn.groups == ("cloud",)
    assert await groups_in_token(cognito, "lea@example.org") == ("cloud",)


async def test_change_groups_of_an_unknown_user_is_not_found(cognito_pool: CognitoPool) -> None:
    cognito = provider(cognito_pool)
    for add, remove in ((["users"], []), ([], ["users"]), ([], [])):
        with pytest.raises(NotFound) as refused:
            await cognito.change_groups("nobody@example.org", add=add, remove=remove)
        assert refused.value.message == "No user has the email nobody@example.org."
