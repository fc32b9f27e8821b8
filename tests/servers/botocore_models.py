"""One cache of botocore's parsed service models for every session in the test process.

The adapters build a `boto3.session.Session` each (as a server does once at start), and
the tests build hundreds of containers: each new session parsed the S3 and Cognito
models and endpoint rules again (about 0.1 s of JSON per client). Sessions that search
the same folders now share what their loaders read; nothing else about a session or a
client changes.
"""

from collections.abc import Callable
from typing import Any

from botocore import loaders

_SHARED: dict[tuple[object, ...], dict[Any, Any]] = {}


def share_model_cache() -> None:
    """Make loaders with the same search paths and extras share one cache (idempotent)."""
    if getattr(loaders.Loader.__init__, "_shares_cache", False):
        return
    original: Callable[..., None] = loaders.Loader.__init__

    def init(self: loaders.Loader, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        key = (tuple(self.search_paths), tuple(self.extras_types))
        self._cache = _SHARED.setdefault(key, {})  # type: ignore[attr-defined]

    init._shares_cache = True  # type: ignore[attr-defined]
    loaders.Loader.__init__ = init  # type: ignore[method-assign]
