from decode_userapi.domain.files import MAX_SEGMENT_LENGTH
from decode_userapi.domain.idempotency import Once
from decode_userapi.domain.jobs import NewJob
from decode_userapi.domain.users import User
from decode_userapi.ports.unit_of_work import UnitOfWork
from decode_userapi.services.jobs.queries import owned_job
from decode_userapi.services.jobs.submit import SubmitJob, Submitted

RERUN = "-rerun-"


def rerun_name(original: str, taken: list[str]) -> str:
    """`<original>-rerun-<n>`, n one more than the highest such n in `taken` (1 at first);
    `original` is shortened (by whole characters) so that the name fits a folder name."""
    numbers = [
        int(rest)
        for name in taken
        if name.startswith(original + RERUN)
        and (rest := name[len(original) + len(RERUN) :]).isdigit()
    ]
    suffix = f"{RERUN}{max(numbers, default=0) + 1}"
    base = original
    while len((base + suffix).encode()) > MAX_SEGMENT_LENGTH:
        base = base[:-1]
    return (base.rstrip() or "job") + suffix


class RerunJob:
    """Start a new job like one of the caller's jobs (any state): the same application,
    inputs, environment, env vars, hardware and tags, submitted exactly as a new job
    (`SubmitJob`: checked again against the registry and the input folders as they are
    now). `job_name` defaults to `<name>-rerun-<n>`, `priority` to the original's.

    `idempotency_key` works as on `SubmitJob`; the request it names is the rerun of
    `job_id` with these `job_name` and `priority`.
    `NotFound` for a missing job and for someone else's; the rest as `SubmitJob`.
    """

    def __init__(self, uow: UnitOfWork, submit: SubmitJob) -> None:
        self._uow = uow
        self._submit = submit

    async def _new_job(
        self, user: User, job_id: int, *, job_name: str | None, priority: int | None
    ) -> NewJob:
        """What the rerun submits."""
        async with self._uow as uow:
            original = await owned_job(uow, user, job_id)
            if job_name is None:
                taken = await uow.jobs.names_starting_with(user.id, original.job_name + RERUN)
                job_name = rerun_name(original.job_name, taken)
        return NewJob(
            job_name=job_name,
            spec=original.spec,
            environment=original.environment,
            priority=original.priority if priority is None else priority,
            files_down=original.files_down,
            env_vars=dict(original.env_vars),
            hardware=original.hardware,
            tags=dict(original.tags),
        )

    async def __call__(
        self,
        user: User,
        job_id: int,
        *,
        job_name: str | None,
        priority: int | None,
        idempotency_key: str | None = None,
    ) -> Submitted:
        once = (
            None
            if idempotency_key is None
            else Once.of(idempotency_key, ("rerun", job_id, job_name, priority))
        )
        request = await self._new_job(user, job_id, job_name=job_name, priority=priority)
        return await self._submit.once(user, request, once)
