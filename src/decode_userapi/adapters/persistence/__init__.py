"""SQLAlchemy async persistence: ORM models, mappers, repositories, Alembic migrations."""
