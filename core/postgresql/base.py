"""Django's PostgreSQL backend, with every bulk write kept under the 65,535 parameters a statement may
bind on the server. Inlined by the client (Django's default) values had no such limit; bound on the
server, which lets PostgreSQL keep each hot statement prepared (settings.PG_PREPARED_STATEMENTS), a
bulk insert of a job's many entries or a bulk fill would fail. Django's own backend batches only by
the rows a caller asks for."""

from __future__ import annotations

from django.db.backends.postgresql import base, operations

MAX_PARAMS = 65_535  # the protocol's: a Bind message counts its parameters in 16 bits


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs) -> int:
        return max(1, min(len(objs), MAX_PARAMS // max(len(fields), 1)))


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
