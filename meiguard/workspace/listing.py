"""One helper for every list page: whitelisted sorting, sortable headers, and Excel export.

A list declares its columns once (``Listing``); the page renders its headers from them (with ``aria-sort``)
and ``?format=xlsx`` exports the same filtered rows in the same order through the same columns:

    INSTITUTIONS = Listing("institutions", _("医疗机构"), (
        Column("name", _("机构名称"), lambda i: i.name, order_by=("name",)),
        Column("credit_code", _("统一社会信用代码"), lambda i: i.credit_code, screen=False),
    ))

    listed = INSTITUTIONS.prepare(request, qs)      # sorted by ?sort=name / ?sort=-name, else as qs is
    if listed.wants_export:
        return listed.xlsx_response(actor)           # at most MAX_EXPORT_ROWS rows
    ctx = {... "headers": listed.headers, "export_url": listed.export_url}

An unknown ``sort`` is ignored (the query keeps its own order). Export cells hold exactly what the page shows
(masked ID numbers stay masked), typed for Excel (dates as dates, numbers as numbers); text that Excel would
run as a formula ("=…") is written as text.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F, QuerySet
from django.db.models.expressions import OrderBy
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from meiguard.core.excel import MAX_EXPORT_ROWS, xlsx_value

# MAX_EXPORT_ROWS (core.excel): larger results are cut at that many rows and the notes sheet says so; narrow
# the filters to export the rest.
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a list.

    key: the name used in ``?sort=``.
    value: the exported cell for a row (None: shown on the page only, e.g. a column of links).
    order_by: ORM paths the column sorts by (empty: not sortable).
    screen: False for columns that only the export carries (e.g. a credit code the table has no room for).
    """

    key: str
    label: str | Promise
    value: Callable[[Any], Any] | None = None
    order_by: tuple[str, ...] = ()
    screen: bool = True
    width: int = 18

    @property
    def sortable(self) -> bool:
        return bool(self.order_by)


@dataclass(frozen=True, slots=True)
class Header:
    key: str
    label: str
    url: str  # empty when the column does not sort
    aria_sort: str  # "ascending" / "descending" / "" (not the sort column)
    indicator: str  # ▲ / ▼ / ↕, decorative


@dataclass(frozen=True, slots=True)
class Sort:
    column: Column
    descending: bool

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + self.column.key


@dataclass(frozen=True)
class Listing:
    name: str  # file name stem of exports
    title: str | Promise
    columns: tuple[Column, ...]

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    def parse_sort(self, raw: str | None) -> Sort | None:
        """``name`` / ``-name`` for a sortable column; anything else (unknown, blank, too long) is None."""
        raw = (raw or "").strip()
        if not raw or len(raw) > 64:
            return None
        descending = raw.startswith("-")
        column = self.column(raw.lstrip("-") if descending else raw)
        if column is None or not column.sortable or raw.count("-") > 1:
            return None
        return Sort(column, descending)

    def sort(self, qs: QuerySet[Any], sort: Sort | None) -> QuerySet[Any]:
        if sort is None:
            return qs
        terms: list[OrderBy] = [
            F(path).desc(nulls_last=True) if sort.descending else F(path).asc(nulls_last=True)
            for path in sort.column.order_by
        ]
        pk = F("pk").desc() if sort.descending else F("pk").asc()
        return qs.order_by(*terms, pk)  # the pk keeps pages stable when values tie

    def headers(self, query: QueryDict, sort: Sort | None) -> list[Header]:
        out = []
        for c in self.columns:
            if not c.screen:
                continue
            if not c.sortable:
                out.append(Header(c.key, str(c.label), "", "", ""))
                continue
            current = sort is not None and sort.column.key == c.key
            descending = current and sort is not None and sort.descending
            next_param = c.key if (not current or descending) else f"-{c.key}"
            q = query.copy()
            q.pop("page", None)
            q.pop("format", None)
            q["sort"] = next_param
            aria = ("descending" if descending else "ascending") if current else ""
            indicator = ("▼" if descending else "▲") if current else "↕"
            out.append(Header(c.key, str(c.label), "?" + q.urlencode(), aria, indicator))
        return out

    def prepare(self, request: HttpRequest, qs: QuerySet[Any]) -> Listed:
        sort = self.parse_sort(request.GET.get("sort"))
        query = request.GET.copy()
        if sort is None:
            query.pop("sort", None)  # an ignored sort does not follow the user from page to page
        return Listed(self, self.sort(qs, sort), sort, query)

    # ---- export ---------------------------------------------------------------------------------------------

    def export_columns(self) -> list[Column]:
        return [c for c in self.columns if c.value is not None]

    def rows(self, objects: Iterable[Any]) -> Iterable[list[Any]]:
        columns = self.export_columns()
        for obj in objects:
            yield [cell(c.value(obj)) for c in columns if c.value is not None]

    def workbook_bytes(
        self, qs: QuerySet[Any], *, who: str = "", filters: Sequence[tuple[str, str]] = ()
    ) -> tuple[bytes, int, bool]:
        """(xlsx bytes, rows written, whether the result was cut at ``MAX_EXPORT_ROWS``)."""
        from openpyxl import Workbook
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        objects = list(qs[: MAX_EXPORT_ROWS + 1])
        truncated = len(objects) > MAX_EXPORT_ROWS
        objects = objects[:MAX_EXPORT_ROWS]
        columns = self.export_columns()
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = _sheet_title(str(self.title))
        ws.append([str(c.label) for c in columns])
        for cell_ in ws[1]:
            cell_.font = Font(bold=True)
        for i, c in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = c.width
        n = 0
        for row in self.rows(objects):
            ws.append(row)
            n += 1
        _finish_cells(ws, first_row=2)
        ws.freeze_panes = "A2"
        if columns:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n + 1}"
        notes = wb.create_sheet(_("导出说明"))
        notes.column_dimensions["A"].width = 18
        notes.column_dimensions["B"].width = 60
        notes.append([_("列表"), str(self.title)])
        notes.append([_("导出时间"), cell(timezone.now())])
        notes.append([_("导出人"), cell(who)])
        notes.append([_("行数"), n])
        for name, value in filters:
            notes.append([_("筛选") + f" {name}", cell(value)])
        if truncated:
            notes.append(
                [
                    _("注意"),
                    _("结果超过 %(n)s 行,只导出了前 %(n)s 行;请缩小筛选范围后分批导出。")
                    % {"n": MAX_EXPORT_ROWS},
                ]
            )
        _finish_cells(notes, first_row=1)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue(), n, truncated


@dataclass(frozen=True)
class Listed:
    """A list prepared for one request: the sorted queryset, its headers and the export link."""

    listing: Listing
    qs: QuerySet[Any]
    sort: Sort | None
    query: QueryDict

    @property
    def wants_export(self) -> bool:
        return self.query.get("format") == "xlsx"

    @property
    def headers(self) -> list[Header]:
        return self.listing.headers(self.query, self.sort)

    @property
    def export_url(self) -> str:
        q = self.query.copy()
        q.pop("page", None)
        q["format"] = "xlsx"
        return "?" + q.urlencode()

    @property
    def querystring(self) -> str:
        """For pagination links: filters and sort, without the page and format."""
        q = self.query.copy()
        q.pop("page", None)
        q.pop("format", None)
        return q.urlencode()

    def filters(self) -> list[tuple[str, str]]:
        return [
            (k, v) for k, values in self.query.lists() if k not in ("page", "format") for v in values if v
        ]

    def xlsx_response(self, who: str = "") -> HttpResponse:
        data, _rows, _cut = self.listing.workbook_bytes(self.qs, who=who, filters=self.filters())
        name = f"{self.listing.name}-{timezone.localdate():%Y%m%d}.xlsx"
        response = HttpResponse(data, content_type=XLSX_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response

    def context(self) -> dict[str, Any]:
        return {
            "headers": self.headers,
            "export_url": self.export_url,
            "querystring": self.querystring,
            "sort": self.sort.param if self.sort else "",
            "max_export_rows": MAX_EXPORT_ROWS,
        }


def cell(value: Any) -> Any:
    """A value as Excel should hold it: dates stay dates (aware times in China time, without a zone),
    numbers stay numbers, lazy strings and lists become text."""
    if value is None:
        return None
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, dt.date | int | float | Decimal):
        return value
    if isinstance(value, list | tuple):
        value = "、".join(str(v) for v in value)
    return xlsx_value(str(value))


def _finish_cells(ws: Any, *, first_row: int) -> None:
    for row_cells in ws.iter_rows(min_row=first_row):
        for cell_ in row_cells:
            if cell_.data_type == "f":  # text such as "=HYPERLINK(…)" stays text, never a formula
                cell_.data_type = "s"
                cell_.quotePrefix = True
            elif isinstance(cell_.value, dt.datetime):
                cell_.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell_.value, dt.date):
                cell_.number_format = "yyyy-mm-dd"


def _sheet_title(title: str) -> str:
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title[:31] or "Sheet"


def page_or_export(
    request: HttpRequest, qs: QuerySet[Any], listing: Listing, size: int = 25
) -> HttpResponse | dict[str, Any]:
    """Sort by ``?sort=``; ``?format=xlsx`` answers with the export, otherwise the page's context."""
    from django.core.paginator import Paginator

    listed = listing.prepare(request, qs)
    if listed.wants_export:
        return listed.xlsx_response(str(request.user))
    page = Paginator(listed.qs, size).get_page(request.GET.get("page"))
    return {"page": page, **listed.context()}
