"""JwksKeySource against a JWKS document served over HTTP on 127.0.0.1."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from decode_userapi.adapters.identity.jwks import JwksKeySource
from decode_userapi.domain.errors import UpstreamUnavailable


class JwksServer:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.requests = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.requests += 1
                body = json.dumps({"keys": served.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_port}/.well-known/jwks.json"
        threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True).start()

    def add_key(self, kid: str) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        self.keys.append({**public, "kid": kid, "alg": "RS256", "use": "sig"})

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def server() -> Iterator[JwksServer]:
    served = JwksServer()
    yield served
    served.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_fetched_once_then_cached(server: JwksServer) -> None:
    server.add_key("k1")
    keys = JwksKeySource(server.url)
    for _ in range(2):
        key = await keys.key_for("k1")
        assert key is not None
        assert key.key_id == "k1"
    assert server.requests == 1


async def test_unknown_kid_refetches_at_most_once_per_interval(server: JwksServer) -> None:
    server.add_key("k1")
    clock = Clock()
    keys = JwksKeySource(server.url, min_refetch_seconds=60, clock=clock)
    await keys.key_for("k1")

    server.add_key("k2")  # the issuer rotates its keys
    clock.now += 61
    rotated = await keys.key_for("k2")
    assert rotated is not None
    assert rotated.key_id == "k2"
    assert server.requests == 2

    for _ in range(5):
        assert await keys.key_for("forged") is None
    assert server.requests == 2  # too soon after the last fetch
    clock.now += 61
    assert await keys.key_for("forged") is None
    assert server.requests == 3


async def test_unreachable_issuer_is_unavailable_not_unauthenticated(server: JwksServer) -> None:
    url = server.url
    server.close()
    with pytest.raises(UpstreamUnavailable):
        await JwksKeySource(url, timeout_seconds=2).key_for("k1")
