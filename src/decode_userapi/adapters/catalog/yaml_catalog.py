"""`ApplicationCatalog` over a YAML document, re-read when it changes."""

import asyncio
import logging
import time
from collections.abc import Callable

import yaml

from decode_userapi.adapters.catalog.sources import (
    RegistryMissing,
    RegistrySource,
    RegistryUnreadable,
)
from decode_userapi.domain.applications import ApplicationRegistry, RegistryError

log = logging.getLogger(__name__)


class YamlApplicationCatalog:
    """Checks the source at most every `check_interval` seconds, never more often.

    A valid new version replaces the registry; a broken one is logged and the last
    good registry stays in force, as it does when the source cannot be read (network,
    permissions). A missing document is an empty registry (logged once), so the
    service starts without one. Callers that come while the first read is in flight wait
    for it rather than see an empty registry.
    """

    def __init__(
        self,
        source: RegistrySource,
        check_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source, self._check_interval, self._clock = source, check_interval, clock
        self._registry = ApplicationRegistry()
        self._tag: str | None = None
        self._missing = False
        self._checked_at: float | None = None
        self._first_read_done = asyncio.Event()

    async def current(self) -> ApplicationRegistry:
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self._check_interval:
            self._checked_at = now
            try:
                await self._reload()
            finally:
                self._first_read_done.set()
        else:
            await self._first_read_done.wait()
        return self._registry

    async def _reload(self) -> None:
        try:
            fetched = await self._source.fetch(self._tag)
        except RegistryMissing as exc:
            if not self._missing:
                log.warning("%s Serving an empty application registry.", exc)
            self._missing = True
            self._tag = None
            self._registry = ApplicationRegistry()
            return
        except RegistryUnreadable as exc:
            log.error("%s Keeping the last good application registry.", exc)
            return
        except Exception:
            log.exception("Could not read the application registry at %s", self._source.location)
            return
        if fetched is None:
            return
        tag, document = fetched
        self._tag = tag
        self._missing = False
        try:
            self._registry = ApplicationRegistry.parse(yaml.safe_load(document))
        except (yaml.YAMLError, RegistryError) as exc:
            log.error(
                "The application registry at %s is broken; keeping the last good one: %s",
                self._source.location,
                exc,
            )
            return
        log.info("Loaded the application registry from %s", self._source.location)
