"""The query plans of `GET /jobs` and its filters on PostgreSQL, over 100 000 jobs.

Starts a throwaway PostgreSQL the way the test suite does (`tests/servers/postgres.py`),
applies the migrations, fills 100 000 jobs (90 000 of one user, the rest spread over 100
others; 2 tags each) and prints `EXPLAIN ANALYZE` of the list query that the repository
builds for each filter, with the index each plan uses. Not timed: it shows that each
filter has an index the planner picks, where a scan of the user's 90 000 jobs would be the
alternative.

Run: `.venv/bin/python -m benchmarks.jobs_query_plan`.
"""

import asyncio
import re
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from decode_userapi.adapters.persistence.database import create_engine, upgrade
from decode_userapi.adapters.persistence.driver import SqlConnection, database_for
from decode_userapi.adapters.persistence.jobs import SqlaJobRepository
from decode_userapi.domain.jobs import JobQuery, JobState
from decode_userapi.ports.job_repository import Window
from tests.servers.postgres import fresh_database, start_postgres

HEAVY_USER = "heavy-user"  # as in FILL
PAGE = 100

# Server-side generation: job n belongs to the heavy user unless n % 10 == 0; of every 100
# jobs one is running and one queued; 10 applications with 3 versions; one a year of dates.
FILL = [
    """
    INSERT INTO jobs (user_id, user_email, job_name, environment, priority, application,
        version, entrypoint, config_id, data_ids, artifact_ids, env_vars, hardware, status,
        date_created, date_started, date_finished, runtime_details)
    SELECT CASE WHEN n % 10 = 0 THEN 'user-' || (n % 100) ELSE 'heavy-user' END,
        'someone@example.org', 'run-' || lpad(n::text, 6, '0'), 'cloud', n % 6,
        'app-' || (n % 10), 'v' || (n % 3), 'train', 'cfg', '[]', '[]', '{}', NULL,
        CASE WHEN n % 100 = 1 THEN 'running' WHEN n % 100 = 2 THEN 'queued'
             WHEN n % 100 < 6 THEN 'error' ELSE 'finished' END,
        timestamptz '2026-01-01 00:00:00+00' + n * interval '5 minutes', NULL, NULL, NULL
    FROM generate_series(1, 100000) AS n
    """,
    """
    INSERT INTO job_tags (job_id, key, value)
    SELECT id, 'experiment', 'E-' || (id % 1000) FROM jobs
    UNION ALL SELECT id, 'sample', 's-' || (id % 50) FROM jobs
    """,
    "ANALYZE",
]

CASES: list[tuple[str, JobQuery, dict[str, Any]]] = [
    ("no filter (first page)", JobQuery(), {}),
    ("status=running", JobQuery(statuses=(JobState.RUNNING,)), {}),
    ("status=running&status=queued", JobQuery(statuses=(JobState.RUNNING, JobState.QUEUED)), {}),
    ("application=app-3", JobQuery(application="app-3"), {}),
    ("application=app-3&version=v1", JobQuery(application="app-3", version="v1"), {}),
    ("tag=experiment:E-42", JobQuery(tags=(("experiment", "E-42"),)), {}),
    (
        "tag=experiment:E-42&tag=sample:s-42",
        JobQuery(tags=(("experiment", "E-42"), ("sample", "s-42"))),
        {},
    ),
    (
        "created_after=2026-06-01&created_before=2026-06-02",
        JobQuery(
            created_after=datetime(2026, 6, 1, tzinfo=UTC),
            created_before=datetime(2026, 6, 2, tzinfo=UTC),
        ),
        {},
    ),
    ("q=run-0123", JobQuery(name_prefix="run-0123"), {}),
    (
        "cursor (after a job in the middle)",
        JobQuery(),
        {"after": (datetime(2026, 4, 1, tzinfo=UTC), 50_000)},
    ),
]


async def explain(session: AsyncSession, label: str, query: JobQuery, after: Any) -> None:
    engine = cast(AsyncEngine, session.bind)
    repository = SqlaJobRepository(SqlConnection(database_for(engine)))
    statement = repository.list_statement(HEAVY_USER, query, Window(0, PAGE, after))
    sql = statement.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
    )
    connection = await session.connection()
    rows = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}")
    plan = [line for (line,) in rows]
    shown = "\n".join(plan)
    used = re.findall(r"(?:Index Scan|Index Only Scan)(?: Backward)? using (\w+)", shown)
    used += re.findall(r"Bitmap Index Scan on (\w+)", shown)
    indexes = sorted(set(used))
    print(f"\n## {label}\n   indexes: {', '.join(indexes) or 'NONE'}")
    for line in plan:
        print(f"   {line}")


async def main() -> None:
    server = start_postgres()
    try:
        async with fresh_database(server) as url:
            await asyncio.to_thread(upgrade, url)
            engine = create_engine(url)
            try:
                async with engine.begin() as connection:
                    for statement in FILL:
                        await connection.execute(text(statement))
                async with AsyncSession(engine) as session:
                    count = (await session.execute(text("SELECT count(*) FROM jobs"))).scalar()
                    print(f"{count} jobs, {HEAVY_USER} holds 90 %; page size {PAGE}")
                    for label, query, options in CASES:
                        await explain(session, label, query, options.get("after"))
            finally:
                await engine.dispose()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
