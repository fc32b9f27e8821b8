"""Something the service depends on that can say whether it answers."""

from typing import Protocol


class HealthProbe(Protocol):
    async def check(self) -> None:
        """Return when the dependency answers; raise when it does not."""
        ...
