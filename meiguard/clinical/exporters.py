"""Excel exports of the lot look-back (openpyxl). Cell text is cleaned of control characters (which openpyxl
refuses) and text starting like a formula is written as text, never run. At most ``MAX_EXPORT_ROWS`` rows, as
every list's export: callers pass one row more, and a cut export says so on its notes sheet."""

from __future__ import annotations

import io
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from meiguard.audit import log as audit
from meiguard.core.access import Actor
from meiguard.core.excel import MAX_EXPORT_ROWS
from meiguard.registry.models import Lot

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@")


def clean(value: Any) -> Any:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith(FORMULA_START):
            value = "'" + value
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        value = timezone.localtime(value).replace(tzinfo=None, microsecond=0)
    return value


COLUMNS = (
    ("client_name", gettext_lazy("求美者")),
    ("client_phone", gettext_lazy("联系电话")),
    ("case_code", gettext_lazy("病例条码")),
    ("procedure_name", gettext_lazy("项目")),
    ("product", gettext_lazy("产品")),
    ("lot_no", gettext_lazy("批号")),
    ("dose", gettext_lazy("实际剂量")),
    ("site", gettext_lazy("部位")),
    ("at", gettext_lazy("使用时间")),
)


def trace_xlsx(
    actor: Actor, rows: list[dict[str, Any]], name: str, *, lot_id: int | None = None
) -> HttpResponse:
    truncated = len(rows) > MAX_EXPORT_ROWS
    rows = rows[:MAX_EXPORT_ROWS]
    wb = Workbook()
    ws = wb.active
    ws.title = _("追溯")
    ws.append([str(label) for _key, label in COLUMNS])
    for row in rows:
        ws.append([clean(row[key]) for key, _label in COLUMNS])
    notes = wb.create_sheet(_("导出说明"))
    notes.append([_("导出时间"), clean(timezone.now())])
    notes.append([_("导出人"), clean(actor.username)])
    notes.append([_("行数"), len(rows)])
    if truncated:
        notes.append(
            [
                _("注意"),
                _("结果超过 %(n)s 行,只导出了前 %(n)s 行;其余请通过 API 分页读取(limit/offset)。")
                % {"n": MAX_EXPORT_ROWS},
            ]
        )
    buf = io.BytesIO()
    wb.save(buf)
    if lot_id is not None:  # a recall look-back names clients and phones: who exported it is audited
        lot = Lot.objects.get(pk=lot_id)
        with transaction.atomic():
            audit.record(
                actor, "clinical.lot.exported", lot, changes={"rows": len(rows), "truncated": truncated}
            )
    response = HttpResponse(buf.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localdate():%Y%m%d}.xlsx"'
    response["Cache-Control"] = "no-store"
    return response
