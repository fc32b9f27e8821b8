"""Storage use, upload reservations and quota overrides per user."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0008_quotas", "0007_uploads"


def upgrade() -> None:
    op.create_table(
        "user_usage",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("used_files", sa.BigInteger(), nullable=False),
        sa.Column("reserved_bytes", sa.BigInteger(), nullable=False),
        sa.Column("reserved_files", sa.BigInteger(), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=True),
        sa.Column("quota_files", sa.BigInteger(), nullable=True),
        sa.Column("quota_running_jobs", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_usage")),
    )
    op.create_table(
        "upload_reservations",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_reservations")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_upload_reservations_user_id"), "upload_reservations", ["user_id"])
    op.create_index(
        op.f("ix_upload_reservations_expires_at"), "upload_reservations", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_upload_reservations_expires_at"), table_name="upload_reservations")
    op.drop_index(op.f("ix_upload_reservations_user_id"), table_name="upload_reservations")
    op.drop_table("upload_reservations")
    op.drop_table("user_usage")
