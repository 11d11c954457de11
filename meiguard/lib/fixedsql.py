"""Compile an ORM ``values_list`` query once, run it many times with new values.

On a hot path, building and compiling a queryset costs far more than executing it (a primary-key lookup is
~15 µs of SQL and ~150 µs of ORM work). ``FixedQuery`` builds the queryset once per *shape* (the length of
each list argument) with sentinel values, keeps the SQL and the column converters Django computed, and then
executes the SQL on a cursor with the real values, applying the same converters (dates, decimals, JSON,
booleans), so rows are exactly what ``values_list`` would have returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

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
    """

    def __init__(self, build: Callable[..., QuerySet[Any]]) -> None:
        self.build = build
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
        compiler = qs.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
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

    def run(self, *values: Value | Sequence[Value], using: str = "default") -> list[tuple[Any, ...]]:
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
        params: list[Any] = []
        for i, m in enumerate(mapping):
            if m is None:
                params.append(constants[i])
            elif isinstance(m, int):
                params.append(flat[m])
            else:
                params.append(m[1].format(connection.ops.prep_for_like_query(flat[m[0]])))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            return [tuple(r) for r in compiler.apply_converters(rows, converters)]
        return [tuple(r) for r in rows]


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
