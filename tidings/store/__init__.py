"""Storage: SQLAlchemy models, engines and sessions, Alembic migrations, leasing helpers."""
