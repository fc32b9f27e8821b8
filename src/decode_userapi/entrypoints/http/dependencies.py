"""Handing the container's providers to Litestar handlers, built once per app."""

from dependency_injector import containers
from dependency_injector.providers import Provider
from litestar.di import Provide


def provide(provider: Provider[object]) -> Provide:
    """A Litestar dependency that calls the container's `provider` on every request
    (so a provider overridden in tests is picked up)."""
    return Provide(lambda: provider(), sync_to_thread=False)


def container_dependencies(container: containers.Container) -> dict[str, Provide]:
    """Every provider of `container` under its own name: a handler asks for a use case
    with a parameter `name: NamedDependency[UseCase]` named like the provider."""
    return {name: provide(provider) for name, provider in container.providers.items()}
