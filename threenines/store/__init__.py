"""Storage: SQLAlchemy 2.x on SQLite (default) or PostgreSQL, schema managed by Alembic."""
