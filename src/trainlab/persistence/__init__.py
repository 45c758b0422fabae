"""Where a run's state persists: SQLite in the run folder, or a PostgreSQL server."""
