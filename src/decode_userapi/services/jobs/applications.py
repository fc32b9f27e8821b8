from decode_userapi.domain.applications import ApplicationRegistry
from decode_userapi.ports.application_catalog import ApplicationCatalog


class ListApplications:
    """The application registry in force: `{application: {version: {entrypoint: spec}}}`."""

    def __init__(self, catalog: ApplicationCatalog) -> None:
        self._catalog = catalog

    async def __call__(self) -> ApplicationRegistry:
        return await self._catalog.current()
