"""Django's PostgreSQL backend for values bound on the server (settings.PG_PREPARED_STATEMENTS)."""
