"""Imports every ORM model so that `Base.metadata` knows all tables (used by Alembic)."""
