"""Reading and writing the .xlsx files (openpyxl), driven by ``specs``.

``build`` writes a template (no rows) or an export (rows) in one format: a data sheet per spec with a
frozen, commented header row, sensible widths, text/date formats and drop-downs, then a “填写说明” sheet,
a “机构代码” sheet and a hidden “选项” sheet that the drop-downs read. ``read`` opens an upload and returns
the raw cell values per row, or raises ``FileRejected`` listing every problem with the file itself
(not an .xlsx, missing/extra sheets, missing/extra/duplicate columns, too many rows).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from meiguard.core.errors import ActionError
from meiguard.core.excel import xlsx_row

from .specs import (
    AUXILIARY_SHEETS,
    INSTITUTIONS_SHEET,
    INSTRUCTIONS_SHEET,
    OPTIONS_SHEET,
    ColumnType,
    Ref,
    SheetSpec,
)

MAX_ROWS = 1000  # data rows per sheet; each new row costs 10–45 ms of writes (docs/bulk-import.md)
MAX_SCAN = MAX_ROWS + 5000  # physical rows read before giving up (blank formatted rows count here)
VALIDATION_ROWS = MAX_ROWS + 1
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

HEADER_FONT = Font(bold=True, color="1A1A1A")
REQUIRED_FONT = Font(bold=True, color="A4161A")
HEADER_FILL = PatternFill("solid", fgColor="EEF1F5")
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"
TEXT_TYPES = (
    ColumnType.TEXT,
    ColumnType.CODE,
    ColumnType.ID_NUMBER,
    ColumnType.CREDIT_CODE,
    ColumnType.CHOICE,
)


class FileRejected(ActionError):
    """The upload cannot be read as the chosen format; ``problems`` lists every reason (400)."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("INVALID_FILE", problems[0], field="file", status=400)
        self.problems = list(problems)


# ---- writing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstitutionRow:
    name: str
    credit_code: str
    province: str = ""


def build(
    specs: Sequence[SheetSpec],
    rows: Mapping[str, Iterable[dict[str, Any]]] | None = None,
    *,
    institutions: Sequence[InstitutionRow] = (),
    title: str = "",
) -> bytes:
    """A workbook in the format of ``specs``: a template when ``rows`` is empty, an export otherwise."""
    rows = rows or {}
    wb = Workbook()
    wb.properties.creator = "meiguard"
    wb.properties.title = title
    default = wb.active
    assert default is not None
    wb.remove(default)
    options = _options_sheet(wb, specs)
    inst_range = _institutions_sheet(wb, institutions)
    for spec in specs:
        ws = wb.create_sheet(spec.title, index=specs.index(spec))
        _header(ws, spec)
        for values in rows.get(spec.kind, ()):
            ws.append([column.to_cell(values.get(column.key)) for column in spec.columns])
        _formats(ws, spec)
        _validations(ws, spec, options, inst_range)
    _instructions(wb, specs, title)
    wb.active = 0
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _header(ws: Worksheet, spec: SheetSpec) -> None:
    ws.append(spec.headers)
    for idx, column in enumerate(spec.columns, start=1):
        cell = ws.cell(row=1, column=idx)
        cell.font = REQUIRED_FONT if column.required else HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        note = ("必填。" if column.required else "选填。") + column.format_text()
        if column.help:
            note += "。" + column.help
        cell.comment = Comment(note, "meiguard", width=260, height=110)
        letter = get_column_letter(idx)
        ws.column_dimensions[letter].width = max(column.width, len(column.header) * 2 + 2)
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 30


def _formats(ws: Worksheet, spec: SheetSpec) -> None:
    """Text columns stay text (long numbers keep every digit); date columns show YYYY-MM-DD."""
    for idx, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(idx)
        fmt = (
            DATE_FORMAT
            if column.type == ColumnType.DATE
            else TEXT_FORMAT
            if column.type in TEXT_TYPES
            else None
        )
        if fmt is None:
            continue
        ws.column_dimensions[letter].number_format = fmt
        for (cell,) in ws.iter_rows(min_row=2, min_col=idx, max_col=idx):
            cell.number_format = fmt


def _options_sheet(wb: Workbook, specs: Sequence[SheetSpec]) -> dict[int, str]:
    """One column of allowed labels per choice column; returns {id(column): absolute range}."""
    ws = wb.create_sheet(OPTIONS_SHEET)
    ranges: dict[int, str] = {}
    col = 0
    for spec in specs:
        for column in spec.columns:
            if column.type != ColumnType.CHOICE:
                continue
            col += 1
            letter = get_column_letter(col)
            labels = column.labels()
            ws.cell(row=1, column=col, value=f"{spec.title}·{column.header}").font = HEADER_FONT
            for n, label in enumerate(labels, start=2):
                ws.cell(row=n, column=col, value=label)
            ws.column_dimensions[letter].width = 24
            ranges[id(column)] = f"'{OPTIONS_SHEET}'!${letter}$2:${letter}${len(labels) + 1}"
    ws.sheet_state = "hidden"
    return ranges


def _institutions_sheet(wb: Workbook, institutions: Sequence[InstitutionRow]) -> str | None:
    ws = wb.create_sheet(INSTITUTIONS_SHEET)
    ws.append(["机构名称", "统一社会信用代码", "省份"])
    for cell in ws[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    for inst in institutions:
        ws.append(xlsx_row([inst.name, inst.credit_code, inst.province]))
    for (cell,) in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.number_format = TEXT_FORMAT
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 24
    ws.freeze_panes = "A2"
    if not institutions:
        return None
    return f"'{INSTITUTIONS_SHEET}'!$B$2:$B${len(institutions) + 1}"


def _validations(ws: Worksheet, spec: SheetSpec, options: dict[int, str], inst_range: str | None) -> None:
    for idx, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(idx)
        dv: DataValidation | None = None
        if column.type == ColumnType.CHOICE:
            dv = DataValidation(
                type="list",
                formula1=options[id(column)],
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="取值无效",
                error=f"请从下拉列表中选择“{column.header}”",
            )
        elif column.type == ColumnType.INT:
            dv = DataValidation(
                type="whole",
                operator="between",
                formula1=str(column.min_value),
                formula2=str(column.max_value),
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="取值无效",
                error=f"“{column.header}”应为 {column.min_value}–{column.max_value} 的整数",
            )
        elif column.type == ColumnType.DECIMAL:
            dv = DataValidation(
                type="decimal",
                operator="between",
                formula1=str(column.min_value),
                formula2=str(column.max_value),
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="取值无效",
                error=f"“{column.header}”应为不小于 {column.min_value} 的数字",
            )
        elif column.ref in (Ref.INSTITUTION, Ref.ANY_INSTITUTION) and inst_range:
            # A warning only: a grantee may be an institution outside the list.
            dv = DataValidation(
                type="list",
                formula1=inst_range,
                allow_blank=True,
                showErrorMessage=True,
                errorStyle="warning",
                errorTitle="机构代码",
                error="该代码不在“机构代码”工作表中,请核对",
            )
        if dv is not None:
            dv.add(f"{letter}2:{letter}{VALIDATION_ROWS}")
            ws.add_data_validation(dv)


def _instructions(wb: Workbook, specs: Sequence[SheetSpec], title: str) -> None:
    ws = wb.create_sheet(INSTRUCTIONS_SHEET, index=len(specs))
    lines = [
        title or "meiguard 批量导入模板",
        "第1行为列名,请勿修改、增加或删除列;数据从第2行开始,空行会被忽略。",
        "先“试运行”:系统列出全部错误(工作表、行号、列名、原因)及将新增/更新/不变的行;只要有一行有错误,就不会写入任何数据。",
        "身份证号、统一社会信用代码等长号码请以文本格式填写;日期格式为 YYYY-MM-DD。",
        "选择类的列请从下拉列表中选择;红色列名为必填列。",
        f"每个工作表最多 {MAX_ROWS} 行数据。",
    ]
    for spec in specs:
        lines.append(f"“{spec.title}”识别规则:{spec.key_text}")
    for line in lines:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    header_row = ws.max_row + 1
    ws.append(["工作表", "列名", "是否必填", "格式", "可选值", "说明"])
    for cell in ws[header_row]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    for spec in specs:
        for column in spec.columns:
            allowed = "、".join(column.labels()) if column.type == ColumnType.CHOICE else ""
            if column.type == ColumnType.CHOICE and column.default is not None:
                allowed += f"(留空为“{column.label(column.default)}”)"
            ws.append(
                [
                    spec.title,
                    column.header,
                    "必填" if column.required else "选填",
                    column.format_text(),
                    allowed,
                    column.help,
                ]
            )
    for letter, width in zip("ABCDEF", (12, 26, 10, 34, 48, 56), strict=True):
        ws.column_dimensions[letter].width = width
    for row in ws.iter_rows(min_row=header_row + 1):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


# ---- reading -----------------------------------------------------------------------------------


@dataclass
class SheetRows:
    spec: SheetSpec
    letters: dict[str, str]  # column key → column letter in this file
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (Excel row number, key → raw)


def _open(content: bytes, file_name: str) -> Any:
    name = (file_name or "").lower()
    if name.endswith(".xls"):
        raise FileRejected([_("不支持旧版 .xls 文件,请在 Excel 中“另存为” .xlsx 后上传")])
    if not name.endswith(".xlsx"):
        raise FileRejected([_("只接受 Excel .xlsx 文件(当前文件:%(name)s)") % {"name": file_name or "?"}])
    if not content:
        raise FileRejected([_("文件为空")])
    if not content.startswith(b"PK") or not zipfile.is_zipfile(io.BytesIO(content)):
        raise FileRejected([_("文件不是有效的 .xlsx 工作簿(可能已损坏,或只是改了扩展名)")])
    try:
        return load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged or foreign zip
        raise FileRejected([_("文件不是有效的 .xlsx 工作簿(可能已损坏,或只是改了扩展名)")]) from None


def _headers(ws: Any, spec: SheetSpec, problems: list[str]) -> dict[str, int]:
    """Column key → 0-based position; every header problem goes to ``problems``."""
    first = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
    cells = [("" if v is None else str(v).strip()) for v in first]
    while cells and not cells[-1]:
        cells.pop()
    known = {c.header: c for c in spec.columns}
    positions: dict[str, list[int]] = {}
    for pos, text in enumerate(cells):
        letter = get_column_letter(pos + 1)
        if not text:
            problems.append(
                _("工作表“%(sheet)s”第 %(col)s 列没有列名(第1行必须是模板中的列名)")
                % {"sheet": spec.title, "col": letter}
            )
        elif text not in known:
            problems.append(
                _("工作表“%(sheet)s”第 %(col)s 列“%(header)s”不是模板中的列")
                % {"sheet": spec.title, "col": letter, "header": text}
            )
        else:
            positions.setdefault(text, []).append(pos)
    for header, where in positions.items():
        if len(where) > 1:
            problems.append(
                _("工作表“%(sheet)s”中列“%(header)s”出现了多次(第 %(cols)s 列)")
                % {
                    "sheet": spec.title,
                    "header": header,
                    "cols": "、".join(get_column_letter(p + 1) for p in where),
                }
            )
    for column in spec.columns:
        if column.header not in positions:
            problems.append(
                _("工作表“%(sheet)s”缺少列“%(header)s”") % {"sheet": spec.title, "header": column.header}
            )
    return {known[h].key: where[0] for h, where in positions.items()}


def read(content: bytes, file_name: str, specs: Sequence[SheetSpec], kind_label: str) -> list[SheetRows]:
    """Every data row of every expected sheet, as raw cell values, or ``FileRejected``."""
    wb = _open(content, file_name)
    try:
        problems: list[str] = []
        expected = {s.title for s in specs}
        for name in wb.sheetnames:
            if name not in expected and name not in AUXILIARY_SHEETS:
                problems.append(
                    _("工作表“%(sheet)s”不属于本次导入内容(%(kind)s);请删除该工作表或选择正确的导入内容")
                    % {"sheet": name, "kind": kind_label}
                )
        out: list[SheetRows] = []
        for spec in specs:
            if spec.title not in wb.sheetnames:
                problems.append(_("缺少工作表“%(sheet)s”") % {"sheet": spec.title})
                continue
            ws = wb[spec.title]
            positions = _headers(ws, spec, problems)
            sheet = SheetRows(spec, {k: get_column_letter(p + 1) for k, p in positions.items()})
            width = max(positions.values(), default=-1) + 1
            for number, values in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
                if number > MAX_SCAN:
                    problems.append(
                        _("工作表“%(sheet)s”行数过多(超过 %(n)s 行),请删除多余的空行或分批导入")
                        % {"sheet": spec.title, "n": MAX_SCAN}
                    )
                    break
                if all(_blank(value) for value in values):
                    continue
                if len(sheet.rows) >= MAX_ROWS:
                    problems.append(
                        _("工作表“%(sheet)s”数据超过 %(n)s 行,请分批导入")
                        % {"sheet": spec.title, "n": MAX_ROWS}
                    )
                    break
                padded = tuple(values) + (None,) * max(0, width - len(values))
                sheet.rows.append((number, {key: padded[pos] for key, pos in positions.items()}))
            out.append(sheet)
        if problems:
            raise FileRejected(problems)
        return out
    finally:
        wb.close()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
