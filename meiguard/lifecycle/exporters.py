"""Excel export of the expiring list (openpyxl), after pretix's ListExporter: rows in, one .xlsx out."""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from meiguard.core.excel import xlsx_value

from .queries import ExpiringItem

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is written as text."""
    value = xlsx_value(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def headers() -> list[str]:
    return [
        _("类型"),
        _("事项"),
        _("持有人"),
        _("机构"),
        _("到期日"),
        _("剩余天数"),
        _("提醒档(天)"),
        _("链接"),
    ]


def expiring_rows(items: Iterable[ExpiringItem], site_url: str = "") -> Iterable[list[Any]]:
    for i in items:
        yield [
            i.kind_label,
            i.label,
            i.holder,
            i.institution_name,
            i.expires_on,
            i.days_left,
            i.bucket,
            f"{site_url}{i.url}" if i.url else "",
        ]


def expiring_xlsx(items: Iterable[ExpiringItem], *, site_url: str = "") -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _("到期清单")
    ws.append(headers())
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in expiring_rows(items, site_url):
        ws.append([_cell(v) for v in row])
        ws.cell(row=ws.max_row, column=5).number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A2"
    for column, width in zip("ABCDEFGH", (16, 40, 18, 26, 12, 10, 12, 50), strict=True):
        ws.column_dimensions[column].width = width
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
