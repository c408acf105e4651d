"""The ratings store: SQLite by default, PostgreSQL by URL, through SQLAlchemy."""
