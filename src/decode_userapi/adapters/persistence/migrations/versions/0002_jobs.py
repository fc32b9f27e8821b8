"""Jobs."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0002_jobs", "0001_users"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("user_email", sa.String(length=320), nullable=True),
        sa.Column("job_name", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("application", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("entrypoint", sa.String(length=255), nullable=False),
        sa.Column("config_id", sa.Text(), nullable=True),
        sa.Column("data_ids", sa.JSON(), nullable=False),
        sa.Column("artifact_ids", sa.JSON(), nullable=False),
        sa.Column("env_vars", sa.JSON(), nullable=False),
        sa.Column("hardware", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("date_finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runtime_details", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("user_id", "job_name", name=op.f("uq_jobs_user_id_job_name")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_jobs_user_id"), "jobs", ["user_id"], unique=False)
    op.create_index(op.f("ix_jobs_status"), "jobs", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_status"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_user_id"), table_name="jobs")
    op.drop_table("jobs")
