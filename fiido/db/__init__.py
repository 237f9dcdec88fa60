"""Database backends: SQLite with writes queued inside the process (``fiido.db.sqlite3``)."""
