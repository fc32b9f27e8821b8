"""The current application registry."""

from typing import Protocol

from decode_userapi.domain.applications import ApplicationRegistry


class ApplicationCatalog(Protocol):
    """Hands out the registry as it is now.

    The registry may change while the service runs (an operator edits the file); an
    adapter picks up a valid new version without a restart and keeps the last good
    one when a new version is broken. Cheap to call on every request.
    """

    async def current(self) -> ApplicationRegistry:
        """The registry in force; an empty one when none was ever configured."""
        ...
