"""Each job's JSON document as `GET /jobs` answers it (issue 11), kept beside the job.

NULL for the jobs of before: a list builds their documents from their rows until a change
of the job writes it. A later change of the document's shape clears the column the same
way (`UPDATE jobs SET document = NULL`).
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0009_job_documents", "0008_quotas"


def upgrade() -> None:
    op.add_column("jobs", sa.Column("document", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite copies the table without the column: keep its AUTOINCREMENT (see 0004).
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as jobs:
        jobs.drop_column("document")
