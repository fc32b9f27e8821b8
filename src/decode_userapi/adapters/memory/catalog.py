"""`ApplicationCatalog` that serves one registry given in code."""

from decode_userapi.domain.applications import ApplicationRegistry


class StaticApplicationCatalog:
    def __init__(self, registry: ApplicationRegistry) -> None:
        self.registry = registry

    async def current(self) -> ApplicationRegistry:
        return self.registry
