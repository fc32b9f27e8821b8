"""An issuer's public signing keys, from its JWKS URL."""

import asyncio
import time
from collections.abc import Callable

import httpx
import jwt

from decode_userapi.domain.errors import UpstreamUnavailable


class JwksKeySource:
    """Keys by `kid`: fetched on first use and cached; fetched again when a token names
    a key not in the cache (keys rotate), at most once per `min_refetch_seconds` so that
    forged `kid`s cannot make us hammer the issuer."""

    def __init__(
        self,
        url: str,
        *,
        min_refetch_seconds: float = 60.0,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._min_refetch = min_refetch_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        """The key named `kid`, or None when the issuer has no such key."""
        if kid not in self._keys:
            async with self._lock:
                if kid not in self._keys and self._may_fetch():
                    await self._fetch()
        return self._keys.get(kid)

    def _may_fetch(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._min_refetch

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                response = await http.get(self._url)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise UpstreamUnavailable(
                f"Cannot fetch the identity provider's signing keys from {self._url}: {exc}"
            ) from None
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._fetched_at = self._clock()
