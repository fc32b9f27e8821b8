from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from decode_userapi.adapters.persistence import models
from decode_userapi.adapters.persistence.database import downgrade, upgrade
from decode_userapi.adapters.persistence.orm import Base


def test_jobs_migration_matches_the_models_and_goes_down_and_up(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite"
    url = f"sqlite+aiosqlite:///{database}"
    inspect_engine = sa.create_engine(f"sqlite:///{database}")
    assert models.JobRow.__tablename__ == "jobs"

    upgrade(url)
    with inspect_engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
        ddl = connection.execute(sa.text("SELECT sql FROM sqlite_master WHERE name='jobs'"))
        assert "AUTOINCREMENT" in ddl.scalar_one()

    downgrade(url, "base")
    assert "jobs" not in sa.inspect(inspect_engine).get_table_names()
    upgrade(url)
    assert "jobs" in sa.inspect(inspect_engine).get_table_names()
    inspect_engine.dispose()
