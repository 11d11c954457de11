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


class FixedQuery:
    """``FixedQuery(lambda a, b: Model.objects.filter(x=a, y__in=b).values_list(...))``; ``run(1, [2, 3])``.

    Arguments are integers or lists of integers (ids); each distinct list length is compiled once.
    """

    def __init__(self, build: Callable[..., QuerySet[Any]]) -> None:
        self.build = build
        self._compiled: dict[tuple[Any, ...], tuple[str, list[int | None], Any, list[Any]]] = {}
        self._lock = threading.Lock()

    def _compile(
        self, alias: str, shape: tuple[int | None, ...]
    ) -> tuple[str, list[int | None], Any, list[Any]]:
        sentinels: list[int] = []
        args: list[Any] = []
        for n in shape:
            if n is None:
                sentinels.append(_SENTINEL_BASE - len(sentinels))
                args.append(sentinels[-1])
            else:
                group = [_SENTINEL_BASE - len(sentinels) - i for i in range(n)]
                sentinels.extend(group)
                args.append(group)
        qs = self.build(*args).using(alias)
        compiler = qs.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        position = {s: i for i, s in enumerate(sentinels)}
        # Each parameter is either one of our values (by flat position) or a constant Django added.
        mapping: list[int | None] = [position.get(p) if isinstance(p, int) else None for p in params]
        constants = [None if m is not None else p for m, p in zip(mapping, params, strict=True)]
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        converters = compiler.get_converters(fields)
        return sql, mapping, (compiler, converters), constants

    def run(self, *values: int | Sequence[int], using: str = "default") -> list[tuple[Any, ...]]:
        shape = tuple(None if isinstance(v, int) else len(v) for v in values)
        key = (using, shape)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(using, shape)
            with self._lock:
                self._compiled[key] = compiled
        sql, mapping, (compiler, converters), constants = compiled
        flat: list[int] = []
        for v in values:
            if isinstance(v, int):
                flat.append(v)
            else:
                flat.extend(v)
        params = [flat[m] if m is not None else constants[i] for i, m in enumerate(mapping)]
        with connections[using].cursor() as cursor:
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
