"""The API's input edge: one base schema every request body and filter inherits.

What it enforces, for every field of every subclass, so no handler has to remember it:

- unknown body fields are refused (``extra="forbid"``, 422 naming the field; filters ignore unknown query
  parameters, see ``FilterIn``);
- integers are ASCII digits only: a JSON number, or in query and path parameters (which are text by nature)
  a string of ``0-9`` with an optional leading ``-``. ``"1_000"``, ``"+5"``, ``" 12"``, ``"١٢٣"`` and ``true``
  are 422. Bodies also accept ``"123"`` for an integer, the same rule as for query strings (documented in
  docs/api.md); every integer must fit a 64-bit signed column (ids, limits, offsets);
- decimals: a JSON number or a string of ASCII digits with an optional ``.`` fraction;
- datetimes and dates are ISO 8601 text only (an integer epoch is 422) and lie between 1900 and 2199,
  so converting them to UTC or to the China calendar day can never overflow;
- text refuses control characters. Tab, line feed and carriage return are kept only in free-text fields
  (names ending in ``note``, ``reason``, ``description`` …); a serial number or a licence number is one line.

Errors carry pydantic's ``value_error`` type with an already translated message (``apierrors.pydantic_message``).
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

MAX_ID = 2**63 - 1  # a PostgreSQL bigint / SQLite INTEGER
MIN_YEAR = 1900
MAX_YEAR = 2199

_INT_TEXT = re.compile(r"-?[0-9]{1,64}")
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
# C0 controls except tab/LF/CR, DEL and C1 controls; the second form keeps nothing but plain text.
# Lone surrogates and U+FFFE/U+FFFF cannot be stored as UTF-8 or written to a workbook either.
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_MULTILINE_SUFFIXES = (
    "note",
    "notes",
    "reason",
    "justification",
    "description",
    "summary",
    "comment",
    "text",
)


def is_multiline(name: str) -> bool:
    """Free-text fields (notes, reasons, descriptions) may hold tabs and line breaks; nothing else may."""
    return name.endswith(_MULTILINE_SUFFIXES)


def control_character_error(value: str, *, multiline: bool) -> str | None:
    """A translated message when ``value`` holds a control character this kind of field refuses."""
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL_ONE_LINE
    found = pattern.search(value)
    if found is None:
        return None
    return _("不能包含控制字符(U+%(code)04X)") % {"code": ord(found.group())}


def datetime_range_error(value: dt.date) -> str | None:
    if MIN_YEAR <= value.year <= MAX_YEAR:
        return None
    return _("时间须在 %(lo)s 年至 %(hi)s 年之间") % {"lo": MIN_YEAR, "hi": MAX_YEAR}


def int_range_error(value: int) -> str | None:
    if -MAX_ID <= value <= MAX_ID:
        return None
    return _("不能大于 %(n)s") % {"n": MAX_ID}


def _kinds(annotation: Any) -> set[Any]:
    """The plain types a field accepts (Optional, unions and Annotated unwrapped; containers kept)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: set[Any] = set()
        for arg in typing.get_args(annotation):
            out |= _kinds(arg)
        return out
    return {annotation}


def _item_annotation(annotation: Any) -> Any | None:
    """``X`` for ``list[X]`` / ``tuple[X, ...]`` / ``set[X]`` (possibly optional), else None."""
    for kind in _kinds(annotation):
        origin = typing.get_origin(kind)
        if origin in (list, tuple, set, frozenset):
            args = typing.get_args(kind)
            return args[0] if args else Any
    return None


def check_raw(value: Any, annotation: Any) -> None:
    """Refuse raw input that pydantic's lax mode would coerce (``"1_000"``, epochs, ``true`` as 1)."""
    if value is None:
        return
    kinds = _kinds(annotation)
    if isinstance(value, list | tuple):
        item = _item_annotation(annotation)
        if item is not None:
            for v in value:
                check_raw(v, item)
        return
    if str in kinds:
        return
    if int in kinds and float not in kinds and Decimal not in kinds:
        if isinstance(value, bool) and bool not in kinds:
            raise ValueError(_("请输入整数"))
        if isinstance(value, str) and not _INT_TEXT.fullmatch(value):
            raise ValueError(_("请输入整数(仅限半角数字 0-9)"))
        if isinstance(value, str) and len(value.lstrip("-")) > 19:
            raise ValueError(_("不能大于 %(n)s") % {"n": MAX_ID})
    if Decimal in kinds:
        if isinstance(value, bool):
            raise ValueError(_("请输入数字"))
        if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
            raise ValueError(_("请输入数字(仅限半角数字 0-9 和小数点)"))
    if (dt.datetime in kinds or dt.date in kinds) and isinstance(value, int | float):
        if dt.datetime in kinds:
            raise ValueError(_("时间格式应为 ISO 8601,例如 2026-03-03T09:30:00+08:00"))
        raise ValueError(_("日期格式应为 YYYY-MM-DD"))


def check_parsed(value: Any, *, multiline: bool) -> None:
    """Bounds that hold for every parsed value, however deeply nested."""
    if value is None or isinstance(value, bool | BaseModel):
        return
    problem: str | None = None
    if isinstance(value, int):
        problem = int_range_error(value)
    elif isinstance(value, str):
        problem = control_character_error(value, multiline=multiline)
    elif isinstance(value, dt.date):
        problem = datetime_range_error(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            problem = _("请输入数字")
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            check_parsed(v, multiline=multiline)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_parsed(k, multiline=False)
            check_parsed(v, multiline=multiline)
    if problem:
        raise ValueError(problem)


class _Edge(Schema):
    @field_validator("*", mode="before")
    @classmethod
    def _edge_raw(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None:
            check_raw(value, field.annotation)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _edge_parsed(cls, value: Any, info: ValidationInfo) -> Any:
        check_parsed(value, multiline=is_multiline(info.field_name or ""))
        return value


class In(_Edge):
    """Base of every request body: unknown fields are 422, every value bounded (see module docstring)."""

    model_config = ConfigDict(extra="forbid")


class FilterIn(_Edge):
    """Base of query-parameter filters: the same bounds; unknown query parameters are ignored (caches, htmx)."""


class ErrorItemOut(Schema):
    """One itemised cause (bulk imports add where it is: ``sheet``, ``row``, ``column``, ``cell``)."""

    field: str | None = None
    code: str
    message: str


class ErrorOut(Schema):
    """The one error envelope of the API (``meiguard.core.apierrors``)."""

    code: str = Field(..., description="机器可读的错误码,如 INVALID、NOT_FOUND、FORBIDDEN")
    message: str = Field(..., description="中文(或按 Accept-Language 为英文)的说明")
    field: str | None = Field(None, description="出错字段,如 products[0].lot_id")
    errors: list[ErrorItemOut] = Field(default_factory=list, description="逐项原因")
