"""Handing the container's providers to Litestar handlers, built once per app."""

import inspect
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from dependency_injector import containers
from dependency_injector.providers import Provider
from litestar import Router
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.types import ControllerRouterHandler

FIRST = "user"
"""Resolved before the other dependencies of a handler: a request that is not signed in
costs no other work."""


def provide(provider: Provider[object]) -> Provide:
    """A Litestar dependency that calls the container's `provider` on every request
    (so a provider overridden in tests is picked up)."""
    return Provide(lambda: provider(), sync_to_thread=False)


def container_dependencies(container: containers.Container) -> dict[str, Provide]:
    """Every provider of `container` under its own name: a handler asks for a use case
    with a parameter `name: NamedDependency[UseCase]` named like the provider."""
    return {name: provide(provider) for name, provider in container.providers.items()}


def resolved_in_turn(
    handlers: Sequence[ControllerRouterHandler], dependencies: Mapping[str, Provide]
) -> None:
    """Gives each handler that takes several of `dependencies` its own versions of them
    that are resolved one after the other (`FIRST` first).

    Litestar resolves the independent dependencies of a handler at once, in an anyio task
    group: about 40 µs a request, which was a tenth of `GET /jobs/{id}` and more than a
    sixth of `PUT /_job_status`, for dependencies that are dictionary look-ups (the one
    awaited, the token check, comes first). Each version here waits for the one before
    it, so every batch holds one dependency and no task group is made.
    """
    for handler in _route_handlers(handlers):
        names = [name for name in handler.parsed_fn_signature.parameters if name in dependencies]
        names.sort(key=lambda name: name != FIRST)
        if len(names) < 2 or any(_takes_arguments(dependencies[name]) for name in names[1:]):
            continue
        handler.dependencies = {
            **(handler.dependencies or {}),
            **{
                name: _after(previous, dependencies[name])
                for previous, name in itertools.pairwise(names)
            },
        }


def _route_handlers(handlers: Sequence[ControllerRouterHandler]) -> Iterator[HTTPRouteHandler]:
    for handler in handlers:
        if isinstance(handler, Router):
            for route in handler.routes:
                for routed in getattr(route, "route_handlers", ()):
                    if isinstance(routed, HTTPRouteHandler):
                        yield routed
        elif isinstance(handler, HTTPRouteHandler):
            yield handler


def _takes_arguments(provide: Provide) -> bool:
    return bool(inspect.signature(provide.dependency).parameters)


def _after(previous: str, provide: Provide) -> Provide:
    """`provide`, as a dependency on the dependency named `previous` (whose value it
    ignores)."""
    call: Callable[[], Any] = provide.dependency

    def resolved_after(**_: object) -> Any:
        return call()

    waits_for = NamedDependency[Any]
    resolved_after.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(previous, inspect.Parameter.KEYWORD_ONLY, annotation=waits_for)]
    )
    resolved_after.__annotations__ = {previous: waits_for, "return": Any}
    return Provide(resolved_after, sync_to_thread=False)
