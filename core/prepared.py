"""Hot reads compiled once per process.

Django builds and compiles a queryset anew on every call. For the token lookup every API request
makes (three tables joined) that is 0.8 ms of CPU before the database sees the query, where running
the same SQL costs 0.16 ms (benchmarks/bench_http.py). A ``Prepared`` read is still an ORM queryset,
written once where it belongs; it is compiled on its first use by each database connection, and a
call only binds its parameters, runs the SQL and builds the rows as the queryset would have.

    _TOKEN = Prepared(lambda: ApiToken.objects.select_related("user").filter(key_hash=Param("digest", CharField())))
    token = _TOKEN.first(digest=digest)

For fixed-shape reads on the hot paths only: a queryset whose SQL depends on its arguments (an
``__in`` list, an optional filter) is not one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import Expression, Field, QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators


class _Slot:
    """Where a named parameter goes in the compiled parameters."""

    __slots__ = ("field", "name")

    def __init__(self, name: str, field: Field) -> None:
        self.name, self.field = name, field

    def bind(self, value: Any, connection) -> Any:
        return self.field.get_db_prep_value(value, connection, prepared=False)


class Param(Expression):
    """A named parameter of a prepared read, its value given per call (``field`` says how the database
    takes it: a ``DateTimeField()`` for an aware datetime, a ``UUIDField()`` for a UUID)."""

    def __init__(self, name: str, field: Field) -> None:
        super().__init__(output_field=field)
        self.name = name

    def as_sql(self, compiler, connection):
        return "%s", [_Slot(self.name, self.output_field)]


class Prepared:
    """A fixed-shape read: ``build()`` makes its queryset (model instances, select_related included,
    or ``values_list`` tuples), with ``Param``s where the call's values go."""

    def __init__(self, build: Callable[[], QuerySet]) -> None:
        self._build = build
        self._queryset: QuerySet | None = None

    def _compiled(self):
        queryset = self._queryset
        if queryset is None:  # built on first use: apps are ready by then
            queryset = self._build()
            if queryset._iterable_class not in (ModelIterable, ValuesListIterable):
                raise TypeError("a prepared read gives model instances or values_list tuples")
            self._queryset = queryset
        connection = connections[queryset.db]
        # The compiler is kept with the connection it compiled for: connections are per thread, and
        # its converters read the connection's vendor.
        cache = connection.__dict__.setdefault("_prepared_reads", {})
        compiled = cache.get(self)
        if compiled is None:
            compiler = queryset.query.get_compiler(using=queryset.db)
            sql, params = compiler.as_sql()  # fills compiler.select and klass_info
            # As compiler.results_iter finds them, once: the columns' from-database conversions.
            converters = compiler.get_converters([column[0] for column in compiler.select[: compiler.col_count]])
            compiled = cache[self] = (queryset, compiler, sql, tuple(params), converters)
        return connection, compiled

    def all(self, **values: Any) -> list:
        connection, (queryset, compiler, sql, params, converters) = self._compiled()
        bound = [p.bind(values[p.name], connection) if isinstance(p, _Slot) else p for p in params]
        with connection.cursor() as cursor:
            cursor.execute(sql, bound)
            fetched = cursor.fetchall()
        rows = [row[: compiler.col_count] for row in fetched] if compiler.has_extra_select else fetched
        if converters:
            rows = compiler.apply_converters(rows, converters)
        rows = map(tuple, rows)
        if queryset._iterable_class is ValuesListIterable:
            return list(rows)
        return self._instances(queryset.db, compiler, rows)

    def first(self, **values: Any):
        """The first row, or None (the queryset decides the order; slice it to one row)."""
        found = self.all(**values)
        return found[0] if found else None

    @staticmethod
    def _instances(db: str, compiler, rows) -> list:
        # As Django's ModelIterable builds them (django/db/models/query.py).
        select, klass_info, annotations = compiler.select, compiler.klass_info, compiler.annotation_col_map
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        populators = get_related_populators(klass_info, select, db)
        instances = []
        for row in rows:
            obj = klass_info["model"].from_db(db, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in (annotations or {}).items():
                setattr(obj, name, row[position])
            instances.append(obj)
        return instances
