from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from decode_userapi.adapters.persistence import models  # noqa: F401  (registers tables)
from decode_userapi.adapters.persistence.database import downgrade, upgrade
from decode_userapi.adapters.persistence.orm import Base


def test_migration_builds_exactly_the_orm_models(tmp_path: Path) -> None:
    async_url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    sync_engine = create_engine(f"sqlite:///{tmp_path}/db.sqlite")
    upgrade(async_url)
    with sync_engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        unique = inspect(connection).get_unique_constraints("users")
        assert [(c["name"], c["column_names"]) for c in unique] == [("uq_users_email", ["email"])]
    downgrade(async_url, "base")
    assert "users" not in inspect(sync_engine).get_table_names()
    sync_engine.dispose()
