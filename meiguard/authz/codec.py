"""JSON round-trip for the engine's frozen dataclasses (requests, snapshots, reasons).

A decision log row stores the request and the snapshot it was decided on, so a past decision can be
replayed exactly: ``decide(decode(DecisionRequest, row.request), decode(Snapshot, row.snapshot.facts()))``.
Snapshots are stored once per distinct content, named by ``snapshot_digest``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import types
import typing
from decimal import Decimal
from enum import Enum
from functools import cache, lru_cache
from typing import Any, TypeVar

from meiguard.rules.choices import SourceKind
from meiguard.rules.services import RuleRef
from meiguard.rules.sources import Citation, citation, citation_from_json, register

T = TypeVar("T")


@cache
def _field_names(cls: Any) -> tuple[str, ...] | None:
    """A dataclass's field names (``dataclasses.fields`` is slow on a hot path), or None for other types."""
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple(f.name for f in dataclasses.fields(cls))


def encode(value: Any) -> Any:
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, RuleRef):
        return _encode_ref(value)
    if isinstance(value, Citation):
        return _encode_citation(value)
    names = _field_names(value.__class__)
    if names is not None:
        return {name: encode(getattr(value, name)) for name in names}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset | set):
        return sorted(encode(v) for v in value)
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    return value


@lru_cache(maxsize=16384)
def _encode_ref(ref: RuleRef) -> dict[str, Any]:
    """A rule reference's JSON form, computed once per reference (a pack's facts carry dozens, each with its
    citations, and the same references recur in every snapshot). Shared: callers never mutate encodings."""
    return {name: encode(getattr(ref, name)) for name in _field_names(RuleRef) or ()}


@lru_cache(maxsize=4096)
def _encode_citation(c: Citation) -> dict[str, Any]:
    """A citation of a register document as it stands in the register is stored as its id and article (the
    register gives the rest back on decoding); any other citation (an institution's own policy) in full."""
    doc = register().get(c.doc)
    if doc is not None and citation(doc, c.article) == c:
        return {"doc": c.doc, "article": c.article} if c.article else {"doc": c.doc}
    return {name: getattr(c, name) for name in _field_names(Citation) or () if getattr(c, name)}


def _decode_citation(data: dict[str, Any]) -> Citation:
    if "title" in data:
        return citation_from_json(data)
    doc = register().get(data["doc"])
    if doc is None:  # a document since taken out of the register: keep what the id says
        return Citation(doc=data["doc"], kind=SourceKind.NORMATIVE_DOCUMENT, title=data["doc"])
    return citation(doc, data.get("article", ""))


@cache
def _hints(cls: type) -> dict[str, Any]:
    module = __import__(cls.__module__, fromlist=["_"])
    return typing.get_type_hints(cls, vars(module))


def decode(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return decode(inner[0], data)
    if tp is Citation:
        return _decode_citation(data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(
            **{f.name: decode(hints[f.name], data[f.name]) for f in dataclasses.fields(tp) if f.name in data}
        )
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in data)
        return tuple(decode(a, v) for a, v in zip(args, data, strict=True))
    if origin is frozenset:
        return frozenset(decode(args[0], v) for v in data)
    if tp is dt.datetime:
        return dt.datetime.fromisoformat(data)
    if tp is dt.date:
        return dt.date.fromisoformat(data)
    if tp is Decimal:
        return Decimal(data)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    return data


PEOPLE_KEYS = ("institution", "practitioner", "supervisor", "authorizations", "anesthetist")


def people_part(encoded: dict[str, Any]) -> dict[str, Any]:
    """The people keys of an encoded snapshot. ``anesthetist`` is stored only when there is one, so snapshots
    stored before it existed keep their digest and decode with ``anesthetist=None``."""
    return {k: encoded[k] for k in PEOPLE_KEYS if k in encoded}


def part_digest(encoded: Any) -> str:
    canonical = json.dumps(encoded, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def combine_digests(pack: str, people: str, lots: list[str], devices: list[str]) -> str:
    return hashlib.sha256("|".join([pack, people, *lots, "#", *devices]).encode()).hexdigest()


def snapshot_digest(encoded: dict[str, Any]) -> str:
    """The name of an encoded snapshot; the loader computes the same value from its cached parts."""
    return combine_digests(
        part_digest(encoded["pack"]),
        part_digest(people_part(encoded)),
        [part_digest(x) for x in encoded["lots"]],
        [part_digest(x) for x in encoded["devices"]],
    )
