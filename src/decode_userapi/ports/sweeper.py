"""Things `cleanup` removes besides jobs: abandoned staged uploads, expired uploads."""

from datetime import datetime
from typing import Protocol

import msgspec


class Removal(msgspec.Struct, frozen=True):
    """One thing a cleanup removed (or, in a dry run, would remove)."""

    kind: str
    """`job`, `staged upload`, `expired upload`, `upload reservation`, ..."""
    name: str
    """What it was, for the log (a job's id and name, a staged file's name, ...)."""
    user_id: str | None
    """Whose it was, when known (a staged file is nobody's until it is in place)."""
    bytes: int


class Sweeper(Protocol):
    """Finds what is abandoned or expired and removes it. Idempotent: removing what is
    already gone is fine, so runs may overlap (several replicas) or restart after a kill."""

    async def sweep(self, now: datetime, *, dry_run: bool) -> list[Removal]:
        """Remove (unless `dry_run`) and return what was abandoned or expired at `now`."""
        ...
