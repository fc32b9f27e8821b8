"""Jobs beyond the contract (issue 9): tags, idempotency keys of `POST /jobs`, list indexes.

The `canceled` state needs no schema change (`jobs.status` is text). The indexes serve
`GET /jobs`: newest first per user (and its cursor), by status, by application and
version, by a prefix of the job name (on PostgreSQL `text_pattern_ops`, which `LIKE 'x%'`
can use under any collation), and by tag.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0005_job_cancel_tags_idempotency", "0004_job_name_length"


def upgrade() -> None:
    op.create_table(
        "job_tags",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_tags_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "key", name=op.f("pk_job_tags")),
    )
    op.create_index("ix_job_tags_key_value", "job_tags", ["key", "value", "job_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_idempotency_keys_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("ix_idempotency_keys_job_id", "idempotency_keys", ["job_id"])
    op.create_index("ix_jobs_user_created", "jobs", ["user_id", "date_created", "id"])
    op.create_index(
        "ix_jobs_user_status_created", "jobs", ["user_id", "status", "date_created", "id"]
    )
    op.create_index(
        "ix_jobs_user_application", "jobs", ["user_id", "application", "version", "date_created"]
    )
    op.create_index(
        "ix_jobs_user_name_prefix",
        "jobs",
        ["user_id", "job_name"],
        postgresql_ops={"job_name": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_user_name_prefix", table_name="jobs")
    op.drop_index("ix_jobs_user_application", table_name="jobs")
    op.drop_index("ix_jobs_user_status_created", table_name="jobs")
    op.drop_index("ix_jobs_user_created", table_name="jobs")
    op.drop_index("ix_idempotency_keys_job_id", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_job_tags_key_value", table_name="job_tags")
    op.drop_table("job_tags")
