"""Imports every ORM model so that `Base.metadata` knows all tables (used by Alembic)."""

from decode_userapi.adapters.persistence.jobs import JobRow

__all__ = ["JobRow"]
