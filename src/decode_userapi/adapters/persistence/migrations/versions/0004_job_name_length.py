"""Job names up to 255 characters (a folder name's limit is 255 bytes in UTF-8)."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004_job_name_length", "0003_sign_in_attempts"


def _job_name_type(new: sa.String, old: sa.String) -> None:
    connection = op.get_bind()
    on_sqlite = connection.dialect.name == "sqlite"
    # SQLite rebuilds the table: it must keep AUTOINCREMENT and its counter, so the ids of
    # deleted jobs stay unused.
    last_id = (
        connection.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'")).scalar()
        if on_sqlite
        else None
    )
    with op.batch_alter_table("jobs", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("job_name", type_=new, existing_type=old, existing_nullable=False)
    if last_id is not None:
        connection.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'jobs'"))
        connection.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', :seq)"),
            {"seq": last_id},
        )


def upgrade() -> None:
    _job_name_type(sa.String(length=255), sa.String(length=100))


def downgrade() -> None:
    _job_name_type(sa.String(length=100), sa.String(length=255))
