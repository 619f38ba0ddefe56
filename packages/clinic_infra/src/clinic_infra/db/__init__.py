"""Persistence on SQLAlchemy 2 (async): PostgreSQL through psycopg 3, SQLite through aiosqlite."""
