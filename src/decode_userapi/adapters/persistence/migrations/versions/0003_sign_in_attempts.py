"""Failed sign-ins per account and per client address (rate limits shared by replicas)."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0003_sign_in_attempts", "0002_jobs"


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_attempts")),
    )
    op.create_index(op.f("ix_sign_in_attempts_window_start"), "sign_in_attempts", ["window_start"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_attempts_window_start"), table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
