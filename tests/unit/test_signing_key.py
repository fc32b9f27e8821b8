import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from decode_userapi.adapters.identity.signing_key import jwk_thumbprint, load_or_create_signing_key


def test_created_with_owner_only_permissions_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "key.pem"
    first = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    content = path.read_bytes()
    second = load_or_create_signing_key(path)
    assert second.kid == first.kid
    assert path.read_bytes() == content
    assert list(path.parent.iterdir()) == [path]


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    with ThreadPoolExecutor(4) as pool:
        keys = list(pool.map(lambda _: load_or_create_signing_key(path), range(4)))
    assert len({key.kid for key in keys}) == 1
    assert list(tmp_path.iterdir()) == [path]


RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
    "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)


def test_thumbprint_matches_the_rfc7638_example() -> None:
    jwk = {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_public_jwk_names_its_thumbprint_and_holds_no_secret(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path / "key.pem")
    jwk = key.public_jwk
    assert jwk["kid"] == key.kid == jwk_thumbprint(jwk)
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_unreadable_key_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("not a key")
    with pytest.raises(ValueError, match=str(path)):
        load_or_create_signing_key(path)
