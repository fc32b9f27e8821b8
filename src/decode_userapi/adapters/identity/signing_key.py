"""The local identity provider's RSA key, kept in a file created on first start."""

import base64
import contextlib
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KEY_SIZE = 2048
ALGORITHM = "RS256"


class SigningKey:
    """An RSA private key, its RFC 7638 thumbprint as `kid`, and its public JWK."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        public: dict[str, Any] = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        self.kid = jwk_thumbprint(public)
        self.public_jwk = {**public, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    @property
    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [self.public_jwk]}


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without whitespace."""
    members = {name: jwk[name] for name in ("e", "kty", "n")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def load_or_create_signing_key(path: str | Path) -> SigningKey:
    """The key in `path` (PEM, PKCS#8), created with mode 0600 when missing (its folder
    0700 when created here).

    Creation is atomic: the key is written to a temporary file and hard-linked into
    place, so when several processes start at once exactly one key wins and all use it.
    """
    key_path = Path(path)
    if not key_path.exists():
        _create(key_path)
    try:
        private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except ValueError as exc:
        raise ValueError(f"{key_path} does not hold a PEM private key: {exc}") from None
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError(f"{key_path} holds a {type(private_key).__name__}, not an RSA key.")
    return SigningKey(private_key)


def _create(key_path: Path) -> None:
    key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = key_path.with_name(f".{key_path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, key_path)
    finally:
        temporary.unlink(missing_ok=True)
