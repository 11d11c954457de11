"""Compile an ORM ``values_list`` query once, run it many times with new values.

On a hot path, building and compiling a queryset costs far more than executing it (a primary-key lookup is
~15 µs of SQL and ~150 µs of ORM work). ``FixedQuery`` builds the queryset once per *shape* (the length of
each list argument) with sentinel values, keeps the SQL and the column converters Django computed, and then
executes the SQL on a cursor with the real values, applying the same converters (dates, decimals, JSON,
booleans), so rows are exactly what ``values_list`` would have returned.

On PostgreSQL the statement is also *prepared* on the server (psycopg, server-side binding, one named statement
per shape and connection), so the server parses and plans it once per connection instead of on every call:
planning a seven-table join costs several times its execution (ADR 0020, docs/benchmarks.md "Clinical").
``DB_PREPARED_STATEMENTS=false`` turns this off (a pooler that cannot carry prepared statements).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet

_SENTINEL_BASE = -987_654_000
# String sentinels: letters and digits only (LIKE escaping leaves them alone), closed by "x" so that no
# sentinel is a substring of another.
_STR_SENTINEL = "fixedquerysentinel{}x"
# The patterns Django's LIKE lookups (startswith, contains, endswith and their i- forms) make of a value.
_LIKE_SHAPES = ("{}%", "%{}%", "%{}")

Value = int | str


class FixedQuery:
    """``FixedQuery(lambda a, b: Model.objects.filter(x=a, y__in=b).values_list(...))``; ``run(1, [2, 3])``.

    Arguments are integers, strings, or lists of either; each distinct shape (kind of each argument, length of
    each list) is compiled once. A string may be compared as is (``=``, ``IN``, ``<``…) or used as a LIKE
    lookup's value (``__startswith``, ``__contains``…: it is escaped as Django escapes it); a build function
    must not otherwise transform a string argument (say ``a + "z"``): pass the derived value as an argument
    of its own. Compiling refuses a parameter it cannot map.

    ``paged=True``: the build function returns an unsliced queryset and ``run(..., limit=, offset=)`` pages it
    (``LIMIT %s OFFSET %s`` as parameters, so every page is the same statement; Django would write a slice
    into the SQL text).
    """

    def __init__(self, build: Callable[..., QuerySet[Any]], *, paged: bool = False) -> None:
        self.build = build
        self.paged = paged
        self._compiled: dict[tuple[Any, ...], tuple[str, list[Any], Any, list[Any]]] = {}
        self._lock = threading.Lock()

    def _compile(self, alias: str, shape: tuple[Any, ...]) -> tuple[str, list[Any], Any, list[Any]]:
        sentinels: list[Value] = []

        def sentinel(kind: type) -> Value:
            n = len(sentinels)
            sentinels.append(_SENTINEL_BASE - n if kind is int else _STR_SENTINEL.format(n))
            return sentinels[-1]

        args: list[Any] = []
        for kind, n in shape:
            args.append(sentinel(kind) if n is None else [sentinel(kind) for _ in range(n)])
        qs = self.build(*args).using(alias)
        if self.paged and (qs.query.low_mark or qs.query.high_mark is not None):
            raise ValueError("FixedQuery(paged=True): the build function must not slice; run() pages")
        compiler = qs.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if self.paged:
            sql += " LIMIT %s OFFSET %s"
        position = {s: i for i, s in enumerate(sentinels)}
        # Each parameter is one of our values (by flat position), a LIKE pattern made of one, or a constant
        # Django added. Mapping entries: None (constant), int (the value itself) or (position, pattern).
        mapping: list[Any] = []
        for p in params:
            if isinstance(p, int | str) and p in position:
                mapping.append(position[p])
            elif isinstance(p, str) and _STR_SENTINEL.format("")[:-1] in p:
                mapping.append(self._like(p, sentinels))
            else:
                mapping.append(None)
        constants = [p if m is None else None for m, p in zip(mapping, params, strict=True)]
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        converters = compiler.get_converters(fields)
        return sql, mapping, (compiler, converters), constants

    @staticmethod
    def _like(param: str, sentinels: list[Value]) -> tuple[int, str]:
        for i, s in enumerate(sentinels):
            if isinstance(s, str):
                for shape in _LIKE_SHAPES:
                    if param == shape.format(s):
                        return i, shape
        raise ValueError(
            f"FixedQuery: a string argument was transformed into {param!r}; pass it as an argument"
        )

    def run(
        self,
        *values: Value | Sequence[Value],
        using: str = "default",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[tuple[Any, ...]]:
        if self.paged != (limit is not None):
            raise TypeError("FixedQuery: give limit (and offset) exactly when the query is paged")
        shape: list[tuple[type, int | None]] = []
        flat: list[Value] = []
        for v in values:
            if isinstance(v, int | str):
                shape.append((str if isinstance(v, str) else int, None))
                flat.append(v)
            else:
                kinds = {str if isinstance(x, str) else int for x in v}
                if len(kinds) > 1:
                    raise TypeError("FixedQuery: a list argument mixes strings and integers")
                shape.append((kinds.pop() if kinds else int, len(v)))
                flat.extend(v)
        key = (using, tuple(shape))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(using, key[1])
            with self._lock:
                self._compiled[key] = compiled
        sql, mapping, (compiler, converters), constants = compiled
        connection = connections[using]
        prepare = connection.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS
        params: list[Any] = []
        for i, m in enumerate(mapping):
            if m is None:
                params.append(constants[i])
            elif isinstance(m, int):
                v = flat[m]
                # One parameter type per argument whatever the value (psycopg types a bare int by its size:
                # int2/int4/int8), so a shape is one prepared statement, not one per magnitude.
                params.append(_Int8(v) if prepare and isinstance(v, int) else v)
            else:
                params.append(m[1].format(connection.ops.prep_for_like_query(flat[m[0]])))
        if self.paged:
            assert limit is not None
            if limit < 0 or offset < 0:
                raise ValueError("FixedQuery: limit and offset must be >= 0")
            params += [_Int8(limit), _Int8(offset)] if prepare else [limit, offset]
        with _prepared_cursor(connection) if prepare else connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            return [tuple(r) for r in compiler.apply_converters(rows, converters)]
        return [tuple(r) for r in rows]


def _Int8(v: int) -> Any:
    from psycopg.types.numeric import Int8

    return Int8(v)


class _Preparing:
    """A server-side-binding psycopg cursor whose ``execute`` prepares the statement on the server.

    psycopg keeps the prepared statements (named ``_pg3_N``, at most ``prepared_max`` per connection, least
    recently used ones deallocated) on its connection object: a new connection starts empty and prepares again;
    a rollback clears them (psycopg sends ``DEALLOCATE ALL``). Django opens connections with
    ``prepare_threshold=None`` (no automatic preparing, for connection poolers); it is lifted only while this
    statement runs, so no other query of the connection is prepared or even counted.
    """

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self._executed: tuple[str, Sequence[Any]] | None = None

    @property
    def _query(self) -> Any:
        """What Django's query log reads (``last_executed_query``): the statement with its values, as the
        other queries show; built only when the log asks for it."""
        if self._executed is None:
            return None
        from psycopg import ClientCursor

        text = ClientCursor(self.cursor.connection).mogrify(*self._executed)
        return SimpleNamespace(query=text.encode())

    def execute(self, sql: str, params: Sequence[Any]) -> Any:
        self._executed = (sql, params)
        conn = self.cursor.connection
        threshold = conn.prepare_threshold
        if threshold is None:
            conn.prepare_threshold = _ONLY_WHEN_ASKED
        try:
            return self.cursor.execute(sql, params, prepare=True)
        finally:
            conn.prepare_threshold = threshold

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)

    def __iter__(self) -> Any:
        return iter(self.cursor)


_TIMESTAMPTZ_OID = 1184
_ONLY_WHEN_ASKED = 2**31 - 1  # a threshold never reached: only ``prepare=True`` prepares


def _prepared_cursor(connection: Any) -> Any:
    """Django's cursor wrapper (query log, execute wrappers, error translation) around ``_Preparing``."""
    from django.db.backends.postgresql.base import (  # type: ignore[attr-defined]
        ServerBindingCursor,
    )
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        cursor = ServerBindingCursor(raw)
        # As Django's create_cursor: loaded timestamps are in the connection's time zone.
        tzloader = raw.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
        if connection.timezone != tzloader.timezone:
            register_tzloader(connection.timezone, cursor)
        return connection._prepare_cursor(_Preparing(cursor))


class FixedInsert:
    """``FixedInsert(Model, ("a", "b"))``; ``insert(obj)`` writes one row of an append-only model.

    The statement is built once per database; each call prepares the values as ``Model.save()`` would
    (``get_db_prep_save``, ``auto_now_add`` through ``pre_save``) and reads the new primary key back with
    ``RETURNING`` (PostgreSQL, SQLite ≥ 3.35), skipping the per-call query building of ``save()``. No model
    signals are sent: use it only for models nothing listens to.
    """

    def __init__(self, model: Any, columns: Sequence[str]) -> None:
        self.model = model
        self.fields = [model._meta.get_field(name) for name in columns]
        self._sql: dict[str, str] = {}

    def _compile(self, alias: str) -> str:
        connection = connections[alias]
        quote = connection.ops.quote_name
        meta = self.model._meta
        return "INSERT INTO {} ({}) VALUES ({}) RETURNING {}".format(
            quote(meta.db_table),
            ", ".join(quote(f.column) for f in self.fields),
            ", ".join(["%s"] * len(self.fields)),
            quote(meta.pk.column),
        )

    def insert(self, obj: Any, using: str = "default") -> None:
        connection = connections[using]
        if not connection.features.can_return_columns_from_insert:
            obj.save(force_insert=True, using=using)
            return
        sql = self._sql.get(using)
        if sql is None:
            sql = self._sql[using] = self._compile(using)
        params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            obj.pk = cursor.fetchone()[0]
        obj._state.adding = False
        obj._state.db = using
