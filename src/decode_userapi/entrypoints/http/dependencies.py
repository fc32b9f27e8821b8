"""Handing the container's use cases to Litestar handlers."""

from collections.abc import Callable

from litestar.di import Provide


def provide(provider: Callable[[], object]) -> Provide:
    """A Litestar dependency that calls the container's `provider` on every request
    (so a provider overridden in tests is picked up)."""
    return Provide(lambda: provider(), sync_to_thread=False)
