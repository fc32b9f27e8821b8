"""`cleanup`: expired jobs with their results, abandoned uploads, and a recount of usage."""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec

from decode_userapi.ports.sweeper import Removal, Sweeper
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.ports.usage_ledger import UsageLedger
from decode_userapi.services.clock import Clock, utc_now
from decode_userapi.services.jobs.delete import DeleteJob
from decode_userapi.services.usage import RecountUsage

log = logging.getLogger("decode_userapi.cleanup")

JOB_BATCH = 200
"""Expired jobs fetched at a time."""


class CleanupSummary(msgspec.Struct, kw_only=True):
    dry_run: bool
    removals: list[Removal] = []
    users_recounted: int = 0
    usage_corrected: int = 0
    """Users whose tracked use differed from what the storage holds."""

    def count(self, kind: str) -> tuple[int, int]:
        """(how many, bytes) of the removals of `kind`."""
        chosen = [removal.bytes for removal in self.removals if removal.kind == kind]
        return len(chosen), sum(chosen)


class Cleanup:
    """One cleanup run, in an order a kill at any point leaves repairable by the next:

    1. jobs in a final state that ended more than `retention_days` ago (None: kept
       forever), each removed by `DeleteJob` (results first, the job last);
    2. what each sweeper finds abandoned or expired (staged uploads of dead processes,
       expired resumable uploads);
    3. upload reservations past their expiry (their upload's process died);
    4. every user's use recounted from the storage (which also counts files that reached
       it without passing through this service).

    Each removal is logged (`decode_userapi.cleanup`, with `user_id` and `bytes_freed`).
    A dry run removes and changes nothing and reports what a run would do.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        delete_job: DeleteJob,
        recount: RecountUsage,
        ledger: UsageLedger,
        sweepers: Sequence[Sweeper],
        retention_days: int | None,
        clock: Clock = utc_now,
    ) -> None:
        self._uow, self._delete_job, self._recount = uow, delete_job, recount
        self._ledger, self._sweepers, self._clock = ledger, sweepers, clock
        self._retention_days = retention_days

    async def __call__(self, *, dry_run: bool = False) -> CleanupSummary:
        now = self._clock()
        summary = CleanupSummary(dry_run=dry_run)
        if self._retention_days is not None:
            await self._expired_jobs(now - timedelta(days=self._retention_days), summary)
        for sweeper in self._sweepers:
            for removal in await sweeper.sweep(now, dry_run=dry_run):
                self._removed(removal, summary)
        for reservation in await self._ledger.release_expired(now, dry_run=dry_run):
            self._removed(
                Removal(
                    "upload reservation",
                    f"reservation {reservation.id}",
                    reservation.user_id,
                    reservation.bytes,
                ),
                summary,
            )
        await self._recount_everyone(summary)
        return summary

    async def _expired_jobs(self, ended_before: datetime, summary: CleanupSummary) -> None:
        seen: set[int] = set()
        while True:
            async with self._uow as uow:
                batch = await uow.jobs.list_ended_before(
                    ended_before, limit=JOB_BATCH + len(seen) if summary.dry_run else JOB_BATCH
                )
            fresh = [job for job in batch if job.id not in seen]
            if not fresh:
                return
            for job in fresh:
                seen.add(job.id)
                if summary.dry_run:
                    freed = await self._delete_job.measure(job)
                else:
                    freed = await self._delete_job.remove(job)
                name = f"job {job.id} {job.job_name!r} ({job.status}, ended {job.date_finished})"
                self._removed(Removal("job", name, job.user_id, freed.bytes), summary)

    def _removed(self, removal: Removal, summary: CleanupSummary) -> None:
        summary.removals.append(removal)
        log.info(
            "%s %s %s",
            "Would remove" if summary.dry_run else "Removed",
            removal.kind,
            removal.name,
            extra={
                "removal": removal.kind,
                "user_id": removal.user_id,
                "bytes_freed": removal.bytes,
                "dry_run": summary.dry_run,
            },
        )

    async def _recount_everyone(self, summary: CleanupSummary) -> None:
        for user_id in await self._recount.user_ids():
            found, before = await self._recount(user_id, dry_run=summary.dry_run)
            summary.users_recounted += 1
            tracked = before.usage
            if (found.bytes, found.files) != (tracked.used_bytes, tracked.used_files):
                summary.usage_corrected += 1
                log.info(
                    "%s the usage of %s: %s bytes in %s files (tracked: %s bytes in %s files)",
                    "Would correct" if summary.dry_run else "Corrected",
                    user_id,
                    found.bytes,
                    found.files,
                    tracked.used_bytes,
                    tracked.used_files,
                    extra={"user_id": user_id, "dry_run": summary.dry_run},
                )
