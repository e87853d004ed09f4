"""Hot statements compiled once per process.

Django builds and compiles a queryset anew on every call. For the token lookup every API request
makes (three tables joined) the whole call cost 0.96 ms of CPU, where running the same SQL costs
0.16 ms; prepared, 0.35 ms (benchmarks/README.md, bench_http.py). A ``Prepared`` read is still an ORM queryset,
written once where it belongs; it is compiled on its first use by each database connection, and a
call only binds its parameters, runs the SQL and builds the rows as the queryset would have.

    _TOKEN = Prepared(lambda: ApiToken.objects.filter(key_hash=Param("digest", CharField()))[:1])
    token = _TOKEN.first(digest=digest)

``PreparedUpdate`` and ``PreparedInsert`` do the same for the state machine's writes, and
``PreparedChain`` makes several of them one statement on PostgreSQL: each round trip costs CPU on
both sides (psycopg's about 0.15 ms), and a status change was three statements, a BEGIN and a COMMIT.

For fixed-shape statements on the hot paths only: a queryset whose SQL depends on its arguments (an
``__in`` list, an optional filter) is not one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Expression, Field, Model, QuerySet, sql
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators


class _Slot:
    """Where a named parameter goes in the compiled parameters."""

    __slots__ = ("field", "name", "saved")

    def __init__(self, name: str, field: Field, saved: bool) -> None:
        self.name, self.field, self.saved = name, field, saved

    def bind(self, value: Any, connection) -> Any:
        if self.saved:  # a value written, as the ORM prepares it for a save (a None is SQL NULL)
            return self.field.get_db_prep_save(value, connection)
        return self.field.get_db_prep_value(value, connection, prepared=False)


def _bind(params: tuple, values: dict[str, Any], connection) -> list:
    return [p.bind(values[p.name], connection) if isinstance(p, _Slot) else p for p in params]


def _per_connection(key: object, alias: str, compile: Callable[[Any], tuple]) -> tuple:
    connection = connections[alias]
    # Kept with the connection it was compiled for: connections are per thread, and a compiler's
    # converters read its connection's vendor.
    cache = connection.__dict__.setdefault("_prepared_statements", {})
    compiled = cache.get(key)
    if compiled is None:
        compiled = cache[key] = compile(connection)
    return connection, compiled


class Param(Expression):
    """A named parameter of a prepared read, its value given per call (``field`` says how the database
    takes it: a ``DateTimeField()`` for an aware datetime, a ``UUIDField()`` for a UUID)."""

    def __init__(self, name: str, field: Field) -> None:
        super().__init__(output_field=field)
        self.name = name

    def as_sql(self, compiler, connection):
        saved = isinstance(compiler, sql.compiler.SQLUpdateCompiler | sql.compiler.SQLInsertCompiler)
        return "%s", [_Slot(self.name, self.output_field, saved)]


class Bound:
    """A value to write that is an expression of parameters (a subquery, say), with their values for
    this call: ``template`` is built once, with ``Param``s, and its shape is the same every call."""

    __slots__ = ("params", "template")

    def __init__(self, template: Expression, **params: Any) -> None:
        self.template, self.params = template, params


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

        def compile(connection) -> tuple:
            # A copy per compile: compiling adds the select_related joins to the query it is given,
            # and two threads compiling one query at once made SQL without a FROM entry (seen in CI).
            compiler = queryset.query.chain().get_compiler(connection=connection)
            statement, params = compiler.as_sql()  # fills compiler.select and klass_info
            # As compiler.results_iter finds them, once: the columns' from-database conversions.
            converters = compiler.get_converters([column[0] for column in compiler.select[: compiler.col_count]])
            return queryset, compiler, statement, tuple(params), converters

        return _per_connection(self, queryset.db, compile)

    def all(self, **values: Any) -> list:
        connection, (queryset, compiler, statement, params, converters) = self._compiled()
        with connection.cursor() as cursor:
            cursor.execute(statement, _bind(params, values, connection))
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


class PreparedUpdate:
    """A fixed-shape UPDATE: ``build()`` makes the queryset of the rows, ``values()`` the new values
    (``Param``s, expressions of them, constants), as ``queryset.update(**values())`` would write them."""

    def __init__(self, build: Callable[[], QuerySet], values: Callable[[], dict[str, Any]]) -> None:
        self._build, self._values = build, values
        self._alias: str | None = None

    def compiled(self) -> tuple[Any, str, tuple]:
        """This thread's connection, and the statement compiled for it with its parameter slots."""

        def compile(connection) -> tuple:
            query = self._build().query.chain(sql.UpdateQuery)
            query.add_update_values(self._values())
            statement, params = query.get_compiler(connection=connection).as_sql()
            return statement, tuple(params)

        if self._alias is None:
            self._alias = router.db_for_write(self._build().model)
        connection, (statement, params) = _per_connection(self, self._alias, compile)
        return connection, statement, params

    def run(self, **values: Any) -> int:
        """The number of rows updated."""
        connection, statement, params = self.compiled()
        return _write(connection, statement, _bind(params, values, connection))

    def following(self, previous: str) -> str:
        """The statement as a later step of a ``PreparedChain``: only if ``previous`` wrote a row.
        The rows' filter holds no subquery (the values written may)."""
        _, statement, _ = self.compiled()
        head, where = statement.rsplit(" WHERE ", 1)
        return f"{head} FROM {previous} WHERE {where}"


class PreparedInsert:
    """A fixed-shape INSERT of one row of ``model`` with ``fields`` (attribute names: ``job_id`` for a
    foreign key; all its columns when None), each a parameter of the same name; nothing is read back
    (not even a new id)."""

    def __init__(self, model: type[Model], fields: tuple[str, ...] | None = None) -> None:
        self._model = model
        self._fields = fields or tuple(f.attname for f in model._meta.concrete_fields)

    def save_new(self, obj: Model) -> None:
        """Insert ``obj`` as ``obj.save(force_insert=True)`` would, for a model whose key is set before
        the insert and whose fields compute nothing on save (no ``auto_now``) and that no signal hears."""
        self.run(**self.row(obj))
        self.saved(obj)

    def row(self, obj: Model) -> dict[str, Any]:
        """``obj``'s values, as ``run`` takes them."""
        return {name: getattr(obj, name) for name in self._fields}

    def saved(self, obj: Model) -> None:
        """Mark ``obj`` as stored (by ``run`` with its ``row``, alone or in a ``PreparedChain``)."""
        obj._state.adding, obj._state.db = False, router.db_for_write(self._model)

    def compiled(self) -> tuple[Any, str, tuple]:
        """This thread's connection, and the statement compiled for it with its parameter slots."""

        def compile(connection) -> tuple:
            meta = self._model._meta
            fields = [meta.get_field(name) for name in self._fields]
            row = self._model(**{f.attname: Param(f.attname, f) for f in fields})
            query = sql.InsertQuery(self._model)
            query.insert_values(fields, [row])
            [(statement, params)] = query.get_compiler(connection=connection).as_sql()
            return statement, tuple(params)

        connection, (statement, params) = _per_connection(self, router.db_for_write(self._model), compile)
        return connection, statement, params

    def run(self, **values: Any) -> int:
        """The number of rows inserted (1)."""
        connection, statement, params = self.compiled()
        return _write(connection, statement, _bind(params, values, connection))

    def following(self, previous: str) -> str:
        """The statement as a later step of a ``PreparedChain``: only if ``previous`` wrote a row."""
        _, statement, _ = self.compiled()
        head, row = statement.rsplit(" VALUES ", 1)
        return f"{head} SELECT {row.strip()[1:-1]} FROM {previous}"


class PreparedChain:
    """Fixed-shape writes (``PreparedUpdate``, ``PreparedInsert``), each made only if the one before it
    wrote a row: a status change, its event and its project's counter; a submit's quota, its job and
    its event. ``run`` takes each write's values in turn and answers the rows the first one wrote.

    On PostgreSQL the chain is one statement, a data-modifying WITH: one round trip where it was one
    per write, and atomic by itself, so a chain that is all a transaction writes needs no BEGIN and
    COMMIT around it. Elsewhere the writes run one after another in a transaction."""

    def __init__(self, *writes: PreparedUpdate | PreparedInsert) -> None:
        self._writes = writes

    def run(self, *values: dict[str, Any]) -> int:
        first, *rest = self._writes
        connection, _, _ = first.compiled()
        if connection.vendor != "postgresql":
            with transaction.atomic(using=connection.alias, savepoint=False):
                written = first.run(**values[0])
                if written:
                    for write, its_values in zip(rest, values[1:], strict=True):
                        if not write.run(**its_values):
                            break
            return written

        def compile(connection) -> tuple:
            steps = [f"step0 AS ({first.compiled()[1]} RETURNING 1)"]
            for i, write in enumerate(rest, start=1):
                steps.append(f"step{i} AS ({write.following(f'step{i - 1}')} RETURNING 1)")
            # Every step of a WITH runs to its end whether or not the query reads it (PostgreSQL's docs,
            # "Data-Modifying Statements in WITH"): the query only counts the first one's rows.
            return f"WITH {', '.join(steps)} SELECT count(*) FROM step0", ()

        connection, (statement, _) = _per_connection(self, connection.alias, compile)
        bound = [
            value
            for write, its_values in zip(self._writes, values, strict=True)
            for value in _bind(write.compiled()[2], its_values, connection)
        ]
        return _write(connection, statement, bound, counted=True)


def _write(connection, statement: str, params: list, *, counted: bool = False) -> int:
    """Run one write as the ORM's own writes run (a failed one dooms the surrounding transaction):
    the rows it wrote, or (``counted``) the count its query reads."""
    with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()[0] if counted else cursor.rowcount
