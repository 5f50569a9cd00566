"""Database layer: engine, sessions, models and Alembic migrations."""
