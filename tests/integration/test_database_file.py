import sqlite3
import stat
from pathlib import Path

from decode_userapi.adapters.persistence.database import upgrade


def test_the_sqlite_database_is_private_to_its_owner(tmp_path: Path) -> None:
    database = tmp_path / "data" / "sql_app.db"
    upgrade(f"sqlite+aiosqlite:///{database}")
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    with sqlite3.connect(database) as connection:  # WAL (as the app runs it): -wal, -shm
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("DELETE FROM users")
        written = [database, *database.parent.glob("sql_app.db-*")]
        assert len(written) == 3
        assert {stat.S_IMODE(path.stat().st_mode) for path in written} == {0o600}
